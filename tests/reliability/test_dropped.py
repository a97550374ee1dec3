"""A dropped connection, under each server: the client gets no whole answer, and no task is left behind."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.slow

CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer sk-adm"}


def test_dropped_submits_get_no_answer_and_store_nothing(spawn: Any) -> None:
    with spawn("--admin-key", "sk-adm", "--seed", "1") as (url, _):
        assert httpx.put(f"{url}/_mock/faults", json={"drop": 0.5}, headers=ADMIN).status_code == 200
        outcomes: list[int | str] = []
        for _ in range(20):
            try:
                outcomes.append(httpx.post(f"{url}/v2/images/generations", json=CAT, headers=KEY).status_code)
            except (httpx.RemoteProtocolError, httpx.ReadError):  # closed early; or reset, with the body unread
                outcomes.append("dropped")
        assert {"dropped", 200} == set(outcomes)
        health = httpx.get(f"{url}/_mock/health", headers=ADMIN).json()
        assert health["tasks"] == outcomes.count(200)
        journal = httpx.get(f"{url}/_mock/journal", headers=ADMIN).json()["entries"]
        assert [entry["status"] for entry in journal] == [0 if seen == "dropped" else seen for seen in outcomes]
