"""Scenario rules set at run time through the admin API: fates for clients that cannot send a header.

"The next N submits play X" and "a fraction P of submits play X", each optionally narrowed to a scope,
a model (as sent) or an API key, as WireMock's scenarios and chaos settings are steered from a test.
Rules are tried in the order they were added; the first that matches and fires decides, and a ``next``
rule is gone once spent. Fractions draw from one generator seeded by the seed, in arrival order, so
the same seed and requests play the same fates. The choice then travels in the signed id as a header's
would, so every worker replays it. Rules live in one process, as run-time faults do.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from contract_tests import contract

from . import jsonio, scenarios
from .errors import error

if TYPE_CHECKING:
    from .app import Mock

BODY = Draft202012Validator(contract.schema("mock-rule"), registry=contract.registry())
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

    def as_dict(self) -> dict[str, Any]:
        kind = {"next": self.left} if self.left is not None else {"fraction": self.fraction}
        narrowed = {name: getattr(self, name) for name in ("scope", "model", "key") if getattr(self, name) is not None}
        return {"id": self.number, "scenario": self.scenario, **kind, **narrowed, "played": self.played}


def key_owner(key: str) -> int:
    """How the app tells keys apart: the same 8 bytes of SHA-256 it keeps for each accepted key."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


class Rules:
    def __init__(self, seed: int) -> None:
        self.rules: list[Rule] = []
        self.seed = seed
        self.draws = random.Random(seed)
        self.counter = 0

    def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        """The choice of the first matching rule that fires for this submit, or None."""
        for rule in self.rules:
            if (rule.scope or scope) != scope or (rule.model or model) != model or rule.owner not in (None, owner):
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

    def clear(self) -> None:
        self.rules.clear()
        self.draws = random.Random(self.seed)


def routes(mock: Mock, guard: Any) -> list[Route]:
    """``/_mock/rules``: GET lists, POST adds, DELETE clears; ``/_mock/rules/{id}``: DELETE removes one."""
    rules = mock.rules

    async def listed(request: Request) -> Response:
        if request.method == "DELETE":
            rules.clear()
        return JSONResponse({"rules": [rule.as_dict() for rule in rules.rules]})

    async def add(request: Request) -> Response:
        try:
            payload = jsonio.loads(await request.body())
        except ValueError as exc:
            return error(400, "invalid_json", f"The body is not strict JSON: {exc}.")
        if isinstance(payload, dict) and ("next" in payload) == ("fraction" in payload):
            return error(400, "invalid_field", "Give exactly one of next (a count of submits) or fraction (0 to 1).")
        problems = sorted(BODY.iter_errors(payload), key=lambda e: e.json_path)
        if problems:
            first = problems[0]
            return error(
                400, "invalid_field", contract.describe(first), param=contract.location(first).lstrip("/") or None
            )
        choice = scenarios.parse(payload["scenario"], mock.catalog.reasons, "scenario")
        if isinstance(choice, str):
            return error(400, "invalid_field", choice, param="scenario")
        key = payload.get("key")
        if key is not None and key not in mock.config.keys:
            return error(400, "invalid_field", "key is not one of the keys this mock accepts.", param="key")
        if len(rules.rules) >= MAX_RULES:
            return error(400, "invalid_field", f"At most {MAX_RULES} rules at once; DELETE /_mock/rules first.")
        rules.counter += 1
        rule = Rule(
            rules.counter,
            payload["scenario"],
            choice,
            payload.get("next"),
            payload.get("fraction"),
            payload.get("scope"),
            payload.get("model"),
            key,
            None if key is None else key_owner(key),
        )
        rules.rules.append(rule)
        return JSONResponse(rule.as_dict(), status_code=201)

    async def remove(request: Request) -> Response:
        number = request.path_params["number"]
        found = next((rule for rule in rules.rules if str(rule.number) == number), None)
        if found is None:
            return error(404, "not_found", "No rule with that id (spent next rules are gone).")
        rules.rules.remove(found)
        return JSONResponse(found.as_dict())

    return [
        Route("/_mock/rules", guard(listed), methods=["GET", "DELETE"]),
        Route("/_mock/rules", guard(add), methods=["POST"]),
        Route("/_mock/rules/{number}", guard(remove), methods=["DELETE"]),
    ]
