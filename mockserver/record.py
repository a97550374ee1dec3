"""``mockserver record``: a proxy in front of a real gateway that writes one recording line per task.

Clients talk to it as to the gateway: submits, polls and every other request (output downloads on
the gateway's own host) are forwarded unchanged, streamed, with ``--key`` sent upstream in place of
the client's key if given. Beside them it watches each task through its ``TaskLog``
(``contract/recording.py``) and, once a poll shows it ended, fetches the first byte of each output
(media type, size, link lifetime) and appends the task's line. Lines are written whole, one at a time:
a recorder stopped mid-run writes what it knows of the tasks still open, and a killed one loses only
those. At most ``--max-open`` tasks are followed at once, so a client that never polls, or a gateway
whose tasks hang, cannot grow the recorder without bound: past it, the task heard of longest ago is
written out unfinished, as a stop writes it. An upstream that cannot be reached is a JSON 502 from the
proxy, never a crash.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from . import usage
from .contract.recording import TaskLog, Writer
from .errors import error

# RFC 9110 7.6.1: hop-by-hop headers are the connection's, not the message's; length and host are re-made.
_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding"}
    | {"upgrade", "host", "content-length"}
)
_TIMEOUT = httpx.Timeout(300.0, connect=10.0)  # some gateways answer a submit only once their upstream has
MAX_OPEN = 10_000  # tasks followed at once by default: about 2 KiB each after a few polls


@dataclass
class Recorder:
    """The proxy's state: where it forwards to, the tasks it follows, and the file it writes."""

    upstream: str
    writer: Writer
    key: str | None = None
    keep_prompts: bool = False
    probe: bool = True
    max_open: int = MAX_OPEN
    http: httpx.AsyncClient = field(default_factory=lambda: httpx.AsyncClient(timeout=_TIMEOUT))
    open: dict[tuple[str, str], TaskLog] = field(default_factory=dict)
    finishing: set[asyncio.Task[None]] = field(default_factory=set)

    def headers(self, request: Request) -> list[tuple[str, str]]:
        sent = [(k, v) for k, v in request.headers.items() if k.lower() not in _HOP]
        if self.key is not None:
            sent = [(k, v) for k, v in sent if k.lower() != "authorization"] + [self.auth()]
        return sent

    def auth(self) -> tuple[str, str]:
        return ("Authorization", f"Bearer {self.key}")

    def url(self, request: Request) -> str:
        query = request.url.query
        return self.upstream + request.url.path + (f"?{query}" if query else "")

    async def send(self, request: Request, body: bytes) -> tuple[httpx.Response | None, float]:
        """The upstream's whole answer and how long it took; None when none came."""
        started = time.monotonic()
        try:
            answer = await self.http.request(
                request.method, self.url(request), headers=self.headers(request), content=body
            )
        except httpx.HTTPError:
            return None, time.monotonic() - started
        return answer, time.monotonic() - started

    def write(self, log: TaskLog) -> None:
        self.writer.write(log.line())

    def follow(self, key: tuple[str, str], log: TaskLog) -> None:
        """Follow a task not ended, as the last heard of; past ``max_open``, write out the one heard of longest
        ago as it stands (``"ended": null``), as a stop does."""
        self.open[key] = log
        while len(self.open) > self.max_open:
            self.write(self.open.pop(next(iter(self.open))))

    def ended(self, log: TaskLog) -> None:
        """Fetch the outputs' first bytes, then write the line, in the background: the poll is not held."""
        if not (self.probe and log.urls):
            self.write(log)
            return
        job = asyncio.get_running_loop().create_task(self._finish(log))
        self.finishing.add(job)
        job.add_done_callback(self.finishing.discard)

    async def _finish(self, log: TaskLog) -> None:
        try:
            for url in log.urls:
                await self._probe(log, url)
        finally:  # cancelled at shutdown too: the line is written with what is known
            self.write(log)

    async def _probe(self, log: TaskLog, url: str) -> None:
        """GET the first byte, as a player does: type, size and max-age, without downloading the file."""
        ranged = {"Range": "bytes=0-0"}
        answer, started = None, time.monotonic()
        try:
            answer = await self._get(url, ranged)
            if answer.status_code in (401, 403) and self.key and _same_origin(url, self.upstream):
                answer = await self._get(url, dict([*ranged.items(), self.auth()]))
        except httpx.HTTPError:
            pass
        now, took = time.time(), time.monotonic() - started
        if answer is None:
            log.fetched(url, now, took, None, {}, None)
            return
        headers = {k.lower(): v for k, v in answer.headers.items()}
        log.fetched(url, now, took, answer.status_code, headers, _size(answer.status_code, headers))

    async def _get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        async with self.http.stream("GET", url, headers=headers, follow_redirects=True) as answer:
            return answer  # the body is never read: its headers say what is needed

    async def close(self) -> None:
        """Write every task still open, as far as it went, then let go of the file and the connections."""
        for job in list(self.finishing):
            job.cancel()
        await asyncio.gather(*self.finishing, return_exceptions=True)
        for log in self.open.values():
            self.write(log)
        self.open.clear()
        self.writer.close()
        await self.http.aclose()


