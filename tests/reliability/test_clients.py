"""The client programs people run, as small clients of our own, against a real mock of two workers.

Each behaviour a real client was seen to have (issue 22) gets a client in ``clients.py`` and a test
here: numbers as strings, four known states, OpenAI's ``/v1/videos`` polled on ``/v2``, new-api's
``/v1/video/generations`` falling back to ``/v2``, and the video opened with a real decoder. The
mock runs 60 times faster than real time, so a task's phases last about a second each.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mockserver import contract
from tests.helpers.clients import (
    Failed,
    FourStates,
    NewApiFallback,
    OpenAISubmitV2Poll,
    StringNumbers,
    UnknownStatus,
    download,
)
from tests.helpers.mediacheck import decode

pytestmark = pytest.mark.slow

ADMIN = "sk-admin-clients"
# Sixty times real time: sora-2 and veo3 queue for two seconds and run for two.
CONFIG = """
time_scale = 60
[models.sora-2]
scope = "videos"
queue = 120
run = 120
fail_rate = 0
[models.veo3]
scope = "videos"
queue = 120
run = 120
fail_rate = 0
lifecycle = "four-states"
action = "{platform}-{scope}"
[aliases]
sora-2-four = {model = "sora-2", scenario = "four-states"}
"""


@pytest.fixture(scope="module")
def mock(spawn_once: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Two workers on one port sharing a SQLite store (so an admin rule set through one plays on both);
    ``sk-four`` plays four-states, whatever the model."""
    where = tmp_path_factory.mktemp("clients")
    config = where / "clients.toml"
    config.write_text(CONFIG)
    keys = ("--key", "sk-mock-dev", "--key", "sk-four=four-states", "--admin-key", ADMIN)
    with spawn_once("--workers", "2", "--config", str(config), "--store", f"sqlite:{where / 'tasks.db'}", *keys) as (
        url,
        _,
    ):
        yield url


def test_numbers_sent_as_strings_are_read_as_numbers(mock: str) -> None:
    client = StringNumbers(mock)
    task = client.generate("sora-2", "10", size="1280x720")
    assert task["status"] == "SUCCESS"
    video = decode(download(task["data"]["output"]), "mp4")
    assert abs(video.seconds - 10) < 0.1  # "10" was read as ten seconds
    fractional = StringNumbers(mock).generate("sora-2", "2.5")
    assert abs(decode(download(fractional["data"]["output"]), "mp4").seconds - 2.5) < 0.1


def test_a_word_for_a_number_is_a_400_naming_the_field_and_makes_no_task(mock: str) -> None:
    client, before = StringNumbers(mock), tasks(mock)
    for body, field in (({"duration": "ten"}, "duration"), ({"watermark": "true"}, "watermark")):
        answer = client.post("/v2/videos/generations", {"model": "sora-2", "prompt": "A cat", **body})
        assert answer.status_code == 400 and answer.json()["error"]["param"] == field, answer.text
    assert tasks(mock) == before


def test_a_four_state_client_throws_on_the_default_lifecycle(mock: str) -> None:
    with pytest.raises(UnknownStatus, match="SUBMITTED|QUEUED"):
        FourStates(mock).generate("sora-2")


@pytest.mark.parametrize(
    "choose",
    [
        pytest.param({"key": "sk-four"}, id="key"),
        pytest.param({"model": "sora-2-four"}, id="alias"),
        pytest.param({"model": "veo3"}, id="profile"),
        pytest.param({"rule": "four-states"}, id="admin-rule"),
    ],
)
def test_a_four_state_client_runs_to_the_end_when_a_lifecycle_is_chosen(mock: str, choose: dict[str, str]) -> None:
    if "rule" in choose:
        add_rule(mock, {"scenario": choose["rule"], "next": 1})
    client = FourStates(mock, key=choose.get("key", "sk-mock-dev"))
    output = client.generate(choose.get("model", "sora-2"))
    assert output.startswith(mock)
    assert set(client.seen) <= set(FourStates.KNOWN) and client.seen[-1] == "SUCCESS"
    assert "IN_PROGRESS" in client.seen  # NOT_START, then running, then the end: never skipped


def test_a_lifecycle_combines_with_a_scenario(mock: str) -> None:
    add_rule(mock, {"scenario": "four-states, fail-quota", "next": 1})
    client = FourStates(mock)
    with pytest.raises(Failed, match="quota"):
        client.generate("sora-2")
    assert set(client.seen) <= set(FourStates.KNOWN) and client.seen[-1] == "FAILURE"


