"""``mockserver record``: a proxy in front of a gateway (the mock here) writing one whole line per task."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from contract_tests.client import Client, Policy
from mockserver import Config, contract, create_app
from mockserver.contract.recording import MOST_KEPT, RecordingError, TaskLog, Writer, read
from mockserver.recording import record
from mockserver.testing import free_port
from tests.helpers.fakeclock import Clock
from tests.helpers.processes import HEADERS, KEY, command, recording, serving, stop

pytestmark = [pytest.mark.slow, pytest.mark.processes]

FAST = ("--time-scale", "200", "--seed", "7")
POLICY = Policy(poll_initial=0.02, poll_max=0.05, timeout=60, jitter=0)
PROMPT = "a secret prompt about a surfing cat"


def lines(path: Path) -> list[dict]:
    text = path.read_text()
    assert text.endswith("\n"), "the recording ends inside a line"
    found = [json.loads(line) for line in text.splitlines()]
    for line in found:
        assert contract.errors("recording", line, settings=True) == [], line
    return found


def run(url: str, scope: str, model: str, scenario: str | None = None) -> dict:
    headers = {"X-Mock-Scenario": scenario} if scenario else {}
    with Client(url, KEY, http=httpx.Client(headers=headers), policy=POLICY) as client:
        task_id = client.submit(scope, {"model": model, "prompt": PROMPT})
        return client.wait(scope, task_id)


def test_each_task_is_a_line_with_its_statuses_outputs_and_failures(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    with serving(*FAST) as (upstream, _), recording(upstream, out) as (proxy, recorder):
        done = [run(proxy, "videos", "veo3"), run(proxy, "audio", "suno-v4"), run(proxy, "images", "flux-dev")]
        failed = run(proxy, "videos", "sora-2", "fail-quota")
        assert [t["status"] for t in done] == ["SUCCESS"] * 3 and failed["status"] == "FAILURE"
        stop(recorder)  # the last task's line may still wait for its outputs' first bytes: stopping writes it
    found = {line["model"]: line for line in lines(out)}
    assert sorted(found) == ["flux-dev", "sora-2", "suno-v4", "veo3"]
    veo = found["veo3"]
    assert (veo["scope"], veo["mode"], veo["ended"], veo["platform"]) == (
        "videos",
        "text-to-video",
        "SUCCESS",
        "google",
    )
    assert veo["task_id"] == done[0]["task_id"]
    assert [s["status"] for s in veo["statuses"]][-2:] == ["IN_PROGRESS", "SUCCESS"]
    assert all(a["last"] <= b["first"] for a, b in zip(veo["statuses"], veo["statuses"][1:]))
    assert veo["polls"] >= len(veo["statuses"]) and veo["latency"]["poll"]["count"] == veo["polls"]
    assert veo["outputs"]["form"] == "output" and veo["outputs"]["media"][0]["type"] == "video/mp4"
    assert veo["outputs"]["media"][0]["size"] > 1000
    assert veo["link_ttl"] == pytest.approx(2 * 86400 / 200, abs=2), "veo3 links last two days, at 200x"
    suno = found["suno-v4"]
    assert suno["outputs"]["form"] == "outputs" and suno["outputs"]["count"] == 2
    assert {m["type"] for m in suno["outputs"]["media"]} == {"audio/wav"}
    assert not [p for _, p in found["flux-dev"]["progress"] if p % 5], "flux-dev's progress moves in steps of 5"
    sora = found["sora-2"]
    assert sora["ended"] == "FAILURE" and sora["fail_reason"] == failed["fail_reason"] and "outputs" not in sora
    text = out.read_text()
    assert KEY not in text and PROMPT not in text, "keys and prompts are never written"


def test_prompts_are_written_only_when_asked_and_the_key_is_sent_upstream_for_the_client(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    extra = ("--keep-prompts", "--key", "sk-upstream")
    with serving(*FAST, "--key", "sk-upstream") as (upstream, _), recording(upstream, out, *extra) as (proxy, recorder):
        with httpx.Client(base_url=proxy, headers={"Authorization": "Bearer anything"}) as http:
            answer = http.post("/v2/images/generations", json={"model": "gpt-image-1", "prompt": PROMPT})
            assert answer.status_code == 200, answer.text
        stop(recorder)
    (line,) = lines(out)
    assert line["prompt"] == PROMPT and line["ended"] is None
    assert "sk-upstream" not in out.read_text()


def test_rate_limits_and_server_errors_are_recorded_with_retry_after(tmp_path: Path) -> None:
    config = tmp_path / "flaky.toml"
    config.write_text("[faults]\nsubmit_429 = 0.3\npoll_503 = 0.2\nretry_after = 3\n")
    out = tmp_path / "rec.jsonl"
    with serving(*FAST, "--config", str(config)) as (upstream, _), recording(upstream, out) as (proxy, recorder):
        with httpx.Client(base_url=proxy, headers={**HEADERS, "X-Mock-Scenario": "stuck"}) as http:
            ids = []
            for _ in range(12):
                answer = http.post("/v2/images/generations", json={"model": "flux-dev", "prompt": "x"})
                ids += [answer.json()["task_id"]] if answer.status_code == 200 else []
            for task_id in ids:
                for _ in range(10):
                    http.get(f"/v2/images/generations/{task_id}")
        stop(recorder)
    found = lines(out)
    refused = [line for line in found if line["submit"]["status"] == 429]
    assert refused and all("task_id" not in line and line["ended"] is None for line in refused)
    met = [{**e, "at": 0} for line in refused for e in line["errors"]]
    assert met == [{"request": "submit", "at": 0, "status": 429, "retry_after": "3"}] * len(refused)
    met = [e for line in found for e in line["errors"] if e["request"] == "poll"]
    assert met and all(e["status"] == 503 and e["retry_after"] == "3" for e in met)
    assert sorted(line["polls"] for line in found if "task_id" in line) == [10] * len(ids), (
        "polls are counted, errors too"
    )


def test_an_unreachable_upstream_is_a_json_502_and_the_recorder_stays_up(tmp_path: Path) -> None:
    out = tmp_path / "rec.jsonl"
    with recording(f"http://127.0.0.1:{free_port()}", out) as (proxy, recorder):
        with httpx.Client(base_url=proxy, headers=HEADERS) as http:
            answer = http.get("/v2/videos/generations/x")
            assert answer.status_code == 502 and answer.json()["error"]["code"] == "upstream_unreachable"
            answer = http.post("/v2/videos/generations", json={"model": "veo3", "prompt": "x"})
            assert answer.status_code == 502 and contract.is_valid("error", answer.json())
        assert recorder.poll() is None
        stop(recorder)
    (line,) = lines(out)
    assert line["submit"]["status"] is None and line["errors"][0]["status"] is None


def test_past_max_open_the_task_heard_of_longest_ago_is_written_out_unfinished(tmp_path: Path) -> None:
    """A client that submits and never polls, or a gateway whose tasks hang, cannot grow the recorder without
    bound: it follows ``max_open`` tasks at most, and one polled lately stays followed."""
    out, gateway = tmp_path / "rec.jsonl", create_app(Config(), clock=Clock())
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway))
    recorder = record.Recorder("http://gateway.test", Writer(out), probe=False, max_open=10, http=upstream)
    stuck = {**HEADERS, "X-Mock-Scenario": "stuck"}

    async def scenario() -> tuple[str, list[str], list[int]]:
        proxy = httpx.ASGITransport(app=record.create_app(recorder))
        async with httpx.AsyncClient(transport=proxy, base_url="http://recorder.test", headers=stuck) as http:

            async def submit() -> str:
                answer = await http.post("/v2/videos/generations", json={"model": "veo3", "prompt": "x"})
                return answer.json()["task_id"]

            polled, ids, followed = await submit(), [], []
            for _ in range(100):
                ids.append(await submit())
                assert (await http.get(f"/v2/videos/generations/{polled}")).status_code == 200
                followed.append(len(recorder.open))
        await recorder.close()  # as a stop does: the tasks still followed are written too
        return polled, ids, followed

    polled, ids, followed = asyncio.run(scenario())
    assert max(followed) == 10
    found = lines(out)
    assert [line["task_id"] for line in found[:91]] == ids[:91], "written out as they were heard of longest ago"
    assert sorted(line["task_id"] for line in found) == sorted([polled, *ids]), "each task once, none lost"
    assert [line["polls"] for line in found if line["task_id"] == polled] == [100]
    assert all(line["ended"] is None for line in found)


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_recorder_stopped_mid_run_leaves_whole_lines_only(tmp_path: Path, sig: int) -> None:
    out = tmp_path / "rec.jsonl"
    with serving(*FAST) as (upstream, _), recording(upstream, out, "--no-probe") as (proxy, recorder):
        run(proxy, "videos", "sora-2", "fail-quota")  # a failure has no outputs: its line is written as it ends
        with httpx.Client(base_url=proxy, headers={**HEADERS, "X-Mock-Scenario": "stuck"}) as http:
            stuck = [
                http.post("/v2/videos/generations", json={"model": "veo3", "prompt": "x"}).json() for _ in range(5)
            ]
            for task in stuck:
                assert http.get(f"/v2/videos/generations/{task['task_id']}").status_code == 200
        stop(recorder, sig)
    found = lines(out)
    ended = [line for line in found if line["ended"]]
    assert len(ended) == 1, "the finished task's line was written when it ended"
    if sig == signal.SIGTERM:
        still = [line for line in found if not line["ended"]]
        assert sorted(line["task_id"] for line in still) == sorted(t["task_id"] for t in stuck)
        assert all(line["statuses"][-1]["status"] in ("SUBMITTED", "QUEUED", "IN_PROGRESS") for line in still)
    else:
        assert len(found) == 1, "a killed recorder loses the open tasks' lines, never half of one"


def test_downloads_of_output_links_pass_through_unchanged_and_other_paths_are_refused(tmp_path: Path) -> None:
    with serving(*FAST) as (upstream, _), recording(upstream, tmp_path / "rec.jsonl") as (proxy, _):
        task = run(proxy, "images", "gpt-image-1")
        path = "/" + task["data"]["output"].split("/", 3)[3]
        direct, through = httpx.get(upstream + path), httpx.get(proxy + path)
        assert through.status_code == 200 and through.content == direct.content
        assert through.headers["content-type"] == direct.headers["content-type"] == "image/png"
        ranged = httpx.get(proxy + path, headers={"Range": "bytes=0-9"})
        assert ranged.status_code == 206 and ranged.content == direct.content[:10]
        refused = httpx.get(proxy + "/nothing/here")
        assert refused.status_code == 404 and "only the contract's routes" in refused.json()["error"]["message"]


@pytest.mark.parametrize(
    ("argv", "named"),
    [
        (["--upstream", "ftp://gateway", "--out", "x.jsonl"], "--upstream"),
        (["--upstream", "http://gateway", "--out", "x.jsonl", "--port", "70000"], "--port"),
        (["--upstream", "http://gateway", "--out", "x.jsonl", "--key", "two words"], "--key"),
        (["--upstream", "http://gateway", "--out", "no/such/dir/x.jsonl"], "--out"),
        (["--upstream", "http://gateway"], "--out"),
        (["--upstream", "http://gateway", "--out", "x.jsonl", "--max-open", "0"], "--max-open"),
    ],
)
def test_bad_options_exit_2_naming_the_option(argv: list[str], named: str, tmp_path: Path) -> None:
    done = subprocess.run(
        command("record", *argv), check=False, capture_output=True, text=True, cwd=tmp_path, timeout=60
    )
    assert done.returncode == 2, done
    assert named in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_reading_refuses_a_hand_edited_line_naming_it(tmp_path: Path) -> None:
    good = {"version": 1, "scope": "images", "model": "m", "mode": "text-to-image", "submitted_at": 1.0}
    good |= {"submit": {"status": 200}, "statuses": [], "progress": [], "ended": None, "polls": 0, "errors": []}
    good["latency"] = {}
    path = tmp_path / "rec.jsonl"
    bad = {**good, "polls": -1}
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n" + json.dumps(good)[:40])
    with pytest.raises(RecordingError, match=r"rec.jsonl:2: polls: -1 is less than the minimum of 0"):
        read(path)
    kept = read(path, skip_bad=True)
    assert kept.lines == [good]
    assert [w.split(": ", 1)[0].rpartition("/")[2] for w in kept.skipped] == ["rec.jsonl:2", "rec.jsonl:3"]
    assert "cut short" in kept.skipped[1]


def test_a_task_polled_for_ever_keeps_a_bounded_line_that_still_ends_with_its_last_status() -> None:
    log = TaskLog.start("videos", {"prompt": "p", "model": "veo3"}, 1_000.0)
    log.submitted(1_000.1, 0.01, 200, {}, {"task_id": "t"})
    for n in range(3 * MOST_KEPT):
        status = ("QUEUED", "IN_PROGRESS")[n % 2]  # a gateway that flips between two states
        log.polled(1_001.0 + n, 0.01, 200, {}, {"status": status, "progress": f"{n % 100}%"})
        log.polled(1_001.0 + n, 0.01, 503, {}, None)
    log.polled(1_000_000.0, 0.01, 200, {}, {"status": "SUCCESS", "data": {"output": "https://x/y.mp4"}})
    line = log.line()
    assert len(line["progress"]) == len(line["statuses"]) == len(line["errors"]) == MOST_KEPT
    assert line["statuses"][-1]["status"] == "SUCCESS" and line["ended"] == "SUCCESS"
    assert line["polls"] == 6 * MOST_KEPT + 1
    assert not contract.errors("recording", line)
