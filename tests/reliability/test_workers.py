"""Workers share nothing, yet any of them answers a poll for a task another one accepted."""

from __future__ import annotations

from typing import Any

import httpx

from mockserver import contract

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def auth(key: str = "sk-mock-dev") -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_a_task_accepted_by_one_process_is_read_by_another(spawn: Any) -> None:
    """Two processes started alike are two workers, with no kernel choosing which one answers."""
    with spawn("--time-scale", "600") as (first, _), spawn("--time-scale", "600") as (second, _):
        ids = [
            httpx.post(f"{first}/v2/images/generations", json=BODY, headers=auth()).json()["task_id"] for _ in range(5)
        ]
        for task_id in ids:
            here = httpx.get(f"{first}/v2/images/generations/{task_id}", headers=auth()).json()
            there = httpx.get(f"{second}/v2/images/generations/{task_id}", headers=auth())
            assert there.status_code == 200, there.text
            assert contract.is_valid("task", there.json())
            # the same record: same submit time, and the same drawn start time once both have started
            assert (there.json()["task_id"], there.json()["submit_time"]) == (task_id, here["submit_time"])
            assert there.json()["start_time"] in (0, here["start_time"]) or here["start_time"] == 0


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


def test_mockserver_workers_2_answers_every_poll(spawn: Any) -> None:
    with spawn("--workers", "2", "--time-scale", "600") as (url, process):
        with httpx.Client(base_url=url, headers=auth()) as http:
            ids = [http.post("/v2/audio/generations", json=BODY).json()["task_id"] for _ in range(10)]
        # a fresh connection per poll, so the kernel hands them to either worker
        answers = [
            httpx.get(f"{url}/v2/audio/generations/{task_id}", headers=auth()) for task_id in ids for _ in range(4)
        ]
        with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
            assert len(children.read().split()) >= 2  # the workers (and multiprocessing's tracker)
    assert [a.status_code for a in answers] == [200] * len(answers)


def test_fates_follow_the_seed_not_the_clock() -> None:
    """Ids hold the submit time; the nth task under a seed must still play the same fate at any time."""
    from starlette.testclient import TestClient

    from mockserver import Config, create_app

    def fates(start: float) -> list[tuple[float, float, int]]:
        app = create_app(Config(seed=5), clock=lambda: start)
        with TestClient(app) as client:
            for _ in range(20):
                client.post("/v2/videos/generations", json=BODY, headers=auth())
        return [(r.queue_for, r.run_for, r.failure) for r in app.state.service.store.records()]

    assert fates(1_756_693_797.0) == fates(1_800_000_000.5)
