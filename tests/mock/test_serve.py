"""The mock through a real uvicorn on 127.0.0.1, and the CLI's argument checks."""

from __future__ import annotations

import httpx
import pytest

from contract_tests import contract
from mockserver.cli import main
from mockserver.testing import running_mock


def test_a_task_lives_its_whole_life_over_a_real_socket() -> None:
    now = [1_756_693_797.0]
    with running_mock(clock=lambda: now[0], seed=3) as mock:
        assert mock.url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {mock.keys[0]}"}
        with httpx.Client(base_url=mock.url, headers=headers) as http:
            submitted = http.post("/v2/audio/generations", json={"prompt": "rain", "model": "suno-v4"})
            assert submitted.status_code == 200 and submitted.headers["content-type"] == "application/json"
            task_id = submitted.json()["task_id"]
            statuses = []
            for _ in range(100):
                task = http.get(f"/v2/audio/generations/{task_id}").json()
                assert contract.is_valid("task", task), task
                statuses.append(task["status"])
                if task["status"] in contract.lifecycle()["terminal"]:
                    break
                now[0] += 5
    assert statuses[-1] in contract.lifecycle()["terminal"]
    assert "IN_PROGRESS" in statuses
    with pytest.raises(httpx.ConnectError):
        httpx.get(mock.url, timeout=1)


@pytest.mark.parametrize("argv", [["--time-scale", "0"], ["--port", "eighty"]])
def test_cli_refuses_bad_options(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
