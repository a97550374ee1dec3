"""What a store's tasks answer when the store outlives its config, or fails while serving."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.config import FAIL_REASONS
from mockserver.engine.profiles import MODELS, Profile, fixed
from mockserver.stores.local import SqliteStore
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-admin"}
SECRET = b"one secret for both runs"


def test_a_task_whose_profile_or_reason_left_the_config_answers_410(tmp_path: Path) -> None:
    """Such tasks were 500s on polls, output links and the admin list after a restart under another config."""
    clock = Clock()
    fast = Profile(queue=fixed(1), run=fixed(1), fail_rate=0.0, scope="videos")
    reasons = {**FAIL_REASONS, "meteor": "hit by a meteor"}
    first = Config(admin_key="sk-admin", models={**MODELS, "my-model": fast}, fail_reasons=reasons)
    with TestClient(create_app(first, store=SqliteStore(tmp_path / "t.db"), clock=clock, secret=SECRET)) as c:
        mine = c.post("/v2/videos/generations", json={"prompt": "p", "model": "my-model"}, headers=KEY).json()[
            "task_id"
        ]
        failing = {**KEY, "X-Mock-Scenario": "fail-meteor"}
        doomed = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=failing).json()[
            "task_id"
        ]
        clock.now += 1000
        output = c.get(f"/v2/videos/generations/{mine}", headers=KEY).json()["data"]["output"]
        assert c.get(output).status_code == 200
    later = Config(admin_key="sk-admin")  # the default: neither my-model nor meteor
    with TestClient(create_app(later, store=SqliteStore(tmp_path / "t.db"), clock=clock, secret=SECRET)) as c:
        for task_id in (mine, doomed):
            answer = c.get(f"/v2/videos/generations/{task_id}", headers=KEY)
            assert (answer.status_code, answer.json()["error"]["code"]) == (410, "task_gone"), answer.text
            assert contract.is_valid("error", answer.json())
            assert c.get(f"/_mock/tasks/{task_id}", headers=ADMIN).status_code == 410
        assert c.get(output.replace("http://testserver", "")).status_code == 410
        listed = c.get("/_mock/tasks", headers=ADMIN).json()["tasks"]
        assert [(t["task_id"], t["gone"]) for t in listed] == [(mine, True), (doomed, True)]
        # another key, or another scope, learns nothing of them
        assert c.get(f"/v2/images/generations/{mine}", headers=KEY).status_code == 404


def test_a_store_failing_while_serving_is_a_503_with_retry_after(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "t.db")
    with TestClient(create_app(Config(), store=store, clock=Clock()), raise_server_exceptions=False) as c:
        task_id = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY).json()["task_id"]
        store.close()  # every statement now fails, as on a file gone bad under the server
        for answer in (
            c.get(f"/v2/videos/generations/{task_id}", headers=KEY),
            c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY),
        ):
            assert answer.status_code == 503, answer.text
            assert answer.json()["error"]["code"] == "store_unavailable" and answer.headers["retry-after"] == "1"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("profile", None),
        ("profile", "abc"),
        ("queue_for", "abc"),
        ("run_for", None),
        ("forced", 99),
        ("flags", 1 << 40),
        ("scope", "nope"),
        ("submitted_at", 1e300),
        ("forced_at", float("nan")),
    ],
)
def test_a_row_another_tool_wrote_wrong_is_a_503_not_a_500(tmp_path: Path, column: str, value: object) -> None:
    """The file is outside the process: a row edited by hand made polls, links and the admin API 500s."""
    store = SqliteStore(tmp_path / "t.db")
    with TestClient(
        create_app(Config(admin_key="sk-admin"), store=store, clock=Clock()), raise_server_exceptions=False
    ) as c:
        task_id = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY).json()["task_id"]
        with sqlite3.connect(tmp_path / "t.db") as db:
            db.execute(f"UPDATE tasks SET {column} = ?", (value,))
        for answer in (
            c.get(f"/v2/videos/generations/{task_id}", headers=KEY),
            c.get(f"/_media/{task_id}/0.mp4"),
            c.get("/_mock/tasks", headers=ADMIN),
            c.get(f"/_mock/tasks/{task_id}", headers=ADMIN),
            c.post(f"/_mock/tasks/{task_id}/state", headers=ADMIN, json={"status": "SUCCESS"}),
        ):
            assert answer.status_code == 503, answer.text[:300]
            assert (
                answer.json()["error"]["code"] == "store_unavailable" and "damaged" in answer.json()["error"]["message"]
            )


def test_another_programs_write_lock_is_a_503_after_a_second_not_a_frozen_server(tmp_path: Path) -> None:
    """The store waited 10 s for the lock on the event loop, and every request waited with it."""
    store = SqliteStore(tmp_path / "t.db")
    other = sqlite3.connect(tmp_path / "t.db", isolation_level=None)
    with TestClient(create_app(Config(), store=store, clock=Clock())) as c:
        other.execute("BEGIN IMMEDIATE")  # another program writing
        answer = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY)
        assert (answer.status_code, answer.json()["error"]["code"]) == (503, "store_unavailable")
        other.execute("ROLLBACK")
        assert c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY).status_code == 200


@pytest.mark.parametrize(
    ("column", "value"),
    [("scenario", None), ("scenario", "no-such-scenario"), ("fraction", "abc"), ("left", "x"), ("played", -1)],
)
def test_a_rule_another_tool_wrote_wrong_is_skipped_not_a_500_on_every_submit(
    tmp_path: Path, column: str, value: object
) -> None:
    """The rules share the SQLite file, and a row edited by hand made every submit without a header a 500."""
    store = SqliteStore(tmp_path / "t.db")
    with TestClient(create_app(Config(admin_key="sk-admin"), store=store, clock=Clock())) as c:
        for scenario in ("fail-content-policy", "fail-quota"):
            rule = {"scenario": scenario, "fraction": 1}
            assert c.post("/_mock/rules", json=rule, headers=ADMIN).status_code == 201
        with sqlite3.connect(tmp_path / "t.db") as db:
            db.execute(f"UPDATE mock_rules SET {column} = ? WHERE number = 1", (value,))
        answer = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY)
        assert answer.status_code == 200, answer.text
        assert c.get(f"/_mock/tasks/{answer.json()['task_id']}", headers=ADMIN).json()["outcome"] == "fail-quota"
        assert [rule["id"] for rule in c.get("/_mock/rules", headers=ADMIN).json()["rules"]] == [2]


def test_a_submit_meeting_a_locked_file_through_the_rules_is_a_json_503_after_the_stores_timeout(
    tmp_path: Path,
) -> None:
    """The SQLite rules waited 10 s for another program's write lock, freezing the event loop, then answered
    a plain-text 500; they wait as long as the store (its busy timeout, a second) and answer its 503."""
    path = tmp_path / "t.db"
    app = create_app(Config(admin_key="sk-admin"), store=SqliteStore(path), clock=Clock())
    backend = app.state.service.backend
    waits = [db.execute("PRAGMA busy_timeout").fetchone()[0] for db in (backend.local._db, backend.rules._db)]
    assert waits == [1000, 1000]  # milliseconds: the store's second, for the rules too
    with TestClient(app, raise_server_exceptions=False) as c:
        rule = c.post("/_mock/rules", json={"scenario": "fail-quota", "next": 1}, headers=ADMIN)
        assert rule.status_code == 201, rule.text
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        try:
            answer = c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert answer.status_code == 503, answer.text
        assert answer.json()["error"]["code"] == "store_unavailable" and answer.headers["retry-after"] == "1"
        # once the lock is gone the rule, which the refused submit did not spend, plays for the next
        assert c.post("/v2/videos/generations", json={"prompt": "p", "model": "veo3"}, headers=KEY).status_code == 200
        assert c.get("/_mock/rules", headers=ADMIN).json()["rules"] == []