def test_submitted_on_v1_videos_and_polled_on_v2(mock: str) -> None:
    client = OpenAISubmitV2Poll(mock, key="sk-four")
    output = client.generate("sora-2")
    assert client.seen[-1] == "SUCCESS"
    assert abs(decode(download(output), "mp4").seconds - 10) < 0.1  # its "duration": "10" too


def test_new_api_routes_and_the_fall_back_to_v2(mock: str) -> None:
    spoken = NewApiFallback(mock)
    task_id, task = spoken.generate("sora-2", duration="4")
    assert spoken.used == "/v1/video/generations"
    assert task["status"] == "SUCCESS" and task["result_url"].startswith(mock)
    assert contract.is_valid("newapi-task", {"code": "success", "message": "", "data": task})
    # the same task, read on every other route of its scope, each in its own shape
    v2 = spoken.get(f"/v2/videos/generations/{task_id}").json()
    openai = spoken.get(f"/v1/videos/{task_id}").json()
    assert (v2["status"], v2["data"]["output"]) == ("SUCCESS", task["result_url"])
    assert (openai["status"], openai["progress"], openai["seconds"]) == ("completed", 100, "4")
    falling = NewApiFallback(mock, v1="/v1/videos/generations")  # a path no gateway of the family serves
    _, fell = falling.generate("sora-2")
    assert falling.used == "/v2/videos/generations" and fell["status"] == "SUCCESS"


def test_the_video_opens_in_a_real_decoder_from_every_route(mock: str) -> None:
    client = StringNumbers(mock)
    task = client.generate("sora-2", "3", aspect_ratio="9:16")
    task_id = task["task_id"]
    from_link = decode(download(task["data"]["output"]), "mp4")
    from_content = decode(download(f"{mock}/v1/videos/{task_id}/content", key="sk-mock-dev"), "mp4")
    assert from_link == from_content
    assert (from_link.codec, from_link.width, from_link.height) == ("h264", 180, 320)
    assert abs(from_link.seconds - 3) < 0.1 and from_link.frames >= 70


def test_the_spec_worked_answer_is_reproduced(mock: str) -> None:
    """veo3 with the config's action template answers as the spec's example does; the admin API keeps the mode."""
    client = FourStates(mock)
    task_id = client.post("/v2/videos/generations", {"model": "veo3", "prompt": "A cat surfing"}).json()["task_id"]
    client.follow(task_id)
    task = client.get(f"/v2/videos/generations/{task_id}").json()
    assert (task["platform"], task["action"], task["search_item"]) == ("google", "google-videos", "")
    assert contract.is_valid("task", task)
    listed = httpx.get(f"{mock}/_mock/tasks/{task_id}", headers={"Authorization": f"Bearer {ADMIN}"}).json()
    assert listed["action"] == "text-to-video"


@pytest.mark.parametrize(
    ("path", "body", "schema", "field"),
    [
        ("/v1/videos", {"model": "sora-2"}, "openai-error", "prompt"),
        ("/v1/videos", {"prompt": "A cat", "seconds": "eight"}, "openai-error", "seconds"),
        ("/v1/videos", {"prompt": "A cat", "duration": "ten"}, "openai-error", "duration"),
        ("/v1/video/generations", {"prompt": "A cat", "model": "sora-2", "duration": "ten"}, "newapi-error", None),
        ("/v1/video/generations", {"prompt": "", "model": "sora-2"}, "newapi-error", None),
        ("/v2/videos/generations", {"prompt": "A cat", "model": "sora-2", "duration": "ten"}, "error", "duration"),
    ],
)
def test_bad_input_in_each_dialect_is_its_own_4xx_and_makes_nothing(
    mock: str, path: str, body: dict[str, Any], schema: str, field: str | None
) -> None:
    before = tasks(mock)
    answer = httpx.post(f"{mock}{path}", json=body, headers={"Authorization": "Bearer sk-mock-dev"})
    assert answer.status_code == 400, answer.text
    assert contract.is_valid(schema, answer.json()), answer.text
    if field is not None:
        assert answer.json()["error"]["param"] == field
    assert tasks(mock) == before


def add_rule(mock: str, rule: dict[str, Any]) -> None:
    answer = httpx.post(f"{mock}/_mock/rules", json=rule, headers={"Authorization": f"Bearer {ADMIN}"})
    assert answer.status_code == 201, answer.text


def tasks(mock: str) -> int:
    """How many tasks the store the workers share holds, as the admin API counts them."""
    return httpx.get(f"{mock}/_mock/health", headers={"Authorization": f"Bearer {ADMIN}"}).json()["tasks"]