def _size(status: int, headers: dict[str, str]) -> int | None:
    total = headers.get("content-range", "").rpartition("/")[2]
    if status == 206 and total.isdigit():
        return int(total)
    length = headers.get("content-length", "")
    return int(length) if status == 200 and length.isdigit() else None


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _unreachable(recorder: Recorder) -> Response:
    return error(502, "upstream_unreachable", f"The recorder could not reach the upstream {recorder.upstream}.")


def _answer(answer: httpx.Response) -> Response:
    """The upstream's answer, as it came (its body already decoded, so its encoding header goes)."""
    kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP | {"content-encoding"}]
    response = Response(answer.content, status_code=answer.status_code)
    response.raw_headers = [*((k.encode("latin-1"), v.encode("latin-1")) for k, v in kept), *response.raw_headers]
    return response


def _json(answer: httpx.Response) -> Any:
    try:
        return answer.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _lower(answer: httpx.Response | None) -> dict[str, str]:
    return {} if answer is None else {k.lower(): v for k, v in answer.headers.items()}


def create_app(recorder: Recorder) -> Starlette:
    async def submit(request: Request) -> Response:
        body = await request.body()
        try:
            sent = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            sent = None
        scope = request.path_params["scope"]
        log = TaskLog.start(scope, sent, time.time(), recorder.keep_prompts)
        answer, took = await recorder.send(request, body)
        status = None if answer is None else answer.status_code
        log.submitted(time.time(), took, status, _lower(answer), None if answer is None else _json(answer))
        if log.task_id is None:
            recorder.write(log)  # refused: a line of its own, so fit can count rate limits
        else:
            recorder.follow((scope, log.task_id), log)
        return _unreachable(recorder) if answer is None else _answer(answer)

    async def poll(request: Request) -> Response:
        answer, took = await recorder.send(request, b"")
        key = (request.path_params["scope"], request.path_params["task_id"])
        log = recorder.open.pop(key, None)
        if log is not None:
            status = None if answer is None else answer.status_code
            task = _json(answer) if answer is not None and status == 200 else None
            log.polled(time.time(), took, status, _lower(answer), task)
            if log.ended:
                recorder.ended(log)
            else:
                recorder.follow(key, log)
        return _unreachable(recorder) if answer is None else _answer(answer)

    async def forward(request: Request) -> Response:
        """Anything else (output downloads, HEAD, ranges) streams through untouched."""
        sent = recorder.http.build_request(
            request.method, recorder.url(request), headers=recorder.headers(request), content=request.stream()
        )
        try:
            answer = await recorder.http.send(sent, stream=True)
        except httpx.HTTPError:
            return _unreachable(recorder)
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in _HOP - {"content-length"}]
        streamed = StreamingResponse(answer.aiter_raw(), answer.status_code, background=BackgroundTask(answer.aclose))
        streamed.raw_headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in kept]
        return streamed

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await recorder.close()

    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    routes = [
        Route("/v2/{scope}/generations", submit, methods=["POST"]),
        Route("/v2/{scope}/generations/{task_id}", poll, methods=["GET"]),
        Route("/{path:path}", forward, methods=every),
    ]
    return Starlette(routes=routes, lifespan=lifespan)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver record",
        description="Record a real gateway's tasks, one JSON line each, as a proxy.",
        epilog="exit codes:\n  0  stopped by Ctrl-C or SIGTERM, the tasks still open written out\n"
        "  2  a bad option, or --out cannot be opened\n  3  the port cannot be bound (in use, or not allowed)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--upstream", required=True, metavar="URL", help="the gateway's base URL (before /v2/...)")
    parser.add_argument("--key", help="the gateway key sent upstream in place of the client's; never written")
    parser.add_argument("--out", required=True, metavar="FILE.jsonl", help="the recording; lines are appended")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--keep-prompts", action="store_true", help="write each request's prompt in its line")
    parser.add_argument(
        "--no-probe", dest="probe", action="store_false", help="do not fetch an output's first byte (type, size)"
    )
    parser.add_argument(
        "--max-open",
        type=int,
        default=MAX_OPEN,
        metavar="N",
        help=f"tasks followed at once; past it, the longest unheard of is written unfinished (default {MAX_OPEN})",
    )
    parser.add_argument("--log-level", default="warning", help="uvicorn's: critical, error, warning, info, ...")
    return parser


def main(argv: list[str]) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    given = {name: getattr(args, name) for name in ("upstream", "key", "out", "host", "port", "log_level", "max_open")}
    usage.check(parser, "mock-cli", {k: v for k, v in given.items() if v is not None})
    try:
        writer = Writer(args.out)
    except OSError as exc:
        parser.error(f"--out: cannot open {args.out}: {exc.strerror or exc}")
    recorder = Recorder(args.upstream.rstrip("/"), writer, args.key, args.keep_prompts, args.probe, args.max_open)
    print(f"recording {recorder.upstream} on http://{args.host}:{args.port} into {args.out}", flush=True)
    uvicorn.run(create_app(recorder), host=args.host, port=args.port, log_level=args.log_level)
    print(f"recorder stopped; lines are in {args.out}", file=sys.stderr, flush=True)
