"""Scenario rules set at run time through the admin API: fates for clients that cannot send a header.

"The next N submits play X" and "a fraction P of submits play X", each optionally narrowed to a scope,
a model (as sent) or an API key, as WireMock's scenarios and chaos settings are steered from a test.
Rules are tried in the order they were added; the first that matches and fires decides, and a ``next``
rule is gone once spent. Fractions draw from one generator seeded by the seed, in arrival order, so
the same seed and requests play the same fates. The choice then travels in the signed id as a header's
would, so every worker replays it. Rules live in one process, as run-time faults do, unless the workers
share a SQLite store, which then holds the rules too, or Redis (``redis_shared.RedisRules``). Every kind
is awaited, as Redis's must be; a submit asks only when ``active`` says a rule may apply.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from . import contract, scenarios
from .adminio import body_of, refusal
from .errors import Refused, error

if TYPE_CHECKING:
    from .service import Service

MAX_RULES = 1000
log = logging.getLogger(__name__)


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


class Rules:
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
            elif self.draws.random() >= rule.fraction:  # type: ignore[operator]
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


class SharedRules(Rules):
    """Rules in the SQLite file that workers share (``--store sqlite:PATH``), so a rule set through one
    worker plays for submits reaching any of them, and a ``next`` rule counts its submits across them all.
    Each submit without a header reads the rules (a few microseconds beside the store's own write).
    """

    _COLUMNS = "number, scenario, left, fraction, scope, model, key, owner, played"

    def __init__(self, path: str, seed: int, reasons: tuple[str, ...]) -> None:
        super().__init__(seed)
        self.reasons = reasons
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_rules (number INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT, "
            "left INTEGER, fraction REAL, scope TEXT, model TEXT, key TEXT, owner INTEGER, played INTEGER)"
        )

    @property
    def active(self) -> bool:
        return True

    def _rule(self, row: tuple[Any, ...]) -> Rule | None:
        """A row as a rule; None, logged, for one another tool wrote wrong: it plays for no submit, the others do."""
        number, scenario, left, fraction, scope, model, key, _, played = row
        try:
            return checked(number, scenario, left, fraction, scope, model, key, played, self.reasons)
        except ValueError as exc:
            log.warning("skipped rule %r of mock_rules: %s", number, exc)
            return None

    async def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        for rule in await self.listing():
            if not rule.matches(scope, model, owner):
                continue
            if rule.left is not None:
                spent = "UPDATE mock_rules SET left = left - 1, played = played + 1 WHERE number = ? AND left > 0"
                if not self._db.execute(spent, (rule.number,)).rowcount:
                    continue  # another worker spent it meanwhile
                self._db.execute("DELETE FROM mock_rules WHERE number = ? AND left = 0", (rule.number,))
            elif self.draws.random() >= rule.fraction:  # type: ignore[operator]
                continue
            else:
                self._db.execute("UPDATE mock_rules SET played = played + 1 WHERE number = ?", (rule.number,))
            return rule.choice
        return None

    async def add(self, rule: Rule) -> Rule:
        values = (rule.scenario, rule.left, rule.fraction, rule.scope, rule.model, rule.key, rule.owner, rule.played)
        insert = "INSERT INTO mock_rules (scenario, left, fraction, scope, model, key, owner, played) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        rule.number = self._db.execute(insert, values).lastrowid or 0
        return rule

    async def remove(self, number: int) -> Rule | None:
        found = next((rule for rule in await self.listing() if rule.number == number), None)
        if found is not None:
            self._db.execute("DELETE FROM mock_rules WHERE number = ?", (number,))
        return found

    async def listing(self) -> list[Rule]:
        rows = self._db.execute(f"SELECT {self._COLUMNS} FROM mock_rules ORDER BY number")
        return [rule for row in rows if (rule := self._rule(row)) is not None]

    async def clear(self) -> None:
        self._db.execute("DELETE FROM mock_rules")
        self.draws = random.Random(self.seed)


def routes(service: Service, guard: Any) -> list[Route]:
    """``/_mock/rules``: GET lists, POST adds, DELETE clears; ``/_mock/rules/{id}``: DELETE removes one."""
    rules = service.rules

    async def listed(request: Request) -> Response:
        if request.method == "DELETE":
            await rules.clear()
        return JSONResponse({"rules": [rule.as_dict() for rule in await rules.listing()]})

    async def add(request: Request) -> Response:
        payload = await body_of(request, None)
        if isinstance(payload, dict) and ("next" in payload) == ("fraction" in payload):  # the schema's oneOf, in words
            return error(400, "invalid_field", "Give exactly one of next (a count of submits) or fraction (0 to 1).")
        if problems := contract.errors("mock-rule", payload, settings=True):
            raise refusal(problems)
        try:
            choice = scenarios.parse(payload["scenario"], service.catalog.reasons, "scenario")
        except scenarios.UnknownScenario as exc:
            raise Refused(400, "invalid_field", str(exc), param="scenario") from None
        key = payload.get("key")
        if key is not None and key not in service.config.keys:
            return error(400, "invalid_field", "key is not one of the keys this mock accepts.", param="key")
        if len(await rules.listing()) >= MAX_RULES:
            return error(400, "invalid_field", f"At most {MAX_RULES} rules at once; DELETE /_mock/rules first.")
        rule = Rule(
            0,
            payload["scenario"],
            choice,
            payload.get("next"),
            payload.get("fraction"),
            payload.get("scope"),
            payload.get("model"),
            key,
            None if key is None else key_owner(key),
        )
        return JSONResponse((await rules.add(rule)).as_dict(), status_code=201)

    async def remove(request: Request) -> Response:
        given = request.path_params["number"]
        found = await rules.remove(int(given)) if given.isdigit() and len(given) < 19 else None
        if found is None:
            return error(404, "not_found", "No rule with that id (spent next rules are gone).")
        return JSONResponse(found.as_dict())

    return [
        Route("/_mock/rules", guard(listed), methods=["GET", "DELETE"]),
        Route("/_mock/rules", guard(add), methods=["POST"]),
        Route("/_mock/rules/{number}", guard(remove), methods=["DELETE"]),
    ]
