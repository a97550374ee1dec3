"""Callbacks on a fleet sharing Redis: a callback outlives the instance that accepted its task, and of the
instances that know a delivery, one sends it. Real processes, a real redis-server, a real receiver."""

from __future__ import annotations

import os
import signal
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.http.servers import SERVERS
from mockserver.testing import free_port
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "quick"}
# Every task ends 3 s after its submit, well after a kill right after it; a claim's lease is 3.2 s.
CONFIG = """
[models.quick]
scope = "videos"
queue = 2
run = 1
fail_rate = 0

[callbacks]
timeout = 1
tries = 2
backoff = 0.2
"""


@pytest.fixture
def hook_port() -> int:
    """The port the test's receiver listens on, the one local port the fleet may call back."""
    return free_port()


@pytest.fixture
def argv(redis_server: Any, tmp_path: Path, hook_port: int) -> tuple[str, ...]:
    config = tmp_path / "fleet.toml"
    config.write_text(CONFIG + f"local_ports = [{hook_port}]\n")
    return ("--store", redis_server.url, "--secret", "one fleet", "--admin-key", "sk-adm", "--config", str(config))


@pytest.fixture
def fleet(argv: tuple[str, ...], spawn_under: Any) -> Iterator[list[tuple[str, Any]]]:
    """Two instances, one under each server, sharing one Redis."""
    with ExitStack() as stack:
        yield [stack.enter_context(spawn_under(*argv, server=SERVERS[n % 2])) for n in range(2)]


def submit(url: str, callback: str) -> str:
    answer = httpx.post(f"{url}/v2/videos/generations", json={**BODY, "callback_url": callback}, headers=KEY)
    assert answer.status_code == 200, answer.text
    return answer.json()["task_id"]


def callbacks(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/_mock/callbacks", headers=ADMIN).json()


def until(done: Any, limit: float = 30.0) -> None:
    """Wait for ``done()`` to hold, reading again and again; fails after ``limit`` seconds."""
    deadline = time.monotonic() + limit
    while not done():
        assert time.monotonic() < deadline, "the fleet did not get there in time"


def test_a_callback_whose_instance_was_killed_before_it_was_due_is_sent_once_by_another(
    fleet: list[tuple[str, Any]], hook_port: int
) -> None:
    (a, process_a), (b, _) = fleet
    with Receiver(port=hook_port) as receiver:
        task_id = submit(a, receiver.url)
        os.killpg(process_a.pid, signal.SIGKILL)  # seconds before the task ends, its callback noted in Redis
        process_a.wait()
        assert receiver.received == []
        assert receiver.wait_for(lambda got: len(got) >= 1), "the callback died with the instance that accepted it"
        until(lambda: callbacks(b)["watched"] == 0)  # b has settled it: nothing more will be sent
        assert [r.task["task_id"] for r in receiver.received] == [task_id]
        assert receiver.received[0].task["status"] == "SUCCESS"
        sent = callbacks(b)["attempts"]
        assert [(s["task_id"], s["status"]) for s in sent] == [(task_id, 200)]


def test_two_live_instances_never_both_send_one_delivery(fleet: list[tuple[str, Any]], hook_port: int) -> None:
    urls = [url for url, _ in fleet]
    with Receiver(port=hook_port) as receiver:
        ids = [submit(urls[n % 2], receiver.url) for n in range(30)]
        until(lambda: all(callbacks(url)["watched"] == len(ids) for url in urls))  # each watches every one
        assert receiver.wait_for(lambda got: len(got) >= len(ids)), f"{len(receiver.received)} of {len(ids)} sent"
        until(lambda: all(callbacks(url)["watched"] == 0 for url in urls))  # every delivery settled
        by_id = Counter(r.headers["webhook-id"] for r in receiver.received)
        assert sorted({r.task["task_id"] for r in receiver.received}) == sorted(ids)
        assert [webhook for webhook, count in by_id.items() if count > 1] == []
        attempts = [a for url in urls for a in callbacks(url)["attempts"]]
        assert len(attempts) == len(ids) and all(a["status"] == 200 for a in attempts)
