"""A client that sends no special header plays every scenario, by model alias, by key or by admin rule,
and a second worker, which saw none of it, replays the same fate from the signed id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver.engine import scenarios
from mockserver.engine.config import FAIL_REASONS

pytestmark = pytest.mark.slow

NAMES = [name for name in scenarios.names(tuple(FAIL_REASONS)) if name != "default"]
ADMIN = {"Authorization": "Bearer sk-admin"}


def _config(tmp_path: Path) -> Path:
    lines = ["keys = ['sk-plain', " + ", ".join(f"'sk-{n}'" for n in NAMES) + "]", "[aliases]"]
    lines += [f"veo3-{n} = {{model = 'veo3', scenario = '{n}'}}" for n in NAMES]
    lines += ["[key_scenarios]", *(f"sk-{n} = '{n}'" for n in NAMES)]
    path = tmp_path / "fates.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _played(task: dict[str, Any], name: str) -> bool:
    """What the admin API shows of a task's fate: its behaviour, or its outcome for success and fail-*."""
    return task["outcome" if name == "success" or name.startswith("fail-") else "behaviour"] == name


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory, spawn_once: Any):
    config = _config(tmp_path_factory.mktemp("fates"))
    argv = ("--config", str(config), "--admin-key", "sk-admin", "--time-scale", "100000")
    with spawn_once(*argv) as (first, _), spawn_once(*argv) as (second, _):
        yield first, second


def _submit(url: str, key: str, model: str = "veo3") -> str:
    body = {"prompt": "A cat surfing in sunset, cinematic", "model": model}
    answer = httpx.post(f"{url}/v2/videos/generations", json=body, headers={"Authorization": f"Bearer {key}"})
    assert answer.status_code == 200, answer.text
    return answer.json()["task_id"]


@pytest.mark.parametrize("name", NAMES)
def test_each_scenario_by_alias_by_key_and_by_rule_replays_on_another_worker(
    workers: tuple[str, str], name: str
) -> None:
    first, second = workers
    by_alias = _submit(first, "sk-plain", f"veo3-{name}")
    by_key = _submit(first, f"sk-{name}")
    rule = httpx.post(f"{first}/_mock/rules", json={"scenario": name, "next": 1, "key": "sk-plain"}, headers=ADMIN)
    assert rule.status_code == 201, rule.text
    by_rule = _submit(first, "sk-plain")
    unruled = _submit(first, "sk-plain")  # the rule was spent on the one before
    for task_id in (by_alias, by_key, by_rule):
        task = httpx.get(f"{second}/_mock/tasks/{task_id}", headers=ADMIN).json()
        assert _played(task, name), task
    assert httpx.get(f"{second}/_mock/tasks/{unruled}", headers=ADMIN).json()["behaviour"] == "default"


def test_a_fail_scenario_by_key_is_what_a_poll_on_the_other_worker_shows(workers: tuple[str, str]) -> None:
    first, second = workers
    task_id = _submit(first, "sk-fail-quota")
    headers = {"Authorization": "Bearer sk-fail-quota"}
    with httpx.Client(base_url=second, headers=headers) as http:
        for _ in range(1000):  # at --time-scale 100000 a veo3 task ends within 4 ms
            task = http.get(f"/v2/videos/generations/{task_id}").json()
            if task["status"] in ("SUCCESS", "FAILURE"):
                break
    assert task["status"] == "FAILURE" and task["fail_reason"] == FAIL_REASONS["quota"]


def test_workers_sharing_a_sqlite_store_share_rules_and_count_next_across_them(spawn: Any, tmp_path: Path) -> None:
    """Two processes on one SQLite file: a rule set through one plays on the other, and next counts across both."""
    argv = ("--store", f"sqlite:{tmp_path / 'tasks.db'}", "--admin-key", "sk-admin", "--time-scale", "100000")
    with spawn(*argv) as (first, _), spawn(*argv) as (second, _):
        made = httpx.post(f"{first}/_mock/rules", json={"scenario": "stuck", "next": 3}, headers=ADMIN)
        assert made.status_code == 201, made.text
        assert httpx.get(f"{second}/_mock/rules", headers=ADMIN).json()["rules"] == [made.json()]
        ids = [_submit(url, "sk-mock-dev") for url in (second, first, second, first, second)]
        played = [httpx.get(f"{first}/_mock/tasks/{task_id}", headers=ADMIN).json()["behaviour"] for task_id in ids]
        left = httpx.get(f"{second}/_mock/rules", headers=ADMIN).json()["rules"]
    assert played == ["stuck"] * 3 + ["default"] * 2
    assert left == []
