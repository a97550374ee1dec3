"""Records rebuilt from another worker's ids are kept for the next poll, and keep every rule a fresh rebuild keeps."""

from __future__ import annotations

from starlette.testclient import TestClient

from mockserver import Config, create_app
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
OTHER = {"Authorization": "Bearer sk-other"}
ADMIN = {"Authorization": "Bearer sk-admin"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def test_a_kept_rebuild_answers_as_a_fresh_one_and_only_to_its_key_scope_and_epoch() -> None:
    clock = Clock()
    config = Config(keys=("sk-mock-dev", "sk-other"), admin_key="sk-admin")
    with (
        TestClient(create_app(config, clock=clock)) as accepting,
        TestClient(create_app(config, clock=clock)) as other,
    ):
        task_id = accepting.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        path = f"/v2/videos/generations/{task_id}"
        clock.now += 3600
        first, again = other.get(path, headers=KEY), other.get(path, headers=KEY)
        assert first.status_code == 200 and first.json()["status"] in ("SUCCESS", "FAILURE")
        assert again.json() == first.json() == accepting.get(path, headers=KEY).json()
        assert other.get(path, headers=OTHER).status_code == 404
        assert other.get(f"/v2/images/generations/{task_id}", headers=KEY).status_code == 404
        assert other.post("/_mock/reset", headers=ADMIN).status_code == 200
        assert other.get(path, headers=KEY).status_code == 404
