"""The lifecycle engine: a task's state is a pure function of its record and the clock.

Nothing runs in the background. Each poll recomputes the view from the submit time, the
durations drawn once from a seeded generator, and now; so the same seed and requests give the
same lifecycle, and a finished task can never change.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any

from contract_tests import contract

from . import media
from .config import Profile, Scenario

_STATES = contract.lifecycle()["states"]
NOT_START, SUBMITTED, QUEUED, IN_PROGRESS, SUCCESS, FAILURE = _STATES


@dataclass(frozen=True, slots=True)
class Record:
    task_id: str
    scope: str
    owner: int
    submitted_at: float
    queue_for: float
    run_for: float
    fail_reason: str


def plan(
    task_id: str, scope: str, owner: int, now: float, profile: Profile, scenario: Scenario, seed: int, scale: float
) -> Record:
    """Draw a task's fate once, at submit, from a generator keyed by the seed and the task id.

    Each task has its own generator, so one task's scenario never shifts another task's fate.
    """
    draw = random.Random(f"{seed}:{task_id}")
    queue_for = draw.uniform(*profile.queue) / scale
    run_for = math.inf if scenario.stuck else draw.uniform(*profile.run) / scale
    drawn = draw.choice(profile.fail_reasons) if draw.random() < profile.fail_rate else ""
    reason = drawn if scenario.fail_reason is None else scenario.fail_reason
    return Record(task_id, scope, owner, now, queue_for, run_for, reason)


def view(record: Record, now: float, media_base: str) -> dict[str, Any]:
    """The task as a poll at ``now`` sees it."""
    elapsed = now - record.submitted_at
    started = record.submitted_at + record.queue_for
    finished = started + record.run_for
    task: dict[str, Any] = {
        "task_id": record.task_id,
        "status": SUBMITTED,
        "fail_reason": "",
        "submit_time": int(record.submitted_at),
        "start_time": 0,
        "finish_time": 0,
        "progress": "0%",
        "data": {},
    }
    if elapsed < record.queue_for:
        task["status"] = QUEUED if elapsed > 0 else SUBMITTED
        return task
    task["start_time"] = int(started)
    if now < finished:
        task["status"] = IN_PROGRESS
        task["progress"] = f"{min(99, int(100 * (now - started) / record.run_for))}%"
        return task
    task["finish_time"] = int(finished)
    task["progress"] = "100%"
    if record.fail_reason:
        task["status"], task["fail_reason"] = FAILURE, record.fail_reason
    else:
        task["status"] = SUCCESS
        task["data"] = {"output": f"{media_base}/{record.task_id}/{media.filename(record.scope, 0)}"}
    return task
