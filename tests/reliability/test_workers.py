"""Workers share nothing, yet any of them answers a poll for a task another one accepted."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from tests.helpers.fakeclock import Clock

pytestmark = pytest.mark.slow

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
ADMIN = "sk-admin-workers"


def auth(key: str = "sk-mock-dev") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_task_accepted_by_one_process_is_read_by_another(spawn: Any) -> None:
    """Two processes started alike are two workers, with no kernel choosing which one answers."""
    with spawn("--time-scale", "600") as (first, _), spawn("--time-scale", "600") as (second, _):
        ids = [
            httpx.post(f"{first}/v2/images/generations", json=BODY, headers=auth()).json()["task_id"] for _ in range(5)
        ]
        for task_id in ids:
            here = started(f"{first}/v2/images/generations/{task_id}")
            there = httpx.get(f"{second}/v2/images/generations/{task_id}", headers=auth())
            assert there.status_code == 200, there.text
            assert contract.is_valid("task", there.json())
            # the same record: the same submit time, and the same drawn start time (read after the first's)
            assert (there.json()["task_id"], there.json()["submit_time"]) == (task_id, here["submit_time"])
            assert there.json()["start_time"] == here["start_time"] != 0


def started(url: str, limit: float = 30.0) -> dict[str, Any]:
    """The task once it shows a start time: at 600x an image task starts within milliseconds of real time."""
    deadline = time.monotonic() + limit
    while True:
        task = httpx.get(url, headers=auth()).json()
        if task["start_time"] or time.monotonic() > deadline:
            return task
        time.sleep(0.01)  # a real process's clock, scaled: not the mock's fake one


def test_another_key_scope_or_a_tampered_id_is_not_found_by_any_worker(spawn: Any) -> None:
    keys = ("--key", "sk-a", "--key", "sk-b")
    with spawn(*keys) as (first, _), spawn(*keys) as (second, _):
        task_id = httpx.post(f"{first}/v2/videos/generations", json=BODY, headers=auth("sk-a")).json()["task_id"]
        tampered = task_id[:-1] + ("0" if task_id[-1] != "0" else "1")
        for url in (first, second):
            assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=auth("sk-a")).status_code == 200
            assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=auth("sk-b")).status_code == 404
            assert httpx.get(f"{url}/v2/images/generations/{task_id}", headers=auth("sk-a")).status_code == 404
            assert httpx.get(f"{url}/v2/videos/generations/{tampered}", headers=auth("sk-a")).status_code == 404


def test_mockserver_workers_2_answers_every_poll_from_both_workers(spawn: Any) -> None:
    with spawn("--workers", "2", "--time-scale", "600", "--admin-key", ADMIN) as (url, process):
        with httpx.Client(base_url=url, headers=auth()) as http:
            ids = [http.post("/v2/audio/generations", json=BODY).json()["task_id"] for _ in range(10)]
        # a fresh connection per request, so the kernel hands them to either worker
        answers = [
            httpx.get(f"{url}/v2/audio/generations/{task_id}", headers=auth()) for task_id in ids for _ in range(4)
        ]
        answered_by: set[int] = set()
        for _ in range(400):  # which process answers is the kernel's choice: ask until both have
            answered_by.add(httpx.get(f"{url}/_mock/ui/api/tasks", headers=auth(ADMIN)).json()["worker"]["pid"])
            if len(answered_by) == 2:
                break
        with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
            workers = {int(pid) for pid in children.read().split()}
    assert [a.status_code for a in answers] == [200] * len(answers)
    assert len(answered_by) == 2 and answered_by <= workers, (answered_by, workers)


def test_fates_follow_the_seed_not_the_clock() -> None:
    """Ids hold the submit time; the nth task under a seed must still play the same fate at any time."""

    def fates(start: float) -> list[tuple[float, float, int]]:
        app = create_app(Config(seed=5), clock=Clock(start))
        with TestClient(app) as client:
            for _ in range(20):
                client.post("/v2/videos/generations", json=BODY, headers=auth())
        return [(r.queue_for, r.run_for, r.failure) for r in app.state.service.backend.local.records()]

    assert fates(1_756_693_797.0) == fates(1_800_000_000.5)
