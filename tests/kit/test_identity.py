"""task_identity and task_ids_distinct on made-up walks and submits: what fails, what only warns, what passes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from contract_tests.checks import task_ids_distinct
from contract_tests.findings import FAIL, WARN, Exchange
from contract_tests.lifecycle_checks import task_identity
from contract_tests.runner import Poll, Walk

MINE = {"prompt": "a red fox", "model": "veo3", "duration": 5}
THEIRS = {"prompt": "a blue whale", "model": "veo3"}


def severities(*shown: dict[str, Any]) -> list[str]:
    answer = Exchange("GET", "https://gateway.example/v2/videos/generations/t1", (), b"", 200)
    polls = [Poll(float(n), answer, {"task_id": "t1", "status": "QUEUED", **fields}) for n, fields in enumerate(shown)]
    walk = Walk("videos", "t1", 0.0, polls, request=MINE, siblings=(THEIRS,))
    return [finding.severity for finding in task_identity(walk)]


@pytest.mark.parametrize(
    ("shown", "found"),
    [
        ([{}, {}], []),  # echoes nothing: nothing to judge
        ([{"prompt": "a red fox", "model": "veo3", "platform": ""}, {"platform": "google"}], []),  # filled in later
        ([{"data": {"duration": 5, "output": "https://cdn.example/x.mp4"}}], []),
        ([{"prompt": "a blue whale"}], [FAIL]),  # another task's prompt
        ([{}, {"data": {"prompt": "a blue whale"}}], [FAIL]),
        ([{"model": "veo-3.0-generate-001"}], [WARN]),  # a gateway's own name for the model
        ([{"action": "google-videos"}, {"action": "kling-videos"}], [FAIL]),
        ([{"model": "veo3"}, {"model": "veo3-fast"}], [WARN, FAIL]),
    ],
)
def test_task_identity(shown: list[dict[str, Any]], found: list[str]) -> None:
    assert severities(*shown) == found


def submit(task_id: str) -> Exchange:
    return Exchange(
        "POST", "https://gateway.example/v2/x/generations", (), b"", 200, (), json.dumps({"task_id": task_id}).encode()
    )


def test_task_ids_distinct_names_where_the_ids_collided() -> None:
    accepted = [("images", submit("task-1")), ("videos", submit("task-1")), ("videos", submit("task-2"))]
    assert [f.message for f in task_ids_distinct(accepted)] == [
        "two accepted submits in images and videos got the same task_id 'task-1'"
    ]
    same_scope = [("videos", submit("veo3-1756693797")), ("videos", submit("veo3-1756693797"))]
    assert "in the same scope" in task_ids_distinct(same_scope)[0].message
    assert task_ids_distinct([("images", submit("a")), ("videos", submit("b"))]) == []
