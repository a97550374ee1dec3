"""What the mock plays: keys, CORS origins, per-model profiles, scenarios' settings, faults, callbacks, the time scale and seed.

The embedded default answers any model on a first try, fails a task now and then (2%) and injects
no HTTP faults. A TOML file (``--config``) is checked against ``schemas/mock-config.json`` and laid
over it: what the file leaves out keeps its default.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from string import Formatter
from typing import Any

from .. import contract
from . import callback_settings, modes, scenarios
from .faults import Faults
from .ids import MAX_PROFILES
from .profiles import ALIASES, MODELS, SCOPE_DEFAULTS, Profile, timing
from .recorded_takes import Take
from .scenarios import MAX_REASONS, Settings

DEV_KEY = "sk-mock-dev"
ACTION_FIELDS = ("mode", "platform", "scope")  # what a profile's action template may name
SCOPES = tuple(contract.schema("common")["$defs"]["scope"]["enum"])
MAX_MODELS = MAX_PROFILES - len(SCOPES)  # each scope's default is a profile too

FAIL_REASONS = {
    "content-policy": "content policy violation: the prompt was refused by the provider's safety filter",
    "upstream-timeout": "upstream timeout: the provider did not answer in time",
    "quota": "quota exceeded: the upstream account has no credit left",
}


@dataclass(frozen=True)
class Config:
    """``profiles`` holds each scope's default; ``models`` the profiles of named models (each says its scope)."""

    keys: tuple[str, ...] = (DEV_KEY,)
    admin_key: str | None = None
    cors_origins: tuple[str, ...] = ()
    unknown_task: str = "404"
    time_scale: float = 1.0
    seed: int = 0
    max_body_bytes: int = 10 * 1024 * 1024
    strict_models: bool = False
    profiles: dict[str, Profile] = field(default_factory=lambda: dict(SCOPE_DEFAULTS))
    models: dict[str, Profile] = field(default_factory=lambda: dict(MODELS))
    aliases: dict[str, str] = field(default_factory=lambda: dict(ALIASES))
    alias_scenarios: dict[str, str] = field(default_factory=dict)  # alias = scenario, as X-Mock-Scenario reads it
    key_scenarios: dict[str, str] = field(default_factory=dict)  # API key = scenario
    fail_reasons: dict[str, str] = field(default_factory=lambda: dict(FAIL_REASONS))
    scenarios: Settings = field(default_factory=Settings)
    faults: Faults = field(default_factory=Faults)
    callbacks: callback_settings.Settings = field(default_factory=callback_settings.Settings)
    journal_size: int = 1000
    metrics: bool = False
    takes: dict[str, tuple[Take, ...]] = field(default_factory=dict)  # a model's recorded lifecycles (--replay)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message says where and why."""


