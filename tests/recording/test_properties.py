"""Property: a recorder writes only lines the schema takes, and whatever it writes, ``fit`` then ``--config``,
and ``--replay``, take or refuse naming the line and the reason; nothing crashes.

Hypothesis draws what a gateway could answer a recorder (odd text with lone surrogates and white space,
odd headers, odd numbers, alias-like names, stray scopes), feeds it through the recorder's own
``TaskLog`` and ``Writer``, and adds stray lines: hand-edits, cut lines, and lines that are no JSON.
Examples are few and small, so that the test runs in seconds in CI.
"""

from __future__ import annotations

import json
import re
import tempfile
import tomllib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from mockserver import Config, contract, create_app
from mockserver.contract.recording import RecordingError, TaskLog, Writer
from mockserver.engine.config import ConfigError, load_config
from mockserver.engine.faults import Faults
from mockserver.recording import fit, replay
from tests.helpers.processes import HEADERS

pytestmark = pytest.mark.slow

ODD = ["\ud800", "x\udcff", " ", "\t\u3000", "\ufeff", "veo3-fast", "sora-2-pro", "videos default", "²", "0" * 30]
ODD += [" " * 200 + "cut", "\n# [models.x]\n", "x" * 5000]
odd_text = st.one_of(st.sampled_from(ODD), st.text(max_size=12))
number = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["37%", "1e999%", "nan", "100", "-1%", "５０%"]),
)
headers = st.dictionaries(
    st.sampled_from(["retry-after", "content-type", "cache-control", "expires", "content-range"]),
    st.one_of(odd_text, st.sampled_from(["3", "max-age=60", "max-age=99999999999", "text/html", "bytes 0-0/9"])),
    max_size=3,
)
status = st.sampled_from([None, 200, 200, 200, 404, 429, 500, 502, 503])
task_status = st.one_of(
    st.sampled_from(["NOT_START", "SUBMITTED", "QUEUED", "IN_PROGRESS", "SUCCESS", "FAILURE"]), odd_text
)
answer = st.fixed_dictionaries(
    {"status": task_status},
    optional={
        "progress": number,
        "platform": odd_text,
        "fail_reason": st.one_of(odd_text, number),
        "submit_time": number,
        "data": st.fixed_dictionaries({}, optional={"output": odd_text, "outputs": st.lists(odd_text, max_size=3)}),
    },
)
poll = st.tuples(st.floats(min_value=0, max_value=1e6), status, headers, answer)
task = st.fixed_dictionaries(
    {
        "scope": st.one_of(st.sampled_from(["images", "videos", "audio"]), odd_text),
        "body": st.one_of(st.fixed_dictionaries({"model": odd_text}), st.none(), odd_text),
        "submit": st.tuples(status, headers, st.one_of(st.fixed_dictionaries({"task_id": odd_text}), st.none())),
        "polls": st.lists(poll, max_size=5),
        "fetched": st.lists(st.tuples(status, headers, st.one_of(st.none(), st.integers(0, 10**20))), max_size=2),
    }
)
stray = st.sampled_from(["{", "not json", "NaN", "[]", '{"version": 1}', '{"version": 1, "polls": 1e999}', "\x00", ""])


def recorded(drawn: dict[str, Any]) -> dict[str, Any]:
    """The line a recorder writes for a drawn exchange, through its own ``TaskLog``."""
    at = 1_700_000_000.0
    log = TaskLog.start(drawn["scope"], drawn["body"], at, keep_prompt=True)
    code, said, body = drawn["submit"]
    log.submitted(at + 0.1, 0.1, code, said, body)
    for step, code, said, shown in drawn["polls"]:
        at += step
        log.polled(at, 0.01, code, said, shown if code == 200 else None)
    for url in log.urls:
        for code, said, size in drawn["fetched"]:
            log.fetched(url, at + 1, 0.01, code, said, size)
    return log.line()


def named(message: str, path: Path) -> bool:
    """A refusal names the file, and the line unless none was left."""
    return bool(re.search(rf"{re.escape(str(path))}(:\d+: \S| \(|: no recording lines)", message))


# capsys is read, then emptied, within each example
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
)
@given(lines=st.lists(st.one_of(task.map(recorded), stray), min_size=1, max_size=6), skip_bad=st.booleans())
def test_fit_then_config_and_replay_take_any_recording_or_name_the_line(
    lines: list[dict[str, Any] | str], skip_bad: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    with tempfile.TemporaryDirectory() as where:
        path, out = Path(where) / "rec.jsonl", Path(where) / "fitted.toml"
        writer = Writer(path)
        for line in lines:
            if isinstance(line, dict):
                assert contract.errors("recording", line, settings=True) == [], "the recorder writes what fit reads"
                writer.write(line)
            else:  # a stray line: written as it is, newline and all
                with path.open("a", encoding="utf-8", errors="backslashreplace") as handle:
                    handle.write(line + "\n")
        writer.close()
        for line in path.read_text(encoding="utf-8").split("\n"):  # not splitlines: \x85 is text
            if line.startswith('{"version":1,'):
                json.loads(line)  # the recorder's own lines are JSON, lone surrogates escaped
        capsys.readouterr()
        try:
            fit.main([str(path), "--out", str(out), "--min-tasks", "1", *(["--skip-bad-lines"] * skip_bad)])
        except SystemExit as exc:
            said = capsys.readouterr().err
            assert exc.code == 2 and named(said, path), said
        else:
            played(load_config(out), tomllib.loads(out.read_text(encoding="utf-8")).get("models", {}))
        try:
            replayed = replay.apply(Config(), path, warn=lambda said: None)
        except (RecordingError, ConfigError) as exc:
            assert named(str(exc), path), exc
        else:
            played(replayed, replayed.takes)


def played(config: Config, models: Iterable[str]) -> None:
    """``config`` as ``mockserver`` serves it: a submit to each recorded model, polled once it must have ended,
    answers a task of the contract."""
    now, faultless = [1_700_000_000.0], replace(config, faults=Faults())  # a fitted drop or 429 plays as such
    with TestClient(create_app(faultless, clock=lambda: now[0])) as client:
        for model in models:
            scope = config.models[model].scope
            answer = client.post(f"/v2/{scope}/generations", json={"model": model, "prompt": "p"}, headers=HEADERS)
            assert answer.status_code == 200, answer.text
            now[0] += 1e8  # past any run a recording holds
            task = client.get(f"/v2/{scope}/generations/{answer.json()['task_id']}", headers=HEADERS).json()
            assert task["status"] in ("SUCCESS", "FAILURE") and contract.is_valid("task", task), task
