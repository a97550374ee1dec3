"""What the mock plays: keys, timings per scope, the time scale and the seed."""

from __future__ import annotations

from dataclasses import dataclass, field

DEV_KEY = "sk-mock-dev"

FAIL_REASONS = {
    "content-policy": "content policy violation: the prompt was refused by the provider's safety filter",
    "upstream-timeout": "upstream timeout: the provider did not answer in time",
    "quota": "quota exceeded: the upstream account has no credit left",
}


@dataclass(frozen=True)
class Scenario:
    """How one task plays out, chosen per request with the X-Mock-Scenario header.

    ``fail_reason`` None lets the profile's failure rate decide; "" always succeeds.
    """

    fail_reason: str | None = None
    stuck: bool = False


SCENARIOS = {
    "default": Scenario(),
    "success": Scenario(fail_reason=""),
    "stuck": Scenario(stuck=True),
    **{f"fail-{name}": Scenario(fail_reason=reason) for name, reason in FAIL_REASONS.items()},
}


@dataclass(frozen=True)
class Profile:
    """Timings of one kind of job, in simulated seconds, drawn uniformly between low and high."""

    queue: tuple[float, float]
    run: tuple[float, float]
    fail_rate: float = 0.02
    fail_reasons: tuple[str, ...] = tuple(FAIL_REASONS.values())


@dataclass(frozen=True)
class Config:
    keys: tuple[str, ...] = (DEV_KEY,)
    time_scale: float = 1.0
    seed: int = 0
    max_body_bytes: int = 10 * 1024 * 1024
    profiles: dict[str, Profile] = field(
        default_factory=lambda: {
            "images": Profile(queue=(1, 3), run=(5, 15)),
            "videos": Profile(queue=(5, 20), run=(60, 180)),
            "audio": Profile(queue=(2, 5), run=(20, 60)),
        }
    )
