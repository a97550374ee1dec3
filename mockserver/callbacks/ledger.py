"""Which callbacks were asked for and which deliveries are settled: in memory, or in the workers' SQLite file.

A delivery is claimed before it is sent. In memory one process holds every claim. In the SQLite file
a claim is a row that only one worker can insert, so of several workers that know a delivery (after a
restart, each loads every unsettled callback) exactly one sends it. A claim whose sender died before it
settled runs out after ``lease`` seconds and may then be taken again: so a kill between the receiver's
2xx and the settling write sends that delivery once more, with the same ``webhook-id``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from typing import Protocol

from .asked import Asked, Refusal, Target, check_url

Key = tuple[str, int]  # webhook-id and copy


class Ledger(Protocol):
    def add(self, task_id: str, asked: Asked, media_base: str) -> None: ...

    def unsettled(self, allowed: tuple[str, ...]) -> Iterator[tuple[str, Asked, str]]:
        """Every callback with a delivery still to settle: task id, what was asked, the output links' base."""
        ...

    def claim(self, key: Key, now: float, lease: float) -> float | None:
        """None when this worker may send ``key`` now; else when to look again (inf: settled already)."""
        ...

    def settle(self, key: Key, outcome: str) -> None: ...

    def finish(self, task_id: str, keys: list[Key]) -> None:
        """Every delivery of the task (``keys``) is settled; it is no longer loaded at start."""
        ...

    def clear(self) -> None: ...


class MemoryLedger:
    def __init__(self) -> None:
        self._asked: dict[str, tuple[Asked, str]] = {}
        self._claims: dict[Key, float] = {}  # when claimed; -1 once settled

    def add(self, task_id: str, asked: Asked, media_base: str) -> None:
        self._asked[task_id] = (asked, media_base)

    def unsettled(self, allowed: tuple[str, ...]) -> Iterator[tuple[str, Asked, str]]:
        return ((task_id, asked, base) for task_id, (asked, base) in list(self._asked.items()))

    def claim(self, key: Key, now: float, lease: float) -> float | None:
        claimed = self._claims.get(key)
        if claimed is None:
            self._claims[key] = now
            return None
        return float("inf") if claimed < 0 else claimed + lease

    def settle(self, key: Key, outcome: str) -> None:
        self._claims[key] = -1

    def finish(self, task_id: str, keys: list[Key]) -> None:
        self._asked.pop(task_id, None)
        for key in keys:
            self._claims.pop(key, None)

    def clear(self) -> None:
        self._asked.clear()
        self._claims.clear()


class SqliteLedger:
    """Two tables beside the store's tasks: ``mock_callbacks`` (what was asked) and ``mock_callback_sends``."""

    def __init__(self, path: str | os.PathLike[str], worker: str) -> None:
        self.worker = worker
        self._db = sqlite3.connect(path, timeout=1, isolation_level=None, check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_callbacks (task_id TEXT PRIMARY KEY, url TEXT, every INTEGER, "
            "fault INTEGER, base TEXT, finished INTEGER DEFAULT 0)"
        )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS mock_callback_sends (webhook_id TEXT, copy INTEGER, worker TEXT, "
            "claimed_at REAL, outcome TEXT, PRIMARY KEY (webhook_id, copy))"
        )

    def add(self, task_id: str, asked: Asked, media_base: str) -> None:
        row = (task_id, asked.url, int(asked.every_change), asked.fault, media_base)
        self._db.execute("INSERT OR REPLACE INTO mock_callbacks VALUES (?, ?, ?, ?, ?, 0)", row)

    def unsettled(self, allowed: tuple[str, ...]) -> Iterator[tuple[str, Asked, str]]:
        """Rows any SQLite tool could have written: a damaged one, or a URL the allow-list now refuses, is skipped."""
        rows = self._db.execute("SELECT task_id, url, every, fault, base FROM mock_callbacks WHERE finished = 0")
        for task_id, url, every, fault, base in rows.fetchall():
            sound = isinstance(task_id, str) and isinstance(base, str) and isinstance(fault, int) and 0 <= fault <= 4
            target = _usable(url, allowed) if sound and isinstance(url, str) and len(url) <= 2048 else None
            if target is not None:
                yield task_id, Asked(url, target, bool(every), fault), base

    def claim(self, key: Key, now: float, lease: float) -> float | None:
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

    def settle(self, key: Key, outcome: str) -> None:
        self._db.execute(
            "UPDATE mock_callback_sends SET outcome = ? WHERE webhook_id = ? AND copy = ? AND worker = ?",
            (outcome, *key, self.worker),
        )

    def finish(self, task_id: str, keys: list[Key]) -> None:
        self._db.execute("UPDATE mock_callbacks SET finished = 1 WHERE task_id = ?", (task_id,))

    def clear(self) -> None:
        self._db.execute("DELETE FROM mock_callbacks")
        self._db.execute("DELETE FROM mock_callback_sends")


def _usable(url: str, allowed: tuple[str, ...]) -> Target | None:
    """Where a stored URL is POSTed, checked as a submit's is; None for one the allow-list now refuses."""
    try:
        return check_url("callback_url", url, allowed)
    except Refusal:
        return None
