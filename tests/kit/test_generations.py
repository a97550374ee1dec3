"""The ``generations`` command, run as a user runs it: a child process against the mock on a free port.

Under a pseudo-terminal it draws a bar; piped it prints lines. Every exit code is provoked, and a
Ctrl-C in the middle of a download leaves nothing behind.
"""

from __future__ import annotations

import base64
import json
import os
import pty
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import anyio
import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from contract_tests.generations import body_of, parser
from contract_tests.sniff import media_kind
from mockserver.testing import RunningMock, running_mock, serving

pytestmark = pytest.mark.processes

KEY = "sk-generations-secret-value"
FAST = ["--poll-initial", "0.02", "--poll-max", "0.05"]
PROMPT = "A cat surfing in sunset, cinematic"
COMMAND = [sys.executable, "-m", "contract_tests.generations"]
# A shell without job control (as CI runs us) starts background jobs with SIGINT ignored, and children
# inherit that; a terminal's Ctrl-C reaches a command whose SIGINT is Python's own handler.
AS_IN_A_TERMINAL = [
    sys.executable,
    "-c",
    (
        "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
        "runpy.run_module('contract_tests.generations', run_name='__main__', alter_sys=True)"
    ),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[RunningMock]:
    with running_mock(time_scale=1000, keys=(KEY,)) as running:
        yield running


def generations(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*COMMAND, *args], check=False, capture_output=True, text=True, timeout=60, env=env)


def scenario_task(mock: RunningMock, scope: str, scenario: str) -> str:
    headers = {"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": scenario}
    body = {"prompt": PROMPT, "model": "veo3"}
    return httpx.post(f"{mock.url}/v2/{scope}/generations", json=body, headers=headers).json()["task_id"]


@pytest.mark.slow
def test_run_piped_saves_the_video_prints_its_path_and_plain_lines(mock: RunningMock, tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "GENERATIONS_URL": mock.url, "GENERATIONS_KEY": KEY}
    done = generations("run", "videos", "--model", "veo3", "--prompt", PROMPT, "--out", str(out), *FAST, env=env)
    assert done.returncode == 0, done.stderr
    saved = [Path(line) for line in done.stdout.splitlines()]
    assert len(saved) == 1 and saved[0].parent == out and saved[0].suffix == ".mp4"
    assert media_kind(saved[0].read_bytes()) == "video"
    assert sorted(out.iterdir()) == saved  # no temp file beside it
    assert "SUCCESS 100%" in done.stderr and "\x1b[" not in done.stderr  # lines, no terminal codes
    assert KEY not in done.stdout + done.stderr


def test_run_under_a_terminal_draws_the_bar(mock: RunningMock, tmp_path: Path) -> None:
    args = ["run", "images", "--model", "flux-dev", "--prompt", PROMPT, "--out", str(tmp_path), *FAST]
    pid, fd = pty.fork()
    if pid == 0:  # the child: stdin, stdout and stderr are the pseudo-terminal
        os.execve(sys.executable, [*COMMAND, *args, "--url", mock.url, "--key", KEY], dict(os.environ))
    shown = b""
    while True:
        ready, _, _ = select.select([fd], [], [], 30)
        if not ready:  # silent for 30 s: stop it, so that the test fails instead of hanging
            os.kill(pid, signal.SIGKILL)
            break
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            chunk = b""
        if not chunk:
            break
        shown += chunk
    _, status = os.waitpid(pid, 0)
    text = shown.decode("utf-8", "replace")
    assert os.waitstatus_to_exitcode(status) == 0, text
    assert "━" in text and "100%" in text and "SUCCESS" in text, text  # rich's bar, its percent, the state
    assert "0:00:0" in text  # the time elapsed
    assert KEY not in text
    assert [p.suffix for p in tmp_path.iterdir()] == [".png"]


