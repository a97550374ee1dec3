"""Recorded lifecycles (``--replay``): what a task shows at each moment, as one recorded task showed it.

A take is one recorded task reduced to numbers: when each status began and each progress sample was
shown, in recorded seconds after submit, how long it queued and ran, how it ended and with how many
outputs. The record of a replayed task carries which take it plays (``Record.take``), chosen when it
is planned, so that what a poll sees stays a function of the record and the clock.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Take:
    """``states``: (seconds after submit, status) before the end, in order; ``reason``: the catalogue name of a
    failure, "" for a success; ``outputs``: as a profile's (0 for one URL in ``data.output``)."""

    queue: float
    run: float
    states: tuple[tuple[float, str], ...]
    progress: tuple[tuple[float, int], ...]
    reason: str
    outputs: int

    def status(self, elapsed: float) -> str:
        """The status at ``elapsed`` recorded seconds, before the end; the first one seen until the next began."""
        at = bisect_right(self.states, elapsed, key=lambda state: state[0])
        return self.states[max(0, at - 1)][1]

    def percent(self, elapsed: float) -> int:
        """The last progress shown by ``elapsed``; 0 before any."""
        at = bisect_right(self.progress, elapsed, key=lambda sample: sample[0])
        return self.progress[at - 1][1] if at else 0