def load_config(path: str | Path | None = None) -> Config:
    """The embedded default, with whatever the TOML file at ``path`` sets laid over it."""
    if path is None:
        return Config()
    try:
        # utf-8-sig: an editor's byte-order mark is not a reason to refuse a file TOML would otherwise read
        data = tomllib.loads(Path(path).read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per level of nested arrays or tables
        raise ConfigError(f"{path}: nested too deeply") from exc
    try:
        return config_from(data)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def config_from(data: Any) -> Config:
    """A config from a parsed TOML document: checked against the schema, then laid over the default."""
    problems = contract.errors("mock-config", data, settings=True)
    if problems:
        raise ConfigError("; ".join(contract.describe(e) for e in problems[:3]))
    config = from_dict(data)
    check_references(config)
    return config


def check_references(config: Config) -> None:
    """Names that refer to each other must exist: aliases name models, profiles name fail reasons."""
    if len(config.fail_reasons) > MAX_REASONS:
        raise ConfigError(f"fail_reasons: at most {MAX_REASONS} in the catalogue, so a task id can carry the choice")
    if len(config.models) > MAX_MODELS:
        raise ConfigError(f"models: at most {MAX_MODELS}, so a task id can carry its profile")
    for alias, model in config.aliases.items():
        if model not in config.models:
            raise ConfigError(f"aliases.{alias}: no model {model!r} in models")
    for model, takes in config.takes.items():
        if model not in config.models or not takes:
            raise ConfigError(f"replay: {model!r} has no profile or no recorded lifecycle")
    reasons = tuple(config.fail_reasons)
    for alias, scenario in config.alias_scenarios.items():
        if alias not in config.aliases:
            raise ConfigError(f"aliases.{alias}: a scenario needs the alias's model")
        _scenario(scenario, reasons, f"aliases.{alias}.scenario")
    for key, scenario in config.key_scenarios.items():
        if key not in config.keys:
            raise ConfigError(f"key_scenarios.{key}: not one of keys")
        _scenario(scenario, reasons, f"key_scenarios.{key}")
    named = [*(f"profiles.{s}" for s in config.profiles), *(f"models.{m}" for m in config.models)]
    for name, profile in zip(named, [*config.profiles.values(), *config.models.values()]):
        unknown = sorted(set(profile.fail_reasons) - set(config.fail_reasons))
        if unknown:
            raise ConfigError(f"{name}.fail_reasons: {unknown} not in the fail_reasons catalogue")
        if name.startswith("models.") and profile.scope not in SCOPES:
            raise ConfigError(f"{name}.scope: {profile.scope!r} is not one of {list(SCOPES)}")
        scope = profile.scope or name.removeprefix("profiles.")
        actions = modes.ACTIONS[scope]
        unknown = sorted(set(profile.modes) - set(actions))
        if unknown:
            raise ConfigError(f"{name}.modes: {unknown} are not actions of its scope; use {list(actions)}")
        if profile.lifecycle not in scenarios.LIFECYCLES:
            raise ConfigError(f"{name}.lifecycle: {profile.lifecycle!r} is not one of {list(scenarios.LIFECYCLES)}")
        _action(name, profile.action)


def from_dict(data: dict[str, Any]) -> Config:
    """A config from already validated data, laid over the embedded default."""
    base = Config()
    profiles = dict(base.profiles)
    for scope, given in data.get("profiles", {}).items():
        profiles[scope] = _profile(profiles[scope], given)
    models = dict(base.models)
    for name, given in data.get("models", {}).items():
        under = models.get(name)
        if under is None or under.scope != given["scope"]:
            under = profiles[given["scope"]]
        models[name] = _profile(under, given)
    top: dict[str, Any] = {k: v for k, v in data.items() if k in {f.name for f in fields(Config)}}
    top.update(profiles=profiles, models=models)
    for listed in ("keys", "cors_origins"):
        if listed in data:
            top[listed] = tuple(data[listed])
    given = data.get("aliases", {})
    top["aliases"] = {**base.aliases, **{a: m if isinstance(m, str) else m["model"] for a, m in given.items()}}
    top["alias_scenarios"] = {a: m["scenario"] for a, m in given.items() if isinstance(m, dict) and "scenario" in m}
    top["fail_reasons"] = {**base.fail_reasons, **data.get("fail_reasons", {})}
    top["scenarios"] = replace(base.scenarios, **data.get("scenarios", {}))
    top["faults"] = faults_from(data.get("faults", {}), base.faults)
    top["callbacks"] = callback_settings.from_dict(data.get("callbacks", {}))
    return replace(base, **top)


def faults_from(given: dict[str, Any], base: Faults | None = None) -> Faults:
    """Faults from the config's ``faults`` table (also the body of ``PUT /_mock/faults``)."""
    values = dict(given)
    if "latency" in values:
        values["latency"] = timing(values["latency"])
    return replace(base or Faults(), **values)


def _profile(under: Profile, given: dict[str, Any]) -> Profile:
    values: dict[str, Any] = {}
    for name, value in given.items():
        if name in ("queue", "run"):
            value = timing(value)
        elif name == "fail_reasons":
            value = tuple(value)
        values[name] = value
    return replace(under, **values)


def _action(name: str, template: str) -> None:
    """An action template names only {mode}, {platform} and {scope}, plainly (no attributes, indexes or formats)."""
    try:
        named = [(field, spec, conv) for _, field, spec, conv in Formatter().parse(template) if field is not None]
    except ValueError as exc:
        raise ConfigError(f"{name}.action: {template!r} is not a template ({exc})") from None
    for given, spec, conversion in named:
        if given not in ACTION_FIELDS or spec or conversion:
            raise ConfigError(f"{name}.action: {{{given}}} is not one of {{mode}}, {{platform}} or {{scope}}")


def _scenario(scenario: str, reasons: tuple[str, ...], field: str) -> None:
    try:
        scenarios.parse(scenario, reasons, field)
    except scenarios.UnknownScenario as exc:
        raise ConfigError(str(exc)) from None