def test_json_prints_the_final_task_and_the_files(mock: RunningMock, tmp_path: Path) -> None:
    args = ["run", "audio", "--model", "suno-v4", "--prompt", PROMPT, "--out", str(tmp_path), "--json"]
    done = generations(*args, "--url", mock.url, "--key", KEY, *FAST)
    assert done.returncode == 0, done.stderr
    printed = json.loads(done.stdout)
    assert printed["task"]["status"] == "SUCCESS"
    assert len(printed["files"]) == 2 and all(Path(f).is_file() for f in printed["files"])  # suno-v4: 2 outputs


@pytest.mark.slow
def test_a_failed_task_exits_1_with_its_reason(mock: RunningMock, tmp_path: Path) -> None:
    task_id = scenario_task(mock, "videos", "fail-quota")
    done = generations("wait", "videos", task_id, "--out", str(tmp_path), "--url", mock.url, "--key", KEY, *FAST)
    assert done.returncode == 1
    assert done.stdout == "" and f"{task_id} FAILURE" in done.stderr  # stdout is for saved paths only
    assert "task failed:" in done.stderr and "quota" in done.stderr.lower()
    assert list(tmp_path.iterdir()) == []
    status = generations("status", "videos", task_id, "--url", mock.url, "--key", KEY)
    assert status.returncode == 1 and status.stdout.strip() == f"{task_id} FAILURE"


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["run", "videos", "--prompt", PROMPT, "--out", "x"], "--model"),
        (["run", "films", "--model", "m", "--prompt", PROMPT, "--out", "x"], "invalid choice"),
        (["run", "videos", "--model", "veo3", "--prompt", " ", "--out", "x"], "prompt"),
        (["run", "videos", "--model", "veo3", "--prompt", PROMPT, "--aspect-ratio", "16x9", "--out", "x"], "aspect"),
        (["run", "images", "--model", "m", "--prompt", PROMPT, "--image", "no-such.png", "--out", "x"], "no-such.png"),
        (["run", "videos", "--model", "m", "--prompt", PROMPT, "--field", "novalue", "--out", "x"], "KEY=VALUE"),
        (["status", "videos", "t1", "--url", "ftp://host"], "http:// or https://"),
        (["run", "videos", "--model", "m", "--prompt", PROMPT, "--duration", "inf", "--out", "x"], "finite"),
        (["wait", "videos", "t1", "--timeout", "nan"], "finite"),
        (["wait", "videos", "t1", "--timeout", "-5"], "above 0"),
    ],
)
def test_usage_errors_exit_2_before_anything_is_sent(args: list[str], said: str) -> None:
    done = generations(*args, "--key", KEY)
    assert done.returncode == 2
    assert said in done.stderr


def test_a_task_still_running_at_the_timeout_exits_3(mock: RunningMock) -> None:
    task_id = scenario_task(mock, "videos", "stuck")
    done = generations("wait", "videos", task_id, "--timeout", "0.3", "--url", mock.url, "--key", KEY, *FAST)
    assert done.returncode == 3
    assert "not finished after 0.3 s" in done.stderr


@pytest.mark.slow
def test_an_unreachable_server_or_a_refused_key_exits_4(mock: RunningMock) -> None:
    refused = generations("status", "videos", "t1", "--url", mock.url, "--key", "sk-wrong-secret-key")
    assert refused.returncode == 4 and "refused the key (HTTP 401)" in refused.stderr
    assert "sk-wrong-secret-key" not in refused.stderr + refused.stdout
    with running_mock() as gone:
        url = gone.url
    unreachable = generations("status", "videos", "t1", "--url", url, "--key", KEY)
    assert unreachable.returncode == 4 and f"cannot reach {url}" in unreachable.stderr


