"""The mock through HTTP, on a fake clock: lifecycle, validation, auth, isolation, determinism."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.contract import golden
from mockserver.engine import validate
from tests.helpers.fakeclock import START, Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(Config(keys=("sk-mock-dev", "sk-other")), clock=clock)) as c:
        yield c


def submit(client: TestClient, body: object = CAT, scope: str = "videos", headers: dict[str, str] = KEY) -> str:
    response = client.post(f"/v2/{scope}/generations", json=body, headers=headers)
    assert response.status_code == 200, response.text
    assert contract.is_valid("submit-response", response.json())
    return response.json()["task_id"]


def poll(client: TestClient, task_id: str, scope: str = "videos") -> dict:
    response = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY)
    assert response.status_code == 200, response.text
    task = response.json()
    assert [contract.describe(e) for e in contract.errors("task", task)] == []
    return task


def walk(client: TestClient, clock: Clock, task_id: str, step: float = 1.0, limit: float = 600) -> list[dict]:
    seen = [poll(client, task_id)]
    while seen[-1]["status"] not in contract.lifecycle()["terminal"] and clock.now < START + limit:
        clock.now += step
        seen.append(poll(client, task_id))
    return seen


def test_task_walks_forward_to_a_terminal_state_that_holds(client: TestClient, clock: Clock) -> None:
    seen = walk(client, clock, submit(client))
    states = contract.lifecycle()["states"]
    order = [states.index(t["status"]) for t in seen]
    assert order == sorted(order)
    assert {"QUEUED", "IN_PROGRESS"} <= {t["status"] for t in seen}
    progress = [int(t["progress"].rstrip("%")) for t in seen]
    assert progress == sorted(progress) and progress[-1] == 100
    final = seen[-1]
    assert final["submit_time"] <= final["start_time"] <= final["finish_time"]
    clock.now += 10_000
    assert poll(client, final["task_id"]) == final


def test_success_output_points_at_the_mock(client: TestClient, clock: Clock) -> None:
    outcomes = [walk(client, clock, submit(client, scope="videos"))[-1] for _ in range(5)]
    successes = [t for t in outcomes if t["status"] == "SUCCESS"]
    assert successes and all(t["data"]["output"].startswith("http://testserver/_media/") for t in successes)


def test_same_seed_same_requests_same_lifecycles() -> None:
    def run() -> list[dict]:
        clock = Clock()
        seen = []
        with TestClient(create_app(Config(seed=7), clock=clock)) as c:
            ids = [(scope, submit(c, scope=scope)) for scope in ("images", "videos", "audio")]
            for _ in range(12):
                clock.now += 20
                seen += [poll(c, task_id, scope) for scope, task_id in ids]
        return seen

    assert run() == run()


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.slow
def test_time_scale_shortens_the_lifecycle(seed: int) -> None:
    """The same task under ``time_scale=60`` ends at a sixtieth of the time it takes unscaled, whatever it drew."""

    def lasts(scale: float, step: float) -> tuple[float, str]:
        clock = Clock()
        with TestClient(create_app(Config(seed=seed, time_scale=scale), clock=clock)) as c:
            seen = walk(c, clock, submit(c), step=step, limit=4000 / scale)
        assert seen[-1]["status"] in contract.lifecycle()["terminal"]
        return clock.now - START, seen[-1]["status"]

    (unscaled, ended), (scaled, ended_scaled) = lasts(1, 1.0), lasts(60, 1 / 60)
    assert ended == ended_scaled
    assert unscaled > 10  # a veo3 job takes 12 s to six minutes unscaled...
    assert abs(scaled * 60 - unscaled) <= 1.0  # ...and its sixtieth scaled, to the step


@pytest.mark.parametrize("example", golden.examples("submit-request"), ids=lambda e: e.name)
def test_every_golden_request_is_answered_as_the_schema_says(client: TestClient, example: golden.Example) -> None:
    """As the schema says, with its x-numeric-string reading: ``"duration": "5"`` is taken, ``"five"`` is not."""
    body = json.dumps(example.instance).encode()
    response = client.post("/v2/videos/generations", content=body, headers={**KEY, "Content-Type": "application/json"})
    read = json.loads(body)
    if isinstance(read, dict):
        validate.read_numbers("submit-request", read)
    valid = isinstance(read, dict) and contract.is_valid("submit-request", read)
    assert response.status_code == (200 if valid else 400), response.text
    assert contract.is_valid("submit-response" if valid else "error", response.json())


@pytest.mark.parametrize(
    ("request_kwargs", "status", "code"),
    [
        ({"content": b"{not json", "headers": {**KEY, "Content-Type": "application/json"}}, 400, "invalid_json"),
        ({"content": b"[" * 100_000, "headers": {**KEY, "Content-Type": "application/json"}}, 400, "invalid_json"),
        ({"content": b"prompt=cat", "headers": {**KEY, "Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
        ({"json": CAT, "headers": {}}, 401, "missing_api_key"),
        ({"json": CAT, "headers": {"Authorization": "Basic abc"}}, 401, "missing_api_key"),
        ({"json": CAT, "headers": {"Authorization": "Bearer sk-wrong"}}, 401, "invalid_api_key"),
    ],
)
def test_bad_submits_get_their_documented_4xx(client: TestClient, request_kwargs: dict, status: int, code: str) -> None:
    response = client.post("/v2/videos/generations", **request_kwargs)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert contract.is_valid("error", response.json())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (b'{"prompt": "cat", "model": "veo3", "duration": NaN}', "NaN is not JSON"),
        (b'{"prompt": "cat", "model": "veo3", "duration": Infinity}', "Infinity is not JSON"),
        (b'{"prompt": "cat", "model": "veo3", "duration": 1e999}', "too large"),
        (b'{"prompt": "cat", "model"}', "Expecting ':' delimiter"),
    ],
)
def test_what_is_not_strict_json_is_refused_saying_why(client: TestClient, body: bytes, says: str) -> None:
    response = client.post("/v2/videos/generations", content=body, headers={**KEY, "Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_json")
    assert says in response.json()["error"]["message"]


def test_body_over_the_limit_is_413(clock: Clock) -> None:
    with TestClient(create_app(Config(max_body_bytes=1000), clock=clock)) as c:
        body = {**CAT, "images": ["A" * 2000]}
        response = c.post("/v2/videos/generations", json=body, headers=KEY)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "request_too_large")


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/v2/videos/generations/no-such-task", 404, "task_not_found"),
        ("POST", "/v2/music/generations", 404, "unknown_scope"),
        ("GET", "/v1/elsewhere", 404, "not_found"),
        ("DELETE", "/v2/videos/generations", 405, "method_not_allowed"),
        ("POST", "/v2/videos/generations/", 404, "not_found"),  # no redirect that a client would re-POST
        ("GET", "/v2/videos/generations/abc/", 404, "not_found"),
    ],
)
def test_unknown_things_get_json_4xx(client: TestClient, method: str, path: str, status: int, code: str) -> None:
    response = client.request(method, path, json=CAT, headers=KEY, follow_redirects=False)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert contract.is_valid("error", response.json())


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_an_unknown_scope_is_quoted_cut_short(client: TestClient, method: str) -> None:
    """An 8 KB scope segment came back whole in the refusal."""
    path = "/v2/" + "x" * 8000 + "/generations" + ("/abc" if method == "GET" else "")
    response = client.request(method, path, json=CAT, headers=KEY)
    assert response.json()["error"]["code"] == "unknown_scope" and len(response.content) < 1024, len(response.content)


def test_another_key_cannot_see_the_task(client: TestClient) -> None:
    task_id = submit(client)
    response = client.get(f"/v2/videos/generations/{task_id}", headers={"Authorization": "Bearer sk-other"})
    assert response.status_code == 404


def test_a_task_is_found_only_under_its_own_scope(client: TestClient) -> None:
    task_id = submit(client, scope="images")
    assert client.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**CAT, "prompt": "   "}, "prompt: '   ' holds only white space"),
        ({**CAT, "prompt": "\u3000" * 100}, "holds only white space"),
    ],
)
def test_a_white_space_prompt_is_refused_in_words_not_in_a_character_class(
    client: TestClient, body: dict, message: str
) -> None:
    response = client.post("/v2/videos/generations", json=body, headers=KEY)
    assert response.status_code == 400
    said = response.json()["error"]["message"]
    assert message in said and "u001c" not in said and len(said) < 120


def test_new_api_style_answers_an_unknown_or_foreign_task_with_its_400(clock: Clock) -> None:
    config = Config(unknown_task="new-api", keys=("sk-mock-dev", "sk-two"))
    new_api = {"code": "task_not_exist", "message": "task_not_exist", "data": None}
    with TestClient(create_app(config, clock=clock)) as c:
        task_id = c.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        assert c.get(f"/v2/videos/generations/{task_id}", headers=KEY).status_code == 200
        for path, key in [("nope", KEY), (task_id, {"Authorization": "Bearer sk-two"})]:
            answer = c.get(f"/v2/videos/generations/{path}", headers=key)
            assert (answer.status_code, answer.json()) == (400, new_api)
        assert c.get("/v2/videos/generations/nope", headers={"Authorization": "Bearer x"}).status_code == 401
