"""The lifecycle engine: a task's state is a pure function of its record and the clock.

Nothing runs in the background. Each poll recomputes the view from the submit time, the
durations drawn once from seeded draws, and now; so the same seed and requests give the
same lifecycle, and a finished task can never change. The record holds numbers only (indexes
into the catalog's tables), so a million tasks fit in a few hundred megabytes.
"""

from __future__ import annotations

import math
import zlib
from itertools import pairwise
from typing import Any, NamedTuple

from .. import contract
from . import encodings, modes
from .catalog import Catalog
from .encodings import MODE_MASK
from .fate_draws import Draws
from .output_shape import filename
from .scenarios import EXPIRE, LATE, NO_PROGRESS, OUTPUTS, SKIP_STATES, SLOW, STUCK, Choice

STATES = tuple(contract.lifecycle()["states"])
TERMINAL = frozenset(contract.lifecycle()["terminal"])
NOT_START, SUBMITTED, QUEUED, IN_PROGRESS, SUCCESS, FAILURE = STATES
LIFECYCLE_SHIFT = encodings.LIFECYCLE_SHIFT  # a record's shape holds its lifecycle's index (encodings.py)


def _walks() -> tuple[tuple[str, str, str], ...]:
    """Each named lifecycle as the states shown at submit, waiting and running, in ``LIFECYCLES`` order."""
    rules = contract.lifecycle()
    walks = []
    for name, walk in rules["lifecycles"].items():
        shown = (walk["at_submit"], walk["waiting"], walk["running"])
        for before, after in pairwise(shown):
            if after != before and after not in rules["transitions"][before]:
                raise ValueError(f"lifecycle.json: lifecycle {name} goes from {before} back to {after}")
        if set(shown) & TERMINAL:
            raise ValueError(f"lifecycle.json: lifecycle {name} shows a terminal state before its end")
        walks.append(shown)
    return tuple(walks)


WALKS = _walks()


class Record(NamedTuple):
    """``failure`` indexes the catalog's reasons (-1: succeeds); ``profile`` its profiles; ``flags`` are
    the scenario's bits. ``forced`` is a state index pinned by the admin API at ``forced_at`` (-1: none).
    ``shape`` is the mode and output shape the request asked for, packed (``output_shape``). ``take`` is the
    recorded lifecycle a ``--replay`` task plays (an index into the catalog's takes of its profile; -1: none).

    A named tuple, not a frozen dataclass: that one set its 13 fields one call at a time, about a tenth
    of the engine's work on a poll, where a tuple is built at once. Change it with ``_replace``.
    """

    task_id: str
    scope: str
    owner: int
    submitted_at: float
    queue_for: float
    run_for: float
    failure: int
    profile: int = 0
    flags: int = 0
    forced: int = -1
    forced_at: float = 0.0
    shape: int = 0
    take: int = -1


class Times(NamedTuple):
    """When a record starts and finishes, forced states included."""

    started: float
    finished: float


def plan(
    catalog: Catalog,
    task_id: str,
    scope: str,
    owner: int,
    submitted_at: float,
    profile: int,
    choice: Choice,
    nonce: int | None = None,
    shape: int = 0,
) -> Record:
    """Draw a task's fate once, at submit, from draws keyed by the seed and ``nonce`` (default: the id).

    Each task has its own draws, so one task's scenario never shifts another task's fate. The app
    passes the id's seeded nonce: ids also hold the submit time, and fates must not depend on it.
    """
    p = catalog.profiles[profile]
    draw = Draws(catalog.seed, task_id if nonce is None else nonce)
    factor = p.modes.get(modes.ACTIONS[scope][shape & MODE_MASK], 1.0) if p.modes else 1.0
    queue_for = factor * p.queue.draw(draw) / catalog.scale
    run_for = factor * p.run.draw(draw) / catalog.scale
    fails = draw.random() < p.fail_rate
    reason = draw.choice(p.fail_reasons) if fails else ""
    failure = catalog.reasons.index(reason) if reason else -1
    if choice.outcome:
        chosen = encodings.reason_of(choice.outcome)
        failure = -1 if chosen is None else chosen
    flags = choice.flags  # read once: a property, on every submit
    if flags & SLOW:
        queue_for += catalog.settings.slow_queue / catalog.scale
    if flags & STUCK:
        # Runs for ever; with a fail outcome, until the provider's hard timeout, counted from submit.
        hard = catalog.settings.hard_timeout / catalog.scale - queue_for
        run_for = math.inf if encodings.reason_of(choice.outcome) is None else max(0.0, hard)
    take = -1
    if profile in catalog.takes and choice.code == 0:  # replayed as recorded, unless a scenario chooses otherwise
        recorded = catalog.takes[profile]
        take = (nonce if isinstance(nonce, int) else zlib.crc32(task_id.encode())) % len(recorded)
        played = recorded[take]
        queue_for, run_for = played.queue / catalog.scale, played.run / catalog.scale
        failure = catalog.reasons.index(played.reason) if played.reason else -1
    return Record(
        task_id, scope, owner, submitted_at, queue_for, run_for, failure, profile, flags, -1, 0.0, shape, take
    )


