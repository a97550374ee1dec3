"""Prometheus metrics: off by default; when on, each count matches what the client did."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.engine.config import load_config
from mockserver.engine.faults import Faults
from mockserver.engine.profiles import Profile, fixed
from mockserver.http.fault_answers import ConnectionDropped
from mockserver.stores.local import SqliteStore
from tests.helpers.fakeclock import Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


@dataclass(frozen=True)
class Scrape:
    """Every sample of a scrape by name and labels, and every metric it declares (with or without samples)."""

    samples: dict[tuple[str, frozenset[tuple[str, str]]], float]
    metrics: frozenset[str]


def scrape(client: TestClient) -> Scrape:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = list(text_string_to_metric_families(response.text))
    samples = {(s.name, frozenset(s.labels.items())): s.value for family in families for s in family.samples}
    return Scrape(samples, frozenset(family.name for family in families))


def value(scraped: Scrape, name: str, **labels: str) -> float:
    """The sample's value; a sample that is not there fails, so a renamed metric or label cannot read as 0."""
    key = (name, frozenset(labels.items()))
    named = [dict(sorted(tags)) for sample, tags in scraped.samples if sample == name]
    assert key in scraped.samples, f"no sample {name} {labels}; samples of that name: {named}"
    return scraped.samples[key]


def uncounted(scraped: Scrape, name: str, **labels: str) -> bool:
    """Nothing counted under these labels, by a metric the scrape declares (a counter with no sample yet)."""
    declared = [metric for metric in scraped.metrics if name in (metric, f"{metric}_total", f"{metric}_count")]
    assert declared, f"the scrape declares no metric {name}: {sorted(scraped.metrics)}"
    return scraped.samples.get((name, frozenset(labels.items())), 0.0) == 0


def mock(clock: Clock, **config: object) -> TestClient:
    profile = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0)
    return TestClient(create_app(Config(profiles={"videos": profile}, **config), clock=clock))  # type: ignore[arg-type]


def test_metrics_are_off_unless_asked_for(clock: Clock) -> None:
    with mock(clock) as client:
        assert client.get("/metrics").status_code == 404


def test_counts_match_the_requests_tasks_and_polls(clock: Clock) -> None:
    with mock(clock, metrics=True) as client:
        plain = client.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        client.post("/v2/videos/generations", json=CAT, headers={**KEY, "X-Mock-Scenario": "stuck, fail-quota"})
        client.post("/v2/videos/generations", json={**CAT, "images": ["https://x.test/a.png"]}, headers=KEY)
        client.post("/v2/videos/generations", json={"model": "veo3"}, headers=KEY)  # 400
        for _ in range(3):
            client.get(f"/v2/videos/generations/{plain}", headers=KEY)
        clock.now += 1000
        for _ in range(4):  # finished: counted once, at the first of these
            client.get(f"/v2/videos/generations/{plain}", headers=KEY)
        client.get("/v2/videos/generations/nope", headers=KEY)
        samples = scrape(client)

    poll_route = {"route": "/v2/{scope}/generations/{task_id}", "method": "GET"}
    submit_route = {"route": "/v2/{scope}/generations", "method": "POST"}
    count = "mock_http_request_duration_seconds_count"
    assert value(samples, count, **poll_route, status="200") == 7
    assert value(samples, count, **poll_route, status="404") == 1
    assert value(samples, count, **submit_route, status="200") == 3
    assert value(samples, count, **submit_route, status="400") == 1
    created = "mock_tasks_created_total"
    assert value(samples, created, scope="videos", model="veo3", mode="text-to", scenario="default") == 1
    assert value(samples, created, scope="videos", model="veo3", mode="text-to", scenario="stuck,fail-quota") == 1
    assert value(samples, created, scope="videos", model="veo3", mode="image-to", scenario="default") == 1
    assert value(samples, "mock_tasks_finished_total", outcome="success") == 1
    assert value(samples, "mock_task_polls_count") == 1
    assert value(samples, "mock_task_polls_sum") == 4  # three while running, then the one that saw it finished
    assert value(samples, "mock_store_tasks") == 3


def test_each_finished_task_counts_its_outcome_and_its_polls_in_their_bucket(clock: Clock) -> None:
    with mock(clock, metrics=True) as client:
        failing = {**KEY, "X-Mock-Scenario": "fail-quota"}
        failed = client.post("/v2/videos/generations", json=CAT, headers=failing).json()["task_id"]
        watched = client.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        for _ in range(4):
            client.get(f"/v2/videos/generations/{watched}", headers=KEY)
        clock.now += 1000
        for task_id in (failed, watched, failed, watched):  # only the first poll of each finished one counts
            client.get(f"/v2/videos/generations/{task_id}", headers=KEY)
        samples = scrape(client)
    assert value(samples, "mock_tasks_finished_total", outcome="fail-quota") == 1
    assert value(samples, "mock_tasks_finished_total", outcome="success") == 1
    buckets = {le: value(samples, "mock_task_polls_bucket", le=le) for le in ("1.0", "3.0", "5.0", "+Inf")}
    assert buckets == {"1.0": 1, "3.0": 1, "5.0": 2, "+Inf": 2}  # one poll for the failed task, five for the other
    assert value(samples, "mock_task_polls_sum") == 6


