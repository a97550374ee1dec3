"""Which callbacks were asked for and which deliveries are settled: in memory, in the workers' SQLite file,
or in the fleet's Redis (``stores/redis_ledger.py``).

A delivery is claimed before it is sent. In memory one process holds every claim. In the SQLite file
a claim is a row that only one worker can insert, so of several workers that know a delivery (after a
restart, each loads every unsettled callback) exactly one sends it. A claim whose sender died before it
settled runs out after ``lease`` seconds and may then be taken again: so a kill between the receiver's
2xx and the settling write sends that delivery once more, with the same ``webhook-id``. Every ledger is
awaited, as Redis's must be; the local ones answer at once.
"""

from __future__ import annotations

import logging
import os
from functools import cache
from typing import Any, Protocol

from .. import contract
from ..engine.callback_request import Asked, Refusal, check_url
from ..engine.callback_settings import Allowed
from . import sqlite_file

Key = tuple[str, int]  # webhook-id and copy


Noted = tuple[str, Asked, str]  # task id, what was asked, the output links' base
log = logging.getLogger("mockserver.callbacks")


class Ledger(Protocol):
    async def add(self, task_id: str, asked: Asked, media_base: str) -> None: ...

    async def unsettled(self, allowed: Allowed) -> list[Noted]:
        """Every callback with a delivery still to settle."""
        ...

    async def adopted(self, allowed: Allowed) -> list[Noted]:
        """Callbacks other processes noted since the last look, where processes come and go while others run
        (a fleet on Redis); none where one process holds every claim, or workers start and stop together."""
        ...

    async def claim(self, key: Key, now: float, lease: float) -> float | None:
        """None when this worker may send ``key`` now; else when to look again (inf: settled already)."""
        ...

    async def hold(self, key: Key, now: float, lease: float) -> bool:
        """Renew this worker's claim on ``key`` for ``lease`` from ``now``, as an attempt starts; False when it is
        no longer this worker's to send (it lapsed and another took it, or it is settled)."""
        ...

    async def settle(self, key: Key, outcome: str) -> None: ...

    async def finish(self, task_id: str, keys: list[Key]) -> None:
        """Every delivery of the task (``keys``) is settled; it is no longer loaded at start."""
        ...

    async def clear(self) -> None: ...


class MemoryLedger:
    def __init__(self) -> None:
        self._asked: dict[str, tuple[Asked, str]] = {}
        self._claims: dict[Key, float] = {}  # when claimed; -1 once settled

    async def add(self, task_id: str, asked: Asked, media_base: str) -> None:
        self._asked[task_id] = (asked, media_base)

    async def unsettled(self, allowed: Allowed) -> list[Noted]:
        return [(task_id, asked, base) for task_id, (asked, base) in self._asked.items()]

    async def adopted(self, allowed: Allowed) -> list[Noted]:
        return []

    async def claim(self, key: Key, now: float, lease: float) -> float | None:
        claimed = self._claims.get(key)
        if claimed is None:
            self._claims[key] = now
            return None
        return float("inf") if claimed < 0 else claimed + lease

    async def hold(self, key: Key, now: float, lease: float) -> bool:
        if self._claims.get(key) == -1:
            return False
        self._claims[key] = now
        return True

    async def settle(self, key: Key, outcome: str) -> None:
        self._claims[key] = -1

    async def finish(self, task_id: str, keys: list[Key]) -> None:
        self._asked.pop(task_id, None)
        for key in keys:
            self._claims.pop(key, None)

    async def clear(self) -> None:
        self._asked.clear()
        self._claims.clear()


