"""Property tests: no config file and no admin body, however hostile, is a traceback or a 5xx.

Values are drawn in the shape of ``schemas/`` with hostile leaves mixed in (``hostile.py``). Each is
refused naming a field, or taken; and a mock running on what was taken answers every request with
a status below 500, but for the faults it was told to simulate.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockserver import contract, create_app
from mockserver.engine.config import Config, ConfigError, config_from
from mockserver.engine.faults import Faults
from mockserver.http.fault_answers import ConnectionDropped
from tests.helpers.fakeclock import START, Clock
from tests.helpers.hostile import for_schema

ADMIN = {"Authorization": "Bearer sk-admin", "Content-Type": "application/json"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
CHECKS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


async def no_sleep(seconds: float) -> None:
    assert 0 <= seconds <= 300, seconds  # the most a latency may add


def simulated(answer: Any) -> bool:
    """A 5xx the faults asked for: a JSON simulated_fault, or a proxy's HTML page."""
    if answer.headers.get("content-type", "").startswith("text/html"):
        return answer.status_code in (502, 503)
    return answer.json()["error"]["code"] == "simulated_fault"


def lives(config: Config) -> None:
    """Submit to every scope, then poll each task from submit to past its end: nothing may be a 5xx."""
    clock = Clock()
    headers = {"Authorization": f"Bearer {config.keys[0]}"}
    with TestClient(create_app(config, clock=clock, sleep=no_sleep), raise_server_exceptions=False) as client:
        ids = []
        for scope in ("images", "videos", "audio"):
            answer = client.post(f"/v2/{scope}/generations", json=BODY, headers=headers)
            assert answer.status_code < 500, answer.text
            if answer.status_code == 200:
                ids.append((scope, answer.json()["task_id"]))
        for step in (0, 1, 10, 100, 1e4, 1e6, 1e8):
            clock.now = START + step
            for scope, task_id in ids:
                answer = client.get(f"/v2/{scope}/generations/{task_id}", headers=headers)
                assert answer.status_code < 500, answer.text
                if answer.status_code == 200:
                    task = answer.json()
                    assert contract.is_valid("task", task), task
                    for url in task["data"].get("outputs", [task["data"].get("output")] if task["data"] else []):
                        assert client.get(url).status_code in (200, 403, 404)


@CHECKS
@given(for_schema("mock-config"))
@pytest.mark.slow
def test_a_config_is_refused_naming_a_field_or_plays_without_a_5xx(data: Any) -> None:
    try:
        config = config_from(data)
    except ConfigError as exc:
        assert str(exc), "a refusal says why"
        return
    lives(replace(config, faults=Faults()))  # faults answer 5xx on purpose; the next test covers them


fault_bodies = for_schema("admin-faults").map(lambda body: json.dumps(body, allow_nan=True).encode())


@CHECKS
@given(fault_bodies, st.integers(0, 3))
def test_admin_faults_are_refused_naming_a_field_or_applied_without_an_unasked_5xx(body: bytes, polls: int) -> None:
    config = Config(admin_key="sk-admin")
    with TestClient(create_app(config, clock=Clock(), sleep=no_sleep)) as client:  # an exception fails the test
        before = client.get("/_mock/faults", headers=ADMIN).json()
        answer = client.put("/_mock/faults", headers=ADMIN, content=body)
        assert answer.status_code in (200, 400), answer.text
        now = client.get("/_mock/faults", headers=ADMIN)
        assert now.status_code == 200
        if answer.status_code == 400:
            assert contract.is_valid("error", answer.json()) and now.json() == before
            return
        assert now.json() == answer.json() and contract.is_valid("admin-faults", now.json())
        for _ in range(1 + polls):
            try:
                submitted = client.post(
                    "/v2/videos/generations", json=BODY, headers={"Authorization": "Bearer sk-mock-dev"}
                )
            except ConnectionDropped:
                continue
            assert submitted.status_code < 500 or simulated(submitted), submitted.text


@CHECKS
@given(for_schema("admin-state").map(lambda body: json.dumps(body, allow_nan=True).encode()), st.integers(0, 400))
def test_forcing_a_state_is_refused_or_done_and_the_task_stays_lawful(body: bytes, at: int) -> None:
    clock = Clock()
    with TestClient(create_app(Config(admin_key="sk-admin"), clock=clock)) as client:
        key = {"Authorization": "Bearer sk-mock-dev"}
        task_id = client.post("/v2/videos/generations", json=BODY, headers=key).json()["task_id"]
        clock.now += at
        answer = client.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, content=body)
        assert answer.status_code in (200, 400, 409), answer.text
        if answer.status_code != 200:
            assert contract.is_valid("error", answer.json()) and answer.json()["error"]["message"]
        clock.now += 1e6
        task = client.get(f"/v2/videos/generations/{task_id}", headers=key)
        assert task.status_code == 200 and contract.is_valid("task", task.json())
