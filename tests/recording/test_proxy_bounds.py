"""``mockserver record`` as a proxy a client cannot stall, crash, blow up or aim: bounds on every value it meets.

The gateway here is a small ASGI app that answers as each test needs (raw header bytes, deep JSON, a
link that never answers, a 64 MB answer) and notes what reached it, served over real sockets where the
connection pools matter and in process where they do not.
"""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import tempfile
import threading
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mockserver import Config
from mockserver.contract.recording import Writer
from mockserver.recording import record
from mockserver.testing import await_url
from mockserver.testing import serving as serving_app
from tests.helpers.processes import HEADERS, command, serving, stop

pytestmark = [pytest.mark.slow, pytest.mark.processes]

Answer = tuple[int, list[tuple[bytes, bytes]], AsyncIterator[bytes]]
JSON = [(b"content-type", b"application/json")]


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


class Gateway:
    """A gateway under the base path ``/gw``: notes each request (method, raw path, Authorization, body size)
    and answers through ``answer``, by default a task id to a submit and a SUCCESS with one link to a poll."""

    def __init__(self, answer: Callable[[Scope], Awaitable[Answer]] | None = None) -> None:
        self.seen: list[tuple[str, bytes, bytes | None, int]] = []
        self.answer = answer or self.plain
        self.url = "http://gateway.test"

    async def plain(self, scope: Scope) -> Answer:
        if scope["method"] == "POST":
            return 200, JSON, chunks(b'{"task_id": "t-%d"}' % len(self.seen))
        task = {"task_id": "t", "status": "SUCCESS", "progress": "100%", "data": {"output": f"{self.url}/gw/f/a.png"}}
        return 200, JSON, chunks(json.dumps(task).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        size, more = 0, True
        while more:
            message = await receive()
            size, more = size + len(message.get("body", b"")), message.get("more_body", False)
        self.seen.append((scope["method"], scope["raw_path"], dict(scope["headers"]).get(b"authorization"), size))
        status, headers, body = await self.answer(scope)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        async for part in body:
            await send({"type": "http.response.body", "body": part, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def in_process(gateway: Gateway, out: Path, **options: Any) -> record.Recorder:
    upstream = httpx.AsyncClient(transport=httpx.ASGITransport(app=gateway))
    recorder = record.Recorder(f"{gateway.url}/gw", Writer(out), http=upstream, **options)
    recorder.probes = upstream
    return recorder


def through(recorder: record.Recorder, walk: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> Any:
    """``walk`` a client through the recorder in process; the recorder is stopped after, as a stop does."""

    async def run() -> Any:
        transport = httpx.ASGITransport(app=record.create_app(recorder))
        async with httpx.AsyncClient(transport=transport, base_url="http://recorder.test", headers=HEADERS) as http:
            try:
                return await walk(http)
            finally:
                await recorder.close()

    return asyncio.run(run())


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_slow_output_probes_never_hold_an_ordinary_submit(tmp_path: Path) -> None:
    """100 tasks whose links never answer took every connection of the one pool: a submit then got no answer."""
    release, entered, held = threading.Event(), threading.Event(), []

    async def answer(scope: Scope) -> Answer:
        if scope["raw_path"] == b"/gw/slow.mp4":
            held.append(scope)
            if len(held) == 100:
                entered.set()
            await asyncio.get_running_loop().run_in_executor(None, release.wait)
            return 206, [(b"content-type", b"video/mp4")], chunks(b"x")
        if scope["method"] == "POST":
            return 200, JSON, chunks(b'{"task_id": "t-%d"}' % len(gateway.seen))
        done = {"status": "SUCCESS", "data": {"output": f"{gateway.url}/gw/slow.mp4"}}
        return 200, JSON, chunks(json.dumps(done).encode())

    gateway = Gateway(answer)
    with serving_app(gateway) as url:
        gateway.url = url
        recorder = record.Recorder(f"{url}/gw", Writer(tmp_path / "rec.jsonl"))
        try:
            with serving_app(record.create_app(recorder)) as proxy, httpx.Client(base_url=proxy, timeout=10) as http:
                for _ in range(100):
                    task_id = http.post("/v2/videos/generations", json={"model": "m"}).json()["task_id"]
                    assert http.get(f"/v2/videos/generations/{task_id}").status_code == 200
                assert entered.wait(30), "the recorder probes each task's link"
                answer = http.post("/v2/videos/generations", json={"model": "m", "prompt": "x"})
                assert answer.status_code == 200, "answered while 100 probes wait on their links"
                release.set()
        finally:
            release.set()
    assert len(lines(tmp_path / "rec.jsonl")) == 101


def test_paths_go_through_byte_for_byte_and_only_the_contracts_routes_reach_the_gateway(tmp_path: Path) -> None:
    """The path was decoded, so ..%2F..%2Fadmin left the base path, and every path carried the real key."""
    gateway = Gateway()
    with serving_app(gateway) as url:
        gateway.url = url
        recorder = record.Recorder(f"{url}/gw", Writer(tmp_path / "rec.jsonl"), key="sk-real", probe=False)
        with serving_app(record.create_app(recorder)) as proxy, httpx.Client(base_url=proxy, headers=HEADERS) as http:
            task_id = http.post("/v2/videos/generations", json={"model": "m"}).json()["task_id"]
            assert http.get(f"/v2/videos/generations/{task_id}").status_code == 200
            assert http.get("/v2/videos/generations/..%2F..%2Fadmin").status_code == 200
            assert http.get("/f/a.png").status_code == 200, "an output link a task answer named"
            refused = [
                http.post("/admin/keys/revoke-all?confirm=yes"),
                http.get("/v1/models"),
                http.get("/f/b.png"),
                http.post("/v2/video/generations", json={"model": "m"}),
                http.delete(f"/v2/videos/generations/{task_id}"),
            ]
            assert [answer.status_code for answer in refused] == [404, 404, 404, 404, 405]
            assert all(answer.json()["error"]["type"] for answer in refused)
            host, port = proxy.removeprefix("http://").split(":")
            with socket.create_connection((host, int(port))) as raw:  # as curl --path-as-is sends it
                raw.sendall(
                    b"GET /v2/videos/generations/../../../admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                assert raw.recv(64).startswith(b"HTTP/1.1 404 ")
    assert [(method, path) for method, path, _, _ in gateway.seen] == [
        ("POST", b"/gw/v2/videos/generations"),
        ("GET", f"/gw/v2/videos/generations/{task_id}".encode()),
        ("GET", b"/gw/v2/videos/generations/..%2F..%2Fadmin"),
        ("GET", b"/gw/f/a.png"),
    ]
    assert {key for _, _, key, _ in gateway.seen} == {b"Bearer sk-real"}


@pytest.mark.parametrize("odd", ["header", "deep json"])
def test_an_answer_with_a_non_latin1_header_or_deep_json_passes_through(odd: str, tmp_path: Path) -> None:
    """The task was created and paid for upstream; the recorder answered 500 for a header or a body it could
    not read itself."""
    note = (b"x-note", "任务已创建".encode() if odd == "header" else b"plain")
    deep = b"[" * 100_000 + b"]" * 100_000 if odd == "deep json" else b'{"status": "QUEUED"}'

    async def answer(scope: Scope) -> Answer:
        if scope["method"] == "POST":
            return 200, [*JSON, note], chunks(b'{"task_id": "t-1"}')
        return 200, [*JSON, note], chunks(deep[:50_000], deep[50_000:])

    out = tmp_path / "rec.jsonl"

    async def walk(http: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        submitted = await http.post("/v2/videos/generations", json={"model": "m"})
        return submitted, await http.get("/v2/videos/generations/t-1")

    for answered in through(in_process(Gateway(answer), out), walk):
        assert answered.status_code == 200 and answered.headers.raw[-1] == note
    assert answered.content == deep
    (line,) = lines(out)
    assert line["task_id"] == "t-1" and line["polls"] == 1
    assert [s["status"] for s in line["statuses"]] == ([] if odd == "deep json" else ["QUEUED"])


def test_an_out_that_cannot_be_written_is_said_on_stderr_and_the_answer_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--out /dev/full turned the gateway's answer into a 500."""

    async def answer(scope: Scope) -> Answer:
        return 429, [*JSON, (b"retry-after", b"3")], chunks(b'{"error": {"message": "slow down"}}')

    recorder = in_process(Gateway(answer), Path("/dev/full"))

    async def walk(http: httpx.AsyncClient) -> httpx.Response:
        return await http.post("/v2/videos/generations", json={"model": "m"})

    answered = through(recorder, walk)
    assert answered.status_code == 429 and answered.json() == {"error": {"message": "slow down"}}
    assert "recorder: cannot write to /dev/full: No space left on device" in capsys.readouterr().err


def test_a_submit_body_past_the_mocks_limit_is_refused_and_never_sent(tmp_path: Path) -> None:
    """A 500 MB body went upstream in full; the recorder now refuses past the mock's own limit, as it does."""
    gateway = Gateway()
    limit = Config().max_body_bytes

    async def body() -> AsyncIterator[bytes]:
        for _ in range(limit // 65536 + 2):
            yield b" " * 65536

    async def walk(http: httpx.AsyncClient) -> list[httpx.Response]:
        said = await http.post("/v2/videos/generations", content=b"x" * (limit + 1), headers=JSON)
        streamed = await http.post("/v2/videos/generations", content=body(), headers=JSON)
        fits = await http.post("/v2/videos/generations", json={"model": "m", "prompt": " " * (limit - 100)})
        return [said, streamed, fits]

    answers = through(in_process(gateway, tmp_path / "rec.jsonl", probe=False), walk)
    assert [a.status_code for a in answers] == [413, 413, 200]
    assert answers[0].json()["error"]["code"] == answers[1].json()["error"]["code"] == "request_too_large"
    assert [size for _, _, _, size in gateway.seen] == [limit - 100 + len('{"model":"m","prompt":""}')]


def test_answers_stream_through_in_memory_bounded_by_the_limit_not_the_answer(tmp_path: Path) -> None:
    """A 300 MB answer took 941 MB: the whole body was read before a byte went on. Here 64 MB stream through,
    a poll's and a download's, while Python's memory (recorder and gateway) stays within the most the recorder
    keeps of an answer to read it (the mock's body limit, 10 MB) and a few chunks in flight."""
    size = 64 * 1024 * 1024
    part = b"0" * (1024 * 1024)

    async def answer(scope: Scope) -> Answer:
        if scope["method"] == "POST":
            return 200, JSON, chunks(b'{"task_id": "t-1"}')
        if scope["raw_path"] == b"/gw/v2/videos/generations/t-1":
            done = {"status": "SUCCESS", "data": {"output": f"{gateway.url}/gw/big.mp4"}}
            return 200, JSON, chunks(json.dumps(done).encode())
        return 200, [(b"content-length", str(size).encode())], chunks(*[part] * (size // len(part)))

    gateway = Gateway(answer)
    with serving_app(gateway) as url:
        gateway.url = url
        recorder = record.Recorder(f"{url}/gw", Writer(tmp_path / "rec.jsonl"), probe=False)
        with serving_app(record.create_app(recorder)) as proxy, httpx.Client(base_url=proxy, headers=HEADERS) as http:
            assert http.post("/v2/videos/generations", json={"model": "m"}).status_code == 200
            assert http.get("/v2/videos/generations/t-1").status_code == 200
            tracemalloc.start()
            try:
                for path in ("/v2/videos/generations/t-2", "/big.mp4"):
                    with http.stream("GET", path) as streamed:
                        assert streamed.status_code == 200
                        assert sum(len(chunk) for chunk in streamed.iter_raw()) == size
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
    assert peak < Config().max_body_bytes + 12 * len(part) < size / 2, f"{peak / 2**20:.1f} MB at the peak"


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_stops_the_recorder_as_ctrl_c_does(sig: int, tmp_path: Path) -> None:
    """SIGTERM ended the recorder with status 143 and no word; now both write the open lines, say so, exit 0."""
    out = tmp_path / "rec.jsonl"
    with serving("--seed", "7") as (upstream, _), tempfile.TemporaryDirectory() as logs:
        log = Path(logs) / "recorder.log"
        with log.open("wb") as sink:
            argv = command("record", "--upstream", upstream, "--out", str(out), "--port", "0", "--log-level", "info")
            recorder = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proxy = await_url(log, recorder)
            headers = {**HEADERS, "X-Mock-Scenario": "stuck"}
            answer = httpx.post(
                f"{proxy}/v2/videos/generations", json={"model": "veo3", "prompt": "x"}, headers=headers
            )
            assert answer.status_code == 200
        finally:
            stop(recorder, sig)
        said = log.read_text()
    assert recorder.returncode == 0, said
    assert f"recorder stopped; lines are in {out}" in said
    (line,) = lines(out)
    assert line["task_id"] == answer.json()["task_id"] and line["ended"] is None


def test_lone_surrogates_from_client_or_gateway_are_written_escaped_and_no_open_line_is_lost(tmp_path: Path) -> None:
    """A model sent as "\\ud800", or a fail_reason as "\\udcff", crashed the writer at stop: every open line
    was lost with it."""

    async def answer(scope: Scope) -> Answer:
        if scope["method"] == "POST":
            return 200, JSON, chunks(b'{"task_id": "t-%d"}' % len(gateway.seen))
        failed = b'{"status": "FAILURE", "fail_reason": "refused \\udcff"}'  # as JSON escapes it
        return 200, JSON, chunks(failed if scope["raw_path"].endswith(b"t-1") else b'{"status": "IN_PROGRESS"}')

    gateway, out = Gateway(answer), tmp_path / "rec.jsonl"

    async def walk(http: httpx.AsyncClient) -> None:
        for model in (b'"gw"', b'"gw\\ud800"', b'"other"'):
            answered = await http.post("/v2/videos/generations", content=b'{"model": %s}' % model, headers=JSON)
            assert (await http.get(f"/v2/videos/generations/{answered.json()['task_id']}")).status_code == 200

    through(in_process(gateway, out), walk)
    text = out.read_text(encoding="utf-8")
    assert "refused \\udcff" in text and "gw\\ud800" in text
    found = {line["task_id"]: line for line in lines(out)}
    assert found["t-1"]["fail_reason"] == "refused \udcff" and found["t-3"]["model"] == "gw\ud800"
    assert found["t-5"]["ended"] is None, "the tasks still open are written at the stop"
