"""Whatever the recorder writes, ``fit`` and ``--replay`` read, or refuse naming the line and the reason.

Each recording here is written by the recorder's own ``TaskLog`` and ``Writer``, from answers a real
gateway could give: odd digits, white space, lone surrogates, stray scopes, alias-like and countless names.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from mockserver import Config
from mockserver.contract.recording import TaskLog, Writer
from mockserver.engine.catalog import resolve
from mockserver.engine.config import MAX_MODELS, check_references, config_from, from_dict
from mockserver.engine.profiles import MODELS, Timing
from mockserver.recording import fit, replay

pytestmark = pytest.mark.slow

T0 = 1_700_000_000.0


def task(model: str = "gw", scope: str = "videos", *, run: float = 7.0, **seen: Any) -> TaskLog:
    """A task polled while queued, running and ended: a failure with ``reason``, else one output; a 503 with
    ``retry_after`` between, and ``platform`` in each answer, if given."""
    log = TaskLog.start(scope, {"model": model, "prompt": "p"}, T0)
    log.submitted(T0 + 0.1, 0.1, 200, {}, {"task_id": "t"})
    extra = {"platform": seen["platform"]} if "platform" in seen else {}
    log.polled(T0 + 1, 0.01, 200, {}, {"status": "QUEUED", "progress": "0%", **extra})
    if "retry_after" in seen:
        log.polled(T0 + 1.5, 0.01, 503, {"retry-after": seen["retry_after"]}, None)
    log.polled(T0 + 2, 0.01, 200, {}, {"status": "IN_PROGRESS", "progress": "50%", **extra})
    log.polled(T0 + 2 + run, 0.01, 200, {}, {"status": "IN_PROGRESS", "progress": "50%", **extra})
    if "reason" in seen:
        ended = {"status": "FAILURE", "fail_reason": seen["reason"]}
    else:
        ended = {"status": "SUCCESS", "data": {"output": "https://gw.example/out.mp4"}}
    log.polled(T0 + 2 + run, 0.01, 200, {}, {**ended, **extra})
    return log


def written(path: Path, logs: list[TaskLog]) -> Path:
    writer = Writer(path)
    for log in logs:
        writer.write(log.line())
    writer.close()
    return path


def fitted(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[dict[str, Any], str]:
    """``mockserver fit`` run on ``path``: the config it wrote, loaded as ``--config`` loads it, and its warnings."""
    out = path.with_suffix(".toml")
    fit.main([str(path), "--out", str(out), "--min-tasks", "1"])
    data = tomllib.loads(out.read_text(encoding="utf-8"))
    config_from(data)
    return data, capsys.readouterr().err


def test_a_retry_after_in_other_digits_is_no_number_of_seconds(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    """'²'.isdigit() is True, and int('²') a ValueError: fit crashed on a gateway's odd Retry-After."""
    logs = [task(retry_after="²") for _ in range(5)] + [task(retry_after="3") for _ in range(5)]
    data, _ = fitted(written(tmp_path / "rec.jsonl", logs), capsys)
    assert data["faults"]["poll_503"] > 0 and data["faults"]["retry_after"] == 3


def test_white_space_for_a_reason_or_a_platform_fits_a_config_that_plays(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fail_reason or platform of white space only went into the config, which --config refuses."""
    logs = [task(reason=" \t ", platform="  "), task(platform="\u3000"), task(reason="", platform="google")]
    data, _ = fitted(written(tmp_path / "rec.jsonl", logs), capsys)
    profile = data["models"]["gw"]
    assert profile["platform"] == "google"
    named = {**config_from(data).fail_reasons}
    assert {named[name] for name in profile["fail_reasons"]} == {"(no reason given)"}


def test_lone_surrogates_are_written_escaped_and_a_name_holding_one_is_left_out_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A model sent as "\\ud800" crashed the writer; written, it crashed fit, since no TOML can hold it."""
    logs = [task("gw\ud800"), task(reason="blocked \udcff", platform="p\ud83d"), task()]
    path = written(tmp_path / "rec.jsonl", logs)
    assert "\\ud800" in path.read_text(encoding="utf-8"), "escaped as JSON escapes it"
    data, warnings = fitted(path, capsys)
    assert "rec.jsonl:1: model 'gw\\ud800' holds a lone surrogate" in warnings
    assert list(data["models"]) == ["gw"] and data["models"]["gw"]["platform"] == "p\\ud83d"
    assert "blocked \\udcff" in data["fail_reasons"].values()
    said: list[str] = []
    played = replay.apply(Config(), path, warn=said.append)
    assert "gw\ud800" not in played.models and len(played.takes["gw"]) == 2
    assert any("rec.jsonl:1: model" in warning for warning in said)


def test_a_stray_line_is_skipped_with_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """One request to a scope the contract lacks (written by earlier recorders) made fit exit 2."""
    path = written(tmp_path / "rec.jsonl", [task(), task(scope="video"), task()])
    data, warnings = fitted(path, capsys)
    assert list(data["models"]) == ["gw"]
    assert (
        "skipped" in warnings and "rec.jsonl:2: scope 'video' is not one of ['images', 'videos', 'audio']" in warnings
    )
    said: list[str] = []
    assert len(replay.apply(Config(), path, warn=said.append).takes["gw"]) == 2
    assert [warning.split(": scope")[0].rpartition("/")[2] for warning in said] == ["rec.jsonl:2"]


@pytest.mark.parametrize("alias", ["veo3-fast", "sora-2-pro"])
def test_models_named_as_embedded_aliases_play_their_fitted_profile(
    alias: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The embedded alias was looked up after the model of its name, and won: the fitted profile never played."""
    path = written(tmp_path / "rec.jsonl", [task(alias, run=7.0) for _ in range(3)])
    data, _ = fitted(path, capsys)
    for config in (config_from(data), replay.apply(Config(), path)):
        catalog = resolve(config)
        played = catalog.profile_for("videos", alias)
        assert catalog.names[played] == alias and catalog.profiles[played].run == Timing("fixed", 7.5)
    replayed = resolve(replay.apply(Config(), path))
    assert replayed.takes[replayed.profile_for("videos", alias)][0].run == 7.5, (
        "entered halfway between the polls around it"
    )


def test_more_models_than_a_config_holds_keep_the_most_recorded(capsys: pytest.CaptureFixture[str]) -> None:
    """70,000 models made a config --config refuses (at most 65,533): fit ended in an AssertionError."""
    line = task("m").line()
    lines = [{**line, "model": f"m{n}"} for n in range(70_000)] + [{**line, "model": "m69999"}]
    result = fit.fit(lines)
    room = MAX_MODELS - len(MODELS)
    assert len(result.models) == room and "m69999" in result.models, "the model recorded twice is kept"
    said = f"models: 70000 seen, a config holds {room} besides the embedded ones; the {70_000 - room} least recorded"
    assert result.left_out == [f"{said} ({70_000 - room} lines) are left out"]
    check_references(from_dict({"models": result.models, "fail_reasons": result.fail_reasons}))