class Gone(Exception):
    """A stored record whose profile or failure reason the running config no longer has (answered 410)."""


def playable(catalog: Catalog, record: Record) -> bool:
    """Whether the catalog has what ``record`` points at: a store outlives the config it was filled under."""
    if record.take >= len(catalog.takes.get(record.profile, ())) or record.shape >> LIFECYCLE_SHIFT >= len(WALKS):
        return False
    return record.profile < len(catalog.profiles) and record.failure < len(catalog.reasons)


def times(record: Record) -> Times:
    started = record.submitted_at + record.queue_for
    finished = started + record.run_for
    if record.forced >= 0:
        at = record.forced_at
        if STATES[record.forced] in TERMINAL:
            finished = min(finished, at)
        else:
            finished = math.inf
        if STATES.index(IN_PROGRESS) <= record.forced:
            started = min(started, at)
        elif started > at:
            started = math.inf
    return Times(started, finished)


def status_at(record: Record, now: float) -> str:
    """The state alone, for callers that need no body (downloads, the admin API)."""
    return _status(record, now, times(record))


def _status(record: Record, now: float, t: Times) -> str:
    if now >= t.finished:
        return SUCCESS if record.failure < 0 else FAILURE
    if record.forced >= 0 and now >= record.forced_at:
        return STATES[record.forced]
    if record.flags & SKIP_STATES:
        return NOT_START  # as new-api shows a task it never hands upstream, until it ends
    at_submit, waiting, running = WALKS[record.shape >> LIFECYCLE_SHIFT]
    if now < t.started:
        return waiting if now > record.submitted_at else at_submit
    return running


def visible(catalog: Catalog, record: Record, now: float) -> bool:
    """Whether polls find the task: not before a late-visible delay, not after an expiry."""
    if record.flags & LATE and now < record.submitted_at + catalog.settings.late_visible_for / catalog.scale:
        return False
    return not record.flags & EXPIRE or now < hidden_at(catalog, record)


def hidden_at(catalog: Catalog, record: Record) -> float:
    """When polls stop finding the task: expire_after past its end for an expiring one, never for others."""
    return times(record).finished + catalog.settings.expire_after / catalog.scale if record.flags & EXPIRE else math.inf


def output_count(catalog: Catalog, record: Record) -> int:
    """0 for one URL in ``data.output``; otherwise the length of ``data.outputs``."""
    if record.flags & OUTPUTS:
        return catalog.settings.outputs
    if record.take >= 0:
        return catalog.takes[record.profile][record.take].outputs
    return catalog.profiles[record.profile].outputs


def link_expires(catalog: Catalog, record: Record) -> float:
    ttl = catalog.profiles[record.profile].link_ttl
    return times(record).finished + ttl / catalog.scale if ttl else math.inf


def view(catalog: Catalog, record: Record, now: float, media_base: str) -> dict[str, Any] | None:
    """The task as a poll at ``now`` sees it; None while it is not visible (answered 404)."""
    if record.flags & (LATE | EXPIRE) and not visible(catalog, record, now):
        return None
    t = times(record)
    status = _status(record, now, t)  # the times worked out once: a poll's view is its hottest engine call
    take = catalog.takes[record.profile][record.take] if record.take >= 0 else None
    elapsed = (now - record.submitted_at) * catalog.scale
    if take is not None and status not in TERMINAL and record.forced < 0:
        status = take.status(elapsed)
    task: dict[str, Any] = {
        "task_id": record.task_id,
        "status": status,
        "fail_reason": "",
        "submit_time": int(record.submitted_at),
        "start_time": 0,
        "finish_time": 0,
        "progress": "0%",
        "platform": catalog.profiles[record.profile].platform,
        "action": catalog.actions[record.profile][record.shape & MODE_MASK],
        "data": {},
        "search_item": "",
    }
    if status in (NOT_START, SUBMITTED, QUEUED):
        return task
    task["start_time"] = int(min(t.started, t.finished))
    if status == IN_PROGRESS:
        task["progress"] = f"{_progress(catalog, record, t, now) if take is None else take.percent(elapsed)}%"
        return task
    task["finish_time"] = int(t.finished)
    task["progress"] = "100%"
    if status == FAILURE:
        task["fail_reason"] = catalog.messages[record.failure]
        return task
    base = f"{media_base}/{record.task_id}/"
    count = output_count(catalog, record)
    if count:
        task["data"] = {"outputs": [base + filename(record.scope, i) for i in range(count)]}
    else:
        task["data"] = {"output": base + filename(record.scope, 0)}
    return task


def _progress(catalog: Catalog, record: Record, t: Times, now: float) -> int:
    step = 100 if record.flags & NO_PROGRESS else catalog.profiles[record.profile].progress_step
    if step >= 100 or record.flags & STUCK or math.isinf(record.run_for):
        return 0
    until = min(now, record.forced_at) if record.forced >= 0 else now
    done = min(99, int(100 * (until - t.started) / record.run_for))
    return max(0, done - done % step)
