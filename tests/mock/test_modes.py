"""Every task answer says how its request was read (action) and who plays it (platform)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.config import ConfigError, check_references
from mockserver.engine.profiles import Profile, fixed
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
IMAGE = "https://example.com/cat.png"
VIDEO = "https://example.com/clip.mp4"


def _first_poll(client: TestClient, scope: str, body: dict) -> dict:
    task_id = client.post(f"/v2/{scope}/generations", json={"prompt": "p", **body}, headers=KEY).json()["task_id"]
    task = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY).json()
    assert contract.is_valid("task", task)
    return task


@pytest.mark.parametrize(
    ("scope", "inputs", "action"),
    [
        ("videos", {}, "text-to-video"),
        ("videos", {"images": [IMAGE]}, "image-to-video"),
        ("videos", {"videos": [VIDEO]}, "video-to-video"),
        ("videos", {"images": [IMAGE], "videos": [VIDEO]}, "image-to-video"),  # images tested first, as the spec does
        ("videos", {"images": []}, "text-to-video"),  # an empty list carries no input
        ("images", {}, "text-to-image"),
        ("images", {"images": [IMAGE]}, "image-to-image"),
        ("images", {"videos": [VIDEO]}, "video-to-image"),
        ("audio", {}, "text-to-audio"),
        ("audio", {"videos": [VIDEO]}, "video-to-audio"),
    ],
)
def test_the_action_names_the_mode_the_request_was_read_as(scope: str, inputs: dict, action: str) -> None:
    with TestClient(create_app(Config())) as client:
        assert _first_poll(client, scope, {"model": "m", **inputs})["action"] == action


@pytest.mark.parametrize(
    ("scope", "model", "platform"),
    [
        ("videos", "veo3", "google"),
        ("videos", "veo-3", "google"),
        ("videos", "sora-2", "openai"),
        ("videos", "kling-v2", "kling"),
        ("images", "gpt-image-1", "openai"),
        ("audio", "suno-v4", "suno"),
        ("images", "anything", "mock"),
    ],
)
def test_the_platform_comes_from_the_models_profile(scope: str, model: str, platform: str) -> None:
    with TestClient(create_app(Config())) as client:
        assert _first_poll(client, scope, {"model": model})["platform"] == platform


def test_a_profile_times_each_mode_by_its_factor() -> None:
    """image-to-video at 2x: 10 s queued and 100 s run become 20 and 200, from the same draws."""
    profile = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0, modes={"image-to-video": 2.0})
    clock = Clock()
    with TestClient(create_app(Config(profiles={"videos": profile}), clock=clock)) as client:
        ids = [
            client.post("/v2/videos/generations", json={"prompt": "p", "model": "m", **extra}, headers=KEY).json()[
                "task_id"
            ]
            for extra in ({}, {"images": [IMAGE]})
        ]
        clock.now += 111
        statuses = [client.get(f"/v2/videos/generations/{i}", headers=KEY).json()["status"] for i in ids]
        clock.now += 110
        later = client.get(f"/v2/videos/generations/{ids[1]}", headers=KEY).json()
    assert statuses == ["SUCCESS", "IN_PROGRESS"]
    assert later["status"] == "SUCCESS" and later["start_time"] - later["submit_time"] == 20


def test_a_mode_of_another_scope_is_refused_naming_the_field() -> None:
    profile = Profile(queue=fixed(1), run=fixed(1), modes={"text-to-image": 2.0})
    with pytest.raises(ConfigError, match=r"profiles\.videos\.modes: \['text-to-image'\].*text-to-video"):
        check_references(Config(profiles={"videos": profile}))


def test_admin_and_journal_show_the_mode() -> None:
    admin = {"Authorization": "Bearer sk-admin"}
    with TestClient(create_app(Config(admin_key="sk-admin"))) as client:
        body = {"prompt": "p", "model": "veo3", "images": [IMAGE], "aspect_ratio": "9:16", "duration": 6}
        task_id = client.post("/v2/videos/generations", json=body, headers=KEY).json()["task_id"]
        client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
        listed = client.get("/_mock/tasks", headers=admin).json()["tasks"][0]
        one = client.get(f"/_mock/tasks/{task_id}", headers=admin).json()
        entries = client.get("/_mock/journal", headers=admin).json()["entries"]
    assert listed["action"] == one["action"] == one["view"]["action"] == "image-to-video"
    assert listed["platform"] == "google"
    assert listed["output"] == {"width": 720, "height": 1280, "duration": 6.0}
    assert [e["action"] for e in entries] == ["image-to-video", "image-to-video"]


def test_the_golden_mock_answer_has_the_fields_a_finished_poll_has() -> None:
    """fixtures/task/valid/mock-image-to-video.json stands for the mock's answers: same fields, same kinds."""
    golden = json.loads((Path(__file__).parents[2] / "fixtures/task/valid/mock-image-to-video.json").read_text())
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        body = {"prompt": "p", "model": "veo3", "images": [IMAGE]}
        task_id = client.post(
            "/v2/videos/generations", json=body, headers={**KEY, "X-Mock-Scenario": "success"}
        ).json()["task_id"]
        clock.now += 1000
        task = client.get(f"/v2/videos/generations/{task_id}", headers=KEY).json()
    assert {k: type(v) for k, v in task.items()} == {k: type(v) for k, v in golden.items()}
    assert (task["platform"], task["action"]) == (golden["platform"], golden["action"])
    assert len(task["task_id"]) == len(golden["task_id"])


def test_the_metrics_label_a_submit_with_images_and_videos_as_its_answer_reads_it() -> None:
    """The metrics tested videos first and labelled it video-to, while its answer said image-to-video."""
    from prometheus_client.parser import text_string_to_metric_families

    with TestClient(create_app(Config(metrics=True), clock=Clock())) as client:
        task = _first_poll(client, "videos", {"model": "veo3", "images": [IMAGE], "videos": [VIDEO]})
        scraped = text_string_to_metric_families(client.get("/metrics").text)
        modes = [s.labels["mode"] for f in scraped for s in f.samples if s.name == "mock_tasks_created_total"]
    assert task["action"] == "image-to-video"
    assert modes == ["image-to"]