class SqliteLedger:
    """Two tables beside the store's tasks: ``mock_callbacks`` (what was asked) and ``mock_callback_sends``."""

    def __init__(self, path: str | os.PathLike[str], worker: str) -> None:
        self.worker = worker
        self._db = sqlite_file.connect(path)
        self._db.text_factory = _text  # a damaged row is skipped, not every row with it
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_callbacks (task_id TEXT PRIMARY KEY, url TEXT, every INTEGER, "
            "fault INTEGER, base TEXT, finished INTEGER DEFAULT 0)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_callback_sends (webhook_id TEXT, copy INTEGER, worker TEXT, "
            "claimed_at REAL, outcome TEXT, PRIMARY KEY (webhook_id, copy))"
        )

    def close(self) -> None:
        self._db.close()

    async def add(self, task_id: str, asked: Asked, media_base: str) -> None:
        row = (task_id, asked.url, int(asked.every_change), asked.fault, media_base)
        self._db.execute("INSERT OR REPLACE INTO mock_callbacks VALUES (?, ?, ?, ?, ?, 0)", row)

    async def unsettled(self, allowed: Allowed) -> list[Noted]:
        rows = self._db.execute("SELECT task_id, url, every, fault, base FROM mock_callbacks WHERE finished = 0")
        found = (checked(task_id, url, every, fault, base, allowed) for task_id, url, every, fault, base in rows)
        return [noted for noted in found if noted is not None]

    async def adopted(self, allowed: Allowed) -> list[Noted]:
        return []

    async def claim(self, key: Key, now: float, lease: float) -> float | None:
        inserted = self._db.execute(
            "INSERT OR IGNORE INTO mock_callback_sends VALUES (?, ?, ?, ?, NULL)", (*key, self.worker, now)
        )
        if inserted.rowcount:
            return None
        taken = self._db.execute(
            "UPDATE mock_callback_sends SET worker = ?, claimed_at = ? "
            "WHERE webhook_id = ? AND copy = ? AND outcome IS NULL AND claimed_at + ? <= ?",
            (self.worker, now, *key, lease, now),
        )
        if taken.rowcount:
            return None
        row = self._db.execute(
            "SELECT claimed_at, outcome FROM mock_callback_sends WHERE webhook_id = ? AND copy = ?", key
        ).fetchone()
        if row is None or row[1] is not None:
            return float("inf")
        return float(row[0]) + lease

    async def hold(self, key: Key, now: float, lease: float) -> bool:
        held = self._db.execute(
            "UPDATE mock_callback_sends SET claimed_at = ? "
            "WHERE webhook_id = ? AND copy = ? AND worker = ? AND outcome IS NULL",
            (now, *key, self.worker),
        )
        return held.rowcount == 1

    async def settle(self, key: Key, outcome: str) -> None:
        self._db.execute(
            "UPDATE mock_callback_sends SET outcome = ? WHERE webhook_id = ? AND copy = ? AND worker = ?",
            (outcome, *key, self.worker),
        )

    async def finish(self, task_id: str, keys: list[Key]) -> None:
        self._db.execute("UPDATE mock_callbacks SET finished = 1 WHERE task_id = ?", (task_id,))

    async def clear(self) -> None:
        self._db.execute("DELETE FROM mock_callbacks")
        self._db.execute("DELETE FROM mock_callback_sends")


def _text(raw: bytes) -> str | bytes:
    """A TEXT value as SQLite holds it: not UTF-8 (damage, or another tool), it stays bytes, which no check passes."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw


def checked(task_id: Any, url: Any, every: Any, fault: Any, base: Any, allowed: Allowed) -> Noted | None:
    """A noted callback as another tool, or damage, could have written it: one that is not what ``add`` writes,
    or whose URL the allow-list now refuses, is logged and None, and the rest are read on."""
    if not sound(task_id, url, every, fault, base):
        log.warning("callbacks: skipped a damaged ledger entry for task %.80r", task_id)
        return None
    try:
        check_url("callback_url", url, allowed)
    except Refusal as refusal:
        log.warning("callbacks: skipped task %s: %s", task_id, refusal.message)
        return None
    return task_id, Asked(url, bool(every), fault), base


def sound(task_id: Any, url: Any, every: Any, fault: Any, base: Any) -> bool:
    """Whether a noted callback is what ``add`` writes: ``schemas/mock-callback.json#/$defs/noted``."""
    noted = {"task_id": task_id, "url": url, "every": every, "fault": fault, "base": base}
    return _noted_validator().is_valid(noted)


@cache
def _noted_validator() -> Any:
    """The contract's own validator (its ``$`` ends the string, as ECMA-262's does), on the one definition."""
    return contract.validator("mock-callback").evolve(
        schema={"$ref": f"{contract.BASE_ID}mock-callback.json#/$defs/noted"}
    )