def test_faults_are_counted_by_kind_and_a_reset_empties_the_store_gauge(clock: Clock) -> None:
    faults = Faults(submit_429=1.0)
    with mock(clock, metrics=True, faults=faults, admin_key="sk-admin") as client:
        for _ in range(3):
            assert client.post("/v2/videos/generations", json=CAT, headers=KEY).status_code == 429
        admin = {"Authorization": "Bearer sk-admin"}
        client.put("/_mock/faults", json={}, headers=admin)
        client.post("/v2/videos/generations", json=CAT, headers=KEY)
        assert value(scrape(client), "mock_store_tasks") == 1
        client.post("/_mock/reset", headers=admin)
        samples = scrape(client)
    assert value(samples, "mock_faults_injected_total", kind="429") == 3
    assert value(samples, "mock_store_tasks") == 0


def test_a_dropped_connection_counts_as_status_0(clock: Clock) -> None:
    with mock(clock, metrics=True, faults=Faults(drop=1.0)) as client:
        with pytest.raises(ConnectionDropped):
            client.post("/v2/videos/generations", json=CAT, headers=KEY)
        samples = scrape(client)
    count = "mock_http_request_duration_seconds_count"
    assert value(samples, count, route="/v2/{scope}/generations", method="POST", status="0") == 1
    assert value(samples, "mock_faults_injected_total", kind="drop") == 1
    assert uncounted(
        samples, "mock_tasks_created_total", scope="videos", model="veo3", mode="text-to", scenario="default"
    )


def test_a_config_file_can_switch_metrics_on(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    path.write_text("metrics = true\n")
    assert load_config(path).metrics is True


def test_an_answer_of_the_apps_own_handlers_counts_with_its_status(clock: Clock, tmp_path: Path) -> None:
    """A store failing mid-request is answered 503 outside the route; it counted as a dropped connection."""
    store = SqliteStore(tmp_path / "tasks.db")
    app = create_app(Config(metrics=True), clock=clock, store=store)
    with TestClient(app) as client:
        store.close()
        assert client.post("/v2/videos/generations", json=CAT, headers=KEY).status_code == 503
        samples = scrape(client)
    count = "mock_http_request_duration_seconds_count"
    assert value(samples, count, route="/v2/{scope}/generations", method="POST", status="503") == 1
    assert uncounted(samples, count, route="/v2/{scope}/generations", method="POST", status="0")


def test_counters_and_histograms_yield_no_created_series(clock: Clock) -> None:
    """``mock_tasks_created_total`` beside a ``mock_tasks_created_created`` reads as a second metric."""
    with mock(clock, metrics=True) as client:
        client.post("/v2/videos/generations", json=CAT, headers=KEY)
        names = {name for name, _ in scrape(client).samples}
    assert "mock_tasks_created_total" in names
    assert sorted(name for name in names if name.endswith("_created")) == []


def test_a_flush_puts_each_duration_in_the_bucket_observe_would() -> None:
    from prometheus_client import CollectorRegistry, Histogram

    from mockserver.http.metrics import LATENCY_BUCKETS, Batch

    registry = CollectorRegistry()
    labels = ["route", "method", "status"]
    batched, observed = (
        Histogram(name, "durations", labels, buckets=LATENCY_BUCKETS, registry=registry) for name in ("batched", "one")
    )
    batch = Batch(batched, Histogram("polls", "polls", registry=registry), lambda: None)
    # each bound itself, as well as values between and past them
    durations = [*LATENCY_BUCKETS, 0.0, 0.0004, 0.0007, 0.001, 0.0011, 3.0, 10.5, 99.0, 0.0004, 2.5]
    batch.durations("/r", "GET", 200).extend(durations)
    batch.flush()
    for seconds in durations:
        observed.labels("/r", "GET", "200").observe(seconds)
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value for m in registry.collect() for s in m.samples}
    mine = {key: count for key, count in samples.items() if key[0].startswith("batched")}
    theirs = {
        (name.replace("one", "batched", 1), tags): count
        for (name, tags), count in samples.items()
        if name.startswith("one")
    }
    assert len(mine) == len(LATENCY_BUCKETS) + 3  # the buckets, +Inf, the count and the sum
    assert {k: v for k, v in mine.items() if not k[0].endswith("_sum")} == {
        k: v for k, v in theirs.items() if not k[0].endswith("_sum")
    }
    assert mine[("batched_sum", (("method", "GET"), ("route", "/r"), ("status", "200")))] == pytest.approx(
        sum(durations)
    )
