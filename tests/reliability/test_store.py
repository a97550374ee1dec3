"""Both stores give back exactly what was put, and the memory store stays out of the collector's way."""

from __future__ import annotations

import gc
import math
from pathlib import Path

import pytest

from mockserver.lifecycle import Record
from mockserver.store import MemoryStore, SqliteStore, Store

RECORDS = [
    Record("a" * 52, "videos", -(2**63), 1_756_693_797.123, 5.5, math.inf, -1, 3, 2),
    Record("b" * 52, "images", 2**63 - 1, 0.0, 0.0, 0.25, 2, 0, 1, forced=4, forced_at=1_756_693_800.5),
]


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    return MemoryStore() if request.param == "memory" else SqliteStore(tmp_path / "tasks.db")


def test_records_come_back_as_they_went_in(store: Store) -> None:
    for record in RECORDS:
        store.put(record)
    assert [store.get(r.task_id) for r in RECORDS] == RECORDS
    assert list(store.records()) == RECORDS
    assert store.get("c" * 52) is None
    store.clear()
    assert list(store.records()) == [] and store.get(RECORDS[0].task_id) is None


def test_a_put_replaces_the_record_with_that_id(store: Store) -> None:
    from dataclasses import replace

    store.put(RECORDS[0])
    store.put(replace(RECORDS[0], forced=4, forced_at=2.0))
    assert store.get(RECORDS[0].task_id) == replace(RECORDS[0], forced=4, forced_at=2.0)
    assert len(list(store.records())) == 1


def test_stored_records_are_not_walked_by_the_garbage_collector() -> None:
    store = MemoryStore()
    for n in range(1000):
        store.put(Record(f"{n:052d}", "audio", n, float(n), 1.0, 2.0, -1))
    gc.collect()
    assert not any(gc.is_tracked(kept) for kept in store._tasks.values())
