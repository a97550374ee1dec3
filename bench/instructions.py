"""Instructions per request, counted by callgrind: what the mock's own code costs, free of the machine's noise.

Usage: ``python bench/instructions.py [--only WORD]`` (needs valgrind: ``apt-get install -y valgrind``; about
three minutes). ``--only download`` counts only the cases with that word, and writes nothing down.

req/s on a shared 2-core machine moves by several points from run to run, more than the few points an
option such as ``--metrics`` costs. The number of instructions a request executes hardly moves at all.
Each case runs in-process, the ASGI app called directly with no server, under callgrind twice: once
for 1,000 requests and once for 3,000. The difference over the 2,000 extra requests is the cost of one,
with start-up and imports taken out. A server adds its own share to every request (about 100,000
instructions under uvicorn), so the shares printed here are upper bounds on what a real server loses.
A download fetches a finished video's link already fetched once, so its file is made before counting;
its mock reads a Python clock (``Later``), a call the bare route does not pay.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import io
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import results
from starlette.types import ASGIApp

HERE = Path(__file__).resolve().parent
SMALL, LARGE = 1_000, 3_000
BODY = b'{"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}'
CASES = {  # name: (app, route)
    "raw poll": ("raw", "poll"),
    "bare poll": ("bare", "poll"),
    "mock poll": ("mock", "poll"),
    "mock poll, --metrics": ("metrics", "poll"),
    "mock poll, access log": ("logged", "poll"),
    "raw submit": ("raw", "submit"),
    "bare submit": ("bare", "submit"),
    "mock submit": ("mock", "submit"),
    "mock submit, --metrics": ("metrics", "submit"),
    "bare download": ("bare", "download"),
    "mock download": ("mock", "download"),
}
MEDIA = "BENCH_MEDIA_FILE"  # the video bare.py serves: the mock's own, written by the parent
VIDEO = b'{"prompt": "p", "model": "veo3", "duration": 5, "aspect_ratio": "16:9"}'  # as bench/run.py's


class Later:
    """The clock of the download cases' mock: a fixed time, moved on past the task's end once it is submitted.

    With a fixed secret too, each run makes the same task id, so the same colour of video: a colour is
    another file, and its one render under callgrind moved the count a request by a thousand.
    """

    def __init__(self) -> None:
        self.now = 1_765_000_000.0

    def __call__(self) -> float:
        return self.now


def app_for(kind: str, clock: Later | None = None) -> ASGIApp:
    if kind in ("bare", "raw"):  # the yardsticks: a bare Starlette route, a raw ASGI app
        sys.path.insert(0, str(HERE))
        return importlib.import_module(kind).app
    from dataclasses import replace

    from mockserver import Config, create_app
    from mockserver.http.access_log import AccessLog

    secret = None if clock is None else b"bench/instructions.py"  # a download's: see ``Later``
    app = create_app(replace(Config(), metrics=kind == "metrics"), clock=clock, secret=secret)
    if kind == "logged":
        app.add_middleware(AccessLog, stream=io.StringIO())
    return app


async def drive(kind: str, route: str, count: int) -> list[dict]:
    clock = Later()
    app = app_for(kind, clock if route == "download" else None)
    answers: list[dict] = []

    async def call(method: str, path: str, body: bytes = b"", key: bool = True) -> None:
        headers = [(b"host", b"127.0.0.1"), (b"authorization", b"Bearer sk-mock-dev")][: 1 + key]
        if route == "download" and body:
            headers.append((b"x-mock-scenario", b"success"))
        if body:
            headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": headers,
            "client": ("127.0.0.1", 50312),
            "server": ("127.0.0.1", 8000),
        }

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.body" and not answers:
                answers.append(message)

        await app(scope, receive, send)

    if route == "download":
        await download(kind, count, call, answers, clock)
        return answers
    await call("POST", "/v2/videos/generations", BODY)
    task_id = re.search(rb'"task_id":\s*"([^"]+)"', answers[0]["body"]).group(1).decode()  # type: ignore[union-attr]
    for _ in range(count):
        if route == "poll":
            await call("GET", f"/v2/videos/generations/{task_id}")
        else:
            await call("POST", "/v2/videos/generations", BODY)


async def download(
    kind: str, count: int, call: Callable[..., Awaitable[None]], answers: list[dict], clock: Later
) -> None:
    """A finished video's link, read once (the file made and kept), then ``count`` times as a player does;
    the bare route's the same number of times."""
    if kind == "bare":
        for _ in range(count):
            await call("GET", "/media", key=False)
        return
    await call("POST", "/v2/videos/generations", VIDEO)
    task_id = orjson.loads(answers.pop()["body"])["task_id"]
    clock.now += 1000  # finished, and veo3's links live two days
    await call("GET", f"/v2/videos/generations/{task_id}")
    link = urlsplit(orjson.loads(answers.pop()["body"])["data"]["output"]).path
    for _ in range(count + 1):
        answers.clear()
        await call("GET", link, key=False)
    assert answers[0]["body"][4:8] == b"ftyp", answers  # an MP4, not a refusal


def collected(kind: str, route: str, count: int) -> int:
    """Instructions of a whole run of ``count`` requests, start-up included."""
    argv = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__]
    argv += ["--child", kind, route, str(count)]
    # The same dicts every run: string hashes fixed, and addresses too (no ASLR), which hash as ids do;
    # with ASLR on, one case moved by several hundred instructions a request between runs.
    argv = ["setarch", platform.machine(), "--addr-no-randomize", *argv] if shutil.which("setarch") else argv
    env = {**os.environ, "PYTHONHASHSEED": "0", "PYTHONPATH": str(HERE.parent)}
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
    return int(re.search(r"Collected : (\d+)", done.stderr).group(1))  # type: ignore[union-attr]


def per_request(kind: str, route: str) -> float:
    return (collected(kind, route, LARGE) - collected(kind, route, SMALL)) / (LARGE - SMALL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("APP", "ROUTE", "COUNT"), help=argparse.SUPPRESS)
    parser.add_argument("--only", metavar="WORD", help="only the cases whose name has WORD (not written down)")
    args = parser.parse_args()
    if args.child:
        kind, route, count = args.child
        asyncio.run(drive(kind, route, int(count)))
        return
    if shutil.which("valgrind") is None:
        sys.exit("bench/instructions.py needs valgrind: apt-get install -y valgrind")
    with tempfile.NamedTemporaryFile(suffix=".mp4") as video:
        video.write(asyncio.run(drive("mock", "download", 0))[0]["body"])
        video.flush()
        os.environ[MEDIA] = video.name
        chosen = {name: case for name, case in CASES.items() if args.only is None or args.only in name}
        counted = {name: per_request(*case) for name, case in chosen.items()}
    print("| case | instructions a request | against |")
    print("|---|---:|---|")
    for name, count in counted.items():
        route = CASES[name][1]
        if name.startswith(("bare", "raw")):
            against = ""
        elif "," in name:
            plain = counted[f"mock {route}"]
            against = f"+{count - plain:,.0f} ({(count - plain) / plain:+.1%}) over the mock {route} without it"
        elif f"bare {route}" in counted:
            bare = counted[f"bare {route}"]
            against = f"{bare / count:.0%} of the mock's instructions are the bare route's"
            if f"raw {route}" in counted:
                against += f", {counted[f'raw {route}'] / count:.0%} the raw app's"
        else:
            against = ""
        print(f"| {name} | {count:,.0f} | {against} |")
    if args.only is not None:
        return
    results.update("instructions", {"cases": {n: round(c) for n, c in counted.items()}}, "bench/instructions.py")
    print(f"written to {results.PATH}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main()
