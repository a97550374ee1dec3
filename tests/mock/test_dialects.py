"""new-api's /v1/video/generations and OpenAI's /v1/videos: the same tasks as /v2, each in its own shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.profiles import MODELS, Profile, fixed
from tests.helpers.fakeclock import START, Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
OTHER = {"Authorization": "Bearer sk-other"}
ADMIN = {"Authorization": "Bearer sk-admin"}
SURE = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0, progress_step=10)
MODELS_HERE = {
    "sora-2": replace(MODELS["sora-2"], queue=fixed(10), run=fixed(100), fail_rate=0.0),
    "veo3": replace(MODELS["veo3"], action="{platform}-{scope}"),
    "gpt-image-1": MODELS["gpt-image-1"],
}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    config = Config(keys=("sk-mock-dev", "sk-other"), admin_key="sk-admin", models=MODELS_HERE, aliases={})
    with TestClient(create_app(config, clock=clock)) as client:
        yield client


def created(client: TestClient) -> int:
    return client.get("/_mock/health", headers=ADMIN).json()["tasks"]


def test_a_task_made_on_any_route_is_read_on_every_other_in_its_shape(client: TestClient, clock: Clock) -> None:
    made = [
        client.post("/v1/videos", json={"prompt": "p", "seconds": "8", "size": "720x1280"}, headers=KEY),
        client.post("/v1/video/generations", json={"prompt": "p", "model": "sora-2", "duration": "8"}, headers=KEY),
        client.post("/v2/videos/generations", json={"prompt": "p", "model": "sora-2", "duration": 8}, headers=KEY),
    ]
    ids = [answer.json().get("id") or answer.json()["task_id"] for answer in made]
    assert contract.is_valid("openai-video", made[0].json()) and contract.is_valid("openai-video", made[1].json())
    assert made[0].json()["task_id"] == made[0].json()["id"]  # as new-api answers, for older clients
    for at, v2_status, openai_status, progress in [(5, "QUEUED", "queued", 0), (60, "IN_PROGRESS", "in_progress", 50)]:
        clock.now = START + at
        for task_id in ids:
            v2 = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
            openai = client.get(f"/v1/videos/{task_id}", headers=KEY).json()
            newapi = client.get(f"/v1/video/generations/{task_id}", headers=KEY).json()
            assert contract.is_valid("task", v2) and v2["status"] == v2_status
            assert contract.is_valid("openai-video", openai) and (openai["status"], openai["progress"]) == (
                openai_status,
                progress,
            )
            assert contract.is_valid("newapi-task", newapi) and newapi["data"]["status"] == v2_status
            assert newapi["data"]["progress"] == v2["progress"] == f"{progress}%"
    clock.now = START + 200
    openai = client.get(f"/v1/videos/{ids[0]}", headers=KEY).json()
    assert (openai["status"], openai["progress"], openai["seconds"], openai["size"]) == (
        "completed",
        100,
        "8",
        "720x1280",
    )
    assert openai["completed_at"] == START + 110 and openai["expires_at"] == START + 110 + 24 * 3600
    newapi = client.get(f"/v1/video/generations/{ids[1]}", headers=KEY).json()
    v2 = client.get(f"/v2/videos/generations/{ids[1]}", headers=KEY).json()
    assert newapi["code"] == "success" and newapi["data"]["result_url"] == v2["data"]["output"]


def test_a_failed_task_says_why_in_each_shape(client: TestClient, clock: Clock) -> None:
    headers = {**KEY, "X-Mock-Scenario": "fail-content-policy"}
    task_id = client.post("/v1/videos", json={"prompt": "p"}, headers=headers).json()["id"]
    clock.now = START + 200
    openai = client.get(f"/v1/videos/{task_id}", headers=KEY).json()
    newapi = client.get(f"/v1/video/generations/{task_id}", headers=KEY).json()
    assert contract.is_valid("openai-video", openai) and openai["status"] == "failed"
    assert openai["error"]["code"] == "content-policy" and "content policy" in openai["error"]["message"]
    assert newapi["data"]["status"] == "FAILURE" and "result_url" not in newapi["data"]
    refused = client.get(f"/v1/videos/{task_id}/content", headers=KEY)
    assert refused.status_code == 404 and contract.is_valid("openai-error", refused.json())


def test_content_is_the_video_once_completed_for_its_key_only(client: TestClient, clock: Clock) -> None:
    task_id = client.post("/v1/videos", json={"prompt": "p", "seconds": 2}, headers=KEY).json()["id"]
    early = client.get(f"/v1/videos/{task_id}/content", headers=KEY)
    assert early.status_code == 404 and "queued" in early.json()["error"]["message"]
    clock.now = START + 200
    video = client.get(f"/v1/videos/{task_id}/content", headers=KEY)
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4" and video.content[4:8] == b"ftyp"
    ranged = client.get(f"/v1/videos/{task_id}/content", headers={**KEY, "Range": "bytes=0-9"})
    assert ranged.status_code == 206 and ranged.content == video.content[:10]
    assert client.get(f"/v1/videos/{task_id}/content", headers=OTHER).status_code == 404
    assert client.get(f"/v1/videos/{task_id}/content?variant=thumbnail", headers=KEY).status_code == 400
    clock.now = START + 200 + 2 * 24 * 3600
    assert client.get(f"/v1/videos/{task_id}/content", headers=KEY).status_code == 404  # past link_ttl


def test_another_key_or_scope_finds_nothing_in_either_dialect(client: TestClient) -> None:
    video = client.post("/v1/video/generations", json={"prompt": "p", "model": "sora-2"}, headers=KEY).json()["id"]
    image = client.post("/v2/images/generations", json={"prompt": "p", "model": "gpt-image-1"}, headers=KEY).json()
    for task_id, key in ((video, OTHER), (image["task_id"], KEY), ("nope", KEY)):
        openai = client.get(f"/v1/videos/{task_id}", headers=key)
        newapi = client.get(f"/v1/video/generations/{task_id}", headers=key)
        assert openai.status_code == 404 and contract.is_valid("openai-error", openai.json())
        assert (newapi.status_code, newapi.json()) == (
            404,
            {"code": "task_not_exist", "message": "task_not_exist", "data": None},
        )


def test_an_unknown_task_is_new_apis_400_under_unknown_task_new_api(clock: Clock) -> None:
    with TestClient(create_app(Config(unknown_task="new-api"), clock=clock)) as client:
        answer = client.get("/v1/video/generations/nope", headers=KEY)
    assert (answer.status_code, answer.json()["code"]) == (400, "task_not_exist")


@pytest.mark.parametrize(
    ("path", "kwargs", "status"),
    [
        ("/v1/videos", {"json": {"model": "sora-2"}}, 400),
        ("/v1/videos", {"json": {"prompt": "p", "seconds": "eight"}}, 400),
        ("/v1/videos", {"json": {"prompt": "p", "size": "big"}}, 400),
        ("/v1/videos", {"json": {"prompt": "p", "aspect_ratio": "16x9"}}, 400),
        ("/v1/videos", {"json": ["p"]}, 400),
        ("/v1/videos", {"content": b"{", "headers": {"Content-Type": "application/json"}}, 400),
        ("/v1/videos", {"content": b"prompt=p", "headers": {"Content-Type": "text/plain"}}, 415),
        ("/v1/videos", {"content": b"garbage", "headers": {"Content-Type": "multipart/form-data; boundary=x"}}, 400),
        ("/v1/videos", {"content": b"x", "headers": {"Content-Type": "multipart/form-data"}}, 400),
        ("/v1/videos", {"data": {"prompt": "p", "seconds": "eight"}, "files": {"f": ("f", b"1", "text/plain")}}, 400),
        ("/v1/videos", {"data": {"prompt": "p"}, "files": {"input_reference": ("a.png", b"", "image/png")}}, 400),
        ("/v1/videos", {"json": {"prompt": "p"}, "headers": {"Authorization": "Bearer nope"}}, 401),
        ("/v1/videos", {"json": {"prompt": "p", "model": "sora-2"}, "headers": {"X-Mock-Scenario": "bogus"}}, 400),
        ("/v1/video/generations", {"json": {"prompt": "p"}}, 400),
        ("/v1/video/generations", {"json": {"prompt": "p", "model": "sora-2", "duration": "ten"}}, 400),
        ("/v1/video/generations", {"json": {"prompt": "p", "model": "sora-2", "image": "ftp://x"}}, 400),
        ("/v1/video/generations", {"json": {"prompt": "p", "model": "sora-2", "metadata": 3}}, 400),
        ("/v1/video/generations", {"json": {"prompt": "p", "model": "sora-2"}, "headers": {"Authorization": ""}}, 401),
    ],
)
def test_bad_input_gets_the_dialects_own_4xx_and_makes_nothing(
    client: TestClient, path: str, kwargs: dict, status: int
) -> None:
    kwargs = {**kwargs, "headers": {**KEY, **kwargs.get("headers", {})}}
    answer = client.post(path, **kwargs)
    assert answer.status_code == status, answer.text
    schema = "openai-error" if path == "/v1/videos" else "newapi-error"
    assert contract.is_valid(schema, answer.json()), answer.text
    assert created(client) == 0


def test_too_large_a_body_is_refused_in_the_dialects_shape(clock: Clock) -> None:
    with TestClient(create_app(Config(max_body_bytes=100), clock=clock)) as client:
        body = json.dumps({"prompt": "p" * 200, "model": "sora-2"})
        headers = {**KEY, "Content-Type": "application/json"}
        answer = client.post("/v1/video/generations", content=body, headers=headers)
    assert answer.status_code == 413 and answer.json()["code"] == "request_too_large"


def test_numbers_in_strings_set_the_length_in_either_dialect(client: TestClient) -> None:
    for path, body in (
        ("/v1/videos", {"prompt": "p", "seconds": "12"}),
        ("/v1/videos", {"prompt": "p", "duration": "5.5"}),
        ("/v1/video/generations", {"prompt": "p", "model": "sora-2", "seconds": "4"}),
        ("/v1/video/generations", {"prompt": "p", "model": "sora-2", "duration": "10", "seconds": "4"}),
    ):
        answer = client.post(path, json=body, headers=KEY).json()
        expected = body.get("duration", body.get("seconds"))
        assert answer["seconds"] == f"{float(expected):g}", (body, answer)


def test_the_spec_worked_answer_with_the_action_template(client: TestClient, clock: Clock) -> None:
    body = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
    task_id = client.post("/v2/videos/generations", json=body, headers={**KEY, "X-Mock-Scenario": "success"})
    clock.now = START + 1000
    task = client.get(f"/v2/videos/generations/{task_id.json()['task_id']}", headers=KEY).json()
    spec = json.loads((contract.fixtures_dir() / "spec" / "example-task.json").read_text())
    assert set(task) == set(spec)  # the same fields, search_item among them
    assert (task["platform"], task["action"], task["search_item"]) == ("google", "google-videos", "")
    admin = client.get(f"/_mock/tasks/{task['task_id']}", headers=ADMIN).json()
    assert admin["action"] == "text-to-video"  # the mode stays visible where a tester looks


def test_a_multipart_create_as_openais_sdks_send_it(client: TestClient, clock: Clock) -> None:
    """Fields as strings, the start image as a file: read as the JSON body would be, image-to-video."""
    fields = {"prompt": "A cat", "model": "sora-2", "seconds": "8", "size": "1280x720"}
    image = {"input_reference": ("cat.png", b"\x89PNG\r\n\x1a\n0000", "image/png")}
    answer = client.post("/v1/videos", data=fields, files=image, headers=KEY)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["seconds"], answer.json()["size"]) == ("8", "1280x720")
    clock.now = START + 1000
    task = client.get(f"/v2/videos/generations/{answer.json()['id']}", headers=KEY).json()
    assert task["action"] == "image-to-video"
