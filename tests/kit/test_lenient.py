"""task_schema on single answers: where the spec leaves a value open it warns, where the value is wrong it fails."""

from __future__ import annotations

from typing import Any

import pytest

from contract_tests import lifecycle_checks
from contract_tests.findings import FAIL, WARN, Exchange
from contract_tests.runner import Poll, Walk

SUBMITTED = 1_756_693_797
RUNNING = {"task_id": "t1", "status": "IN_PROGRESS", "progress": "50%", "submit_time": SUBMITTED}
DONE = {
    **RUNNING,
    "status": "SUCCESS",
    "progress": "100%",
    "finish_time": SUBMITTED + 60,
    "data": {"output": "https://cdn.example/a.png"},
}


def verdict(*tasks: dict[str, Any], check: Any = lifecycle_checks.task_schema) -> list[str]:
    """The severities ``check`` finds in a walk made of ``tasks``, polled just after the last one finished."""
    answer = Exchange("GET", "https://gateway.example/v2/images/generations/t1", (), b"", 200)
    walk = Walk("images", "t1", SUBMITTED, [Poll(SUBMITTED + 61.0, answer, task) for task in tasks])
    return [finding.severity for finding in check(walk)]


@pytest.mark.parametrize(
    "task",
    [
        {**RUNNING, "status": "QUEUED", "progress": None},
        {**RUNNING, "progress": "12.5%"},
        {**DONE, "progress": "100.0%"},
        {**RUNNING, "submit_time": SUBMITTED + 0.25},
        {**DONE, "start_time": SUBMITTED + 5.5, "finish_time": SUBMITTED + 60.75},
    ],
    ids=["null before start", "decimal", "decimal 100 at success", "float submit", "float start and finish"],
)
def test_a_value_the_spec_leaves_open_is_a_warning(task: dict[str, Any]) -> None:
    assert verdict(task, DONE) == [WARN]


@pytest.mark.parametrize(
    "task",
    [
        {**RUNNING, "progress": "100.5%"},
        {**RUNNING, "progress": "-0.5%"},
        {**RUNNING, "progress": 12.5},
        {**RUNNING, "progress": "12.5"},
        {**RUNNING, "progress": "twelve%"},
        {**DONE, "progress": "99.5%"},
        {**RUNNING, "submit_time": -1.5},
        {**RUNNING, "submit_time": "1756693797.25"},
        {**RUNNING, "finish_time": SUBMITTED + 0.5},
    ],
    ids=[
        "over 100",
        "negative",
        "a number",
        "no percent sign",
        "words",
        "short of 100 at success",
        "negative time",
        "time as text",
        "finish time while running",
    ],
)
def test_a_wrong_value_still_fails(task: dict[str, Any]) -> None:
    assert verdict(task, DONE) == [FAIL]


def test_a_fractional_millisecond_time_is_still_implausible() -> None:
    task = {**RUNNING, "submit_time": SUBMITTED * 1000 + 0.5}
    assert verdict(task, DONE, check=lifecycle_checks.timestamps_plausible) == [FAIL]


def test_a_walk_is_warned_about_once_but_still_fails_on_a_later_wrong_value() -> None:
    odd = {**RUNNING, "progress": "12.5%"}
    assert verdict(odd, odd, DONE) == [WARN]
    assert verdict(odd, {**RUNNING, "progress": "101%"}, DONE) == [WARN, FAIL]
