"""No two submits get one id, with two workers taking submits in the same milliseconds, on either store.

Every worker once seeded its nonces alike, so the k-th submits of two workers in one millisecond got
one id: 6 to 15 tasks in 3,000 were overwritten with --store sqlite.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from benchload import load_bench

from mockserver.nonces import COUNT_BITS

SUBMITS = 20_000
CLIENTS = 50
KEY = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def slot_of(task_id: str) -> int:
    """The worker slot in the id's nonce: bytes 9 to 15 of the payload (ids.py)."""
    return int(task_id[18:32], 16) >> COUNT_BITS


def both_workers_serving(url: str) -> list[str]:
    """Submit on fresh connections until each worker has answered one: the second may start seconds later."""
    seen: dict[int, str] = {}
    made = []  # every id, so that the store's count can be held to them
    for _ in range(400):
        task_id = httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"]
        made.append(task_id)
        seen.setdefault(slot_of(task_id), task_id)
        if len(seen) == 2:
            return made
    raise AssertionError(f"only worker slots {sorted(seen)} answered 400 fresh connections")


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
    assert {slot_of(task_id) for task_id in ids} == {0, 1}, "both workers took submits"
