"""What a callback ledger reads back is outside input: a damaged entry is skipped (and logged), the rest are
read on, and every instance still starts. On a real redis-server, and on the SQLite file workers share.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import redis

from mockserver import create_app
from mockserver.engine.config import config_from
from mockserver.stores.local import SqliteStore
from mockserver.stores.redis import RedisStore
from tests.helpers.callbackrun import Clock, client, submit

CONFIG = config_from({"time_scale": 100, "seed": 3, "callbacks": {"local_ports": [9]}})
HOOK = {"callback_url": "http://127.0.0.1:9/hook"}  # a port nothing listens on: noted, never settled here
INDEX = "mockserver:callbacks"


def damage(probe: redis.Redis) -> None:
    """Entries another tool, or damage, left in the index: each listed as add() lists them."""
    values: dict[bytes, bytes | None] = {
        b"\xff\xfe-not-utf-8": json.dumps(["http://127.0.0.1:9/x", False, 0, "http://m/"]).encode(),
        b"deep": b"[" * 100_000 + b"]" * 100_000,
        b"not-a-list": b'{"url": 1}',
        b"wrong-types": json.dumps([5, False, "0", None]).encode(),
        b"too-large": json.dumps(["http://127.0.0.1:9/" + "a" * 10_000, False, 0, ""]).encode(),
        b"not-json": b"\x00\x01",
        b"expired": None,
    }
    for member, value in values.items():
        probe.zadd(INDEX, {member: probe.incr(f"{INDEX}:count")})
        if value is not None:
            probe.set(b"mockserver:callback:" + member, value)


def test_a_damaged_redis_callback_entry_is_skipped_and_every_instance_starts(
    redis_server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A non-UTF-8 member of the index stopped the sender on every instance, and no instance started again."""
    probe = redis.Redis(port=redis_server.port)

    async def scenario() -> tuple[int, int, int]:
        first = RedisStore(redis_server.url)
        app = create_app(CONFIG, clock=Clock(), store=first, secret=b"fleet")
        async with client(app) as http:
            await submit(http, 1, HOOK)
        damage(probe)
        second = RedisStore(redis_server.url)
        started = create_app(CONFIG, clock=Clock(), store=second, secret=b"fleet", slot=1)
        loaded = await started.state.service.callbacks.load()  # what a start does
        async with client(app) as http:
            await submit(http, 1, HOOK)
        damage(probe)
        adopted = await started.state.service.callbacks.adopt()  # what the running loop does each second
        again = await app.state.service.callbacks.adopt()
        for store in (first, second):
            await store.close()
        return loaded, adopted, again

    assert asyncio.run(scenario()) == (1, 1, 0)
    assert probe.zcard(INDEX) == 2, "the damaged and expired entries stay listed for ever"
    assert "damaged" in caplog.text


def test_the_redis_callback_index_expires_with_its_tasks(redis_server: Any) -> None:
    """The index never shrank: a callback whose task expired stayed listed, and read at every start."""
    probe = redis.Redis(port=redis_server.port)
    spec = redis_server.url + "?ttl=600"

    async def scenario() -> int:
        store = RedisStore(spec)
        app = create_app(CONFIG, clock=Clock(), store=store, secret=b"fleet")
        async with client(app) as http:
            ids = await submit(http, 3, HOOK)
        probe.delete(f"mockserver:callback:{ids[0]}")  # as its expiry does
        restarted = RedisStore(spec)
        loaded = await create_app(
            CONFIG, clock=Clock(), store=restarted, secret=b"fleet", slot=1
        ).state.service.callbacks.load()
        for each in (store, restarted):
            await each.close()
        return loaded

    assert asyncio.run(scenario()) == 2
    assert probe.zcard(INDEX) == 2
    assert 0 < probe.ttl(INDEX) <= 600, "the index outlives every task in it"


def test_a_damaged_sqlite_callback_row_is_skipped_and_the_rest_are_loaded(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A row that is not UTF-8 failed the whole read, and a restart loaded no callback at all."""
    db = tmp_path / "tasks.db"

    async def accept() -> None:
        async with client(create_app(CONFIG, clock=Clock(), store=SqliteStore(db))) as http:
            await submit(http, 3, HOOK)

    asyncio.run(accept())
    with sqlite3.connect(db) as file:
        file.execute("UPDATE mock_callbacks SET url = CAST(x'68747470ff' AS TEXT) WHERE rowid = 1")
        file.execute("UPDATE mock_callbacks SET base = x'0001' WHERE rowid = 2")
        file.execute("INSERT INTO mock_callback_sends VALUES ('msg_x_SUCCESS', 0, 'w', 'soon', NULL)")
    app = create_app(CONFIG, clock=Clock(), store=SqliteStore(db))
    assert asyncio.run(app.state.service.callbacks.load()) == 1
    assert "damaged" in caplog.text
    ledger = app.state.service.callbacks.ledger
    assert asyncio.run(ledger.claim(("msg_x_SUCCESS", 0), 100.0, 10.0)) is None  # a claim with no time has lapsed


def test_a_noted_task_id_ending_in_a_newline_is_not_sound() -> None:
    """The ledger's check is the contract's validator, whose ``$`` ends the string as ECMA-262's does; Python's
    ``re`` lets ``$`` match before a final newline."""
    from mockserver.stores.callback_ledger import sound

    good = "0" * 64
    assert sound(good, "https://hooks.example.com/x", 1, 0, "http://127.0.0.1:8000")
    assert not sound(good + "\n", "https://hooks.example.com/x", 1, 0, "http://127.0.0.1:8000")
