"""A lifecycle is chosen like a scenario: which states a task shows at submit, while it waits and while it runs."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine import callback_schedule, encodings
from mockserver.engine.config import ConfigError, config_from
from mockserver.engine.profiles import MODELS, Profile, fixed
from mockserver.stores.local import MemoryStore
from tests.helpers.fakeclock import START, Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-admin"}
SURE = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0)
WALKS = contract.lifecycle()["lifecycles"]
AT = [0, 5, 50, 200]  # the submit instant, waiting, running, done


def config(**changes: object) -> Config:
    models = {name: replace(SURE, scope="videos") for name in ("m", "fast")}
    models["fast"] = replace(models["fast"], lifecycle="submitted-success")
    return replace(Config(profiles={"videos": SURE}, models=models, aliases={"m-four": "m"}), **changes)  # type: ignore[arg-type]


def walk(client: TestClient, clock: Clock, body: dict, headers: dict | None = None) -> list[str]:
    clock.now = START
    answer = client.post("/v2/videos/generations", json={"prompt": "p", **body}, headers={**KEY, **(headers or {})})
    assert answer.status_code == 200, answer.text
    seen, key = [], {"Authorization": (headers or {}).get("Authorization", KEY["Authorization"])}
    for at in AT:
        clock.now = START + at
        task = client.get(f"/v2/videos/generations/{answer.json()['task_id']}", headers=key).json()
        assert contract.is_valid("task", task)
        seen.append(task["status"])
    return seen


@pytest.mark.parametrize("name", list(WALKS))
def test_each_named_lifecycle_shows_its_states_in_order(name: str) -> None:
    clock = Clock()
    with TestClient(create_app(config(), clock=clock)) as client:
        seen = walk(client, clock, {"model": "m"}, {"X-Mock-Scenario": name})
    shown = WALKS[name]
    assert seen == [shown["at_submit"], shown["waiting"], shown["running"], "SUCCESS"]


def test_the_default_is_six_states_as_before() -> None:
    clock = Clock()
    with TestClient(create_app(config(), clock=clock)) as client:
        assert walk(client, clock, {"model": "m"}) == ["SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS"]


def test_a_profile_a_key_an_alias_and_a_rule_each_choose_and_a_header_wins() -> None:
    clock = Clock()
    chosen = config(
        keys=("sk-mock-dev", "sk-four"),
        key_scenarios={"sk-four": "four-states"},
        alias_scenarios={"m-four": "four-states"},
        admin_key="sk-admin",
    )
    four = ["NOT_START", "NOT_START", "IN_PROGRESS", "SUCCESS"]
    with TestClient(create_app(chosen, clock=clock)) as client:
        assert walk(client, clock, {"model": "fast"}) == ["SUBMITTED", "SUBMITTED", "SUBMITTED", "SUCCESS"]
        assert walk(client, clock, {"model": "m"}, {"Authorization": "Bearer sk-four"}) == four
        assert walk(client, clock, {"model": "m-four"}) == four
        rule = client.post("/_mock/rules", json={"scenario": "not-start-first", "next": 1}, headers=ADMIN)
        assert rule.status_code == 201, rule.text
        assert walk(client, clock, {"model": "m"}) == ["NOT_START", "QUEUED", "IN_PROGRESS", "SUCCESS"]
        assert walk(client, clock, {"model": "fast"}, {"X-Mock-Scenario": "six-states"})[:2] == ["SUBMITTED", "QUEUED"]


def test_a_lifecycle_combines_with_an_outcome_and_a_behaviour() -> None:
    clock = Clock()
    with TestClient(create_app(config(), clock=clock)) as client:
        failing = walk(client, clock, {"model": "m"}, {"X-Mock-Scenario": "four-states, fail-quota"})
        skipping = walk(client, clock, {"model": "m"}, {"X-Mock-Scenario": "skip-states, not-start-first"})
        two = client.post(
            "/v2/videos/generations",
            json={"prompt": "p", "model": "m"},
            headers={**KEY, "X-Mock-Scenario": "four-states, six-states"},
        )
    assert failing == ["NOT_START", "NOT_START", "IN_PROGRESS", "FAILURE"]
    assert skipping == ["NOT_START", "NOT_START", "NOT_START", "SUCCESS"]
    assert two.status_code == 400 and "one lifecycle" in two.json()["error"]["message"]


def test_another_worker_plays_the_lifecycle_from_the_id_alone() -> None:
    clock = Clock()
    secret = b"s" * 32
    with (
        TestClient(create_app(config(), clock=clock, secret=secret)) as first,
        TestClient(create_app(config(), clock=clock, secret=secret, slot=1)) as second,
    ):
        headers = {**KEY, "X-Mock-Scenario": "four-states"}
        task_id = first.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()
        clock.now = START + 5
        assert second.get(f"/v2/videos/generations/{task_id['task_id']}", headers=KEY).json()["status"] == "NOT_START"


def test_a_stored_task_with_a_lifecycle_this_mock_lacks_is_gone_not_a_500() -> None:
    store = MemoryStore()
    with TestClient(create_app(config(), store=store, clock=Clock())) as client:
        task_id = client.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=KEY).json()
        record = store.get(task_id["task_id"])
        assert record is not None
        store.put(record._replace(shape=encodings.with_lifecycle(record.shape, 15)))
        answer = client.get(f"/v2/videos/generations/{record.task_id}", headers=KEY)
    assert answer.status_code == 410 and answer.json()["error"]["code"] == "task_gone"


def test_callbacks_see_the_states_the_lifecycle_shows() -> None:
    clock = Clock()
    with TestClient(create_app(config(), clock=clock)) as client:
        headers = {**KEY, "X-Mock-Scenario": "four-states"}
        task_id = client.post("/v2/videos/generations", json={"prompt": "p", "model": "m"}, headers=headers).json()
        record = client.app.state.service.backend.local.get(task_id["task_id"])  # type: ignore[attr-defined]
    assert [state for _, state in callback_schedule.changes(record)] == ["NOT_START", "IN_PROGRESS", "SUCCESS"]


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"lifecycle": "five-states"}, r"models\.veo3\.lifecycle: 'five-states' is not one of"),
        ({"action": "{model}"}, r"models\.veo3\.action: \{model\} is not one of"),
        ({"action": "{mode.__class__}"}, r"models\.veo3\.action"),
        ({"action": "{"}, r"models\.veo3\.action: '\{' is not a template"),
    ],
)
def test_a_bad_lifecycle_or_action_in_a_config_is_refused_naming_it(given: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from({"models": {"veo3": {"scope": "videos", **given}}})


def test_the_embedded_profiles_keep_six_states_where_sources_disagree() -> None:
    """A gateway's Veo and Sora pages list four states, the spec and new-api's code six: the README cites them."""
    assert {name: profile.lifecycle for name, profile in MODELS.items()} == dict.fromkeys(MODELS, "six-states")
