"""Scenario rules set at run time through the admin API: fates for clients that cannot send a header.

"The next N submits play X" and "a fraction P of submits play X", each optionally narrowed to a scope,
a model (as sent) or an API key, as WireMock's scenarios and chaos settings are steered from a test.
Rules are tried in the order they were added; the first that matches and fires decides, and a ``next``
rule is gone once spent. Fractions draw from one generator seeded by the seed, in arrival order, so
the same seed and requests play the same fates. The choice then travels in the signed id as a header's
would, so every worker replays it. Rules live in one process, as run-time faults do, unless the workers
share a SQLite store, which then holds the rules too (``stores.sqlite_rules``), or Redis
(``stores.redis_shared.RedisRules``). Every kind
is awaited, as Redis's must be; a submit asks only when ``active`` says a rule may apply.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any, Protocol

from .. import contract
from . import scenarios

MAX_RULES = 1000


@dataclass
class Rule:
    number: int
    scenario: str
    choice: scenarios.Choice
    left: int | None  # submits still to play it (a "next" rule); None for a fraction
    fraction: float | None
    scope: str | None
    model: str | None
    key: str | None
    owner: int | None  # the key as the app knows it
    played: int = 0

    def matches(self, scope: str, model: str, owner: int) -> bool:
        return (self.scope or scope) == scope and (self.model or model) == model and self.owner in (None, owner)

    def as_dict(self) -> dict[str, Any]:
        kind = {"next": self.left} if self.left is not None else {"fraction": self.fraction}
        narrowed = {name: getattr(self, name) for name in ("scope", "model", "key") if getattr(self, name) is not None}
        return {"id": self.number, "scenario": self.scenario, **kind, **narrowed, "played": self.played}


def key_owner(key: str) -> int:
    """How the app tells keys apart: the same 8 bytes of SHA-256 it keeps for each accepted key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def checked(
    number: int, scenario: Any, left: Any, fraction: Any, scope: Any, model: Any, key: Any, played: Any, reasons: Any
) -> Rule:
    """A rule as a store kept it, checked as the admin API checks one (``schemas/mock-rule.json``): the file or
    Redis is outside the process, and a field another tool wrote wrong made every submit a 500. ValueError
    (``scenarios.UnknownScenario`` too) names what is wrong."""
    given = {"scenario": scenario, "next": left, "fraction": fraction, "scope": scope, "model": model, "key": key}
    if found := contract.errors("mock-rule", {name: v for name, v in given.items() if v is not None}, settings=True):
        raise ValueError(contract.describe(found[0]))
    if not isinstance(played, int) or isinstance(played, bool) or played < 0:
        raise ValueError(f"played: {contract.quote(played)} is not a count")
    owner = None if key is None else key_owner(key)
    return Rule(number, scenario, scenarios.parse(scenario, reasons), left, fraction, scope, model, key, owner, played)


class RuleBook(Protocol):
    """Where rules are kept: this process (``MemoryRules``), the workers' SQLite file or the fleet's Redis
    (``stores``). Every kind is awaited, as Redis's must be."""

    @property
    def active(self) -> bool:
        """Whether a submit need ask at all."""
        ...

    async def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        """The choice of the first matching rule that fires for this submit, spending it; or None."""
        ...

    async def add(self, rule: Rule) -> Rule: ...

    async def remove(self, number: int) -> Rule | None: ...

    async def listing(self) -> list[Rule]: ...

    async def clear(self) -> None: ...

    def forget(self) -> None:
        """The rules may have changed elsewhere: drop what is kept of them."""
        ...


def fires(rule: Rule, draws: random.Random) -> bool:
    """Whether a fraction rule plays for this submit: one draw, in arrival order."""
    return rule.fraction is not None and draws.random() < rule.fraction


class MemoryRules:
    """Rules in this process's memory: the default, and what each worker keeps unless they share a store."""

    def __init__(self, seed: int) -> None:
        self.rules: list[Rule] = []
        self.seed = seed
        self.draws = random.Random(seed)
        self.counter = 0

    @property
    def active(self) -> bool:
        """Whether a submit need ask at all; a plain list check, so submits without rules pay nothing."""
        return bool(self.rules)

    async def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        """The choice of the first matching rule that fires for this submit, or None."""
        for rule in self.rules:
            if not rule.matches(scope, model, owner):
                continue
            if rule.left is not None:
                rule.left -= 1
                if not rule.left:
                    self.rules.remove(rule)
            elif not fires(rule, self.draws):
                continue
            rule.played += 1
            return rule.choice
        return None

    async def add(self, rule: Rule) -> Rule:
        self.counter += 1
        rule.number = self.counter
        self.rules.append(rule)
        return rule

    async def remove(self, number: int) -> Rule | None:
        found = next((rule for rule in self.rules if rule.number == number), None)
        if found is not None:
            self.rules.remove(found)
        return found

    async def listing(self) -> list[Rule]:
        return list(self.rules)

    async def clear(self) -> None:
        self.rules.clear()
        self.draws = random.Random(self.seed)

    def forget(self) -> None:
        """Nothing is kept apart from the rules themselves."""
