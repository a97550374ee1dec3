"""``mockserver --replay``: each recorded lifecycle played as seen, scaled, cycling; and the whole loop end to end."""

from __future__ import annotations

import asyncio
import json
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from contract_tests.client import AsyncClient, Policy
from mockserver import Config, contract, create_app
from mockserver.engine.config import config_from
from mockserver.recording import fit
from mockserver.recording.replay import apply, take
from tests.helpers.processes import HEADERS, KEY, command, recording, serving, stop

pytestmark = [pytest.mark.slow, pytest.mark.processes]

START = 1_756_693_797.0


def recorded(statuses: list[tuple[str, float, float]], ended: str, **extra: Any) -> dict[str, Any]:
    line = {"version": 1, "scope": "videos", "model": "gw-video", "mode": "text-to-video", "submitted_at": 1.7e9}
    line |= {"submit": {"status": 200}, "statuses": [{"status": s, "first": a, "last": b} for s, a, b in statuses]}
    line |= {"progress": extra.pop("progress", []), "ended": ended, "polls": 9, "errors": [], "latency": {}}
    return line | extra


# Three tasks of one gateway: a skipped lifecycle, progress that jumps, a failure with the gateway's own words.
LINES = [
    recorded([("NOT_START", 0.5, 9.5), ("SUCCESS", 10.5, 10.5)], "SUCCESS", outputs={"form": "output", "count": 1}),
    recorded(
        [("SUBMITTED", 0.5, 1.5), ("QUEUED", 2.5, 3.5), ("IN_PROGRESS", 4.5, 19.5), ("SUCCESS", 20.5, 20.5)],
        "SUCCESS",
        progress=[[4.5, 0], [10.5, 70], [19.5, 70]],
        outputs={"form": "outputs", "count": 3, "media": []},
    ),
    recorded([("IN_PROGRESS", 0.5, 5.5), ("FAILURE", 6.5, 6.5)], "FAILURE", fail_reason="SAFETY.INPUT.TEXT: refused"),
]
for line in LINES:
    line["outputs"] = {"media": [], **line["outputs"]} if "outputs" in line else None
    line.pop("outputs") if line["outputs"] is None else None


@pytest.fixture
def recording_file(tmp_path: Path) -> Path:
    path = tmp_path / "rec.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in LINES))
    return path


def play(path: Path, scale: float = 1.0) -> tuple[TestClient, list[float]]:
    now = [START]
    app = create_app(apply(Config(time_scale=scale, seed=3), path), clock=lambda: now[0])
    return TestClient(app), now


def seen(client: TestClient, now: list[float], task_id: str, times: list[float]) -> list[tuple[str, str]]:
    found = []
    for at in times:
        now[0] = START + at
        task = client.get(f"/v2/videos/generations/{task_id}", headers=HEADERS).json()
        found.append((task["status"], task["progress"]))
    return found


