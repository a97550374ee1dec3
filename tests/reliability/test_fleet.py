"""A fleet: three mock processes, standing in for three hosts, sharing one Redis behind no balancer at all.

Clients spread their tasks round-robin over the three, as a load balancer would, and the admin API is
called through any one of them; every other instance must see the change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import pytest

from mockserver.http.servers import SERVERS

pytestmark = pytest.mark.slow

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-adm"}
CLIENTS, TASKS = 50, 500  # bench/fleet.py drives thousands; these prove as much


@pytest.fixture
def fleet(redis_server: Any, spawn_under: Any) -> Iterator[list[str]]:
    """Three instances, under both servers, with one secret and one Redis."""
    argv = ("--store", redis_server.url, "--secret", "one fleet", "--admin-key", "sk-adm")
    with ExitStack() as stack:
        yield [stack.enter_context(spawn_under(*argv, server=SERVERS[n % 2]))[0] for n in range(3)]


async def spread(urls: list[str]) -> tuple[list[tuple[int, str]], list[int], int]:
    """50 clients submit 500 tasks round-robin over the instances; once all are in, each task is polled
    through the next instance. Every request has a connection of its own: a kept-alive one that an
    instance closes while idle fails the next request sent on it, which tests the client, not the fleet."""
    accepted: list[tuple[int, str]] = []
    statuses: list[int] = []
    polled = 0
    fresh = httpx.Limits(max_keepalive_connections=0)

    async def submitter(number: int, http: httpx.AsyncClient) -> None:
        for k in range(number, TASKS, CLIENTS):
            at = k % len(urls)
            answer = await http.post(f"{urls[at]}/v2/videos/generations", json=BODY)
            statuses.append(answer.status_code)
            if answer.status_code == 200:
                accepted.append((at, answer.json()["task_id"]))

    async def poller(number: int, http: httpx.AsyncClient) -> None:
        nonlocal polled
        for at, task_id in accepted[number::CLIENTS]:
            answer = await http.get(f"{urls[(at + 1) % len(urls)]}/v2/videos/generations/{task_id}")
            statuses.append(answer.status_code)
            polled += 1

    async with httpx.AsyncClient(headers=KEY, timeout=30, limits=fresh) as http:
        await asyncio.gather(*(submitter(n, http) for n in range(CLIENTS)))
        await asyncio.gather(*(poller(n, http) for n in range(CLIENTS)))
    return accepted, statuses, polled


def test_a_fleet_loses_no_task_and_shares_every_admin_change(fleet: list[str]) -> None:
    accepted, statuses, polled = asyncio.run(spread(fleet))
    assert [s for s in statuses if s != 200] == []
    assert polled == len(accepted)  # every task, through an instance that did not take it
    assert len(accepted) == TASKS and len({task_id for _, task_id in accepted}) == TASKS  # slots kept ids apart
    for url in fleet:
        assert httpx.get(f"{url}/_mock/health", headers=ADMIN).json()["tasks"] == TASKS

    # a state forced through one instance is seen through the others on their next poll
    at, task_id = accepted[0]
    forced = httpx.post(f"{fleet[at]}/_mock/tasks/{task_id}/state", json={"status": "FAILURE"}, headers=ADMIN)
    assert forced.status_code == 200, forced.text
    for url in fleet:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).json()["status"] == "FAILURE"

    # a rule set through one plays for submits reaching any, and a next rule counts across them all
    rule = {"scenario": "fail-content-policy", "next": 2}
    assert httpx.post(f"{fleet[1]}/_mock/rules", json=rule, headers=ADMIN).status_code == 201
    played = []
    for url in (fleet[2], fleet[0], fleet[1]):
        new = httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"]
        played.append(httpx.get(f"{url}/_mock/tasks/{new}", headers=ADMIN).json()["outcome"])
    assert played[:2] == ["fail-content-policy"] * 2  # the third plays its own fate: the rule is spent
    assert httpx.get(f"{fleet[0]}/_mock/rules", headers=ADMIN).json()["rules"] == []

    # faults set through one reach the others before the admin call answers (pub/sub, acknowledged)
    assert httpx.put(f"{fleet[2]}/_mock/faults", json={"poll_503": 1}, headers=ADMIN).status_code == 200
    for url in fleet:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 503
    assert httpx.put(f"{fleet[0]}/_mock/faults", json={"poll_503": 0}, headers=ADMIN).status_code == 200
    for url in fleet:
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200

    # the journal read from any instance holds every instance's requests
    for n, url in enumerate(fleet):
        httpx.get(f"{url}/v2/videos/generations/marker-{n}", headers=KEY)
    for url in fleet:
        paths = {entry["path"] for entry in httpx.get(f"{url}/_mock/journal", headers=ADMIN).json()["entries"]}
        assert {f"/v2/videos/generations/marker-{n}" for n in range(3)} <= paths

    # a reset through one is seen by all
    assert httpx.post(f"{fleet[1]}/_mock/reset", headers=ADMIN).status_code == 200
    for url in fleet:
        assert httpx.get(f"{url}/_mock/journal", headers=ADMIN).json()["entries"] == []
        assert httpx.get(f"{url}/_mock/health", headers=ADMIN).json()["tasks"] == 0
    for url in fleet:
        for _, gone in accepted[:5]:
            assert httpx.get(f"{url}/v2/videos/generations/{gone}", headers=KEY).status_code == 404
