"""Numbers written as strings are read where the schema marks x-numeric-string, and nowhere else."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine import output_shape, validate

KEY = {"Authorization": "Bearer sk-mock-dev"}


@pytest.mark.parametrize(("given", "seconds"), [("10", 10.0), ("5.5", 5.5), ("0.5", 0.5), (".5", 0.5), ("007", 7.0)])
def test_a_numeric_string_is_the_length_of_the_video(given: str, seconds: float) -> None:
    with TestClient(create_app(Config())) as client:
        answer = client.post(
            "/v2/videos/generations", json={"prompt": "p", "model": "m", "duration": given}, headers=KEY
        )
        record = client.app.state.service.backend.local.get(answer.json()["task_id"])  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.text
    assert output_shape.unpack(record.shape).duration == seconds


@pytest.mark.parametrize("given", ["0", "0.0", "-5", "1e3", " 10", "10 ", "ten", "", "1,5", "１０"])
def test_anything_else_in_a_string_is_a_400_naming_duration(given: str) -> None:
    with TestClient(create_app(Config())) as client:
        answer = client.post(
            "/v2/videos/generations", json={"prompt": "p", "model": "m", "duration": given}, headers=KEY
        )
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "duration", answer.text


def test_another_fault_beside_a_numeric_string_is_the_one_named() -> None:
    with TestClient(create_app(Config())) as client:
        body = {"prompt": "p", "model": "m", "duration": "10", "aspect_ratio": "16x9"}
        answer = client.post("/v2/videos/generations", json=body, headers=KEY)
    assert answer.status_code == 400 and answer.json()["error"]["param"] == "aspect_ratio"


def test_only_marked_fields_are_read_and_a_body_with_numbers_is_left_alone() -> None:
    marked = [
        name for name, node in contract.schema("submit-request")["properties"].items() if "x-numeric-string" in node
    ]
    assert marked == ["duration"]
    body = {"prompt": "p", "model": "m", "duration": 5, "size": "10", "watermark": "true"}
    assert validate.read_numbers("submit-request", body) is False
    assert body == {"prompt": "p", "model": "m", "duration": 5, "size": "10", "watermark": "true"}
