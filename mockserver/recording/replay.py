"""``mockserver --replay FILE.jsonl``: each recorded model plays its recorded lifecycles, one after another.

Each model of the recording gets the profile ``fit`` estimates (which the scenarios, and any model
the recording lacks, play with) and the recording's ended tasks as takes (``engine/recorded_takes.py``): a submit
that asks for no scenario plays take number ``nonce % count`` of its model, with the statuses,
progress, failure and outputs that task showed, at the times it showed them divided by the time
scale. Nonces count up, so a lone server cycles through the recording in order.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from .. import contract
from ..contract.recording import read
from ..engine.config import Config, check_references, config_from
from ..engine.recorded_takes import Take
from . import fit

STATES = frozenset(contract.lifecycle()["states"]) - frozenset(fit.TERMINAL)


def _stderr(message: str) -> None:
    print(fit.shown(message), file=sys.stderr)


def take(line: dict[str, Any], task: fit.Task) -> Take | None:
    """An ended task's lifecycle as a take, from its line and what ``fit.summary`` read of it (its times, its
    failure's text and its outputs, which are not worked out again); None for one that never ended."""
    finished = task.done
    if finished is None:
        return None
    states, before = [], 0.0
    for seen in line["statuses"]:
        if seen["status"] in fit.TERMINAL:
            break
        if seen["status"] in STATES:  # a status outside the contract's could not be answered
            states.append((min((before + seen["first"]) / 2, finished), seen["status"]))
        before = seen["last"]
    started = finished if task.split is None else task.split[0]  # no poll saw it running before it ended
    progress = tuple((at, round(p)) for at, p in line["progress"] if at < finished)
    shown = tuple(states) or ((0.0, "SUBMITTED"),)  # in order of time, as a take is read, whatever the line said
    return Take(
        started, finished - started, tuple(sorted(shown)), tuple(sorted(progress)), task.reason or "", task.shape or 0
    )


def _kept(line: dict[str, Any]) -> tuple[fit.Task, Take | None]:
    task = fit.summary(line)
    return task, take(line, task)


def apply(config: Config, path: str | Path, warn: Callable[[str], None] | None = None) -> Config:
    """``config`` with the recording's models and their takes laid over it, in one pass over the recording.

    Raises ``RecordingError`` for a bad line (naming it) and ``ConfigError`` when the result cannot be
    played (too many failure reasons with those of ``config``). A stray line, and models past what a
    config holds, are left out with a warning (``warn``; standard error by default).
    """
    recording = read(path, parse=fit.judge_line_fast, keep=_kept)
    result = fit.fit((task for task, _ in recording.lines), beside=config.models)
    for warning in [*(f"skipped {w}" for w in recording.skipped), *result.left_out]:
        (warn or _stderr)(f"warning: --replay: {warning}")
    replayed = config_from({"models": result.models, "fail_reasons": result.fail_reasons})
    takes: dict[str, list[Take]] = {}
    for task, found in recording.lines:
        if found is not None and task.model in result.models and task.scope == result.models[task.model]["scope"]:
            takes.setdefault(task.model, []).append(replace(found, reason=result.names.get(found.reason, "")))
    merged = replace(
        config,
        models={**config.models, **{name: replayed.models[name] for name in result.models}},
        fail_reasons={**config.fail_reasons, **result.fail_reasons},
        takes={**config.takes, **{model: tuple(found) for model, found in takes.items()}},
    )
    check_references(merged)
    return merged
