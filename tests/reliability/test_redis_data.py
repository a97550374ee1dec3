"""What Redis holds is checked as any input is: another tool, another version or a stranger can write there.

The red team found a non-numeric field in ``mockserver:rules`` made every submit a 500, and a task's
value nested deep a 500 on its polls, not the 503 a damaged SQLite row gets.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from mockserver import Config, create_app
from mockserver.stores.redis import PREFIX, RedisStore

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
RULES = f"{PREFIX}rules"


def against(redis_server: Any, steps: Callable[[httpx.AsyncClient, redis.Redis], Any]) -> None:
    """Run ``steps`` against an app on the test's Redis, in-process, with the admin API on."""
    store = RedisStore(redis_server.url)
    app = create_app(Config(admin_key="adm"), store=store)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
            try:
                await steps(http, redis.Redis(port=redis_server.port))
            finally:
                await store.close()

    asyncio.run(run())


@pytest.mark.parametrize(
    ("key", "field", "value"),
    [
        (f"{RULES}:played", "1", b"abc"),  # was int(played): a 500 on every submit
        (f"{RULES}:left", "1", b"\xb2"),
        (RULES, "one", json.dumps({"scenario": "stuck"}).encode()),  # a rule number that is no number
        (RULES, "1", b"[" * 100_000 + b"]" * 100_000),  # a RecursionError
        (RULES, "1", b'{"scenario": "stuck", "fraction": "1"}'),
        (RULES, "1", b'{"scenario": "stuck", "fraction": 1, "key": ["sk"]}'),
        (RULES, "1", b'{"scenario": "no-such-scenario", "fraction": 1}'),
        (RULES, "1", b"\xff\xfe"),
    ],
)
def test_a_damaged_rule_is_skipped_and_every_submit_still_answered(
    redis_server: Any, key: str, field: str, value: bytes
) -> None:
    async def steps(http: httpx.AsyncClient, probe: redis.Redis) -> None:
        added = await http.post("/_mock/rules", json={"scenario": "fail-content-policy", "fraction": 1}, headers=ADMIN)
        assert added.status_code == 201
        probe.hset(key, field, value)
        probe.hset(RULES, "7", json.dumps({"scenario": "fail-quota", "fraction": 1}))  # a sound one, after it
        probe.hset(f"{RULES}:played", "7", 0)
        for _ in range(3):
            answer = await http.post("/v2/videos/generations", json=BODY, headers=KEY)
            assert answer.status_code == 200, answer.text
            task = (await http.get(f"/_mock/tasks/{answer.json()['task_id']}", headers=ADMIN)).json()
            assert task["outcome"] in ("fail-content-policy", "fail-quota")  # a sound rule still plays
        listed = await http.get("/_mock/rules", headers=ADMIN)
        assert listed.status_code == 200 and 7 in [rule["id"] for rule in listed.json()["rules"]]

    against(redis_server, steps)


@pytest.mark.parametrize(
    "value",
    [
        b"[" * 100_000 + b"]" * 100_000,  # was a RecursionError: a 500
        b"[" * 1500 + b"]" * 1500,
        b"\xff\xfe\x00",
        b'["%s", "videos", 1, 1.0, 1.0, 1.0, -1, 0, [[[1]]], -1, 0.0, 0, -1]',  # flags a list: a TypeError, a 500
        b'["another-task", "videos", 1, 1.0, 1.0, 1.0, -1, 0, 0, -1, 0.0, 0, -1]',
        b'{"task_id": "%s"}',
    ],
)
def test_a_damaged_task_in_redis_is_a_503_naming_its_key(redis_server: Any, value: bytes) -> None:
    async def steps(http: httpx.AsyncClient, probe: redis.Redis) -> None:
        task_id = (await http.post("/v2/videos/generations", json=BODY, headers=KEY)).json()["task_id"]
        probe.set(f"{PREFIX}task:{task_id}", value.replace(b"%s", task_id.encode()))
        fresh = RedisStore(redis_server.url)  # keeps nothing yet, so reads Redis
        app = create_app(Config(admin_key="adm"), store=fresh)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as other:
            for answer in (
                await other.get(f"/v2/videos/generations/{task_id}", headers=KEY),
                await other.get(f"/_mock/tasks/{task_id}", headers=ADMIN),
                await other.get("/_mock/tasks", headers=ADMIN),
                await other.get(f"/_media/{task_id}/0.mp4"),
            ):
                assert answer.status_code == 503, answer.text[:300]
                error = answer.json()["error"]
                assert error["code"] == "store_unavailable" and f"{PREFIX}task:{task_id}" in error["message"]
        await fresh.close()

    against(redis_server, steps)


def test_the_task_index_expires_with_the_tasks(redis_server: Any) -> None:
    """The index kept the ids of tasks long expired until the next submit; with none, for ever."""

    async def steps(http: httpx.AsyncClient, probe: redis.Redis) -> None:
        assert (await http.post("/v2/videos/generations", json=BODY, headers=KEY)).status_code == 200
        task_ttl = probe.ttl(next(iter(probe.scan_iter(f"{PREFIX}task:*"))))
        for key in ("tasks", "tasks:at", "tasks:count"):
            assert 0 < probe.ttl(f"{PREFIX}{key}") <= task_ttl, f"{key} outlives the tasks it lists"

    against(redis_server, steps)
