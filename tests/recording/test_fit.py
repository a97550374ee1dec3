"""``mockserver fit``: recordings drawn from known distributions are recovered within stated tolerances.

Tolerances (200 tasks each, fixed seeds): a lognormal's median within 10% and sigma within 15%; a
normal's mean within 3% and deviation within 15%; a uniform's bounds within 2% of its width; a
failure rate within 0.04 from 500 tasks. Each test also demands that the right family wins.
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mockserver import contract
from mockserver.engine.catalog import resolve
from mockserver.engine.config import config_from
from mockserver.engine.profiles import timing
from mockserver.recording.fit import fit, fit_timing, to_toml
from tests.helpers.processes import command

pytestmark = [pytest.mark.slow, pytest.mark.processes]

Draw = Callable[[random.Random], float]


def line(queue: float, run: float, *, model: str = "m", scope: str = "videos", **extra: Any) -> dict[str, Any]:
    """A task polled so often that every status change is seen the moment it happens."""
    ended = extra.pop("ended", "SUCCESS")
    statuses = [
        {"status": "QUEUED", "first": 0.0, "last": queue},
        {"status": "IN_PROGRESS", "first": queue, "last": queue + run},
        {"status": ended, "first": queue + run, "last": queue + run},
    ]
    found = {"version": 1, "scope": scope, "model": model, "mode": "text-to-video", "submitted_at": 1.7e9}
    found |= {"submit": {"status": 200}, "statuses": statuses, "progress": extra.pop("progress", []), "ended": ended}
    found |= {"polls": 3, "errors": [], "latency": {"submit": 0.01}}
    if ended == "SUCCESS":
        found["outputs"] = {"form": "output", "count": 1, "media": []}
    found |= extra
    assert contract.errors("recording", found, settings=True) == [], found
    return found


def drawn(count: int, queue: Draw, run: Draw, seed: int = 1, **extra: Any) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [line(round(queue(rng), 6), round(run(rng), 6), **extra) for _ in range(count)]


def fixed(value: float) -> Draw:
    return lambda rng: value


def lognormal(median: float, sigma: float) -> Draw:
    return lambda rng: rng.lognormvariate(math.log(median), sigma)


def test_a_lognormal_is_chosen_and_its_median_recovered_within_10_percent() -> None:
    for seed in range(5):
        fitted = fit(drawn(200, fixed(2), lognormal(75, 0.6), seed)).models["m"]["run"]
        assert fitted["dist"] == "lognormal", fitted
        assert fitted["median"] == pytest.approx(75, rel=0.10)
        assert fitted["sigma"] == pytest.approx(0.6, rel=0.15)


def test_a_normal_a_uniform_and_a_fixed_time_are_told_apart() -> None:
    result = fit(drawn(200, lambda rng: rng.uniform(5, 20), lambda rng: rng.normalvariate(60, 10), 3))
    queue, run = result.models["m"]["queue"], result.models["m"]["run"]
    assert queue["dist"] == "uniform" and abs(queue["low"] - 5) < 0.3 and abs(queue["high"] - 20) < 0.3, queue
    assert run["dist"] == "normal", run
    assert run["mean"] == pytest.approx(60, rel=0.03) and run["sd"] == pytest.approx(10, rel=0.15)
    assert fit(drawn(50, fixed(3), fixed(12.5))).models["m"]["run"] == {"dist": "fixed", "seconds": 12.5}


def test_fits_are_clamped_to_what_was_seen() -> None:
    rng = random.Random(4)
    values = [rng.lognormvariate(0, 1) for _ in range(200)]
    got = fit_timing(values).timing
    assert (got.low, got.high) == pytest.approx((min(values), max(values)), rel=1e-5)


def test_failures_their_reasons_and_weights_are_fitted() -> None:
    rng = random.Random(5)
    lines = []
    for _ in range(500):
        if rng.random() < 0.2:
            reason = "SAFETY.OUTPUT: blocked" if rng.random() < 0.75 else "INTERNAL: try again"
            lines.append(line(1, 5, ended="FAILURE", fail_reason=reason))
        else:
            lines.append(line(1, 5))
    result = fit(lines)
    profile = result.models["m"]
    failed = sum(item["ended"] == "FAILURE" for item in lines)
    assert profile["fail_rate"] == pytest.approx(0.2, abs=0.04) and profile["fail_rate"] == failed / 500
    assert set(result.fail_reasons.values()) == {"SAFETY.OUTPUT: blocked", "INTERNAL: try again"}
    shares = Counter(result.fail_reasons[name] for name in profile["fail_reasons"])
    assert shares["SAFETY.OUTPUT: blocked"] / sum(shares.values()) == pytest.approx(0.75, abs=0.07)


def test_progress_step_output_shape_link_lifetime_and_platform() -> None:
    stepped = [line(1, 10, progress=[[1.5, 0], [3, 20], [6, 50], [9, 85]], link_ttl=3600.0) for _ in range(40)]
    assert fit(stepped).models["m"]["progress_step"] == 5
    assert fit(stepped).models["m"]["link_ttl"] == 3600
    silent = [line(1, 10, progress=[[2, 0], [8, 0]], platform="google") for _ in range(40)]
    assert fit(silent).models["m"]["progress_step"] == 100 and fit(silent).models["m"]["platform"] == "google"
    listed = [line(1, 2, outputs={"form": "outputs", "count": 2, "media": []}) for _ in range(40)]
    assert fit(listed).models["m"]["outputs"] == 2 and fit(stepped).models["m"]["outputs"] == 0


def test_fault_rates_seen_are_fitted() -> None:
    lines = drawn(300, fixed(1), fixed(2), polls=10)
    refused = {**line(0, 0), "statuses": [], "ended": None, "polls": 0, "submit": {"status": 429}}
    refused["errors"] = [{"request": "submit", "at": 0.01, "status": 429, "retry_after": "4"}]
    del refused["outputs"]
    lines += [refused] * 30
    for item in lines[:60]:
        item["errors"] = [{"request": "poll", "at": 1.0, "status": 503, "retry_after": "4"}]
    faults = fit(lines).faults
    assert faults["submit_429"] == pytest.approx(30 / 330) and faults["poll_503"] == pytest.approx(60 / 3000)
    assert faults["retry_after"] == 4 and "poll_500" not in faults


def test_the_written_config_plays_as_is_and_says_what_each_estimate_rests_on() -> None:
    lines = drawn(200, lognormal(3, 0.4), lognormal(75, 0.6), model="my gateway/veo3") + drawn(
        10, fixed(1), lambda rng: rng.uniform(1, 2), model="rare", scope="images"
    )
    result = fit(lines)
    text = to_toml(result, "rec.jsonl")
    config = config_from(tomllib.loads(text))
    catalog = resolve(config)
    played = catalog.profiles[catalog.profile_for("videos", "my gateway/veo3")]
    assert played.run == timing(result.models["my gateway/veo3"]["run"])
    assert "run: lognormal by log-likelihood" in text and "(from 200 tasks)" in text
    assert any(w.startswith("models.rare: fewer than 30 tasks behind queue on 10, run on 10") for w in result.warnings)
    assert not any("veo3" in w for w in result.warnings)


def test_the_command_writes_the_config_and_refuses_a_bad_recording(tmp_path: Path) -> None:
    good = tmp_path / "rec.jsonl"
    good.write_text("".join(json.dumps(item) + "\n" for item in drawn(40, fixed(1), lognormal(10, 0.3))))
    out = tmp_path / "fitted.toml"
    done = subprocess.run(command("fit", str(good), "--out", str(out)), check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert config_from(tomllib.loads(out.read_text())).models["m"].scope == "videos"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(good.read_text() + '{"version": 1, "scope": "videos"}\n' + good.read_text()[:50])
    cases = [
        ([str(bad)], "bad.jsonl:41: model: 'model' is a required property"),
        ([str(tmp_path / "none.jsonl")], "none.jsonl: No such file"),
        ([str(good), "--min-tasks", "0"], "--min-tasks: 0 is less than the minimum of 1"),
    ]
    for argv, said in cases:
        done = subprocess.run(command("fit", *argv), check=False, capture_output=True, text=True)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr
    done = subprocess.run(command("fit", str(bad), "--skip-bad-lines"), check=False, capture_output=True, text=True)
    assert done.returncode == 0 and "[models.m]" in done.stdout
    assert (
        "skipped" in done.stderr
        and "bad.jsonl:41" in done.stderr
        and "bad.jsonl:42: the line is cut short" in done.stderr
    )


def test_a_model_too_fast_for_polls_to_see_it_running_is_fitted_as_all_run() -> None:
    lines = drawn(60, fixed(0), lognormal(0.05, 0.8))
    for item in lines:
        done = item["statuses"][-1]["first"]
        item["statuses"] = [{"status": "QUEUED", "first": 0.0, "last": 0.0}, {**item["statuses"][-1], "first": done}]
    profile = fit(lines).models["m"]
    assert profile["queue"] == {"dist": "fixed", "seconds": 0.0}
    assert profile["run"]["dist"] == "lognormal" and profile["run"]["median"] == pytest.approx(0.025, rel=0.25)
