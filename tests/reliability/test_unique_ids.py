"""No two submits get one id, with two workers taking submits in the same milliseconds, on either store.

Every worker once seeded its nonces alike, so the k-th submits of two workers in one millisecond got
one id: 6 to 15 tasks in 3,000 were overwritten with --store sqlite.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from mockserver.nonces import COUNT_BITS

SUBMITS = 20_000
CLIENTS = 50
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


async def submit_all(url: str) -> list[str]:
    """``SUBMITS`` submits from ``CLIENTS`` keep-alive connections, which the kernel deals to both workers.

    Plain HTTP/1.1 on asyncio streams: httpx spent more CPU per request than the server, on a 2-core machine.
    """
    host, port = url.removeprefix("http://").split(":")
    body = orjson.dumps(BODY)
    request = (
        b"POST /v2/videos/generations HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer sk-mock-dev\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    queue = iter(range(SUBMITS))

    async def client() -> list[str]:
        reader, writer = await asyncio.open_connection(host, int(port))
        got = []
        try:
            for _ in queue:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = re.search(rb"(?i)content-length: *(\d+)", head)
                assert head.startswith(b"HTTP/1.1 200") and length, head
                got.append(orjson.loads(await reader.readexactly(int(length[1])))["task_id"])
        finally:
            writer.close()
        return got

    return [task_id for ids in await asyncio.gather(*(client() for _ in range(CLIENTS))) for task_id in ids]


def slot_of(task_id: str) -> int:
    """The worker slot in the id's nonce: bytes 9 to 15 of the payload (ids.py)."""
    return int(task_id[18:32], 16) >> COUNT_BITS


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_two_workers_never_hand_out_one_id(spawn: Any, tmp_path: Path, store: str) -> None:
    spec = "memory" if store == "memory" else f"sqlite:{tmp_path / 'tasks.db'}"
    with spawn("--workers", "2", "--store", spec, "--no-access-log", "--admin-key", "sk-admin") as (url, _):
        ids = asyncio.run(submit_all(url))
        if store == "sqlite":  # one file, so every accepted task must be a row of its own
            health = httpx.get(f"{url}/_mock/health", headers={"Authorization": "Bearer sk-admin"}).json()
            assert health["tasks"] == SUBMITS
    assert len(ids) == SUBMITS
    assert len(set(ids)) == SUBMITS, f"{SUBMITS - len(set(ids))} duplicate ids"
    assert {slot_of(task_id) for task_id in ids} == {0, 1}, "both workers took submits"
