"""HTTP-level faults decided: rate limits, server errors, latency and dropped connections, at configured rates.

Draws come from one generator seeded by the config's seed, one draw per request in arrival order,
so the same seed and the same requests meet the same faults. A fault is decided before anything
is stored: a refused submit never leaves a half-created task behind. How a fault is played on the
wire is ``fault_answers.py``'s.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, fields
from functools import cached_property
from typing import Any

from .. import contract
from .profiles import Timing, table

# The schema bounds every number of a latency; a normal's tail could still draw past it, so draws are cut there.
LATENCY_MOST: float = contract.schema("mock-config")["$defs"]["faults"]["properties"]["latency"]["x-at-most"]


@dataclass(frozen=True)
class Faults:
    """Rates are probabilities per request, from 0 to 1; the embedded default injects nothing."""

    submit_429: float = 0.0
    retry_after: int = 1
    poll_500: float = 0.0
    poll_502: float = 0.0
    poll_503: float = 0.0
    drop: float = 0.0
    latency: Timing | None = None
    proxy_html: bool = False
    retry_after_date: bool = False

    @cached_property
    def active(self) -> bool:
        """Asked on every submit and poll, so worked out once: the faults never change, they are replaced."""
        return self.latency is not None or any(
            (self.submit_429, self.poll_500, self.poll_502, self.poll_503, self.drop)
        )

    def as_dict(self) -> dict[str, Any]:
        """The config's ``faults`` table form (``latency`` as a distribution table, or absent)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "latency"}
        if self.latency is not None:
            data["latency"] = table(self.latency)
        return data


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) answering: ``status`` 0 means answer normally."""

    status: int = 0
    drop: bool = False
    delay: float = 0.0


NONE = Fault()


class Injector:
    """Decides each request's fault from ``faults``, which the admin API replaces in place.

    A reset makes a new injector, so that its draws start again from the seed.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(f"{seed}:faults")

    def decide(self, submit: bool) -> Fault:
        f = self.faults
        if not f.active:
            return NONE
        delay = min(f.latency.draw(self._rng), LATENCY_MOST) if f.latency is not None else 0.0
        roll = self._rng.random()
        chances = [(f.drop, -1)] + (
            [(f.submit_429, 429)] if submit else [(f.poll_500, 500), (f.poll_502, 502), (f.poll_503, 503)]
        )
        for rate, status in chances:
            if roll < rate:
                return Fault(0 if status == -1 else status, status == -1, delay)
            roll -= rate
        return Fault(delay=delay)
