"""Scenario rules in the SQLite file the workers share (``--store sqlite:PATH``), beside their tasks.

A rule set through one worker plays for submits reaching any of them, and a ``next`` rule counts its submits
across them all. Each submit without a header reads the rules (a few microseconds beside the store's own
write). The connection waits a second at most for another program's write lock, as the store's does: it runs
on the event loop, and a 10 s wait froze every request and ended in a plain 500. A failure is ``StoreError``,
answered as the store's are (a JSON 503 with ``Retry-After``).
"""

from __future__ import annotations

import logging
import random
import sqlite3
from typing import Any

from ..engine import scenarios
from ..engine.rules import Rule, checked, fires
from . import sqlite_file
from .base import StoreError

log = logging.getLogger(__name__)


class SqliteRules:
    """Rules in the SQLite file that workers share; each method one or two statements on it."""

    _COLUMNS = "number, scenario, left, fraction, scope, model, key, owner, played"

    def __init__(self, path: str, seed: int, reasons: tuple[str, ...]) -> None:
        self.seed, self.reasons = seed, reasons
        self.draws = random.Random(seed)
        self._db = sqlite_file.connect(path)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_rules (number INTEGER PRIMARY KEY AUTOINCREMENT, scenario TEXT, "
            "left INTEGER, fraction REAL, scope TEXT, model TEXT, key TEXT, owner INTEGER, played INTEGER)"
        )

    def close(self) -> None:
        self._db.close()

    @property
    def active(self) -> bool:
        return True

    def forget(self) -> None:
        """Nothing is kept: every submit reads the file."""

    def _run(self, sql: str, parameters: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        try:
            return self._db.execute(sql, parameters)
        except sqlite3.Error as exc:
            raise StoreError(f"the rules in the SQLite file: {exc}") from exc

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
                if not self._run(spent, (rule.number,)).rowcount:
                    continue  # another worker spent it meanwhile
                self._run("DELETE FROM mock_rules WHERE number = ? AND left = 0", (rule.number,))
            elif not fires(rule, self.draws):
                continue
            else:
                self._run("UPDATE mock_rules SET played = played + 1 WHERE number = ?", (rule.number,))
            return rule.choice
        return None

    async def add(self, rule: Rule) -> Rule:
        values = (rule.scenario, rule.left, rule.fraction, rule.scope, rule.model, rule.key, rule.owner, rule.played)
        insert = "INSERT INTO mock_rules (scenario, left, fraction, scope, model, key, owner, played) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        rule.number = self._run(insert, values).lastrowid or 0
        return rule

    async def remove(self, number: int) -> Rule | None:
        found = next((rule for rule in await self.listing() if rule.number == number), None)
        if found is not None:
            self._run("DELETE FROM mock_rules WHERE number = ?", (number,))
        return found

    async def listing(self) -> list[Rule]:
        try:
            rows = self._db.execute(f"SELECT {self._COLUMNS} FROM mock_rules ORDER BY number").fetchall()
        except sqlite3.Error as exc:
            raise StoreError(f"the rules in the SQLite file: {exc}") from exc
        return [rule for row in rows if (rule := self._rule(row)) is not None]

    async def clear(self) -> None:
        self._run("DELETE FROM mock_rules")
        self.draws = random.Random(self.seed)
