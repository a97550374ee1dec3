"""The spec's own curl examples, host put in front, against the default mock: the spec's answers come back.

The spec writes each curl option on a line of its own without a trailing backslash; read as one
command, each file is used verbatim but for the host, the key and the task id it leaves as holes.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
from typing import Any

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.config import DEV_KEY
from mockserver.testing import running_mock
from tests.helpers.fakeclock import Clock

pytestmark = pytest.mark.processes

SPEC = contract.fixtures_dir() / "spec"


def curl_words(name: str, base: str, task_id: str = "") -> list[str]:
    text = (SPEC / name).read_text(encoding="utf-8")
    words = shlex.split(text.replace("\n", " "))
    filled = [w.replace("<API-Key>", DEV_KEY).replace("{task_id}", task_id) for w in words]
    return [base + w if w.startswith("/v2/") else w for w in filled]


def as_request(words: list[str]) -> dict[str, Any]:
    """The method, URL, headers and body a curl command line sends."""
    assert words[0] == "curl"
    request: dict[str, Any] = {"method": "GET", "headers": {}, "content": None}
    rest = iter(words[1:])
    for word in rest:
        if word == "-X":
            request["method"] = next(rest)
        elif word == "-H":
            name, _, value = next(rest).partition(":")
            request["headers"][name.strip()] = value.strip()
        elif word == "-d":
            request["content"] = next(rest).encode()
        else:
            request["url"] = word
    return request


def test_the_spec_curl_examples_get_the_spec_shapes() -> None:
    clock = Clock()
    with TestClient(create_app(Config(), clock=clock)) as client:
        submitted = client.request(**as_request(curl_words("example-curl-submit.txt", "")))
        assert submitted.status_code == 200
        answer = submitted.json()
        spec_answer = json.loads((SPEC / "example-submit-response.json").read_text(encoding="utf-8"))
        assert answer.keys() == spec_answer.keys() and contract.is_valid("submit-response", answer)
        spec_task = json.loads((SPEC / "example-task.json").read_text(encoding="utf-8"))
        for _ in range(200):
            task = client.request(**as_request(curl_words("example-curl-poll.txt", "", answer["task_id"]))).json()
            assert contract.is_valid("task", task), task
            if task["status"] in contract.lifecycle()["terminal"]:
                break
            clock.now += 10
    assert task["task_id"] == answer["task_id"]
    assert set(task) <= set(spec_task) and {"task_id", "status", "progress", "data"} <= set(task)


@pytest.mark.skipif(shutil.which("curl") is None, reason="no curl on this machine")
def test_the_spec_curl_submit_runs_as_is_in_a_shell_curl() -> None:
    with running_mock() as mock:
        run = subprocess.run(
            curl_words("example-curl-submit.txt", mock.url) + ["-s"], capture_output=True, timeout=30, check=True
        )
        answer = json.loads(run.stdout)
        assert contract.is_valid("submit-response", answer)
        poll = subprocess.run(
            curl_words("example-curl-poll.txt", mock.url, answer["task_id"]) + ["-s"],
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert contract.is_valid("task", json.loads(poll.stdout))
