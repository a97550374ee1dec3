"""No two submits get one id, with two workers taking submits in the same milliseconds, on either store.

Every worker once seeded its nonces alike, so the k-th submits of two workers in one millisecond got
one id: 6 to 15 tasks in 3,000 were overwritten with --store sqlite.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.engine.nonces import COUNT_BITS
from tests.helpers.benchload import load_bench

pytestmark = pytest.mark.slow

SUBMITS = 20_000
CLIENTS = 50
KEY = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def slot_of(task_id: str) -> int:
    """The worker slot in the id's nonce: bytes 9 to 15 of the payload (ids.py)."""
    return int(task_id[18:32], 16) >> COUNT_BITS


def both_workers_serving(url: str) -> list[str]:
    """Submit on fresh connections until each worker has answered one: the second may start seconds later."""
    ids: list[str] = []
    for _ in range(400):
        ids.append(httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"])
        if len({slot_of(task_id) for task_id in ids}) == 2:
            return ids
    raise AssertionError(f"only worker slots {sorted({slot_of(i) for i in ids})} answered 400 fresh connections")


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_two_workers_never_hand_out_one_id(spawn: Any, tmp_path: Path, store: str) -> None:
    spec = "memory" if store == "memory" else f"sqlite:{tmp_path / 'tasks.db'}"
    with spawn("--workers", "2", "--store", spec, "--no-access-log", "--admin-key", "sk-admin") as (url, _):
        ids = both_workers_serving(url) + load_bench("loadgen").submit_many(url, SUBMITS, connections=CLIENTS)
        if store == "sqlite":  # one file, so every accepted task must be a row of its own
            health = httpx.get(f"{url}/_mock/health", headers={"Authorization": "Bearer sk-admin"}).json()
            assert health["tasks"] == len(ids)
    assert len(ids) >= SUBMITS
    assert len(set(ids)) == len(ids), f"{len(ids) - len(set(ids))} duplicate ids"
    assert len({slot_of(task_id) for task_id in ids}) == 2, "both workers took submits"


def test_two_servers_on_one_file_never_hand_out_one_id(spawn: Any, tmp_path: Path) -> None:
    """Separate processes, as in a rolling restart, each counted from slot 0 and overwrote each other's rows."""
    store = ("--store", f"sqlite:{tmp_path / 'tasks.db'}", "--no-access-log", "--admin-key", "sk-admin")
    with spawn(*store) as (first, _), spawn(*store) as (second, _):
        loadgen = load_bench("loadgen")
        with ThreadPoolExecutor(2) as both:  # the two servers at once, so their submits share milliseconds
            halves = both.map(lambda url: loadgen.submit_many(url, SUBMITS // 2, CLIENTS // 2), (first, second))
            ids = [task_id for half in halves for task_id in half]
        health = httpx.get(f"{first}/_mock/health", headers={"Authorization": "Bearer sk-admin"}).json()
    assert len(set(ids)) == len(ids) == health["tasks"] == SUBMITS
    assert len({slot_of(task_id) for task_id in ids}) == 2
