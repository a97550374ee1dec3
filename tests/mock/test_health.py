"""``/healthz`` and ``/readyz``: public, cheap, and unseen by the journal and the metrics."""

from __future__ import annotations

from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.stores.local import SqliteStore
from tests.helpers.fakeclock import Clock

ADMIN = {"Authorization": "Bearer sk-adm"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def test_both_answer_without_a_key() -> None:
    with TestClient(create_app(Config(admin_key="sk-adm"))) as client:
        alive, ready = client.get("/healthz"), client.get("/readyz")
    assert (alive.status_code, alive.headers["content-type"], alive.json()) == (
        200,
        "application/json",
        {"status": "ok"},
    )
    assert (ready.status_code, ready.json()) == (200, {"status": "ready", "checks": {"store": "ok"}})


def test_a_store_that_does_not_answer_makes_the_mock_unready_but_still_alive(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "tasks.db")
    with TestClient(create_app(Config(), store=store)) as client:
        assert client.get("/readyz").status_code == 200
        store.close()  # as a file gone bad would: every query now fails
        ready = client.get("/readyz")
        alive = client.get("/healthz")
    assert ready.status_code == 503 and ready.json()["status"] == "unready"
    assert ready.json()["checks"]["store"].startswith("the store does not answer: ")
    assert alive.status_code == 200


def test_probes_are_absent_from_the_journal_and_the_metrics(clock: Clock) -> None:
    with TestClient(create_app(Config(admin_key="sk-adm", metrics=True), clock=clock)) as client:
        task_id = client.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        for _ in range(3):
            assert client.get("/healthz").status_code == client.get("/readyz").status_code == 200
        client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
        entries = client.get("/_mock/journal", headers=ADMIN).json()["entries"]
        scraped = client.get("/metrics").text
    assert [entry["method"] for entry in entries] == ["POST", "GET"]  # the client's two requests, no probe
    routes = {
        sample.labels["route"]
        for family in text_string_to_metric_families(scraped)
        for sample in family.samples
        if sample.name == "mock_http_request_duration_seconds_count"
    }
    assert routes == {"/v2/{scope}/generations", "/v2/{scope}/generations/{task_id}", "/_mock/journal"}
