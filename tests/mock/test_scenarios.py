"""X-Mock-Scenario picks a task's fate per request, whatever the profile's failure rate says."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from contract_tests import contract
from mockserver import Config, create_app
from mockserver.config import FAIL_REASONS
from mockserver.profiles import Profile, uniform

KEY = {"Authorization": "Bearer sk-mock-dev"}
ALWAYS_FAILS = Profile(queue=uniform(1, 2), run=uniform(5, 10), fail_rate=1.0)
YEAR = 365 * 24 * 3600


def play(scenario: str, elapsed: float, profile: Profile = ALWAYS_FAILS) -> dict:
    clock = [1_756_693_797.0]
    with TestClient(create_app(Config(profiles={"videos": profile}), clock=lambda: clock[0])) as client:
        headers = {**KEY, "X-Mock-Scenario": scenario}
        task_id = client.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()["task_id"]
        clock[0] += elapsed
        task = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
    assert contract.is_valid("task", task), task
    return task


@pytest.mark.parametrize("name", sorted(FAIL_REASONS))
def test_fail_scenarios_fail_with_their_reason(name: str) -> None:
    task = play(f"fail-{name}", 60, Profile(queue=uniform(1, 2), run=uniform(5, 10), fail_rate=0.0))
    assert (task["status"], task["fail_reason"]) == ("FAILURE", FAIL_REASONS[name])


def test_success_scenario_overrides_the_failure_rate() -> None:
    assert play("success", 60)["status"] == "SUCCESS"
    assert play("default", 60)["status"] == "FAILURE"


def test_stuck_scenario_never_finishes() -> None:
    task = play("stuck", YEAR)
    assert (task["status"], task["finish_time"]) == ("IN_PROGRESS", 0)


def test_unknown_scenario_is_a_400_naming_the_header() -> None:
    with TestClient(create_app()) as client:
        response = client.post(
            "/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers={**KEY, "X-Mock-Scenario": "explode"}
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "X-Mock-Scenario"
    assert "fail-quota" in response.json()["error"]["message"]
