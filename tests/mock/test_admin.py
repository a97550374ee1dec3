"""The admin API: off without a key, guarded by it, and able to inspect, force, reset, fault and journal."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.profiles import Profile, fixed
from mockserver.http.fault_answers import ConnectionDropped
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-admin"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    profile = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0)
    config = Config(admin_key="sk-admin", profiles={"videos": profile}, journal_size=5)
    with TestClient(create_app(config, clock=clock)) as c:
        yield c


def submit(client: TestClient, body: dict = CAT, headers: dict = KEY) -> str:
    response = client.post("/v2/videos/generations", json=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["task_id"]


def poll(client: TestClient, task_id: str) -> dict:
    task = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
    assert contract.is_valid("task", task), task
    return task


def test_without_an_admin_key_the_prefix_is_not_served() -> None:
    with TestClient(create_app()) as c:
        response = c.get("/_mock/health", headers=ADMIN)
    assert (response.status_code, response.json()["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(("headers", "code"), [({}, "missing_api_key"), (KEY, "invalid_api_key")])
def test_admin_endpoints_want_the_admin_key(client: TestClient, headers: dict, code: str) -> None:
    for method, path in [
        ("GET", "/_mock/health"),
        ("GET", "/_mock/tasks"),
        ("POST", "/_mock/reset"),
        ("PUT", "/_mock/faults"),
    ]:
        response = client.request(method, path, headers=headers, json={})
        assert (response.status_code, response.json()["error"]["code"]) == (401, code)


def test_health_and_task_listing_in_pages(client: TestClient) -> None:
    ids = [submit(client) for _ in range(5)]
    assert client.get("/_mock/health", headers=ADMIN).json()["tasks"] == 5
    first = client.get("/_mock/tasks?limit=3", headers=ADMIN).json()
    rest = client.get(f"/_mock/tasks?limit=3&offset={first['next_offset']}", headers=ADMIN).json()
    assert [t["task_id"] for t in first["tasks"] + rest["tasks"]] == ids
    assert rest["next_offset"] is None
    assert {t["status"] for t in first["tasks"]} == {"SUBMITTED"} and first["tasks"][0]["profile"] == "veo3"
    for query in ("limit=x", "limit=0", "limit=-1", "offset=-5"):
        refused = client.get(f"/_mock/tasks?{query}", headers=ADMIN)
        assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalid_field"), query
    assert client.get("/_mock/journal?limit=-5", headers=ADMIN).status_code == 400


@pytest.mark.parametrize(
    ("scenario", "outcome", "ends"), [("stuck", "success", None), ("stuck, fail-quota", "fail-quota", 1800)]
)
def test_a_stuck_task_shows_its_never_ending_run_as_null_and_its_outcome(
    client: TestClient, clock: Clock, scenario: str, outcome: str, ends: float | None
) -> None:
    task_id = submit(client, headers={**KEY, "X-Mock-Scenario": scenario})
    clock.now += 500
    shown = client.get(f"/_mock/tasks/{task_id}", headers=ADMIN)
    assert shown.status_code == 200, shown.text
    record = shown.json()["record"]
    run_for = record["run_for"] and round(record["queue_for"] + record["run_for"])  # a hard timeout from submit
    assert (run_for, shown.json()["outcome"]) == (ends, outcome)
    assert shown.json()["view"]["status"] == "IN_PROGRESS"
    listed = client.get("/_mock/tasks", headers=ADMIN).json()["tasks"][0]
    assert (listed["behaviour"], listed["outcome"]) == ("stuck", outcome)


def test_one_task_shows_its_record_and_current_view(client: TestClient, clock: Clock) -> None:
    task_id = submit(client, headers={**KEY, "X-Mock-Scenario": "late-visible"})
    clock.now += 1
    shown = client.get(f"/_mock/tasks/{task_id}", headers=ADMIN).json()
    assert (shown["behaviour"], shown["visible"], shown["view"]) == ("late-visible", False, None)
    assert shown["record"]["task_id"] == task_id and shown["record"]["forced"] == -1
    clock.now += 10
    assert client.get(f"/_mock/tasks/{task_id}", headers=ADMIN).json()["view"] == poll(client, task_id)
    assert client.get("/_mock/tasks/nope", headers=ADMIN).status_code == 404


def test_forcing_a_state_holds_and_keeps_the_lifecycle_lawful(client: TestClient, clock: Clock) -> None:
    task_id = submit(client)
    clock.now += 20
    forced = client.post(
        f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "FAILURE", "fail_reason": "quota"}
    )
    assert forced.status_code == 200, forced.text
    task = poll(client, task_id)
    assert (task["status"], task["finish_time"], task["progress"]) == ("FAILURE", int(clock.now), "100%")
    assert "quota" in task["fail_reason"]
    clock.now += 1000
    assert poll(client, task_id) == task
    back = client.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "QUEUED"})
    assert (back.status_code, back.json()["error"]["param"]) == (400, "status")


def test_forcing_in_progress_pins_the_task_there(client: TestClient, clock: Clock) -> None:
    task_id = submit(client, {"prompt": "p", "model": "m"})
    clock.now += 60
    assert (
        client.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "IN_PROGRESS"}).status_code == 200
    )
    pinned = poll(client, task_id)
    clock.now += 10_000
    assert poll(client, task_id) == pinned and pinned["progress"] == "50%"
    assert client.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "SUCCESS"}).status_code == 200
    done = poll(client, task_id)
    assert done["status"] == "SUCCESS" and done["start_time"] <= done["finish_time"] == int(clock.now)


@pytest.mark.parametrize("body", [{"status": "DONE"}, {}, {"status": "FAILURE", "fail_reason": "meteor"}])
def test_forcing_nonsense_is_a_400(client: TestClient, body: dict) -> None:
    task_id = submit(client)
    response = client.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, json=body)
    assert response.status_code == 400 and contract.is_valid("error", response.json())


def test_reset_forgets_tasks_journal_and_runtime_faults(client: TestClient, clock: Clock) -> None:
    task_id = submit(client)
    client.put("/_mock/faults", headers=ADMIN, json={"poll_500": 1.0})
    clock.now += 1
    assert client.post("/_mock/reset", headers=ADMIN).status_code == 200
    assert client.get("/_mock/journal", headers=ADMIN).json()["entries"] == []
    assert client.get("/_mock/faults", headers=ADMIN).json()["poll_500"] == 0
    assert client.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 404
    assert client.get("/_mock/health", headers=ADMIN).json()["tasks"] == 0


def test_faults_change_at_run_time(client: TestClient) -> None:
    task_id = submit(client)
    changed = client.put("/_mock/faults", headers=ADMIN, json={"poll_503": 1.0, "retry_after": 9})
    assert changed.status_code == 200 and changed.json()["poll_503"] == 1.0
    response = client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
    assert (response.status_code, response.headers["retry-after"]) == (503, "9")
    assert client.get("/_mock/faults", headers=ADMIN).json() == changed.json()
    bad = client.put("/_mock/faults", headers=ADMIN, json={"poll_503": 2})
    assert (bad.status_code, bad.json()["error"]["param"]) == (400, "poll_503")
    latency = {"dist": "lognormal", "median": 0.001, "sigma": 0.1, "max": 0.002}
    assert client.put("/_mock/faults", headers=ADMIN, json={"latency": latency}).json()["latency"] == latency


def test_the_journal_is_bounded_and_never_holds_a_key(client: TestClient) -> None:
    task_id = submit(client)
    for _ in range(6):
        poll(client, task_id)
    client.post("/v2/videos/generations", content=b"{bad", headers={**KEY, "Content-Type": "application/json"})
    entries = client.get("/_mock/journal", headers=ADMIN).json()["entries"]
    assert len(entries) == 5
    assert entries[-1]["status"] == 400 and entries[-1]["body"] == "{bad" and entries[-1]["method"] == "POST"
    assert entries[0]["path"] == f"/v2/videos/generations/{task_id}" and entries[0]["ms"] >= 0
    assert "sk-mock-dev" not in str(entries) and "sk-admin" not in str(entries)
    assert len(client.get("/_mock/journal?limit=2", headers=ADMIN).json()["entries"]) == 2


def test_the_journal_records_a_dropped_connection_as_status_0(client: TestClient) -> None:
    client.put("/_mock/faults", headers=ADMIN, json={"drop": 1.0})
    with pytest.raises(ConnectionDropped):
        client.post("/v2/videos/generations", json=CAT, headers=KEY)
    entry = client.get("/_mock/journal", headers=ADMIN).json()["entries"][-1]
    assert (entry["method"], entry["status"]) == ("POST", 0)  # refused before its body was read
    assert client.get("/_mock/health", headers=ADMIN).json()["tasks"] == 0


@pytest.mark.parametrize(
    ("body", "param"),
    [
        # the red team's: NaN was applied though the PUT answered 500, then every answer was a 500;
        # 1e308 hung every poll past SIGTERM; the others were taken, and 2.0 sent "Retry-After: 2.0"
        (b'{"latency": NaN}', None),
        (b'{"latency": Infinity}', None),
        (b'{"latency": 1e308}', "latency"),
        (b'{"latency": [5, 1]}', "latency"),
        (b'{"latency": {"dist": "normal", "mean": 1, "sd": 1, "max": 301}}', "latency"),
        (b'{"retry_after": 1e15}', "retry_after"),
        (b'{"retry_after": 2.0}', "retry_after"),
        (b'{"poll_500": -0.1}', "poll_500"),
        (b'{"drop": true}', "drop"),
        (b'{"poll_500": 1, "poll_502": 1}', None),  # the 502 could never happen
        (b'{"drop": 0.5, "submit_429": 0.6}', None),
        (b"[]", None),
    ],
)
def test_hostile_faults_are_refused_and_change_nothing(client: TestClient, body: bytes, param: str | None) -> None:
    task_id = submit(client)
    before = client.get("/_mock/faults", headers=ADMIN).json()
    refused = client.put("/_mock/faults", headers={**ADMIN, "Content-Type": "application/json"}, content=body)
    assert refused.status_code == 400 and contract.is_valid("error", refused.json()), refused.text
    assert refused.json()["error"]["param"] == param
    assert client.get("/_mock/faults", headers=ADMIN).json() == before
    assert client.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 200


def test_an_admin_body_past_its_limit_is_a_413(client: TestClient) -> None:
    answer = client.put("/_mock/faults", headers=ADMIN, json={"pad": "x" * 100_000})
    assert (answer.status_code, answer.json()["error"]["code"]) == (413, "request_too_large")


@pytest.mark.parametrize(
    "query",
    [
        "offset=9223372036854775807",
        "offset=-1",
        "offset=1e3",
        "offset=%D9%A1",
        "limit=0",
        "limit=+5",
        "limit= 5",
        "limit=",
        "limit=" + "0" * 5000 + "1",
        "offset=1%0A",
        "limit=5%0A",
    ],
)
@pytest.mark.parametrize("path", ["/_mock/tasks", "/_mock/journal"])
def test_paging_takes_plain_ascii_digits_within_range(client: TestClient, query: str, path: str) -> None:
    """The first and the last were 500s (int() reads at most 4,300 digits, leading zeros too); int() also
    reads Arabic-Indic digits, signs and spaces."""
    answer = client.get(f"{path}?{query}", headers=ADMIN)
    name = query.partition("=")[0]
    assert (answer.status_code, answer.json()["error"]["param"]) == (400, name), answer.text[:300]


def forbid_walking_the_store(client: TestClient) -> None:
    """From now on, reading every record fails the test: a page must read only its own."""

    def every_record() -> None:
        raise AssertionError("a page walked the whole store")

    client.app.state.service.backend.local.records = every_record  # type: ignore[attr-defined]


def test_a_page_reads_only_its_records(client: TestClient) -> None:
    ids = [submit(client) for _ in range(5)]
    forbid_walking_the_store(client)
    page = client.get("/_mock/tasks?offset=1&limit=2", headers=ADMIN).json()
    assert [t["task_id"] for t in page["tasks"]] == ids[1:3] and page["next_offset"] == 3


def test_a_failed_task_keeps_its_reason_when_forced_again(client: TestClient, clock: Clock) -> None:
    """Forcing FAILURE with another reason answered 200 and kept the old one; a finished task never changes."""
    task_id = submit(client)
    forced = client.post(
        f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "FAILURE", "fail_reason": "quota"}
    )
    assert forced.status_code == 200
    again = client.post(
        f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "FAILURE", "fail_reason": "content-policy"}
    )
    assert (again.status_code, again.json()["error"]["code"]) == (409, "task_finished")
    same = client.post(
        f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "FAILURE", "fail_reason": "quota"}
    )
    assert same.status_code == 200
    assert "quota" in poll(client, task_id)["fail_reason"]


def test_a_fail_reason_goes_only_with_failure(client: TestClient) -> None:
    task_id = submit(client)
    answer = client.post(
        f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "SUCCESS", "fail_reason": "quota"}
    )
    assert (answer.status_code, answer.json()["error"]["param"]) == (400, "status")


def test_the_dashboard_lists_the_newest_tasks_reading_one_page(client: TestClient) -> None:
    """Its table refreshes each second; it walked the whole store on every refresh."""
    ids = [submit(client) for _ in range(3)]
    forbid_walking_the_store(client)
    listed = client.get("/_mock/ui/api/tasks", headers=ADMIN).json()["tasks"]
    assert [t["task_id"] for t in listed] == ids[::-1]
    assert client.get("/_mock/ui/api/overview", headers=ADMIN).status_code == 200
