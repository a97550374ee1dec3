"""With two workers, a scrape of /metrics adds up both, whichever worker answers it."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.slow

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
AUTH = {"Authorization": "Bearer sk-mock-dev"}
SUBMITS, POLLS_EACH = 20, 3


def totals(url: str) -> dict[str, float]:
    """Requests by route and status, tasks created, and faults, from one scrape on a fresh connection."""
    response = httpx.get(f"{url}/metrics")
    assert response.status_code == 200, response.text
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            labels = sample.labels
            if sample.name == "mock_http_request_duration_seconds_count" and labels["route"] != "/metrics":
                name = f"{labels['method']} {labels['route']} {labels['status']}"
                found[name] = found.get(name, 0) + sample.value
            elif sample.name == "mock_tasks_created_total":
                found["created"] = found.get("created", 0) + sample.value
            elif sample.name == "mock_store_tasks":
                found["stored"] = sample.value
    return found


def test_two_workers_scrape_to_the_totals_sent(spawn: Any) -> None:
    expected = {
        "POST /v2/{scope}/generations 200": SUBMITS,
        "GET /v2/{scope}/generations/{task_id} 200": SUBMITS * POLLS_EACH,
        "GET /v2/{scope}/generations/{task_id} 401": 5,
        "created": SUBMITS,
        "stored": SUBMITS,
    }
    with spawn("--workers", "2", "--metrics", "--time-scale", "600") as (url, process):
        # a fresh connection per request, so the kernel hands them to either worker
        ids = [
            httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=AUTH).json()["task_id"]
            for _ in range(SUBMITS)
        ]
        for task_id in ids:
            for _ in range(POLLS_EACH):
                assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=AUTH).status_code == 200
        for _ in range(5):
            assert httpx.get(f"{url}/v2/videos/generations/{ids[0]}").status_code == 401
        with open(f"/proc/{process.pid}/task/{process.pid}/children") as children:
            assert len(children.read().split()) >= 2
        # A worker's request tallies reach the shared files within a second (metrics.Latency)
        deadline = time.monotonic() + 10
        while totals(url) != expected and time.monotonic() < deadline:
            pass  # each scrape is a round trip; no sleep needed
        scrapes = [totals(url) for _ in range(6)]  # each answered by either worker
    for found in scrapes:
        assert found == expected
