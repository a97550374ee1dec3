"""The kit's I/O on a fake clock: how long it watches, waits out lag, and keeps to the budget in flight."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from typing import Any

import httpx

from contract_tests.client import GRACE, Policy
from contract_tests.runner import HOLD_POLLS, Budget, Target, download, submit_many, walk
from tests.helpers.fakeclock import Clock

BASE = "http://gateway.test"
POLICY = Policy(poll_initial=2.0, poll_max=8.0, timeout=1800.0, jitter=0)
DONE = {"task_id": "t1", "status": "SUCCESS", "progress": "100%", "data": {"output": f"{BASE}/files/t1"}}


def target(answer: Callable[[httpx.Request, float], httpx.Response], budget: int = 12) -> tuple[Target, Clock]:
    """A target whose every request is answered by ``answer(request, now)``, on a clock that sleeping moves."""
    clock = Clock()
    http = httpx.AsyncClient(transport=httpx.MockTransport(lambda request: answer(request, clock())))
    found = Target(BASE, "sk-one", POLICY, Budget(budget), http, clock=clock, sleep=clock.asleep, hold=5.0)
    return found, clock


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_a_finished_task_is_watched_for_the_hold_seconds_and_polls() -> None:
    subject, _ = target(lambda request, now: httpx.Response(200, json=DONE))
    seen = run(walk(subject, "images", "t1"))
    assert seen.outcome == "finished"
    assert len(seen.polls) == HOLD_POLLS + 1
    assert seen.polls[-1].at - seen.polls[0].at >= 5.0


def test_a_longer_hold_means_more_polls_when_they_are_quick() -> None:
    subject, _ = target(lambda request, now: httpx.Response(200, json=DONE))
    subject.hold = 60.0
    seen = run(walk(subject, "images", "t1"))
    assert seen.polls[-1].at - seen.polls[0].at >= 60.0
    assert len(seen.polls) > HOLD_POLLS + 1


def lagging(lost: tuple[float, float]) -> Callable[[httpx.Request, float], httpx.Response]:
    """Found, except between ``lost`` seconds after the first poll, when it answers 404; SUCCESS after 30 s."""
    first: list[float] = []

    def answer(request: httpx.Request, now: float) -> httpx.Response:
        first[:] = first or [now]
        age = now - first[0]
        if lost[0] <= age < lost[1]:
            return httpx.Response(404, json={"error": {"message": "no such task"}})
        status = "SUCCESS" if age >= 30 else "IN_PROGRESS"
        body = DONE if status == "SUCCESS" else {"task_id": "t1", "status": status, "progress": "50%"}
        return httpx.Response(200, json=body)

    return answer


def test_a_task_lost_briefly_by_a_replica_is_followed_to_its_end() -> None:
    subject, _ = target(lagging((2.0, 2.0 + GRACE / 2)))
    seen = run(walk(subject, "images", "t1"))
    assert seen.outcome == "finished"
    assert any(p.exchange.status == 404 for p in seen.polls)


def test_a_task_lost_for_longer_than_the_grace_is_gone() -> None:
    subject, _ = target(lagging((2.0, 1e9)))
    seen = run(walk(subject, "images", "t1"))
    assert seen.outcome == "gone"
    lost = next(p.at for p in seen.polls if p.task is None)
    assert GRACE <= seen.polls[-1].at - lost < GRACE + POLICY.poll_max


def cdn(ready_after: float) -> Callable[[httpx.Request, float], httpx.Response]:
    """An output that answers 404 until ``ready_after`` seconds after it was first asked for."""
    first: list[float] = []

    def answer(request: httpx.Request, now: float) -> httpx.Response:
        first[:] = first or [now]
        if now - first[0] < ready_after:
            return httpx.Response(404, text="not yet")
        return httpx.Response(200, content=b"\x89PNG\r\n\x1a\n", headers={"content-type": "image/png"})

    return answer


def test_an_output_late_on_its_cdn_is_fetched_again_and_its_first_answer_kept() -> None:
    subject, _ = target(cdn(ready_after=3.0))
    got, late = run(download(subject, f"{BASE}/files/t1"))
    assert got.status == 200
    assert late is not None and late.status == 404


def test_an_output_missing_through_the_grace_is_a_failed_download() -> None:
    subject, clock = target(cdn(ready_after=1e9))
    start = clock()
    got, late = run(download(subject, f"{BASE}/files/t1"))
    assert got.status == 404 and late is None
    assert GRACE <= clock() - start < 2 * GRACE


def test_refusal_probes_in_flight_never_overspend_the_budget_and_answer_in_order() -> None:
    accepted: list[Any] = []

    def accept_odd(request: httpx.Request, now: float) -> httpx.Response:
        body = json.loads(request.content)
        if body["n"] % 2:
            accepted.append(body)
            return httpx.Response(200, json={"task_id": f"paid-{body['n']}"})
        return httpx.Response(400, json={"error": {"message": "no"}})

    subject, _ = target(accept_odd, budget=3)
    answers = run(submit_many(subject, "images", [{"n": n} for n in range(40)]))
    assert len(accepted) == 3 and subject.budget.spent == 3
    assert all(a is None or json.loads(a.request_body) == {"n": n} for n, a in enumerate(answers))
    assert all(a is not None for a in answers[:6])  # a refusal never used a slot up


def test_a_walk_waits_out_a_rate_limit_however_many_429s_it_meets() -> None:
    """A 429 says "slow down", not "broken": only 5xx and dropped connections use the retries up."""
    answers = itertools.count()

    def limited(request: httpx.Request, now: float) -> httpx.Response:
        if next(answers) < 3 * POLICY.retries:
            return httpx.Response(429, headers={"Retry-After": "1"})
        return httpx.Response(200, json=DONE)

    subject, _ = target(limited)
    assert run(walk(subject, "images", "t1")).outcome == "finished"
