"""The polling client against the real mock, in-process, on a fake clock: no test sleeps for real."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.client import (
    ApiError,
    AsyncClient,
    Client,
    DownloadError,
    OffContract,
    Policy,
    WaitTimeout,
    backoff,
    grace,
    output_urls,
    retry_after,
)
from mockserver import Config, create_app
from mockserver.engine.config import FAIL_REASONS
from tests.helpers.fakeclock import START, Clock

KEY = "sk-mock-dev"
BASE = "http://testserver"
FLAT = Policy(jitter=0)


@pytest.fixture
def fake() -> Clock:
    """A clock the mock and the client share; sleeping only moves it and records the delay."""
    return Clock()


@pytest.fixture
def mock(fake: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(Config(), clock=fake), base_url=BASE) as http:
        yield http


def client(http: httpx.Client, fake: Clock, policy: Policy = FLAT) -> Client:
    return Client(BASE, KEY, http=http, policy=policy, sleep=fake.sleep, clock=fake)


def submit(mock: TestClient, scope: str, scenario: str) -> str:
    """The client sends no scenario header, so tasks with a fixed fate are created directly."""
    response = mock.post(
        f"/v2/{scope}/generations",
        json={"prompt": "p", "model": "m"},
        headers={"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": scenario},
    )
    return response.json()["task_id"]


def fronted(mock: TestClient, intercept: Callable[[httpx.Request], httpx.Response | None]) -> httpx.Client:
    """An httpx client whose requests go to ``intercept`` first and on to the mock when it returns None."""

    def handler(request: httpx.Request) -> httpx.Response:
        answer = intercept(request)
        if answer is not None:
            return answer
        real = mock.request(request.method, str(request.url), headers=request.headers, content=request.content)
        return httpx.Response(real.status_code, headers=real.headers, content=real.content)

    return httpx.Client(transport=httpx.MockTransport(handler), base_url=BASE)


def failing_polls(responses: list[httpx.Response | Exception]) -> Callable[[httpx.Request], httpx.Response | None]:
    """Answer the first task polls from ``responses`` (raising the exceptions), then let the mock answer."""

    def intercept(request: httpx.Request) -> httpx.Response | None:
        if request.method != "GET" or "/generations/" not in request.url.path or not responses:
            return None
        answer = responses.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return intercept


# The schedule, pure.


def test_backoff_doubles_from_two_seconds_and_caps_at_eight() -> None:
    assert [backoff(n, FLAT) for n in range(5)] == [2, 4, 8, 8, 8]


def test_jitter_spreads_the_delay_within_its_fraction() -> None:
    policy = Policy(jitter=0.25)
    assert backoff(0, policy, lambda: 0.0) == 1.5
    assert backoff(0, policy, lambda: 1.0) == 2.5
    assert backoff(3, policy, lambda: 0.5) == 8


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7.0), (" 1.5 ", 1.5), ("-3", 0.0), ("9999", 120.0), ("soon", None), (None, None), ("nan", None)],
)
def test_retry_after_reads_seconds_and_caps_them(value: str | None, expected: float | None) -> None:
    assert retry_after(value, START, 120) == expected


def test_retry_after_reads_an_http_date_relative_to_now() -> None:
    date = format_datetime(datetime.fromtimestamp(START + 30, UTC), usegmt=True)
    assert retry_after(date, START, 120) == 30
    assert retry_after(date, START + 60, 120) == 0


def test_output_urls_take_output_and_outputs_without_repeats() -> None:
    task = {"data": {"output": "http://a/1", "outputs": ["http://a/2", "http://a/1", None]}}
    assert output_urls(task) == ["http://a/1", "http://a/2"]
    assert output_urls({"data": None}) == output_urls({"data": {"output": "", "outputs": None}}) == []


# Polling against the mock.


def test_a_task_that_never_ends_is_polled_2_4_8_8_then_times_out(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "videos", "stuck")
    seen: list[str] = []
    with pytest.raises(WaitTimeout, match="IN_PROGRESS") as caught:
        kit = client(mock, fake, Policy(jitter=0, timeout=30))
        kit.wait("videos", task_id, on_poll=lambda t: seen.append(t["status"]))
    assert fake.sleeps == [2, 4, 8, 8, 8]
    assert fake.now == START + 30
    assert caught.value.last is not None and caught.value.last["task_id"] == task_id
    assert len(seen) == 6


def test_wait_stops_at_success_and_polls_no_more(mock: TestClient, fake: Clock) -> None:
    kit = client(mock, fake)
    task_id = kit.submit("images", {"prompt": "a fox", "model": "m"})
    statuses: list[str] = []
    task = kit.wait("images", task_id, on_poll=lambda t: statuses.append(t["status"]))
    assert task["status"] == statuses[-1] == "SUCCESS"
    assert "SUCCESS" not in statuses[:-1]
    assert len(fake.sleeps) == len(statuses) - 1
    assert kit.get("images", task_id) == task


@pytest.mark.parametrize("reason", sorted(FAIL_REASONS)[:1])
def test_wait_returns_a_failure_as_a_result_not_an_error(mock: TestClient, fake: Clock, reason: str) -> None:
    task = client(mock, fake).wait("images", submit(mock, "images", f"fail-{reason}"))
    assert (task["status"], task["fail_reason"]) == ("FAILURE", FAIL_REASONS[reason])


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_in_seconds_replaces_the_schedule(mock: TestClient, fake: Clock, status: int) -> None:
    task_id = submit(mock, "videos", "success")
    busy = httpx.Response(status, headers={"Retry-After": "17"}, json={"error": {"message": "busy"}})
    with fronted(mock, failing_polls([busy, busy])) as http:
        task = client(http, fake).wait("videos", task_id)
    assert task["status"] == "SUCCESS"
    # The schedule goes on from where the waits left it.
    assert fake.sleeps[:3] == [17, 17, 8]


def test_retry_after_as_an_http_date_is_honoured_and_capped(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "videos", "success")
    soon = format_datetime(datetime.fromtimestamp(START + 45, UTC), usegmt=True)
    late = format_datetime(datetime.fromtimestamp(START + 10_000, UTC), usegmt=True)
    answers: list[httpx.Response | Exception] = [
        httpx.Response(429, headers={"Retry-After": soon}),
        httpx.Response(503, headers={"Retry-After": late}),
    ]
    with fronted(mock, failing_polls(answers)) as http:
        client(http, fake, Policy(jitter=0, retry_after_max=60)).wait("videos", task_id)
    assert fake.sleeps[:2] == [45, 60]


def test_gateway_errors_and_dropped_connections_are_retried(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "images", "success")
    answers: list[httpx.Response | Exception] = [
        httpx.Response(502, text="<html>Bad Gateway</html>"),
        httpx.ConnectError("reset"),
        httpx.Response(504),
    ]
    with fronted(mock, failing_polls(answers)) as http:
        assert client(http, fake).wait("images", task_id)["status"] == "SUCCESS"
    assert fake.sleeps[:3] == [2, 4, 8]


def test_retries_are_bounded_and_end_in_an_api_error(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "images", "success")
    answers: list[httpx.Response | Exception] = [httpx.Response(502, text="<html>Bad Gateway</html>")] * 10
    with fronted(mock, failing_polls(answers)) as http, pytest.raises(ApiError) as caught:
        client(http, fake, Policy(jitter=0, retries=2)).wait("images", task_id)
    assert caught.value.status == 502
    assert caught.value.body == "<html>Bad Gateway</html>"
    assert caught.value.response.status_code == 502
    assert len(fake.sleeps) == 2


def test_client_errors_are_raised_at_once_with_the_json_body(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "images", "success")
    with pytest.raises(ApiError) as caught:
        Client(BASE, "sk-wrong", http=mock, policy=FLAT, sleep=fake.sleep, clock=fake).wait("images", task_id)
    assert caught.value.status == 401
    assert "message" in caught.value.body["error"]
    assert fake.sleeps == []
    with pytest.raises(ApiError) as rejected:
        client(mock, fake).submit("images", {"model": "m"})
    assert rejected.value.status == 400


def test_a_task_never_found_is_an_api_error_once_the_grace_is_over(mock: TestClient, fake: Clock) -> None:
    """A gateway may show a new task a moment after its submit; past the grace "not found" is the answer."""
    with pytest.raises(ApiError) as caught:
        client(mock, fake).wait("images", "no-such-task")
    assert caught.value.status == 404
    assert fake.now - START >= grace(FLAT) > 0
    assert fake.now - START < grace(FLAT) + FLAT.poll_max


def test_a_task_not_yet_visible_after_its_submit_is_followed_to_its_end(mock: TestClient, fake: Clock) -> None:
    task_id = submit(mock, "images", "success")
    not_yet = httpx.Response(404, json={"error": {"message": "no such task"}})
    with fronted(mock, failing_polls([not_yet, not_yet])) as http:
        assert client(http, fake).wait("images", task_id)["status"] == "SUCCESS"
    assert fake.sleeps[:2] == [2, 4]


def test_a_status_outside_the_contract_ends_the_wait_without_waiting_for_the_timeout(
    mock: TestClient, fake: Clock
) -> None:
    odd = {"task_id": "t", "status": "COMPLETED", "progress": "100%"}
    with fronted(mock, lambda request: httpx.Response(200, json=odd)) as http, pytest.raises(OffContract) as caught:
        client(http, fake).wait("videos", "t")
    assert "'COMPLETED'" in str(caught.value)
    assert len(fake.sleeps) == 2  # three polls, well before the 30 minutes


def test_the_client_rides_out_a_gateway_that_rate_limits_polls_for_a_minute(mock: TestClient, fake: Clock) -> None:
    """Every poll in the first simulated minute answers 429, far more in a row than ``retries``: none ends the wait."""
    task_id = submit(mock, "videos", "success")
    limited: list[float] = []

    def rate_limit(request: httpx.Request) -> httpx.Response | None:
        if request.method != "GET" or fake.now - START >= 60:
            return None
        limited.append(fake.now)
        hint = {"Retry-After": "3"} if len(limited) % 3 == 0 else {}  # some say how long, most do not
        return httpx.Response(429, headers=hint, json={"error": {"message": "slow down"}})

    policy = Policy(jitter=0, poll_initial=1, poll_max=2, retries=2)
    with fronted(mock, rate_limit) as http:
        task = client(http, fake, policy).wait("videos", task_id)
    assert task["status"] == "SUCCESS"
    assert len(limited) > 10 * policy.retries
    assert fake.now - START >= 60
    waited_after = dict(zip(limited, fake.sleeps, strict=False))
    assert [waited_after[at] for n, at in enumerate(limited, 1) if n % 3 == 0] == [3] * (len(limited) // 3)


# Downloads.


def finished(mock: TestClient, fake: Clock, scope: str) -> dict:
    return client(mock, fake).wait(scope, submit(mock, scope, "success"))


@pytest.mark.parametrize("scope", ["images", "audio"])
def test_download_writes_every_output_under_its_own_name(
    mock: TestClient, fake: Clock, tmp_path: Path, scope: str
) -> None:
    task = finished(mock, fake, scope)
    paths = client(mock, fake).download(task, scope, tmp_path)
    (url,) = output_urls(task)
    assert [p.read_bytes() for p in paths] == [mock.get(url).content]
    assert sorted(tmp_path.iterdir()) == paths
    assert paths[0].name.startswith(task["task_id"])


def test_downloads_get_the_permissions_any_saved_file_gets(mock: TestClient, fake: Clock, tmp_path: Path) -> None:
    umask = os.umask(0o022)
    try:
        (path,) = client(mock, fake).download(finished(mock, fake, "images"), "images", tmp_path)
    finally:
        os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o644  # not tempfile's owner-only 0600


def test_wrong_content_type_leaves_nothing_behind(mock: TestClient, fake: Clock, tmp_path: Path) -> None:
    task = finished(mock, fake, "images")
    good = output_urls(task)[0]
    task["data"] = {"output": good, "outputs": [good + "?as=html"]}

    def intercept(request: httpx.Request) -> httpx.Response | None:
        if not request.url.query:
            return None
        return httpx.Response(200, text="<html>login</html>", headers={"content-type": "text/html"})

    with fronted(mock, intercept) as http, pytest.raises(DownloadError, match="text/html"):
        client(http, fake).download(task, "images", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_transfer_cut_midway_leaves_nothing_behind(mock: TestClient, fake: Clock, tmp_path: Path) -> None:
    task = finished(mock, fake, "videos")

    def stream() -> Iterator[bytes]:
        yield b"\x00\x00\x00\x18ftyp"
        raise httpx.ReadError("cut")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "video/mp4"}, content=stream())

    with httpx.Client(transport=httpx.MockTransport(handler)) as http, pytest.raises(httpx.ReadError):
        client(http, fake).download(task, "videos", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_output_is_a_download_error(mock: TestClient, fake: Clock, tmp_path: Path) -> None:
    task = {"task_id": "t", "status": "SUCCESS", "data": {"output": f"{BASE}/_media/nope/x.png"}}
    with pytest.raises(DownloadError, match="404"):
        client(mock, fake).download(task, "images", tmp_path)
    assert list(tmp_path.iterdir()) == []


# The async client shares the decisions; these prove its I/O is wired to them.


def test_async_client_polls_on_the_same_schedule_and_downloads(fake: Clock, tmp_path: Path) -> None:
    app = create_app(Config(), clock=fake)

    async def scenario() -> tuple[dict, list[Path], list[bytes]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
            headers = {"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": "success"}
            submitted = await http.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers)
            kit = AsyncClient(BASE, KEY, http=http, policy=FLAT, sleep=fake.asleep, clock=fake)
            task = await kit.wait("videos", submitted.json()["task_id"])
            served = [(await http.get(url)).content for url in output_urls(task)]
            return task, await kit.download(task, "videos", tmp_path), served

    task, paths, served = asyncio.run(scenario())
    assert task["status"] == "SUCCESS"
    assert fake.sleeps[:4] == [2, 4, 8, 8]
    assert set(fake.sleeps[3:]) == {8}
    assert sorted(tmp_path.iterdir()) == paths
    assert [p.read_bytes() for p in paths] == served and len(paths) >= 1


def test_async_client_times_out(fake: Clock) -> None:
    app = create_app(Config(), clock=fake)

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as http:
            response = await http.post(
                "/v2/audio/generations",
                json={"prompt": "p", "model": "m"},
                headers={"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": "stuck"},
            )
            kit = AsyncClient(BASE, KEY, http=http, policy=Policy(jitter=0, timeout=10), sleep=fake.asleep, clock=fake)
            await kit.wait("audio", response.json()["task_id"])

    with pytest.raises(WaitTimeout):
        asyncio.run(scenario())
    assert fake.sleeps == [2, 4, 4]
