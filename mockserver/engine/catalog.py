"""The config resolved into numbered tables, so a task's record holds small integers, not names.

A record keeps the index of its profile and of its failure reason; the same config gives the same
numbering, so records stay meaningful across a restart with the same config.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import modes
from .config import SCOPES, Config, check_references
from .profiles import SCOPE_DEFAULTS, Profile
from .recorded_takes import Take
from .scenarios import LIFECYCLES, Choice, Settings, parse


@dataclass(frozen=True)
class Catalog:
    """``index`` maps (scope, model or alias) to a profile's number; ``defaults`` maps a scope to its default."""

    profiles: tuple[Profile, ...]
    names: tuple[str, ...]
    index: dict[tuple[str, str], int]
    defaults: dict[str, int]
    reasons: tuple[str, ...]
    messages: tuple[str, ...]
    settings: Settings
    scale: float
    seed: int
    strict: bool
    chosen: dict[tuple[str, str], Choice]  # (scope, alias) to the scenario the alias plays
    scopes: tuple[str, ...]  # each profile's scope, by number
    takes: dict[int, tuple[Take, ...]] = field(default_factory=dict)  # recorded lifecycles (--replay), by profile
    actions: tuple[tuple[str, ...], ...] = ()  # each profile's task answer action, by mode (modes.INPUTS)
    lifecycles: tuple[int, ...] = ()  # each profile's lifecycle, an index into scenarios.LIFECYCLES

    def profile_for(self, scope: str, model: str) -> int | None:
        """The profile a model plays in a scope; None for an unknown model when models are strict."""
        found = self.index.get((scope, model))
        if found is None and not self.strict:
            return self.defaults[scope]
        return found


def resolve(config: Config) -> Catalog:
    """Number the profiles and reasons, after checking that every name refers to something that exists."""
    check_references(config)
    defaults = {scope: config.profiles.get(scope, SCOPE_DEFAULTS[scope]) for scope in SCOPES}
    profiles = [*defaults.values(), *config.models.values()]
    names = [f"{scope} default" for scope in SCOPES] + list(config.models)
    scopes = (*SCOPES, *(p.scope for p in config.models.values()))
    number = {name: n for n, name in enumerate(names)}
    index = {(p.scope, name): number[name] for name, p in config.models.items()}
    for alias, model in config.aliases.items():  # a model of the alias's own name is played by that name
        index.setdefault((config.models[model].scope, alias), number[model])
    return Catalog(
        profiles=tuple(profiles),
        names=tuple(names),
        index=index,
        defaults={scope: n for n, scope in enumerate(SCOPES)},
        reasons=tuple(config.fail_reasons),
        messages=tuple(config.fail_reasons.values()),
        settings=config.scenarios,
        scale=config.time_scale,
        seed=config.seed,
        strict=config.strict_models,
        scopes=scopes,
        actions=tuple(actions(p, scope) for p, scope in zip(profiles, scopes)),
        lifecycles=tuple(LIFECYCLES.index(p.lifecycle) for p in profiles),
        takes={number[model]: takes for model, takes in config.takes.items()},
        chosen={
            (config.models[config.aliases[alias]].scope, alias): parse(scenario, tuple(config.fail_reasons))
            for alias, scenario in config.alias_scenarios.items()
        },
    )


def actions(profile: Profile, scope: str) -> tuple[str, ...]:
    """What ``action`` says for each mode of a profile's tasks: its template filled in (config.check_references tries it)."""
    fill = {"platform": profile.platform, "scope": scope}
    return tuple(profile.action.format(mode=mode, **fill) for mode in modes.ACTIONS[scope])
