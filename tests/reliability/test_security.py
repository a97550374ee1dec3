"""Keys stay secret, the admin API stays shut without its key, and the server stays on loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

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


def listening_addresses(port: int) -> set[str]:
    """The local addresses of every socket listening on ``port``, as the kernel lists them."""
    found = set()
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, _, hex_port = local.partition(":")
            if state == "0A" and int(hex_port, 16) == port:  # 0A: LISTEN
                assert len(address) == width
                found.add(address)
    return found


@pytest.mark.parametrize("workers", ["1", "2"])
def test_the_server_binds_loopback_unless_told_otherwise(spawn: Any, workers: str) -> None:
    with spawn("--workers", workers) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        assert listening_addresses(port) == {"0100007F"}  # 127.0.0.1 only, in the kernel's byte order
