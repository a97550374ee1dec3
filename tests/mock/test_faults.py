"""HTTP-level faults at configured rates: deterministic under the spec, and never a half-created task."""

from __future__ import annotations

from email.utils import parsedate_to_datetime

import httpx
import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.faults import Faults
from mockserver.engine.profiles import Timing
from mockserver.http.fault_answers import ConnectionDropped
from mockserver.testing import running_mock
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def app_with(faults: Faults, seed: int = 0, clock: Clock | None = None) -> TestClient:
    """The mock on a fake clock, which an added latency moves (and records) rather than waiting for it."""
    clock = clock or Clock()
    return TestClient(create_app(Config(faults=faults, seed=seed), clock=clock, sleep=clock.asleep))


def stored(client: TestClient) -> int:
    return len(client.app.state.service.backend.local)  # type: ignore[attr-defined]


def test_the_embedded_default_injects_no_faults() -> None:
    assert not Config().faults.active
    with app_with(Config().faults) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        assert all(c.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 200 for _ in range(200))


def test_a_rate_limited_submit_gets_retry_after_and_creates_no_task() -> None:
    with app_with(Faults(submit_429=1.0, retry_after=7)) as c:
        response = c.post("/v2/videos/generations", json=CAT, headers=KEY)
        assert (response.status_code, response.headers["retry-after"]) == (429, "7")
        assert response.json()["error"]["code"] == "rate_limited" and contract.is_valid("error", response.json())
        assert stored(c) == 0


@pytest.mark.parametrize("status", [500, 502, 503])
def test_polls_get_the_configured_server_errors(status: int) -> None:
    with app_with(Faults(**{f"poll_{status}": 1.0}, retry_after=3)) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        response = c.get(f"/v2/videos/generations/{task_id}", headers=KEY)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "simulated_fault" and contract.is_valid("error", response.json())
    assert response.headers.get("retry-after") == ("3" if status == 503 else None)


def statuses(seed: int, polls: int = 400) -> list[int]:
    with app_with(Faults(poll_500=0.1, poll_502=0.1, poll_503=0.1), seed=seed) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        return [c.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code for _ in range(polls)]


@pytest.mark.parametrize("status", [502, 503])
def test_a_proxy_in_front_answers_its_own_html_page(status: int) -> None:
    with app_with(Faults(submit_429=0.0, **{f"poll_{status}": 1.0}, proxy_html=True, retry_after=4)) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        answer = c.get(f"/v2/videos/generations/{task_id}", headers=KEY)
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    assert f"<h1>{status} " in answer.text and "nginx" in answer.text
    assert answer.headers.get("retry-after") == ("4" if status == 503 else None)


def test_retry_after_can_be_an_http_date() -> None:
    with app_with(Faults(submit_429=1.0, retry_after=30, retry_after_date=True)) as c:
        answer = c.post("/v2/videos/generations", json=CAT, headers=KEY)
    assert answer.status_code == 429
    when = parsedate_to_datetime(answer.headers["retry-after"]).timestamp()
    assert when == 1_756_693_797 + 30  # the clock (a whole second here) and the wait
    assert answer.json()["error"]["code"] == "rate_limited"


def test_fault_draws_follow_the_rates_and_repeat_under_the_same_seed() -> None:
    first = statuses(seed=5)
    assert first == statuses(seed=5) != statuses(seed=6)
    for status in (200, 500, 502, 503):
        share = first.count(status) / len(first)
        assert abs(share - (0.7 if status == 200 else 0.1)) < 0.06, (status, share)


def test_added_latency_is_drawn_from_its_distribution() -> None:
    clock = Clock()
    with app_with(Faults(latency=Timing("lognormal", 0.2, 1.0, 0.05, 2.0)), clock=clock) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        for _ in range(300):
            assert c.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 200
    delays = clock.sleeps
    assert len(delays) == 301 and min(delays) == 0.05 and max(delays) == 2.0
    assert 0.15 < sorted(delays)[150] < 0.25


def test_a_dropped_submit_creates_no_task_in_process() -> None:
    with app_with(Faults(drop=1.0)) as c:
        with pytest.raises(ConnectionDropped):
            c.post("/v2/videos/generations", json=CAT, headers=KEY)
        assert stored(c) == 0


def test_a_dropped_connection_over_a_real_socket_gets_no_answer_and_the_server_lives_on() -> None:
    with running_mock(faults=Faults(drop=0.5), seed=1) as mock:
        outcomes = []
        for _ in range(20):
            try:
                outcomes.append(httpx.post(f"{mock.url}/v2/images/generations", json=CAT, headers=KEY).status_code)
            except httpx.RemoteProtocolError as exc:
                assert "without sending" in str(exc)
                outcomes.append("dropped")
            except httpx.ReadError as exc:  # closed with the body still unread: the kernel sends a reset
                assert "reset" in str(exc).lower()
                outcomes.append("dropped")
        assert {"dropped", 200} == set(outcomes)
        assert len(mock.app.state.service.backend.local) == outcomes.count(200)


def test_faults_spare_output_downloads() -> None:
    clock = Clock()
    app = create_app(Config(), clock=clock)
    with TestClient(app) as c:
        headers = {**KEY, "X-Mock-Scenario": "success"}
        task_id = c.post("/v2/images/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()[
            "task_id"
        ]
        clock.now += 1000
        link = c.get(f"/v2/images/generations/{task_id}", headers=KEY).json()["data"]["output"]
        app.state.service.injector.faults = Faults(poll_500=1.0, drop=1.0)
        assert c.get(link).status_code == 200
