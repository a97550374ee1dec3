"""Per-model profiles: timing distributions, progress steps, output shapes, aliases and strict models."""

from __future__ import annotations

import random
import statistics
import tracemalloc
from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.engine.catalog import resolve
from mockserver.engine.lifecycle import plan
from mockserver.engine.profiles import Profile, Timing, fixed, uniform
from mockserver.engine.scenarios import Choice
from mockserver.stores.local import MemoryStore
from tests.helpers.fakeclock import START, Clock

KEY = {"Authorization": "Bearer sk-mock-dev"}


def draws(t: Timing, n: int = 4000) -> list[float]:
    rng = random.Random(1)
    return [t.draw(rng) for _ in range(n)]


def test_fixed_and_uniform_timings_stay_where_they_are_put() -> None:
    assert set(draws(fixed(7), 10)) == {7}
    values = draws(uniform(5, 20))
    assert min(values) >= 5 and max(values) <= 20 and max(values) - min(values) > 14


def test_lognormal_centres_on_its_median_with_a_long_right_tail() -> None:
    values = draws(Timing("lognormal", 60, 0.5))
    assert 55 < statistics.median(values) < 65
    assert statistics.mean(values) > statistics.median(values)


def test_draws_are_clamped_to_min_max_and_never_negative() -> None:
    assert min(draws(Timing("normal", 1, 10))) == 0
    values = draws(Timing("lognormal", 60, 2, 11, 360))
    assert min(values) == 11 and max(values) == 360


def walk(client: TestClient, clock: Clock, scope: str, model: str, scenario: str = "success") -> list[dict]:
    headers = {**KEY, "X-Mock-Scenario": scenario}
    response = client.post(f"/v2/{scope}/generations", json={"prompt": "p", "model": model}, headers=headers)
    assert response.status_code == 200, response.text
    task_id, seen = response.json()["task_id"], []
    for _ in range(2000):
        task = client.get(f"/v2/{scope}/generations/{task_id}", headers=KEY).json()
        assert contract.is_valid("task", task), task
        seen.append(task)
        if task["status"] in contract.lifecycle()["terminal"]:
            return seen
        clock.now += 1
    raise AssertionError(f"{model} did not finish: {seen[-1]}")


@pytest.fixture
def client(clock: Clock) -> Iterator[TestClient]:
    with TestClient(create_app(Config(), clock=clock)) as c:
        yield c


def progress(seen: list[dict]) -> set[int]:
    return {int(t["progress"].rstrip("%")) for t in seen if t["status"] == "IN_PROGRESS"}


@pytest.mark.parametrize("model", ["veo3", "veo3-fast", "kling-v2"])
def test_models_that_report_no_progress_show_zero_until_done(client: TestClient, clock: Clock, model: str) -> None:
    seen = walk(client, clock, "videos", model)
    assert progress(seen) == {0} and seen[-1]["progress"] == "100%"


def test_sora_counts_progress_percent_by_percent(client: TestClient, clock: Clock) -> None:
    assert len(progress(walk(client, clock, "videos", "sora-2"))) > 20


def test_progress_moves_in_the_profiles_steps(clock: Clock) -> None:
    config = Config(profiles={"videos": Profile(queue=fixed(1), run=fixed(200), progress_step=25)})
    with TestClient(create_app(config, clock=clock)) as c:
        assert progress(walk(c, clock, "videos", "anything")) == {0, 25, 50, 75}


@pytest.mark.parametrize(
    ("scope", "model", "shape"),
    [
        ("audio", "suno-v4", ("outputs", 2)),
        ("images", "flux-dev", ("outputs", 1)),
        ("images", "gpt-image-1", ("output", 0)),
    ],
)
def test_each_model_answers_its_output_shape(
    client: TestClient, clock: Clock, scope: str, model: str, shape: tuple
) -> None:
    data = walk(client, clock, scope, model)[-1]["data"]
    key, count = shape
    assert list(data) == [key]
    assert (len(data[key]) if key == "outputs" else 0) == count
    for url in data["outputs"] if key == "outputs" else [data["output"]]:
        assert client.get(url).status_code == 200


def test_aliases_and_unknown_models_find_their_profiles() -> None:
    catalog = resolve(Config())
    veo3 = catalog.profile_for("videos", "veo3")
    assert catalog.profile_for("videos", "veo3-fast") == veo3 != catalog.defaults["videos"]
    assert catalog.profile_for("videos", "no-such-model") == catalog.defaults["videos"]
    assert catalog.profile_for("images", "veo3") == catalog.defaults["images"]


@pytest.mark.parametrize(
    ("scope", "model", "status"),
    [("videos", "veo3", 200), ("videos", "veo3-fast", 200), ("videos", "nope", 400), ("images", "veo3", 400)],
)
def test_strict_models_refuse_unknown_ones_naming_the_field(scope: str, model: str, status: int) -> None:
    with TestClient(create_app(Config(strict_models=True))) as c:
        response = c.post(f"/v2/{scope}/generations", json={"prompt": "p", "model": model}, headers=KEY)
    assert response.status_code == status, response.text
    if status == 400:
        body = response.json()
        assert contract.is_valid("error", body)
        assert (body["error"]["code"], body["error"]["param"]) == ("unknown_model", "model")


@pytest.mark.slow
def test_a_record_costs_well_under_a_kibibyte() -> None:
    """The id, the record and its place in the store: the memory a task costs while it lives."""
    catalog, store, n = resolve(Config()), MemoryStore(), 20_000
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    for i in range(n):
        task_id = f"{i:08x}-8657-4e83-b0e3-67facf1b2576"
        store.put(plan(catalog, task_id, "videos", 12345678901234567, START + i, i % 6, Choice()))
    used = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
    tracemalloc.stop()
    assert used / n < 512, used / n
