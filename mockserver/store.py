"""Where accepted tasks live: the seam between the HTTP layer and storage.

The engine needs only a task's record, so a store is a map from task id to record. The
in-memory store is the default; ``SqliteStore`` keeps the same four methods on disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from dataclasses import fields
from operator import attrgetter
from typing import Any, Protocol

from .lifecycle import Record

_fields_of = attrgetter(*(f.name for f in fields(Record)))  # a record's fields as one plain tuple


class Store(Protocol):
    def get(self, task_id: str) -> Record | None: ...

    def put(self, record: Record) -> None: ...

    def records(self) -> Iterator[Record]: ...

    def clear(self) -> None: ...


class MemoryStore:
    """A dict of plain tuples: the cheapest store, lost when the process ends.

    Records are kept as tuples of numbers and strings, which the garbage collector stops tracking,
    rather than as objects, which it would walk on every full collection: with a million stored
    tasks those walks paused the server for a fifth of a second at a time.
    """

    def __init__(self) -> None:
        self._tasks: dict[str, tuple[Any, ...]] = {}

    def get(self, task_id: str) -> Record | None:
        found = self._tasks.get(task_id)
        return None if found is None else Record(*found)

    def put(self, record: Record) -> None:
        self._tasks[record.task_id] = _fields_of(record)

    def records(self) -> Iterator[Record]:
        return (Record(*found) for found in list(self._tasks.values()))

    def clear(self) -> None:
        self._tasks.clear()

    def __len__(self) -> int:
        return len(self._tasks)


class SqliteStore:
    """Records in a SQLite file: they outlive the process, and every worker given the file sees them.

    One row per task, one column per field of ``Record``, so the file is readable with any SQLite
    tool. Each put commits in WAL mode with ``synchronous=NORMAL``: a task accepted before the
    process is killed is on disk (an OS crash may lose the last few), and readers never block the
    writer of another worker.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)  # the admin API's rules live in the same file (rules.py)
        self._names = [f.name for f in fields(Record)]
        self._db = sqlite3.connect(path, timeout=10, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        columns = ", ".join(f"{name} PRIMARY KEY" if name == "task_id" else name for name in self._names)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS tasks ({columns})")
        found = [row[1] for row in self._db.execute("PRAGMA table_info(tasks)")]
        if found != self._names:
            raise ValueError(f"{path} holds tasks of another version of the mock ({found}); use a new file")
        listed = ", ".join(self._names)
        self._select = f"SELECT {listed} FROM tasks WHERE task_id = ?"
        self._insert = f"INSERT OR REPLACE INTO tasks ({listed}) VALUES ({', '.join('?' * len(self._names))})"
        self._all = f"SELECT {listed} FROM tasks ORDER BY rowid"

    def get(self, task_id: str) -> Record | None:
        row = self._db.execute(self._select, (task_id,)).fetchone()
        return None if row is None else Record(*row)

    def put(self, record: Record) -> None:
        self._db.execute(self._insert, _fields_of(record))

    def records(self) -> Iterator[Record]:
        return (Record(*row) for row in self._db.execute(self._all).fetchall())

    def clear(self) -> None:
        self._db.execute("DELETE FROM tasks")

    def __len__(self) -> int:
        return self._db.execute("SELECT count(*) FROM tasks").fetchone()[0]

    def close(self) -> None:
        self._db.close()


def open_store(spec: str) -> Store:
    """The store named on the command line: ``memory``, or ``sqlite:PATH``."""
    kind, _, where = spec.partition(":")
    if kind == "memory" and not where:
        return MemoryStore()
    if kind == "sqlite" and where:
        return SqliteStore(where)
    raise ValueError(f"unknown store {spec!r}; use memory or sqlite:PATH")
