"""The fleet's listener survives any message on its channel and any reconnection.

The red team killed every instance's listener with one ``PUBLISH mockserver:changes`` of JSON nested
100,000 deep (a RecursionError nobody caught): admin changes stopped reaching the other instances. And
redis-py reconnected the listener unseen after a Redis restart, so records kept from before were still
answered, 200 for tasks Redis had lost, 20 s later still.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest
import redis

from mockserver.stores.redis import CHANNEL, PREFIX

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
HOSTILE = [
    b"[" * 100_000 + b"]" * 100_000,  # deep: orjson refuses it, the standard library's parser recursed
    b'{"kind": "faults", "value": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    b"x" * (4 << 20),  # huge
    b"\xff\xfe{\x80",  # not UTF-8
    b'{"kind": "faults", "value": {"poll_503": "1"}}',  # wrong types, each of which reached the code
    b'{"kind": "faults", "value": {"poll_503": 1e400}}',
    b'{"kind": "forget", "value": ["a"]}',
    b'{"kind": "forget"}',
    b'{"kind": "reset", "id": ' + b'"a"' * 3 + b"}",
    b'{"kind": "reset", "id": "' + b"f" * 100_000 + b'"}',
    b'{"kind": ["rules"]}',
    b'{"kind": "rules", "from": 7}',
    b"[]",
    b'"reset"',
    b"null",
    b"NaN",
]


@pytest.fixture
def pair(redis_server: Any, spawn_under: Any) -> Iterator[list[str]]:
    argv = ("--store", f"{redis_server.url}?lease=3", "--secret", "one fleet", "--admin-key", "sk-adm")
    with ExitStack() as stack:
        yield [stack.enter_context(spawn_under(*argv))[0] for _ in range(2)]


def test_hostile_messages_are_skipped_and_admin_changes_still_reach_every_instance(
    pair: list[str], redis_server: Any
) -> None:
    probe = redis.Redis(port=redis_server.port)
    task_id = httpx.post(f"{pair[0]}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"]
    until(lambda: probe.pubsub_numsub(CHANNEL) == [(CHANNEL.encode(), 2)], "both listeners subscribed")
    for message in HOSTILE:
        assert probe.publish(CHANNEL, message) == 2  # both listeners subscribed, and hear it
    assert probe.pubsub_numsub(CHANNEL) == [(CHANNEL.encode(), 2)], "a listener died"

    assert httpx.put(f"{pair[0]}/_mock/faults", json={"poll_503": 1}, headers=ADMIN).status_code == 200
    for url in pair:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 503
    assert httpx.put(f"{pair[1]}/_mock/faults", json={"poll_503": 0}, headers=ADMIN).status_code == 200
    for url in pair:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200

    # and both leases are still renewed: each slot's expiry moves on, and submits get ids
    slots = probe.keys(f"{PREFIX}slot:*")
    assert len(slots) == 2
    left = {key: probe.pttl(key) for key in slots}
    until(lambda: all(probe.pttl(key) > left[key] for key in slots), "both leases renewed after the messages")
    for url in pair:
        assert httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).status_code == 200


def until(condition: Callable[[], bool], what: str, within: float = 10) -> None:
    """Wait for ``condition``, failing with ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"not {what} after {within} s"
        time.sleep(0.05)


def test_after_redis_restarts_empty_no_poll_answers_a_lost_task(
    redis_server: Any, spawn_under: Any, tmp_path: Any
) -> None:
    argv = ("--store", f"{redis_server.url}?lease=2", "--admin-key", "sk-adm")
    with spawn_under(*argv) as (url, _):
        rule = {"scenario": "fail-content-policy", "fraction": 1}
        assert httpx.post(f"{url}/_mock/rules", json=rule, headers=ADMIN).status_code == 201
        ids = [httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"] for _ in range(5)]
        for task_id in ids:  # kept by the instance, so these polls cost no round trip
            assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200

        redis_server.stop()
        deadline = time.monotonic() + 10
        while httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).status_code != 503:
            assert time.monotonic() < deadline, "submits were accepted with Redis gone"
        for kept in tmp_path.glob("appendonly*"):  # Redis comes back with nothing
            kept.unlink() if kept.is_file() else [part.unlink() for part in kept.iterdir()]
        redis_server.start()

        deadline, seen = time.monotonic() + 10, set()
        while seen != {404}:
            assert time.monotonic() < deadline, f"polls of lost tasks answered {seen} for 10 s"
            statuses = {httpx.get(f"{url}/v2/videos/generations/{i}", headers=KEY).status_code for i in ids}
            assert 200 not in statuses, "a task Redis no longer holds was answered"
            seen = statuses
        # the rule went with Redis: a submit plays its own fate, not the rule read before
        deadline = time.monotonic() + 10
        while (answer := httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY)).status_code != 200:
            assert answer.status_code == 503, answer.text  # a lease leased afresh is used a lease later
            assert time.monotonic() < deadline, "submits never resumed"
        task = httpx.get(f"{url}/_mock/tasks/{answer.json()['task_id']}", headers=ADMIN).json()
        assert task["outcome"] == "success"


def test_faults_stored_damaged_in_redis_stop_no_listener(redis_server: Any, spawn_under: Any) -> None:
    """Each listener reads the stored faults on every (re)connection: nested deep, they raised out of it."""
    redis.Redis(port=redis_server.port).set(f"{PREFIX}faults", b"[" * 100_000 + b"]" * 100_000)
    argv = ("--store", redis_server.url, "--secret", "one fleet", "--admin-key", "sk-adm")
    with spawn_under(*argv) as (first, _), spawn_under(*argv) as (second, _):
        task_id = httpx.post(f"{first}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"]
        assert httpx.get(f"{second}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200
        assert httpx.put(f"{first}/_mock/faults", json={"poll_503": 1}, headers=ADMIN).status_code == 200
        assert httpx.get(f"{second}/v2/videos/generations/{task_id}", headers=KEY).status_code == 503
