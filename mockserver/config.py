"""What the mock plays: keys, timings per scope, the time scale and the seed."""

from __future__ import annotations

from dataclasses import dataclass, field

DEV_KEY = "sk-mock-dev"


@dataclass(frozen=True)
class Profile:
    """Timings of one kind of job, in simulated seconds, drawn uniformly between low and high."""

    queue: tuple[float, float]
    run: tuple[float, float]
    fail_rate: float = 0.02
    fail_reasons: tuple[str, ...] = ("content policy violation", "upstream timeout", "quota exceeded")


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
