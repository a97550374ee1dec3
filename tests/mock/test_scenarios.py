"""X-Mock-Scenario picks a task's fate per request, whatever the profile says."""

from __future__ import annotations

import itertools

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.config import FAIL_REASONS
from mockserver.engine.profiles import Profile, fixed, uniform
from mockserver.engine.scenarios import names
from tests.helpers.fakeclock import START, Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
ALWAYS_FAILS = Profile(queue=uniform(1, 2), run=uniform(5, 10), fail_rate=1.0)
SURE = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0)
YEAR = 365 * 24 * 3600
RULES = contract.lifecycle()


def play(scenario: str, times: list[float], profile: Profile = SURE) -> list[tuple[int, dict]]:
    """Submit under ``scenario``, then poll at each of ``times`` (seconds after submit)."""
    clock = Clock()
    with TestClient(create_app(Config(profiles={"videos": profile}), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": scenario}
        submitted = client.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers)
        assert submitted.status_code == 200, submitted.text
        task_id, seen = submitted.json()["task_id"], []
        for at in times:
            clock.now = START + at
            response = client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
            body = response.json()
            assert contract.is_valid("task" if response.status_code == 200 else "error", body), body
            seen.append((response.status_code, body))
    return seen


def last(scenario: str, elapsed: float, profile: Profile = SURE) -> dict:
    status, body = play(scenario, [elapsed], profile)[-1]
    assert status == 200, body
    return body


@pytest.mark.parametrize("name", sorted(FAIL_REASONS))
def test_fail_scenarios_fail_with_their_reason(name: str) -> None:
    task = last(f"fail-{name}", 200)
    assert (task["status"], task["fail_reason"]) == ("FAILURE", FAIL_REASONS[name])


def test_success_scenario_overrides_the_failure_rate() -> None:
    assert last("success", 60, ALWAYS_FAILS)["status"] == "SUCCESS"
    assert last("default", 60, ALWAYS_FAILS)["status"] == "FAILURE"


def test_stuck_scenario_never_finishes() -> None:
    task = last("stuck", YEAR)
    assert (task["status"], task["finish_time"], task["progress"]) == ("IN_PROGRESS", 0, "0%")


def test_stuck_with_a_fail_outcome_fails_at_the_providers_hard_timeout() -> None:
    seen = [t for _, t in play("stuck, fail-upstream-timeout", [5, 20, 1000, 1799, 1800, YEAR])]
    assert [t["status"] for t in seen] == ["QUEUED", "IN_PROGRESS", "IN_PROGRESS", "IN_PROGRESS", "FAILURE", "FAILURE"]
    assert {t["progress"] for t in seen[1:4]} == {"0%"}
    assert seen[-1]["finish_time"] == int(START) + 1800
    assert seen[-1]["fail_reason"] == FAIL_REASONS["upstream-timeout"]
    assert last("stuck, success", YEAR)["status"] == "IN_PROGRESS"


def test_slow_scenario_waits_long_in_the_queue() -> None:
    assert [t["status"] for _, t in play("slow", [5, 300, 609, 611, 800])] == [
        "QUEUED",
        "QUEUED",
        "QUEUED",
        "IN_PROGRESS",
        "SUCCESS",
    ]


def test_late_visible_task_answers_404_then_is_found() -> None:
    seen = play("late-visible", [0, 4.9, 5, 200])
    assert [status for status, _ in seen] == [404, 404, 200, 200]
    assert seen[0][1]["error"]["code"] == "task_not_found"
    assert seen[-1][1]["status"] == "SUCCESS"


def test_expired_task_and_its_links_answer_404() -> None:
    clock = Clock()
    with TestClient(create_app(Config(profiles={"videos": SURE}), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": "expire"}
        task_id = client.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()[
            "task_id"
        ]
        clock.now = START + 110 + 59
        task = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
        assert client.get(task["data"]["output"]).status_code == 200
        clock.now = START + 110 + 60
        gone = client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "task_not_found")
        assert client.get(task["data"]["output"]).status_code == 404


def test_outputs_scenario_lists_several_urls() -> None:
    data = last("outputs", 200)["data"]
    assert list(data) == ["outputs"] and len(data["outputs"]) == 4 and len(set(data["outputs"])) == 4


def test_no_progress_scenario_shows_zero_until_done() -> None:
    seen = play("no-progress", [20, 50, 109, 110])
    assert [t["progress"] for _, t in seen] == ["0%", "0%", "0%", "100%"]
    assert play("default", [50])[0][1]["progress"] == "40%"


def test_skip_states_goes_straight_from_not_start_to_the_end() -> None:
    seen = [t for _, t in play("skip-states, fail-quota", [0, 5, 50, 109, 110])]
    assert [t["status"] for t in seen] == ["NOT_START"] * 4 + ["FAILURE"]
    assert seen[0]["progress"] == "0%" and seen[0]["start_time"] == 0
    assert seen[-1]["submit_time"] <= seen[-1]["start_time"] <= seen[-1]["finish_time"]


def test_scenarios_combine() -> None:
    seen = play("late-visible, fail-content-policy", [1, 200])
    assert seen[0][0] == 404
    assert (seen[1][1]["status"], seen[1][1]["fail_reason"]) == ("FAILURE", FAIL_REASONS["content-policy"])


@pytest.mark.parametrize(
    "header", ["explode", "success, fail-quota", "late-visible, stuck", "late-visible,,fail-quota"]
)
def test_bad_scenario_header_is_a_400_naming_the_header(header: str) -> None:
    with TestClient(create_app()) as client:
        response = client.post(
            "/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers={**KEY, "X-Mock-Scenario": header}
        )
    assert response.status_code == 400
    assert contract.is_valid("error", response.json())
    assert response.json()["error"]["param"] == "X-Mock-Scenario"


@pytest.mark.parametrize("scenario", names(tuple(FAIL_REASONS)))
def test_every_scenario_answers_valid_bodies_along_a_lawful_lifecycle(scenario: str) -> None:
    """Poll every few seconds for ten minutes: each answer validates, states only move forward, once finished nothing changes."""
    seen = play(scenario, [float(t) for t in range(0, 900, 7)], ALWAYS_FAILS)
    tasks = [t for status, t in seen if status == 200]
    assert tasks, scenario
    for before, after in itertools.pairwise(tasks):
        if before["status"] in RULES["terminal"]:
            assert after == before
        else:
            assert after["status"] == before["status"] or after["status"] in RULES["transitions"][before["status"]]
            assert int(after["progress"][:-1]) >= int(before["progress"][:-1])


@pytest.mark.parametrize("scenario", ["late-visible, fail-quota", "outputs, success", "skip-states", "slow", "expire"])
def test_another_worker_replays_the_same_fate_from_the_task_id(scenario: str) -> None:
    """Two apps alike share nothing but the config; the second rebuilds the task from its signed id."""
    clock = Clock()
    first = TestClient(create_app(Config(), clock=clock))
    second = TestClient(create_app(Config(), clock=clock))
    headers = {**KEY, "X-Mock-Scenario": scenario}
    task_id = first.post("/v2/videos/generations", json={"prompt": "p", "model": "sora-2"}, headers=headers).json()[
        "task_id"
    ]
    for at in range(0, 1500, 30):
        clock.now = START + at
        here, there = (c.get(f"/v2/videos/generations/{task_id}", headers=KEY) for c in (first, second))
        assert (here.status_code, here.json()) == (there.status_code, there.json())
