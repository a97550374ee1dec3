"""``--store sqlite:PATH``: tasks outlive a server killed mid-lifecycle, and keep their clocks."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver import contract

HEADERS = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "any-model"}  # no model profile: the scope's
STATES = contract.lifecycle()["states"]
TERMINAL = set(contract.lifecycle()["terminal"])
SCOPES = ("images", "videos", "audio")
QUEUE, RUN = 1, 3  # every task: queued for a second, then running for three, then SUCCESS
PROFILES = "".join(f"[profiles.{s}]\nqueue = {QUEUE}\nrun = {RUN}\nfail_rate = 0\n" for s in SCOPES)
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


def test_tasks_survive_a_kill_and_walk_on_from_where_their_clock_is(spawn: Any, tmp_path: Path) -> None:
    """Every task's lifecycle is fixed (four seconds), so no kill has to land in a window of luck."""
    (tmp_path / "mock.toml").write_text(PROFILES)
    options = ("--store", f"sqlite:{tmp_path / 'tasks.db'}", "--config", str(tmp_path / "mock.toml"))
    with spawn(*options, "--secret", "before") as (url, process):
        tasks = submit_some(url)
        before = {task_id: r.json() for task_id, r in poll_all(url, tasks).items()}
        kill(process)
    running = {t["status"] for t in before.values()}
    assert running.isdisjoint(TERMINAL), f"{running}: the machine took over {QUEUE + RUN} s for 48 requests"
    # another secret: the ids alone can no longer bring the tasks back, only the file
    with spawn(*options, "--secret", "after") as (url, _):
        after = {task_id: r.json() for task_id, r in poll_all(url, tasks).items() if r.status_code == 200}
        assert after.keys() == before.keys(), "tasks accepted before the kill are missing"
        for task_id, was in before.items():
            now = after[task_id]
            assert contract.is_valid("task", now), now
            assert now["submit_time"] == was["submit_time"]
            assert STATES.index(now["status"]) >= STATES.index(was["status"]), (was, now)
            if was["start_time"]:
                assert now["start_time"] == was["start_time"]
        # the process's clock is real: wait once for the last task's known end, rather than polling for it
        time.sleep(max(0.0, max(t["submit_time"] for t in before.values()) + QUEUE + RUN + 1 - time.time()))
        ended = {task_id: r.json() for task_id, r in poll_all(url, tasks).items()}
    for task_id, task in ended.items():
        assert task["status"] == "SUCCESS", task
        # the clock ran on through the kill: each ended its run after its own submit, not after the restart
        assert (task["start_time"], task["finish_time"]) == (
            task["submit_time"] + QUEUE,
            task["submit_time"] + QUEUE + RUN,
        )


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
