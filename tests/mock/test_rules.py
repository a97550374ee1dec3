"""Fates without a header: aliases, keys and admin rules, in a documented order, refused when wrong."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.engine.config import ConfigError, load_config

ADMIN = {"Authorization": "Bearer sk-admin"}


def _app(**given) -> TestClient:
    config = Config(
        keys=("sk-a", "sk-b"),
        admin_key="sk-admin",
        aliases={"veo3-stuck": "veo3"},
        alias_scenarios={"veo3-stuck": "stuck"},
        key_scenarios={"sk-b": "fail-quota"},
        **given,
    )
    return TestClient(create_app(config))


def _fate(client: TestClient, key: str = "sk-a", model: str = "veo3", scope: str = "videos", **headers) -> dict:
    body = {"prompt": "p", "model": model}
    answer = client.post(f"/v2/{scope}/generations", json=body, headers={"Authorization": f"Bearer {key}", **headers})
    assert answer.status_code == 200, answer.text
    task = client.get(f"/_mock/tasks/{answer.json()['task_id']}", headers=ADMIN).json()
    return {"behaviour": task["behaviour"], "outcome": task["outcome"]}


def test_the_header_wins_then_a_rule_then_the_alias_then_the_key() -> None:
    with _app() as client:
        assert _fate(client, "sk-b", "veo3-stuck", **{"X-Mock-Scenario": "slow"})["behaviour"] == "slow"
        client.post("/_mock/rules", json={"scenario": "late-visible, success", "next": 1}, headers=ADMIN)
        assert _fate(client, "sk-b", "veo3-stuck") == {"behaviour": "late-visible", "outcome": "success"}
        assert _fate(client, "sk-b", "veo3-stuck")["behaviour"] == "stuck"  # the alias, before the key
        assert _fate(client, "sk-b", "veo3")["outcome"] == "fail-quota"
        assert _fate(client, "sk-a", "veo3")["behaviour"] == "default"


def test_a_header_submit_does_not_spend_a_next_rule() -> None:
    with _app() as client:
        client.post("/_mock/rules", json={"scenario": "stuck", "next": 1}, headers=ADMIN)
        _fate(client, **{"X-Mock-Scenario": "success"})
        assert client.get("/_mock/rules", headers=ADMIN).json()["rules"][0]["next"] == 1
        assert _fate(client)["behaviour"] == "stuck"
        assert client.get("/_mock/rules", headers=ADMIN).json()["rules"] == []


def test_next_n_plays_n_submits_and_rules_can_be_narrowed() -> None:
    with _app() as client:
        rule = {"scenario": "expire", "next": 2, "scope": "videos", "model": "veo3", "key": "sk-a"}
        made = client.post("/_mock/rules", json=rule, headers=ADMIN)
        assert made.status_code == 201 and made.json() == {"id": 1, **rule, "played": 0}
        assert _fate(client, scope="images")["behaviour"] == "default"
        assert _fate(client, model="sora-2")["behaviour"] == "default"
        assert _fate(client, key="sk-b")["behaviour"] == "default"
        assert [_fate(client)["behaviour"] for _ in range(3)] == ["expire", "expire", "default"]


def test_a_fraction_plays_about_that_share_and_the_same_seed_plays_the_same_ones() -> None:
    runs = []
    for _ in range(2):
        with _app(seed=7) as client:
            client.post("/_mock/rules", json={"scenario": "no-progress", "fraction": 0.25}, headers=ADMIN)
            runs.append([_fate(client)["behaviour"] == "no-progress" for _ in range(200)])
            listed = client.get("/_mock/rules", headers=ADMIN).json()["rules"]
    assert runs[0] == runs[1]
    assert 30 <= sum(runs[0]) <= 70 and listed[0]["played"] == sum(runs[0])


def test_rules_are_listed_in_order_removed_one_by_one_cleared_and_reset() -> None:
    with _app() as client:
        for scenario in ("stuck", "slow", "expire"):
            client.post("/_mock/rules", json={"scenario": scenario, "fraction": 1}, headers=ADMIN)
        assert [r["scenario"] for r in client.get("/_mock/rules", headers=ADMIN).json()["rules"]] == [
            "stuck",
            "slow",
            "expire",
        ]
        assert _fate(client)["behaviour"] == "stuck"  # the first that fires decides
        assert client.delete("/_mock/rules/1", headers=ADMIN).json()["scenario"] == "stuck"
        assert client.delete("/_mock/rules/1", headers=ADMIN).status_code == 404
        assert _fate(client)["behaviour"] == "slow"
        assert client.delete("/_mock/rules", headers=ADMIN).json() == {"rules": []}
        client.post("/_mock/rules", json={"scenario": "stuck", "fraction": 1}, headers=ADMIN)
        client.post("/_mock/reset", headers=ADMIN)
        assert client.get("/_mock/rules", headers=ADMIN).json() == {"rules": []}
        assert client.get("/_mock/rules").status_code == 401


@pytest.mark.parametrize(
    ("body", "param", "says"),
    [
        ({"scenario": "stuck"}, None, "exactly one of next .* or fraction"),
        ({"scenario": "stuck", "next": 1, "fraction": 0.5}, None, "exactly one of next"),
        (["stuck"], None, "not of type 'object'"),
        (
            {"scenario": "wobbly", "next": 1},
            "scenario",
            "Unknown scenario 'wobbly'; use one of: default, stuck, .*fail-quota",
        ),
        ({"scenario": "stuck, slow", "next": 1}, "scenario", "at most one behaviour"),
        ({"scenario": "stuck", "next": 0}, "next", "less than the minimum"),
        ({"scenario": "stuck", "next": 1.5}, "next", "integer"),
        ({"scenario": "stuck", "next": 5.0}, "next", "integer"),  # read as the other admin bodies are
        ({"scenario": "stuck", "fraction": 1.5}, "fraction", "greater than the maximum"),
        ({"scenario": "stuck", "next": 1, "scope": "music"}, "scope", "music"),
        ({"scenario": "stuck", "next": 1, "key": "sk-unknown"}, "key", "not one of the keys"),
        ({"scenario": "stuck", "next": 1, "colour": "red"}, None, "colour"),
    ],
)
def test_a_bad_rule_is_refused_naming_the_field(body: dict, param: str | None, says: str) -> None:
    with _app() as client:
        answer = client.post("/_mock/rules", json=body, headers=ADMIN)
        assert client.get("/_mock/rules", headers=ADMIN).json() == {"rules": []}
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == param
    assert re.search(says, answer.json()["error"]["message"]), answer.json()


def test_a_rule_with_a_non_finite_number_is_not_json() -> None:
    with _app() as client:
        answer = client.post("/_mock/rules", content=b'{"scenario": "stuck", "fraction": NaN}', headers=ADMIN)
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize(
    ("toml", "says"),
    [
        (
            '[aliases]\nveo3-x = {model = "veo3", scenario = "wobbly"}\n',
            r"aliases\.veo3-x\.scenario 'wobbly'; use one of: default, stuck",
        ),
        ('[aliases]\nveo3-x = {model = "nope", scenario = "stuck"}\n', r"aliases\.veo3-x: no model 'nope'"),
        ('[aliases]\nveo3-x = {scenario = "stuck"}\n', r"model"),
        ('keys = ["sk-a"]\n[key_scenarios]\nsk-b = "stuck"\n', r"key_scenarios\.sk-b: not one of keys"),
        (
            'keys = ["sk-a"]\n[key_scenarios]\nsk-a = "stuck, slow"\n',
            r"key_scenarios\.sk-a combines at most one behaviour",
        ),
    ],
)
def test_a_config_with_a_bad_alias_or_key_scenario_is_refused_whole(tmp_path: Path, toml: str, says: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError, match=says):
        load_config(path)


def test_a_config_alias_and_key_scenario_load(tmp_path: Path) -> None:
    path = tmp_path / "good.toml"
    path.write_text(
        'keys = ["sk-a", "sk-f"]\n[aliases]\nveo3-stuck = {model = "veo3", scenario = "stuck"}\n[key_scenarios]\nsk-f = "fail-quota"\n'
    )
    config = load_config(path)
    assert config.aliases["veo3-stuck"] == "veo3" and config.alias_scenarios == {"veo3-stuck": "stuck"}
    assert config.key_scenarios == {"sk-f": "fail-quota"} and config.aliases["veo3-fast"] == "veo3"


def test_key_equals_scenario_on_the_command_line_gives_the_key_its_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    from mockserver import cli

    config = cli._config(
        *cli._parse(["--key", "sk-a", "--key", "sk-fails=late-visible, fail-quota", "--key", "c2s="], {})
    )
    assert config.keys == ("sk-a", "sk-fails", "c2s=")  # a key ending in = (base64 padding) stays whole
    assert config.key_scenarios == {"sk-fails": "late-visible, fail-quota"}
    with pytest.raises(SystemExit):
        cli._config(*cli._parse(["--key", "sk-fails=fail-nope"], {}))
    assert "--key sk-fails 'fail-nope'; use one of: default, stuck" in capsys.readouterr().err
