"""A bounded load test on 127.0.0.1: hundreds of tasks from concurrent clients, none lost, no 5xx."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest

from mockserver import contract

pytestmark = pytest.mark.slow

TASKS = 500  # bench/ submits 100,000 to one server; here 500 reach every scenario, scope and worker
CLIENTS = 50
MAX_POLLS = 500  # per task; at this time scale a task is over in a few polls
TERMINAL = set(contract.lifecycle()["terminal"])
# scenario -> the terminal states it may end in (a million-fold time scale: most end before the first poll)
SCENARIOS = {
    "success": {"SUCCESS"},
    "fail-quota": {"FAILURE"},
    "outputs, success": {"SUCCESS"},
    "skip-states, fail-content-policy": {"FAILURE"},
    "no-progress": TERMINAL,
    "default": TERMINAL,
}
JOBS = [(scope, scenario) for scope in ("images", "videos", "audio") for scenario in SCENARIOS]
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


async def _drive(url: str) -> tuple[dict[str, tuple[str, str, dict[str, Any]]], Counter[int]]:
    statuses: Counter[int] = Counter()
    finished: dict[str, tuple[str, str, dict[str, Any]]] = {}
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for n in range(TASKS):
        queue.put_nowait(JOBS[n % len(JOBS)])
    headers = {"Authorization": "Bearer sk-mock-dev"}

    async def client() -> None:
        # a client of its own per worker: one shared pool of 50 connections is far slower in httpx
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
            while not queue.empty():
                scope, scenario = queue.get_nowait()
                submitted = await http.post(
                    f"/v2/{scope}/generations", json=BODY, headers={"X-Mock-Scenario": scenario}
                )
                statuses[submitted.status_code] += 1
                if submitted.status_code != 200:
                    continue
                task_id = submitted.json()["task_id"]
                for _ in range(MAX_POLLS):
                    polled = await http.get(f"/v2/{scope}/generations/{task_id}")
                    statuses[polled.status_code] += 1
                    if polled.status_code == 200 and polled.json()["status"] in TERMINAL:
                        finished[task_id] = (scope, scenario, polled.json())
                        break

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    # every finished task stays readable, unchanged
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30) as http:
        for task_id, (scope, _, task) in finished.items():
            again = await http.get(f"/v2/{scope}/generations/{task_id}")
            statuses[again.status_code] += 1
            assert again.status_code == 200 and again.json() == task, (task, again.text)
    return finished, statuses


def test_five_hundred_tasks_from_fifty_clients_all_finish_as_their_scenario_says(spawn: Any) -> None:
    with spawn("--workers", "2", "--time-scale", "1000000", "--no-access-log") as (url, _):
        finished, statuses = asyncio.run(_drive(url))
    assert not [code for code in statuses if code >= 500], statuses
    assert statuses[200] == sum(statuses.values()), statuses
    assert len(finished) == TASKS, f"{TASKS - len(finished)} tasks never reached a terminal state"
    for scope, scenario, task in finished.values():
        assert task["status"] in SCENARIOS[scenario], (scenario, task)
        assert contract.is_valid("task", task), task
        if scenario.startswith("outputs"):
            assert len(task["data"]["outputs"]) > 1
