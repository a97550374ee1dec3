"""Keys stay secret, the admin API stays shut without its key, and the server stays on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from mockserver import cli

KEY, WRONG, ADMIN = "sk-secret-7f3a9", "sk-wrong-51c2d", "adm-secret-e88b0"
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def test_keys_never_reach_the_log_or_the_journal(spawn: Any, tmp_path: Path) -> None:
    log = tmp_path / "mock.log"
    argv = ("--key", KEY, "--admin-key", ADMIN, "--log-level", "debug")  # access log and debug lines on
    with spawn(*argv, log=log) as (url, _), httpx.Client(base_url=url) as http:
        task_id = http.post("/v2/images/generations", json=BODY, headers={"Authorization": f"Bearer {KEY}"}).json()[
            "task_id"
        ]
        http.get(f"/v2/images/generations/{task_id}", headers={"Authorization": f"Bearer {KEY}"})
        assert (
            http.get(f"/v2/images/generations/{task_id}", headers={"Authorization": f"Bearer {WRONG}"}).status_code
            == 401
        )
        http.post(
            "/v2/images/generations",
            content=f'{{"key": "{WRONG}"'.encode(),
            headers={"Authorization": f"bearer {WRONG}"},
        )
        journal = http.get("/_mock/journal", headers={"Authorization": f"Bearer {ADMIN}"})
        assert journal.status_code == 200
    assert task_id in journal.text, "the journal should hold the requests made"
    assert KEY not in journal.text and ADMIN not in journal.text
    printed = log.read_text(errors="replace").splitlines()
    assert any("GET /v2/images/generations/" in line for line in printed), "the access log should have been on"
    banners = [line for line in printed if line.startswith(("mock serving on", "admin API on"))]
    rest = "\n".join(line for line in printed if line not in banners)
    assert KEY not in rest and ADMIN not in rest and WRONG not in rest
    assert WRONG not in "\n".join(banners)


def test_the_admin_api_is_shut_without_an_admin_key(spawn: Any) -> None:
    with spawn() as (url, _):
        for key in ("sk-mock-dev", ADMIN):
            answer = httpx.get(f"{url}/_mock/health", headers={"Authorization": f"Bearer {key}"})
            assert answer.status_code == 404


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_server_binds_loopback_unless_told_otherwise(monkeypatch: pytest.MonkeyPatch, workers: str) -> None:
    seen: dict[str, Any] = {}
    monkeypatch.setattr("uvicorn.run", lambda app, **options: seen.update(options))
    cli.main(["--workers", workers])
    assert seen["host"] == "127.0.0.1"
