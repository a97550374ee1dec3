"""Which deliveries a task's callback makes, and when each is due: a pure function of record, seed and settings.

A task's state changes are read off its record (``lifecycle.status_at`` at the few instants it can
change), so a forced state or a restart gives the same answer. Each delivery's delay and fault come from
draws keyed by the seed, the task and the state, so every worker, and the same worker after a restart,
derives the same schedule. A delivery's body is the task as a poll at the moment of that change sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

from . import ids, lifecycle
from .callback_request import Asked
from .callback_settings import FAULTS, Settings
from .catalog import Catalog
from .fate_draws import Draws
from .scenarios import EXPIRE, LATE

DUPLICATE, OUT_OF_ORDER, LATE_FAULT, NEVER = range(1, len(FAULTS) + 1)
REORDER_GAP = 0.001  # seconds between deliveries kept in order, or put out of it


@dataclass(frozen=True, slots=True)
class Delivery:
    """One POST to make: ``copy`` 1 is a duplicate's second send, with the same ``webhook_id``."""

    webhook_id: str
    copy: int
    state: str
    at: float  # the state change: the body shows the task as then
    due: float  # when it is first sent
    fault: str | None = None

    @property
    def key(self) -> tuple[str, int]:
        return self.webhook_id, self.copy


def changes(record: lifecycle.Record) -> list[tuple[float, str]]:
    """Each state the task enters, with when, in order; a state never reached (a stuck run's end) is absent."""
    t = lifecycle.times(record)
    start = record.submitted_at
    instants = {start, math.nextafter(start, math.inf), t.started, t.finished}
    if record.forced >= 0:
        instants.add(record.forced_at)
    seen: list[tuple[float, str]] = []
    for at in sorted(i for i in instants if math.isfinite(i) and i >= start):
        state = lifecycle.status_at(record, at)
        if not seen or seen[-1][1] != state:
            seen.append((at, state))
    return seen


def webhook_id(task_id: str, state: str) -> str:
    """Stable across retries, duplicates, workers and restarts: a task enters each state once."""
    return f"msg_{task_id}_{state}"


def deliveries(catalog: Catalog, settings: Settings, record: lifecycle.Record, asked: Asked) -> list[Delivery]:
    """Every delivery the task's callback makes, ordered by when it is due."""
    scale = catalog.scale
    chosen = asked.fault
    every = asked.every_change or chosen == OUT_OF_ORDER
    events = [(at, state) for at, state in changes(record) if every or state in lifecycle.TERMINAL]
    found: list[Delivery] = []
    fate = ids.nonce(record.task_id)  # as plan() draws the task's fate: ids also hold the submit time
    floor = -math.inf
    for at, state in events:
        draw = Draws(catalog.seed, f"callback:{record.task_id if fate is None else fate}:{state}")
        due = floor = max(at + settings.delay.draw(draw) / scale, floor + REORDER_GAP)  # in order, unless a fault
        fault = chosen or _drawn(settings, draw.random())
        if fault == NEVER:
            continue
        if fault == LATE_FAULT:
            due += settings.late_by / scale
        name = FAULTS[fault - 1] if fault else None
        found.append(Delivery(webhook_id(record.task_id, state), 0, state, at, due, name))
        if fault == DUPLICATE:
            again = due + settings.delay.draw(draw) / scale
            found.append(Delivery(webhook_id(record.task_id, state), 1, state, at, again, name))
    if chosen == OUT_OF_ORDER:  # the task's whole run, last change first
        dues = sorted(d.due for d in found)
        found = [replace(d, due=due) for d, due in zip(found, reversed(dues), strict=True)]
    else:
        found = _reorder(found)
    return sorted(found, key=lambda d: (d.due, d.copy))


def _drawn(settings: Settings, roll: float) -> int:
    """The fault one draw lands on, by the configured rates (which add up to 1 at most), or 0."""
    for n, name in enumerate(FAULTS, start=1):
        rate = settings.faults.get(name, 0.0)
        if roll < rate:
            return n
        roll -= rate
    return 0


def _reorder(found: list[Delivery]) -> list[Delivery]:
    """An out-of-order delivery is sent just after the next change's, where there is one."""
    out = list(found)
    for n, d in enumerate(out):
        if d.fault == "out-of-order" and d.copy == 0:
            later = [o for o in out[n + 1 :] if o.state != d.state]
            if later:
                out[n] = replace(d, due=later[0].due + REORDER_GAP)
    return out


def body(catalog: Catalog, record: lifecycle.Record, delivery: Delivery, media_base: str) -> dict[str, Any]:
    """The task as a poll at the change sees it; shown even where polls would 404 (``late-visible``)."""
    shown = record._replace(flags=record.flags & ~(LATE | EXPIRE)) if record.flags & (LATE | EXPIRE) else record
    view = lifecycle.view(catalog, shown, delivery.at, media_base)
    assert view is not None
    return view
