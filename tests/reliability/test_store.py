"""Every store gives back exactly what was put, and the memory store stays out of the collector's way."""

from __future__ import annotations

import asyncio
import gc
import math
import sqlite3
from pathlib import Path

import pytest

from mockserver.engine.lifecycle import Record
from mockserver.stores.base import AsyncStore
from mockserver.stores.local import Awaited, MemoryStore, SqliteStore
from mockserver.stores.redis import RedisStore

RECORDS = [
    Record("a" * 52, "videos", -(2**63), 1_756_693_797.123, 5.5, math.inf, -1, 3, 2),
    Record("b" * 52, "images", 2**63 - 1, 0.0, 0.0, 0.25, 2, 0, 1, forced=4, forced_at=1_756_693_800.5),
]


@pytest.fixture(params=["memory", "sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncStore:
    """Each store as the admin API reads it: Redis's own coroutines, a local store's through ``Awaited``."""
    if request.param == "redis":
        return RedisStore(request.getfixturevalue("redis_server").url)
    return Awaited(MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "tasks.db"))


async def every(store: AsyncStore) -> list[Record]:
    return await store.page(0, 1000)


def test_records_come_back_as_they_went_in(store: AsyncStore) -> None:
    async def check() -> None:
        for record in RECORDS:
            await store.put(record)
        assert [await store.get(r.task_id) for r in RECORDS] == RECORDS
        assert await every(store) == RECORDS
        assert await store.get("c" * 52) is None
        await store.clear()
        assert await every(store) == [] and await store.get(RECORDS[0].task_id) is None

    asyncio.run(check())


def test_a_put_replaces_the_record_with_that_id(store: AsyncStore) -> None:
    async def check() -> None:
        await store.put(RECORDS[0])
        await store.put(RECORDS[0]._replace(forced=4, forced_at=2.0))
        assert await store.get(RECORDS[0].task_id) == RECORDS[0]._replace(forced=4, forced_at=2.0)
        assert len(await every(store)) == 1

    asyncio.run(check())


def test_stored_records_are_not_walked_by_the_garbage_collector() -> None:
    store = MemoryStore()
    for n in range(1000):
        store.put(Record(f"{n:052d}", "audio", n, float(n), 1.0, 2.0, -1))
    gc.collect()
    assert not any(gc.is_tracked(kept) for kept in store._tasks.values())


def test_a_page_is_a_slice_in_the_order_tasks_came(store: AsyncStore) -> None:
    async def check() -> None:
        for n in range(7):
            await store.put(Record(f"{n:052}", "videos", 1, float(n), 1.0, 1.0, -1))
        assert [r.submitted_at for r in await store.page(2, 3)] == [2.0, 3.0, 4.0]
        assert await store.page(6, 10) == [await store.get(f"{6:052}")] and await store.page(99, 5) == []
        assert await store.count() == 7

    asyncio.run(check())


def test_another_applications_database_is_refused_untouched(tmp_path: Path) -> None:
    """It was silently altered: a table added and WAL mode switched on."""
    path = tmp_path / "app.db"
    other = sqlite3.connect(path)
    other.execute("CREATE TABLE users (name TEXT)")
    other.commit()
    other.close()
    before = path.read_bytes()
    with pytest.raises(ValueError, match="another application's SQLite database"):
        SqliteStore(path)
    assert path.read_bytes() == before and not (tmp_path / "app.db-wal").exists()


def test_a_damaged_file_is_refused_at_start(tmp_path: Path) -> None:
    """It started, then every request was a 500."""
    path = tmp_path / "tasks.db"
    store = SqliteStore(path)
    for n in range(300):
        store.put(Record(f"{n:052}", "videos", 1, float(n), 1.0, 1.0, -1))
    store.close()
    data = bytearray(path.read_bytes())
    data[4096:8192] = b"\xff" * 4096  # a page of the table overwritten
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="damaged|not a usable SQLite file"):
        SqliteStore(path)
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(ValueError, match="not a usable SQLite file"):
        SqliteStore(garbage)


def test_the_mocks_own_file_opens_again(tmp_path: Path) -> None:
    SqliteStore(tmp_path / "tasks.db").put(RECORDS[0])
    assert SqliteStore(tmp_path / "tasks.db").get(RECORDS[0].task_id) == RECORDS[0]