def submit(client: TestClient, headers: dict[str, str] | None = None) -> str:
    answer = client.post(
        "/v2/videos/generations", json={"model": "gw-video", "prompt": "x"}, headers=headers or HEADERS
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["task_id"]


def test_each_recorded_lifecycle_plays_as_seen_in_recorded_order(recording_file: Path) -> None:
    client, now = play(recording_file)
    with client:
        ids = [submit(client) for _ in range(4)]
        assert seen(client, now, ids[0], [0, 9, 10.1]) == [
            ("NOT_START", "0%"),
            ("NOT_START", "0%"),
            ("SUCCESS", "100%"),
        ]
        middle = seen(client, now, ids[1], [0, 2, 3.5, 5, 9.9, 12, 20.6])
        assert middle == [
            ("SUBMITTED", "0%"),
            ("QUEUED", "0%"),  # each change halfway between the polls around it: QUEUED from 2.0
            ("QUEUED", "0%"),
            ("IN_PROGRESS", "0%"),  # from 4.0
            ("IN_PROGRESS", "0%"),
            ("IN_PROGRESS", "70%"),  # shown at 10.5
            ("SUCCESS", "100%"),  # from 20.0
        ]
        task = client.get(f"/v2/videos/generations/{ids[1]}", headers=HEADERS).json()
        assert len(task["data"]["outputs"]) == 3 and contract.is_valid("task", task)
        assert client.get(task["data"]["outputs"][2]).status_code == 200
        now[0] = START + 7
        failed = client.get(f"/v2/videos/generations/{ids[2]}", headers=HEADERS).json()
        assert (failed["status"], failed["fail_reason"]) == ("FAILURE", "SAFETY.INPUT.TEXT: refused")
        assert seen(client, now, ids[3], [9, 10.1])[-1] == ("SUCCESS", "100%"), "the fourth task plays the first again"
        records = [client.app.state.service.backend.local.get(task_id) for task_id in ids]
        assert [r.take for r in records] == [0, 1, 2, 0], "each record carries the lifecycle it plays"


def test_a_task_seen_running_from_its_first_instant_plays_its_whole_run() -> None:
    """IN_PROGRESS entered at 0.0 is a start like any other: it was read as "never seen running" (0.0 is falsy),
    which replayed the task as a run of no length, SUCCESS at once after 6 s of nothing."""
    line = recorded([("IN_PROGRESS", 0.0, 5.5), ("SUCCESS", 6.5, 6.5)], "SUCCESS", progress=[[0.0, 0], [5.5, 50]])
    played = take(line, fit.summary(line))
    assert played is not None and (played.queue, played.run) == (0.0, 6.0)


def test_the_time_scale_divides_the_recorded_times(recording_file: Path) -> None:
    client, now = play(recording_file, scale=10)
    with client:
        task_id = submit(client)
        assert seen(client, now, task_id, [0.9, 1.1]) == [("NOT_START", "0%"), ("SUCCESS", "100%")]


def test_a_scenario_still_chooses_over_the_recording(recording_file: Path) -> None:
    client, now = play(recording_file)
    with client:
        task_id = submit(client, {**HEADERS, "X-Mock-Scenario": "fail-quota"})
        assert client.app.state.service.backend.local.get(task_id).take == -1
        now[0] = START + 10_000
        task = client.get(f"/v2/videos/generations/{task_id}", headers=HEADERS).json()
        assert task["status"] == "FAILURE" and "quota" in task["fail_reason"]


def test_another_worker_rebuilds_the_same_replayed_lifecycle_from_the_id(recording_file: Path) -> None:
    first, now = play(recording_file)
    second = TestClient(create_app(apply(Config(time_scale=1.0, seed=3), recording_file), clock=lambda: now[0]))
    with first, second:
        task_id = [submit(first) for _ in range(2)][1]
        times = [0, 2, 3.5, 9.9, 12, 20.6]
        assert seen(first, now, task_id, times) == seen(second, now, task_id, times)


def test_a_bad_recording_or_option_exits_2_naming_it(recording_file: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.jsonl"
    broken.write_text(recording_file.read_text().replace('"polls": 9', '"polls": "nine"', 1))
    cases = [
        ([str(broken)], "--replay: " + str(broken) + ":1: polls: 'nine' is not of type 'integer'"),
        ([str(tmp_path / "none.jsonl")], "none.jsonl: No such file"),
        ([""], "--replay: "),
    ]
    for argv, said in cases:
        done = subprocess.run(command("--replay", *argv), check=False, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and said in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_record_fit_replay_end_to_end_against_the_mock(tmp_path: Path) -> None:
    """The README's loop: the mock stands in for a gateway, recorded, fitted, and played back both ways."""
    out, fitted = tmp_path / "rec.jsonl", tmp_path / "fitted.toml"
    policy = Policy(poll_initial=0.05, poll_max=0.05, timeout=60, jitter=0)

    async def walk(client: AsyncClient) -> dict[str, Any]:
        return await client.wait("videos", await client.submit("videos", {"model": "sora-2", "prompt": "x"}))

    async def walks(url: str, count: int) -> list[dict[str, Any]]:
        async with AsyncClient(url, KEY, policy=policy) as client:
            return list(await asyncio.gather(*(walk(client) for _ in range(count))))

    with serving("--time-scale", "300", "--seed", "5") as (gateway, _), recording(gateway, out) as (proxy, recorder):
        asyncio.run(walks(proxy, 24))
        stop(recorder)
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 24 and all(line["ended"] for line in lines)
    done = subprocess.run(command("fit", str(out), "--out", str(fitted)), check=False, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    run = config_from(tomllib.loads(fitted.read_text())).models["sora-2"].run
    low, high = (run.location, run.scale) if run.kind == "uniform" else (run.low, run.high)
    slack = 2 * policy.poll_max  # a change is seen between two polls
    assert 60 / 300 - slack <= low <= high <= 600 / 300 + slack, "sora-2 runs 60 to 600 s, here 300 times faster"
    for argv in (("--config", str(fitted)), ("--replay", str(out))):
        with serving(*argv, "--seed", "5") as (url, _):
            tasks = asyncio.run(walks(url, 3))
            assert httpx.get(tasks[0]["data"]["output"]).headers["content-type"] == "video/mp4"
        assert [(t["status"], t["platform"]) for t in tasks] == [("SUCCESS", "openai")] * 3
