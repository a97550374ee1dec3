"""Redis failing under a running mock: a JSON 503 with Retry-After, never a 500 or a hang, and
service back by itself, with every task accepted before, once Redis is."""

from __future__ import annotations

import os
import signal
import time
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
KEY = {"Authorization": "Bearer sk-mock-dev"}


# The mock gives Redis half a second, then answers 503 at once for a second. How fast is for bench/; here
# the client's own timeout, twenty times that, only tells a bounded wait from a mock that waits on Redis forever.
PATIENCE = 10.0


def refused_alike(url: str, task_id: str) -> None:
    """A submit and a poll are both answered (not left hanging) 503 store_unavailable with Retry-After."""
    for _ in range(3):
        try:
            answers = [
                httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY, timeout=PATIENCE),
                httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY, timeout=PATIENCE),
            ]
        except httpx.TimeoutException as wait:
            pytest.fail(f"the mock waited on Redis rather than answer: {wait!r}")
        for answer in answers:
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "store_unavailable"
            assert answer.headers["retry-after"] == "1"


def back(url: str, within: float = 30) -> None:
    """Submits succeed again within ``within`` seconds, with no restart of the mock."""
    deadline = time.monotonic() + within
    while httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY, timeout=5).status_code != 200:
        assert time.monotonic() < deadline, "the mock did not come back after Redis did"


def accept(url: str, count: int) -> list[str]:
    return [httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"] for _ in range(count)]


def still_there(url: str, ids: list[str]) -> None:
    for task_id in ids:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200


def test_a_redis_that_stops_answering_is_a_503_then_service_resumes(spawn: Any, redis_server: Any) -> None:
    with spawn("--store", redis_server.url) as (url, _):
        ids = accept(url, 5)
        assert redis_server.process is not None
        os.kill(redis_server.process.pid, signal.SIGSTOP)  # its port still takes connections; nothing answers
        try:
            refused_alike(url, ids[0])
        finally:
            os.kill(redis_server.process.pid, signal.SIGCONT)
        back(url)
        still_there(url, ids)


def test_a_redis_stopped_and_restarted_loses_no_accepted_task(spawn: Any, redis_server: Any) -> None:
    with spawn("--store", redis_server.url, "--admin-key", "sk-adm") as (url, _):
        ids = accept(url, 5)
        redis_server.stop()
        refused_alike(url, ids[0])
        redis_server.start()
        back(url)
        still_there(url, ids)
        health = httpx.get(f"{url}/_mock/health", headers={"Authorization": "Bearer sk-adm"}).json()
        assert health["tasks"] == 6  # the five, and the submit that found Redis back