class Stalling:
    """A gateway whose task succeeds at once and whose output sends one chunk, then waits to be released."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []
        self.first_chunk_sent = threading.Event()
        self.release = threading.Event()

    async def submit(self, request: Request) -> JSONResponse:
        self.bodies.append(await request.json())
        return JSONResponse({"task_id": "t1"})

    async def poll(self, request: Request) -> JSONResponse:
        output = f"{request.base_url}files/t1.png"
        return JSONResponse({"task_id": "t1", "status": "SUCCESS", "progress": "100%", "data": {"output": output}})

    async def file(self, request: Request) -> StreamingResponse:
        async def chunks() -> AsyncIterator[bytes]:
            yield b"\x89PNG\r\n\x1a\n" + b"\x00" * 1024
            self.first_chunk_sent.set()
            await anyio.to_thread.run_sync(self.release.wait)
            yield b"\x00" * 1024

        return StreamingResponse(chunks(), media_type="image/png")

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/{scope}/generations", self.submit, methods=["POST"]),
                Route("/v2/{scope}/generations/{task_id}", self.poll),
                Route("/files/{name}", self.file),
            ]
        )


def test_ctrl_c_in_the_middle_of_a_download_leaves_no_partial_file(tmp_path: Path) -> None:
    gateway = Stalling()
    image = tmp_path / "in.png"
    image.write_bytes(b"\x89PNG\r\n\x1a\nlocal")
    out = tmp_path / "out"
    child: subprocess.Popen[bytes] | None = None
    try:
        with serving(gateway.app()) as url:
            args = ["run", "images", "--model", "m", "--prompt", PROMPT, "--image", str(image), "--out", str(out)]
            command = [*AS_IN_A_TERMINAL, *args, "--url", url, "--key", KEY, *FAST]
            child = subprocess.Popen(command, stderr=subprocess.PIPE)
            assert gateway.first_chunk_sent.wait(30)
            deadline = time.monotonic() + 10
            while not list(out.glob(".*.part")) and time.monotonic() < deadline:
                threading.Event().wait(0.01)  # the child writes its temp file a moment after the chunk is sent
            assert list(out.glob(".*.part")), "the download never started writing"
            child.send_signal(signal.SIGINT)
            err = child.communicate(timeout=30)[1]
            gateway.release.set()  # before the server stops, which waits for the stalled response
    finally:
        gateway.release.set()
        if child is not None and child.poll() is None:  # Ctrl-C never took: fail below, leave no process
            child.kill()
            child.wait()
    assert child is not None and child.returncode == 130, err
    assert b"interrupted" in err
    assert list(out.iterdir()) == []
    sent = gateway.bodies[0]["images"][0]
    assert sent == "data:image/png;base64," + base64.b64encode(image.read_bytes()).decode()  # a local file, inline


def test_the_key_defaults_to_the_mocks_and_the_script_is_installed(tmp_path: Path) -> None:
    """The spec's example against a mock started with its defaults needs no key: only where it listens."""
    scripts = [e.value for e in entry_points(group="console_scripts") if e.name == "generations"]
    assert scripts == ["contract_tests.generations:main"]
    env = {k: v for k, v in os.environ.items() if k != "GENERATIONS_KEY"}
    with running_mock(time_scale=1000) as default:
        env["GENERATIONS_URL"] = default.url
        args = ["run", "videos", "--model", "veo3", "--prompt", PROMPT, "--out", str(tmp_path), *FAST]
        done = generations(*args, env=env)
    assert done.returncode == 0, done.stderr
    assert [p.suffix for p in tmp_path.iterdir()] == [".mp4"]


def test_flags_make_the_body_the_spec_describes() -> None:
    args = ["run", "videos", "--model", "veo3", "--prompt", PROMPT, "--duration", "5", "--aspect-ratio", "16:9"]
    args += ["--watermark", "--video", "https://cdn.example/in.mp4", "--field", "seed=42", "--field", "x=NaN"]
    args += ["--field", 'tags=["a"]', "--field", "style=anime", "--out", "out"]
    assert body_of(parser().parse_args(args)) == {
        "prompt": PROMPT,
        "model": "veo3",
        "duration": 5,  # an int, as the spec shows
        "aspect_ratio": "16:9",
        "watermark": True,
        "videos": ["https://cdn.example/in.mp4"],
        "seed": 42,  # JSON where it parses
        "x": "NaN",  # not JSON on the wire, so kept as text
        "tags": ["a"],
        "style": "anime",
    }
