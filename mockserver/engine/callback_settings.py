"""The ``[callbacks]`` table of the config: timings, retries, signing secret, allowed hosts, fault rates."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from .profiles import Timing, timing, uniform

# A documented secret for development, so a receiver can verify signatures with no setup.
DEV_SECRET = "whsec_bW9ja3NlcnZlci1jYWxsYmFja3MtZGV2LXNlY3JldA=="
FAULTS = ("duplicate", "out-of-order", "late", "never")


@dataclass(frozen=True, slots=True)
class Allowed:
    """Where callbacks may go: ``hosts`` (``callbacks.allow_hosts``) on any port, and this machine (a loopback or
    unspecified address, ``localhost``) only on ``ports`` (``callbacks.local_ports``)."""

    hosts: tuple[str, ...]
    ports: frozenset[int]


@dataclass(frozen=True)
class Settings:
    """``delay`` and ``late_by`` are simulated seconds (divided by the time scale), as a provider's timings are;
    ``backoff``, ``backoff_max`` and ``timeout`` are real ones, as a receiver's downtime is.

    ``faults`` holds a rate per name of ``FAULTS``; one draw per delivery decides at most one of them.
    """

    events: str = "terminal"  # or "all": every state change
    delay: Timing = field(default_factory=lambda: uniform(0.1, 1.0))
    tries: int = 4  # the first attempt and three retries, as Luma retries a callback three times
    backoff: float = 1.0  # before the first retry; doubled before each next one
    backoff_max: float = 60.0
    timeout: float = 10.0
    secret: str = DEV_SECRET
    allow_hosts: tuple[str, ...] = ()  # hosts elsewhere, on any port
    local_ports: tuple[int, ...] = ()  # this machine's ports a receiver listens on: none unless named
    late_by: float = 30.0
    faults: dict[str, float] = field(default_factory=dict)

    @cached_property
    def allowed(self) -> Allowed:
        return Allowed(self.allow_hosts, frozenset(self.local_ports))

    def retry_after(self, attempt: int) -> float:
        """Real seconds to wait after failed attempt number ``attempt`` (1-based)."""
        return min(self.backoff * 2 ** (attempt - 1), self.backoff_max)


def from_dict(given: dict[str, Any], base: Settings | None = None) -> Settings:
    """Settings from an already validated ``[callbacks]`` table, laid over ``base`` (the defaults)."""
    values = dict(given)
    if "delay" in values:
        values["delay"] = timing(values["delay"])
    if "allow_hosts" in values:
        values["allow_hosts"] = tuple(host.lower() for host in values["allow_hosts"])
    if "local_ports" in values:
        values["local_ports"] = tuple(values["local_ports"])
    if "faults" in values:
        values["faults"] = {name.replace("_", "-"): rate for name, rate in values["faults"].items()}
    return replace(base or Settings(), **values)
