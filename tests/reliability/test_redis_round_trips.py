"""How often a mock process on Redis waits for it: once a submit, whatever the submit writes, and never for a
poll of a task it keeps.

A submit used to wait once for its task, again for its callback's note, again for a rule's count, and the
journal's entries went in round trips of their own (``stores/redis_writes.py``). Redis itself counts
the round trips: each is one read of a client's socket (``total_reads_processed``), and a process that
waits for nothing makes Redis read nothing. Two things the process does by itself are left out: the
callbacks' adoption, each second (a ZRANGEBYSCORE, then an MGET and a ZREM, each a round trip of its own,
which a submit sends only as the one ZRANGEBYSCORE its tasks' script runs), and the renewal of the nonce
slot, which a lease of an hour puts off.
"""

from __future__ import annotations

import concurrent.futures
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis

from mockserver.stores.redis import PREFIX
from mockserver.testing import free_port

pytestmark = pytest.mark.redis

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
STUCK = {**KEY, "X-Mock-Scenario": "stuck"}  # never due for its callback while the test runs
COUNT = 8
BACKGROUND = ("zrangebyscore", "mget", "zrem")  # the callbacks' adoption, one round trip each


def round_trips(probe: redis.Redis) -> Callable[[int], int]:
    """A counter of the round trips made to ``probe``'s Redis from now on, less the background's and its own,
    given how many tasks were written meanwhile. The script that writes them runs one ZRANGEBYSCORE a call,
    and a call writes one task or more: the count is exact when each was written alone, and never under the
    truth when some were written together."""

    def reading() -> tuple[int, int]:
        found = probe.execute_command("INFO", "stats", "commandstats")
        background = sum(int(found.get(f"cmdstat_{name}", {}).get("calls", 0)) for name in BACKGROUND)
        return int(found["total_reads_processed"]), background

    reads, background = reading()

    def counted(written: int) -> int:
        now_reads, now_background = reading()
        return now_reads - reads - 1 - (now_background - background - written)  # the second INFO is a read too

    return counted


@contextmanager
def serving(spawn_under: Any, redis_server: Any, *argv: str) -> Iterator[httpx.Client]:
    """A mock on the test's Redis, ready (subscribed, holding its slot), with a client of it."""
    store = f"{redis_server.url}?lease=3600"
    with (
        spawn_under("--store", store, "--secret", "round trips", *argv) as (url, _),
        httpx.Client(base_url=url) as http,
    ):
        while http.get("/readyz").status_code != 200:
            pass
        yield http


def submit(http: httpx.Client, headers: dict[str, str] = KEY, **fields: Any) -> str:
    answer = http.post("/v2/videos/generations", json={**BODY, **fields}, headers=headers)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["task_id"])


def test_a_submit_waits_once_for_redis_and_a_poll_of_a_kept_task_never(redis_server: Any, spawn_under: Any) -> None:
    probe = redis.Redis(port=redis_server.port)
    # a rule that plays for every submit, so its count is written each time (as POST /_mock/rules stores it)
    probe.hset(f"{PREFIX}rules", "1", json.dumps({"scenario": "fail-quota", "fraction": 1}))
    probe.hset(f"{PREFIX}rules:played", "1", 0)
    hook = free_port()  # nothing listens: the callbacks are never due (STUCK)
    callback = {"callback_url": f"http://127.0.0.1:{hook}/hook"}
    with serving(spawn_under, redis_server, "--callback-port", str(hook)) as http:
        task_id = submit(http)  # reads the rules, as after any change of them, and loads the scripts
        submit(http, STUCK, **callback)

        counted = round_trips(probe)
        for _ in range(COUNT):
            submit(http)  # its task and the rule's count
        assert counted(COUNT) == COUNT

        counted = round_trips(probe)
        for _ in range(COUNT):
            submit(http, STUCK, **callback)  # its callback's note and its task
        assert counted(COUNT) == COUNT

        counted = round_trips(probe)
        for _ in range(COUNT):
            assert http.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 200
        assert counted(0) == 0
    assert (
        probe.hget(f"{PREFIX}rules:played", "1") == str(COUNT + 1).encode()
    )  # each count was written (STUCK plays no rule)


def test_submits_with_the_journal_on_wait_once_at_most_and_every_entry_is_written(
    redis_server: Any, spawn_under: Any
) -> None:
    """Concurrent, as a fleet's clients are: each entry is written after its answer, with later submits' tasks."""
    probe = redis.Redis(port=redis_server.port)
    with serving(spawn_under, redis_server, "--admin-key", "adm") as http:
        submit(http)
        counted = round_trips(probe)
        with concurrent.futures.ThreadPoolExecutor(COUNT) as pool:
            accepted = list(pool.map(lambda _: submit(http), range(4 * COUNT)))
        assert counted(4 * COUNT) <= 4 * COUNT  # main's code: one a task, and the journal's on top
        journal = http.get("/_mock/journal", params={"limit": 100}, headers=ADMIN).json()["entries"]
        assert {entry["task_id"] for entry in journal} >= set(accepted)


def test_a_submit_after_redis_lost_its_scripts_is_still_written_with_its_callback(
    redis_server: Any, spawn_under: Any
) -> None:
    """A Redis restarted, or flushed of its scripts, answers NOSCRIPT to the batch: each script is sent in full."""
    probe = redis.Redis(port=redis_server.port)
    hook = free_port()
    with serving(spawn_under, redis_server, "--callback-port", str(hook)) as http:
        submit(http)
        probe.script_flush()
        task_id = submit(http, STUCK, callback_url=f"http://127.0.0.1:{hook}/hook")
        assert probe.exists(f"{PREFIX}task:{task_id}", f"{PREFIX}callback:{task_id}") == 2
        assert probe.zscore(f"{PREFIX}tasks", task_id) is not None
