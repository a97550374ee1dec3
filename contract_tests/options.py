"""The kit's command-line options, each with an environment variable, and their checked values."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import pytest

from mockserver import contract

from .client import Policy

DEFAULT_BUDGET = 12
PROFILES = {"quick": 25, "thorough": 200}  # invalid bodies tried per scope
_MOCK_POLL = (0.05, 0.25, 60.0)  # initial, max, timeout: the in-process mock plays jobs in a blink
_SPEC = Policy()  # the spec's polling schedule, as the shipped client keeps it
_MOCK_HOLD = 0.02  # the in-process mock runs 1000 times faster: 20 s of its time


# Models sent when none is given: common names for each scope, which the mock knows too.
DEFAULT_MODELS = {"images": "gpt-image-1", "videos": "veo3", "audio": "suno-v4"}


def all_scopes() -> list[str]:
    return list(contract.schema("common")["$defs"]["scope"]["enum"])


# flag, environment variable, help
_OPTIONS: list[tuple[str, str, str]] = [
    ("--contract-url", "CONTRACT_URL", "base URL of the endpoint under test (the part before /v2/...)"),
    ("--contract-key", "CONTRACT_KEY", "API key sent as Authorization: Bearer KEY"),
    ("--contract-second-key", "CONTRACT_SECOND_KEY", "a second key; switches on the isolation check"),
    (
        "--contract-model",
        "CONTRACT_MODEL",
        f"SCOPE=MODEL, repeatable (env: comma-separated); default: {', '.join(DEFAULT_MODELS.values())}",
    ),
    ("--contract-scopes", "CONTRACT_SCOPES", "comma-separated scopes to test (default: all)"),
    (
        "--contract-poll-initial",
        "CONTRACT_POLL_INITIAL",
        f"first poll interval in seconds (default {_SPEC.poll_initial:g}): the spec's schedule is 2, 4, then 8 s",
    ),
    ("--contract-poll-max", "CONTRACT_POLL_MAX", f"longest poll interval in seconds (default {_SPEC.poll_max:g})"),
    (
        "--contract-timeout",
        "CONTRACT_TIMEOUT",
        f"seconds a task may take to finish (default {_SPEC.timeout:g}); a task still running then fails the run",
    ),
    (
        "--contract-hold",
        "CONTRACT_HOLD",
        "seconds a finished task is still polled, and at least 8 times, to see that it stays finished (default 5)",
    ),
    (
        "--contract-request-timeout",
        "CONTRACT_REQUEST_TIMEOUT",
        "seconds one HTTP request may take (default 300): some gateways answer a submit only once upstream has",
    ),
    ("--contract-budget", "CONTRACT_BUDGET", f"most tasks one run may create (default {DEFAULT_BUDGET})"),
    (
        "--contract-profile",
        "CONTRACT_PROFILE",
        f"quick (default, {PROFILES['quick']}) or thorough ({PROFILES['thorough']}): generated invalid bodies per scope",
    ),
    ("--contract-report", "CONTRACT_REPORT", "write a self-contained HTML report of the run to this path"),
    (
        "--contract-record",
        "CONTRACT_RECORD",
        "append a line per paid task to this recording (schemas/recording.json), for mockserver fit or --replay",
    ),
]
_FLAGS: list[tuple[str, str, str]] = [
    (
        "--contract-mock",
        "CONTRACT_MOCK",
        "test an in-process mock instead of a URL (a fast poll schedule, time scale 1000)",
    ),
    ("--contract-strict", "CONTRACT_STRICT", "fail on warnings too (where only our reading of the spec decides)"),
]


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("contract", "unified generations API contract kit")
    for flag, env, text in _OPTIONS:
        kwargs = {"action": "append"} if flag == "--contract-model" else {}
        group.addoption(flag, dest=_dest(flag), default=None, help=f"{text} [env {env}]", **kwargs)
    for flag, env, text in _FLAGS:
        group.addoption(flag, dest=_dest(flag), action="store_true", default=None, help=f"{text} [env {env}]")


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _given(config: pytest.Config, flag: str, env: str) -> object:
    value = config.getoption(_dest(flag))
    if value is None:
        raw = os.environ.get(env)
        if raw is not None and flag == "--contract-model":
            return [part for part in raw.split(",") if part.strip()]
        if raw is not None and any(flag == f for f, _, _ in _FLAGS):
            return raw.strip().lower() not in ("", "0", "false", "no")
        return raw
    return value


@dataclass(frozen=True)
class Options:
    url: str | None = None
    key: str | None = None
    second_key: str | None = None
    models: dict[str, str] = field(default_factory=dict)
    scopes: tuple[str, ...] = ()
    poll_initial: float = _SPEC.poll_initial
    poll_max: float = _SPEC.poll_max
    timeout: float = _SPEC.timeout
    hold: float = 5.0
    request_timeout: float = 300.0
    budget: int = DEFAULT_BUDGET
    mock: bool = False
    strict: bool = False
    examples: int = PROFILES["quick"]
    report: str | None = None
    record: str | None = None

    @property
    def active(self) -> bool:
        return bool(self.url or self.mock)


def default_model(scope: str) -> str:
    return DEFAULT_MODELS.get(scope, "default")


def read(config: pytest.Config) -> Options:
    """The options as given on the command line or in the environment, checked; raises UsageError."""
    got: dict[str, Any] = {flag: _given(config, flag, env) for flag, env, _ in _OPTIONS + _FLAGS}
    mock = bool(got["--contract-mock"])
    url = got["--contract-url"]
    if not (url or mock):
        return Options()
    if url and mock:
        raise pytest.UsageError("give --contract-url or --contract-mock, not both")
    if url and not got["--contract-key"]:
        raise pytest.UsageError("--contract-url needs --contract-key (or CONTRACT_KEY)")
    if url and not re.match(r"https?://[^/?#\s]+", str(url), re.IGNORECASE):
        raise pytest.UsageError(f"--contract-url wants an http:// or https:// URL with a host, got {url!r}")
    scopes = _scopes(got["--contract-scopes"])
    models = {scope: default_model(scope) for scope in scopes}
    for item in got["--contract-model"] or []:
        scope, sep, model = str(item).partition("=")
        if not sep or scope.strip() not in all_scopes() or not model.strip():
            raise pytest.UsageError(f"--contract-model wants SCOPE=MODEL with a scope of {all_scopes()}, got {item!r}")
        models[scope.strip()] = model.strip()
    initial, most, timeout = _MOCK_POLL if mock else (_SPEC.poll_initial, _SPEC.poll_max, _SPEC.timeout)
    if got["--contract-record"]:
        _writable(str(got["--contract-record"]))
    profile = got["--contract-profile"] or "quick"
    if profile not in PROFILES:
        raise pytest.UsageError(f"--contract-profile is one of {sorted(PROFILES)}, got {profile!r}")
    return Options(
        url=str(url).rstrip("/") if url else None,
        key=got["--contract-key"],
        second_key=got["--contract-second-key"],
        models=models,
        scopes=scopes,
        poll_initial=_number(got, "--contract-poll-initial", initial),
        poll_max=_number(got, "--contract-poll-max", most),
        timeout=_number(got, "--contract-timeout", timeout),
        hold=_number(got, "--contract-hold", _MOCK_HOLD if mock else 5.0),
        request_timeout=_number(got, "--contract-request-timeout", 300.0),
        budget=int(_number(got, "--contract-budget", DEFAULT_BUDGET)),
        mock=mock,
        strict=bool(got["--contract-strict"]),
        examples=PROFILES[profile],
        report=str(got["--contract-report"]) if got["--contract-report"] else None,
        record=str(got["--contract-record"]) if got["--contract-record"] else None,
    )


def _scopes(raw: object) -> tuple[str, ...]:
    if not raw:
        return tuple(all_scopes())
    scopes = tuple(s.strip() for s in str(raw).split(",") if s.strip())
    unknown = [s for s in scopes if s not in all_scopes()]
    if unknown or not scopes:
        raise pytest.UsageError(f"--contract-scopes takes some of {all_scopes()}, got {raw!r}")
    return scopes


def _number(got: dict[str, object], flag: str, default: float) -> float:
    raw = got[flag]
    if raw is None:
        return default
    try:
        value = float(str(raw))
    except ValueError:
        raise pytest.UsageError(f"{flag} takes a number, got {raw!r}") from None
    least = {"--contract-budget": 1.0, "--contract-request-timeout": 0.001}.get(flag, 0.0)
    if value < least:
        raise pytest.UsageError(f"{flag} must be positive, got {raw!r}")
    return value


def _writable(path: str) -> None:
    """A recording that cannot be written is refused before any task is paid for."""
    try:
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise pytest.UsageError(f"--contract-record cannot write {path!r}: {exc.strerror or exc}") from None
