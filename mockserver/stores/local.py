"""The stores that answer at once, in memory or in a SQLite file, and ``Awaited``, either as an ``AsyncStore``.

Whatever is not on the hot path (the admin API, the dashboard, callbacks) reads
every store as an ``AsyncStore``, a local one through ``Awaited``: one interface, awaited everywhere
but where an await would cost the local stores' polls (engine/service.py).

Those reads stay bounded in time at a million tasks on every store: the dashboard's newest tasks are read
from the end (``newest``), never by counting and skipping, and SQLite's count and pages, which walk the
table, run in a thread on a connection of their own, so the event loop serves meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from itertools import islice
from typing import Any

from ..engine.lifecycle import Record
from . import sqlite_file
from .base import Store, StoreError, record_from

_as_record = tuple.__new__  # a stored tuple as a Record at the cost of a copy: it was one when put


class Awaited:
    """A local store as an ``AsyncStore``: each call returns at once, only the interface is awaited; but
    SQLite's count and pages, which walk the table, are read in a thread (``SqliteStore.read_apart``)."""

    def __init__(self, store: Store, apart: SqliteStore | None = None) -> None:
        self.store = store
        self._apart = apart

    async def get(self, task_id: str) -> Record | None:
        return self.store.get(task_id)

    async def put(self, record: Record) -> None:
        self.store.put(record)

    async def page(self, offset: int, limit: int) -> list[Record]:
        if self._apart is not None:
            return await asyncio.to_thread(self._apart.page_apart, offset, limit)
        return self.store.page(offset, limit)

    async def newest(self, limit: int) -> list[Record]:
        return self.store.newest(limit)

    async def clear(self) -> None:
        self.store.clear()

    async def count(self) -> int:
        if self._apart is not None:
            return await asyncio.to_thread(self._apart.count_apart)
        return len(self.store)


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
        return None if found is None else _as_record(Record, found)

    def put(self, record: Record) -> None:
        self._tasks[record.task_id] = tuple(record)

    def records(self) -> Iterator[Record]:
        return (_as_record(Record, found) for found in list(self._tasks.values()))

    def page(self, offset: int, limit: int) -> list[Record]:
        return [_as_record(Record, found) for found in islice(self._tasks.values(), offset, offset + limit)]

    def newest(self, limit: int) -> list[Record]:
        return [_as_record(Record, found) for found in islice(reversed(self._tasks.values()), limit)][::-1]

    def clear(self) -> None:
        self._tasks.clear()

    def __len__(self) -> int:
        return len(self._tasks)


# The file's marker: SQLite's application_id (a 32-bit number in its header), "UGEN" in ASCII.
APPLICATION_ID = int.from_bytes(b"UGEN", "big")


class SqliteStore:
    """Records in a SQLite file: they outlive the process, and every worker given the file sees them.

    One row per task, one column per field of ``Record``, so the file is readable with any SQLite
    tool. Each put commits in WAL mode with ``synchronous=NORMAL``: a task accepted before the
    process is killed is on disk (an OS crash may lose the last few), and readers never block the
    writer of another worker. The file is marked as the mock's (``application_id``) when created, and
    a file that is not SQLite, is damaged, or is another application's database is refused before
    anything is written to it. Errors while serving are ``StoreError``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = str(path)  # the admin API's rules live in the same file (sqlite_rules.py)
        self._names = list(Record._fields)
        try:
            self._db = sqlite_file.connect(path)
            self._claim(path)
        except sqlite3.Error as exc:
            raise ValueError(f"{path} is not a usable SQLite file ({exc}); give a new file or the mock's own") from exc
        listed = ", ".join(self._names)
        self._select = f"SELECT {listed} FROM tasks WHERE task_id = ?"
        self._insert = f"INSERT OR REPLACE INTO tasks ({listed}) VALUES ({', '.join('?' * len(self._names))})"
        self._all = f"SELECT {listed} FROM tasks ORDER BY rowid"
        self._page = f"SELECT {listed} FROM tasks ORDER BY rowid LIMIT ? OFFSET ?"
        self._newest = f"SELECT {listed} FROM tasks ORDER BY rowid DESC LIMIT ?"

    def _claim(self, path: str | os.PathLike[str]) -> None:
        """Check the file is the mock's (or empty, and make it so) before changing anything in it."""
        marker = self._db.execute("PRAGMA application_id").fetchone()[0]
        tables = self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if marker != APPLICATION_ID and tables:
            raise ValueError(f"{path} is another application's SQLite database; the mock keeps tasks only in its own")
        if self._db.execute("PRAGMA quick_check").fetchone()[0] != "ok":
            raise ValueError(f"{path} is damaged (PRAGMA quick_check); give a new file")
        columns = ", ".join(f"{name} PRIMARY KEY" if name == "task_id" else name for name in self._names)
        self._db.execute(f"CREATE TABLE IF NOT EXISTS tasks ({columns})")
        self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        found = [row[1] for row in self._db.execute("PRAGMA table_info(tasks)")]
        if found != self._names:
            raise ValueError(f"{path} holds tasks of another version of the mock ({found}); use a new file")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def _run(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        try:
            return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def get(self, task_id: str) -> Record | None:
        rows = self._run(self._select, (task_id,))
        return record_from(rows[0]) if rows else None

    def put(self, record: Record) -> None:
        self._run(self._insert, tuple(record))

    def records(self) -> Iterator[Record]:
        return (record_from(row) for row in self._run(self._all))

    def page(self, offset: int, limit: int) -> list[Record]:
        return [record_from(row) for row in self._run(self._page, (limit, offset))]

    def newest(self, limit: int) -> list[Record]:
        """Read from the end of the rowid order: ``limit`` rows whatever the table holds (no OFFSET walk)."""
        return [record_from(row) for row in reversed(self._run(self._newest, (limit,)))]

    def read_apart(self, sql: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        """``sql`` on a connection of its own, for a thread: a count or an OFFSET walks the table (some 30 and
        80 ms at a million tasks), which on the event loop's connection would hold up every request."""
        try:
            with closing(sqlite_file.connect(self.path)) as db:
                return db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise StoreError(str(exc)) from exc

    def page_apart(self, offset: int, limit: int) -> list[Record]:
        return [record_from(row) for row in self.read_apart(self._page, (limit, offset))]

    def count_apart(self) -> int:
        return self.read_apart("SELECT count(*) FROM tasks")[0][0]

    def clear(self) -> None:
        self._run("DELETE FROM tasks")

    def __len__(self) -> int:
        return self._run("SELECT count(*) FROM tasks")[0][0]

    def close(self) -> None:
        self._db.close()
