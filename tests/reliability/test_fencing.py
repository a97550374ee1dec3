"""Ids unique by fencing: an instance mints only while it can prove it holds its nonce slot's lease.

The red team paused an instance past its 30-second lease; another took the slot, and the paused one, on
waking, renewed with a blind ``SET NX`` that failed unnoticed and went on minting there: 513 of 1,000
concurrent pairs of submits shared an id, the second task overwriting the first.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
import redis

from mockserver import Config, create_app
from mockserver.engine.nonces import COUNT_BITS
from mockserver.stores.redis import PREFIX, RedisStore

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
SECRET = b"one fleet"
PAIRS = 1000


def slot_of(task_id: str) -> int:
    """The nonce slot an id was minted in: the top bits of its nonce, bytes 9 to 15 of the payload (ids.py)."""
    return int(task_id[18:32], 16) >> COUNT_BITS


class Monotonic:
    """The lease's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_lease_that_cannot_be_proved_held_mints_no_id_until_a_slot_is_leased_again(redis_server: Any) -> None:
    store = RedisStore(f"{redis_server.url}?lease=3")
    clock = store.lease.clock = Monotonic()
    app = create_app(Config(admin_key="adm"), store=store, secret=SECRET)  # leases slot 0; renewals by hand
    probe = redis.Redis(port=redis_server.port)

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:

            async def submit() -> httpx.Response:
                return await http.post("/v2/videos/generations", json=BODY, headers=KEY)

            first = await submit()
            assert first.status_code == 200 and slot_of(first.json()["task_id"]) == 0
            rule = {"scenario": "fail-quota", "next": 1}
            assert (await http.post("/_mock/rules", json=rule, headers=ADMIN)).is_success
            clock.now += 3 * 0.9  # the lease less its margin, with no renewal: not provably held
            assert not store.holds_slot
            refused = await submit()
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "1"
            assert refused.json()["error"]["code"] == "store_unavailable"
            assert "nonce slot" in refused.json()["error"]["message"]

            # meanwhile Redis let the lease lapse and another instance took the slot
            (key,) = probe.keys(f"{PREFIX}slot:*")
            probe.delete(key)
            other = RedisStore(redis_server.url)
            assert other.claim_slot(SECRET) == 0
            await store.renew_slot()  # compare-and-set on its own token: fails, and another slot is leased
            assert probe.get(key) == other.lease.token.encode(), "the renewal overwrote the other's lease"
            assert (await submit()).status_code == 503 and not store.holds_slot  # a lease later, not now
            clock.now += 3
            await store.renew_slot()
            assert store.holds_slot
            again = await submit()
            assert again.status_code == 200 and slot_of(again.json()["task_id"]) == 1
            played = await http.get(f"/_mock/tasks/{again.json()['task_id']}", headers=ADMIN)
            assert played.json()["outcome"] == "fail-quota", "a refused submit spent the rule"
            await store.close()
            await other.close()

    asyncio.run(run())


def pairs(a: str, b: str, count: int) -> list[httpx.Response]:
    """``count`` pairs of submits, one to each instance at the same moment."""
    with ThreadPoolExecutor(8) as pool, httpx.Client(headers=KEY, timeout=30) as http:
        sent = [
            pool.submit(http.post, f"{url}/v2/videos/generations", json=BODY) for _ in range(count) for url in (a, b)
        ]
        return [future.result() for future in sent]


def test_an_instance_paused_past_its_lease_gives_no_id_another_gave(redis_server: Any, spawn_under: Any) -> None:
    store = ("--store", f"{redis_server.url}?lease=4", "--secret", SECRET.decode(), "--no-access-log")
    probe = redis.Redis(port=redis_server.port)
    with spawn_under(*store) as (paused_url, paused):
        os.killpg(paused.pid, signal.SIGSTOP)  # a GC pause, a stopped container, a slow host
        try:
            deadline = time.monotonic() + 30
            while probe.keys(f"{PREFIX}slot:*"):  # its lease lapses in Redis, unrenewed
                assert time.monotonic() < deadline, "a stopped instance's lease never lapsed"
                time.sleep(0.05)
            with spawn_under(*store) as (other_url, _):  # leases the lapsed slot
                os.killpg(paused.pid, signal.SIGCONT)
                answers = pairs(paused_url, other_url, PAIRS)
                ids = [answer.json()["task_id"] for answer in answers if answer.status_code == 200]
                assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} ids given twice"
                for answer in answers:
                    assert answer.status_code in (200, 503), answer.text
                    if answer.status_code == 503:
                        assert answer.headers["retry-after"] == "1" and "nonce slot" in answer.text
                deadline = time.monotonic() + 30
                while httpx.post(f"{paused_url}/v2/videos/generations", json=BODY, headers=KEY).status_code != 200:
                    assert time.monotonic() < deadline, "the paused instance never leased a slot again"
                    time.sleep(0.1)
                later = pairs(paused_url, other_url, 100)
                assert [answer.status_code for answer in later] == [200] * 200
                slots = [{slot_of(answer.json()["task_id"]) for answer in later[n::2]} for n in (0, 1)]
                assert slots == [{1}, {0}], "each instance mints in a slot of its own"
        finally:
            os.killpg(paused.pid, signal.SIGCONT)
