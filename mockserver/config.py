"""What the mock plays: keys, timings per scope, the time scale and the seed."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from contract_tests import contract

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


class ConfigError(ValueError):
    """A configuration file that cannot be used; the message says where and why."""


def load_config(path: str | Path | None = None) -> Config:
    """The embedded default, with whatever the TOML file at ``path`` sets laid over it."""
    if path is None:
        return Config()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    problems = contract.errors("mock-config", data)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(contract.describe(e) for e in problems))
    return _from_dict(data)


def _from_dict(data: dict[str, Any]) -> Config:
    base = Config()
    profiles = dict(base.profiles)
    for scope, given in data.get("profiles", {}).items():
        fields = {k: tuple(v) if isinstance(v, list) else v for k, v in given.items()}
        profiles[scope] = replace(profiles[scope], **fields)
    top = {k: tuple(v) if k == "keys" else v for k, v in data.items() if k != "profiles"}
    return replace(base, profiles=profiles, **top)
