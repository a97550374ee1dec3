"""``--store sqlite:PATH``: tasks outlive a server killed mid-lifecycle, and keep their clocks."""

from __future__ import annotations

import os
import signal
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import contract, create_app
from mockserver.engine.config import config_from
from mockserver.stores.local import SqliteStore
from tests.helpers.fakeclock import START, Clock
from tests.helpers.processes import serving

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "any-model"}  # no model profile: the scope's
STATES = contract.lifecycle()["states"]
TERMINAL = set(contract.lifecycle()["terminal"])
SCOPES = ("images", "videos", "audio")
QUEUE, RUN = 10, 30  # every task in the moved-clock test: queued 10 s, then running 30 s, then SUCCESS


def profiles(queue: float, run: float) -> str:
    return "".join(f"[profiles.{s}]\nqueue = {queue}\nrun = {run}\nfail_rate = 0\n" for s in SCOPES)


FAST = ("--time-scale", "240")


def submit_some(url: str, count: int = 24) -> dict[str, str]:
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        return {http.post(f"/v2/{s}/generations", json=BODY).json()["task_id"]: s for s in SCOPES * (count // 3)}


def poll_all(url: str, tasks: dict[str, str]) -> dict[str, httpx.Response]:
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        return {task_id: http.get(f"/v2/{scope}/generations/{task_id}") for task_id, scope in tasks.items()}


def kill(process: Any) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def test_tasks_survive_a_kill(spawn: Any, tmp_path: Path) -> None:
    """A real process killed with SIGKILL: every task it accepted is in the file, as it was.

    Tasks wait an hour in the queue, so none can change between the two looks, however slow the machine.
    """
    (tmp_path / "mock.toml").write_text(profiles(queue=3600, run=3600))
    options = ("--store", f"sqlite:{tmp_path / 'tasks.db'}", "--config", str(tmp_path / "mock.toml"))
    with spawn(*options, "--secret", "before") as (url, process):
        tasks = submit_some(url)
        before = {task_id: r.json() for task_id, r in poll_all(url, tasks).items()}
        kill(process)
    # another secret: the ids alone can no longer bring the tasks back, only the file
    with spawn(*options, "--secret", "after") as (url, _):
        after = {task_id: r.json() for task_id, r in poll_all(url, tasks).items() if r.status_code == 200}
    assert after.keys() == before.keys(), "tasks accepted before the kill are missing"
    for task_id, was in before.items():
        assert contract.is_valid("task", after[task_id]), after[task_id]
        assert after[task_id] == was


def test_a_reopened_file_walks_each_task_on_its_own_clock(tmp_path: Path) -> None:
    """The store keeps when each task was accepted, not how far it had got: a task read back after any pause
    stands where its own schedule puts it. Two apps on one file, the second with another secret, on a moved clock.
    """
    path = tmp_path / "tasks.db"
    config = config_from(tomllib.loads(profiles(queue=QUEUE, run=RUN)))
    clock = Clock()
    with TestClient(create_app(config, clock=clock, store=SqliteStore(path), secret=b"before")) as first:
        tasks = {}
        for n, scope in enumerate(SCOPES * 4):
            clock.now = START + n
            tasks[first.post(f"/v2/{scope}/generations", json=BODY, headers=HEADERS).json()["task_id"]] = (scope, n)
    later = create_app(config, clock=clock, store=SqliteStore(path), secret=b"after")
    with TestClient(later) as second:
        for at in (START + 11 + QUEUE + RUN / 2, START + 12 + QUEUE + RUN):  # some running, then all done
            clock.now = at
            for task_id, (scope, n) in tasks.items():
                task = second.get(f"/v2/{scope}/generations/{task_id}", headers=HEADERS).json()
                submitted = START + n
                expected = "SUCCESS" if at >= submitted + QUEUE + RUN else "IN_PROGRESS"
                assert (task["status"], task["submit_time"]) == (expected, int(submitted)), (n, task)
                assert task["start_time"] == int(submitted + QUEUE)
                if expected == "SUCCESS":
                    assert task["finish_time"] == int(submitted + QUEUE + RUN)


def test_without_a_store_file_a_restart_with_another_secret_forgets_tasks(spawn: Any) -> None:
    """The control: the test above would notice tasks that were not kept."""
    with spawn(*FAST, "--secret", "before") as (url, process):
        tasks = submit_some(url, count=3)
        kill(process)
    with spawn(*FAST, "--secret", "after") as (url, _):
        assert {r.status_code for r in poll_all(url, tasks).values()} == {404}


@pytest.mark.parametrize("spec", ["sqlite:", "redis:localhost", "sqlite:/nonexistent-dir/x.db"])
def test_a_bad_store_is_refused_at_start(spec: str) -> None:
    from mockserver.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["--store", spec])
    assert exit_.value.code == 2


@pytest.mark.processes
def test_workers_stopped_by_sigterm_leave_no_wal_or_shm_beside_the_file(tmp_path: Path) -> None:
    """SIGTERM to the parent alone, as a container runtime sends it: each worker closes its SQLite connections,
    so the last close folds the write-ahead log into the file and removes it, as SQLite does."""
    db = tmp_path / "tasks.db"
    with serving("--store", f"sqlite:{db}", "--workers", "2") as (url, process):
        answer = httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=HEADERS, timeout=10)
        assert answer.status_code == 200, answer.text
        assert (tmp_path / "tasks.db-wal").exists()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["tasks.db"]
    assert len(SqliteStore(db)) == 1  # and the task is in the file itself
