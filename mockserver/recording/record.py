"""``mockserver record``: a proxy in front of a real gateway that writes one recording line per task.

Clients talk to it as to the gateway, on the contract's routes only: submits and polls, and downloads
of the output links the gateway's task answers named on its own host. Those are forwarded with their
path byte for byte (never decoded, so ``..%2F`` stays inside the gateway's base path), streamed both
ways, with ``--key`` sent upstream in place of the client's key if given; any other request is a JSON
404 and never reaches the gateway. A submit body is held to the mock's own limit (413, as the mock
answers); answers stream through, the recorder keeping at most as much of a submit's or poll's to read.

Beside them it watches each task through its ``TaskLog`` (``contract/recording.py``) and, once a poll
shows it ended, fetches the first byte of each output (media type, size, link lifetime), on a pool of
its own with short timeouts so that slow links never hold a client's request, and appends the task's
line. Lines are written whole, one at a time: a recorder stopped (SIGINT or SIGTERM) writes what it
knows of the tasks still open, and a killed one loses only those. At most ``--max-open`` tasks are
followed at once: past it, the task heard of longest ago is written out unfinished, as a stop writes
it. An upstream that cannot be reached is a JSON 502; an answer the recorder cannot read (deep JSON,
odd headers) is passed on as it came; a line it cannot write (a full disk) is said on standard error.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ..contract import command_line
from ..contract.recording import TaskLog, Writer, output_urls
from ..engine import jsonio
from ..engine.config import SCOPES, Config
from ..http import asgi_io
from ..http.errors import error

# RFC 9110 7.6.1: hop-by-hop headers are the connection's, not the message's; length and host are re-made.
_HOP = frozenset(
    {b"connection", b"keep-alive", b"proxy-authenticate", b"proxy-authorization", b"te", b"trailer"}
    | {b"transfer-encoding", b"upgrade", b"host", b"content-length"}
)
_TIMEOUT = httpx.Timeout(300.0, connect=10.0)  # some gateways answer a submit only once their upstream has
_PROBE_TIMEOUT = httpx.Timeout(10.0, connect=5.0)  # a first byte, not a file: a link this slow is recorded failed
MAX_OPEN = 10_000  # tasks followed at once by default: about 2 KiB each after a few polls
MAX_BODY = Config().max_body_bytes  # a submit body, as the mock takes it; also how much of an answer is read
MOST_PROBED = 10  # outputs of one task whose first byte is fetched
MOST_LINKS = 100_000  # output links remembered, so their downloads may pass
_ROUTE = re.compile(rb"/v2/([a-z]+)/generations(?:/([!-.0-~]+))?")  # an id: printable ASCII but /
_SCOPES = frozenset(scope.encode() for scope in SCOPES)


def _client() -> httpx.AsyncClient:
    # One upstream connection per request in flight, as a proxy holds; uvicorn bounds the clients'.
    return httpx.AsyncClient(timeout=_TIMEOUT, limits=httpx.Limits(max_connections=None))


def _probe_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=_PROBE_TIMEOUT, follow_redirects=True)


@dataclass
class Recorder:
    """The proxy's state: where it forwards to, the tasks it follows, and the file it writes."""

    upstream: str
    writer: Writer
    key: str | None = None
    keep_prompts: bool = False
    probe: bool = True
    max_open: int = MAX_OPEN
    http: httpx.AsyncClient = field(default_factory=_client)
    probes: httpx.AsyncClient = field(default_factory=_probe_client)
    max_body: int = MAX_BODY
    open: dict[tuple[str, str], TaskLog] = field(default_factory=dict)
    finishing: set[asyncio.Task[None]] = field(default_factory=set)
    links: dict[bytes, None] = field(default_factory=dict)  # raw paths of output links on the upstream, oldest first
    base: httpx.URL = field(init=False, repr=False)  # ``upstream`` parsed, once: every request reads it
    prefix: bytes = field(init=False, repr=False)  # its path, without a final slash

    def __post_init__(self) -> None:
        self.base = httpx.URL(self.upstream)
        self.prefix = self.base.raw_path.rstrip(b"/")

    def headers(self, request: Request) -> list[tuple[bytes, bytes]]:
        """The client's headers as sent (bytes), less hop-by-hop ones, with ``--key`` in place of its key."""
        sent = [(k, v) for k, v in request.headers.raw if k.lower() not in _HOP]
        if self.key is not None:
            sent = [(k, v) for k, v in sent if k.lower() != b"authorization"] + [self.auth()]
        return sent

    def auth(self) -> tuple[bytes, bytes]:
        return (b"Authorization", f"Bearer {self.key}".encode())

    def url(self, raw_path: bytes, query: bytes) -> httpx.URL:
        """The upstream's URL for a path as the client sent it: its bytes after the base path, never decoded."""
        query = re.sub(rb"[^!-~]", lambda m: b"%%%02X" % m[0][0], query)  # only ASCII travels in a URL
        return self.base.copy_with(raw_path=self.prefix + raw_path + (b"?" + query if query else b""))

    def write(self, log: TaskLog) -> None:
        """Append the task's line; a file that cannot take it (a full disk) is said on standard error, since the
        client's answer is the gateway's and must not turn into an error of the recorder's."""
        try:
            self.writer.write(log.line())
        except OSError as exc:
            said = f"recorder: cannot write to {self.writer.path}: {exc.strerror or exc}; the line of a task is lost"
            print(said, file=sys.stderr, flush=True)

    def follow(self, key: tuple[str, str], log: TaskLog) -> None:
        """Follow a task not ended, as the last heard of; past ``max_open``, write out the one heard of longest
        ago as it stands (``"ended": null``), as a stop does."""
        self.open[key] = log
        while len(self.open) > self.max_open:
            self.write(self.open.pop(next(iter(self.open))))

    def remember(self, task: Any) -> None:
        """Note the output links a task answer names on the upstream's own host: their downloads may pass."""
        for url in output_urls(task)[1] if isinstance(task, dict) else []:
            try:
                link = httpx.URL(url)
            except (httpx.InvalidURL, ValueError):
                continue
            if (link.scheme, link.netloc) == (self.base.scheme, self.base.netloc):
                path = link.raw_path.partition(b"?")[0]
                if path.startswith(self.prefix + b"/"):
                    self.links[path[len(self.prefix) :]] = None
        while len(self.links) > MOST_LINKS:
            del self.links[next(iter(self.links))]

    def ended(self, log: TaskLog) -> None:
        """Fetch the outputs' first bytes, then write the line, in the background: the poll is not held."""
        if not (self.probe and log.urls) or len(self.finishing) >= self.max_open:
            self.write(log)
            return
        job = asyncio.get_running_loop().create_task(self._finish(log))
        self.finishing.add(job)
        job.add_done_callback(self.finishing.discard)

    async def _finish(self, log: TaskLog) -> None:
        try:
            for url in log.urls[:MOST_PROBED]:
                await self._probe(log, url)
        finally:  # cancelled at shutdown too: the line is written with what is known
            self.write(log)

    async def _probe(self, log: TaskLog, url: str) -> None:
        """GET the first byte, as a player does: type, size and max-age, without downloading the file."""
        ranged = {"Range": "bytes=0-0"}
        answer, started = None, time.monotonic()
        try:
            answer = await self._get(url, ranged)
            if answer.status_code in (401, 403) and self.key and _same_origin(url, self.base):
                answer = await self._get(url, {**ranged, "Authorization": f"Bearer {self.key}"})
        except (httpx.HTTPError, httpx.InvalidURL, ValueError):  # a link no client could follow either
            pass
        now, took = time.time(), time.monotonic() - started
        if answer is None:
            log.fetched(url, now, took, None, {}, None)
            return
        headers = _lower(answer.headers.raw)
        log.fetched(url, now, took, answer.status_code, headers, _size(answer.status_code, headers))

    async def _get(self, url: str, headers: dict[str, str]) -> httpx.Response:
        async with self.probes.stream("GET", url, headers=headers) as answer:
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
        await self.probes.aclose()


def _size(status: int, headers: dict[str, str]) -> int | None:
    total = headers.get("content-range", "").rpartition("/")[2]
    if status == 206 and total.isascii() and total.isdigit() and len(total) < 20:
        return int(total)
    length = headers.get("content-length", "")
    return int(length) if status == 200 and length.isascii() and length.isdigit() and len(length) < 20 else None


def _same_origin(url: str, base: httpx.URL) -> bool:
    try:
        link = httpx.URL(url)
    except (httpx.InvalidURL, ValueError):
        return False
    return (link.scheme, link.netloc) == (base.scheme, base.netloc)


def _lower(raw: list[tuple[bytes, bytes]]) -> dict[str, str]:
    """Headers by lower-case name, read as latin-1, which takes any byte a gateway may send."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}


def _json(body: bytes | None) -> Any:
    if body is None:
        return None
    try:
        return jsonio.loads(body)
    except ValueError:  # not JSON, or nested too deeply to read: passed on all the same
        return None


class _Relay:
    """The upstream's answer sent on as it comes. With ``read``, decoded, and at most ``limit`` bytes of it kept
    for ``read``, called once the answer is over (with None when it was cut short or too long)."""

    def __init__(
        self, answer: httpx.Response, read: Callable[[bytes | None], None] | None = None, limit: int = 0
    ) -> None:
        self.answer, self.read, self.limit = answer, read, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        answer, read = self.answer, self.read
        dropped = _HOP | {b"content-encoding"} if read else _HOP - {b"content-length"}
        headers = [(k.lower(), v) for k, v in answer.headers.raw if k.lower() not in dropped]
        kept: bytearray | None = bytearray()
        whole = False
        try:
            await send({"type": "http.response.start", "status": answer.status_code, "headers": headers})
            async for chunk in answer.aiter_bytes() if read else answer.aiter_raw():
                if read and kept is not None:
                    if len(kept) + len(chunk) > self.limit:
                        kept = None  # past the limit nothing more is kept, and none of it is read
                    else:
                        kept += chunk
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
            whole = True
        except httpx.HTTPError:  # the upstream broke off: the client's answer is left unfinished, as it was
            pass
        finally:
            await answer.aclose()
            if read:
                read(bytes(kept) if whole and kept is not None else None)


def create_app(recorder: Recorder) -> Starlette:
    async def send(request: Request, body: bytes | None) -> httpx.Response | None:
        raw = request.scope.get("raw_path") or request.url.path.encode()
        url = recorder.url(raw, request.scope["query_string"])
        sent = recorder.http.build_request(request.method, url, headers=recorder.headers(request), content=body)
        try:
            return await recorder.http.send(sent, stream=True)
        except httpx.HTTPError:
            return None

    async def submit(request: Request, scope: str) -> Response | _Relay:
        try:
            body = await _body(request, recorder.max_body)
        except asgi_io.BodyTooLarge:
            return error(413, "request_too_large", f"The body is over {recorder.max_body} bytes.")
        if body is None:  # the client went away before sending its body: nothing is forwarded
            return Response(status_code=400)
        log = TaskLog.start(scope, _json(body), time.time(), recorder.keep_prompts)
        started = time.monotonic()
        answer = await send(request, body)
        took = time.monotonic() - started
        if answer is None:
            log.submitted(time.time(), took, None, {}, None)
            recorder.write(log)
            return _unreachable(recorder)

        def read(kept: bytes | None) -> None:
            log.submitted(time.time(), took, answer.status_code, _lower(answer.headers.raw), _json(kept))
            if log.task_id is None:
                recorder.write(log)  # refused: a line of its own, so fit can count rate limits
            else:
                recorder.follow((scope, log.task_id), log)

        return _Relay(answer, read, recorder.max_body)

    async def poll(request: Request, scope: str, task_id: str) -> Response | _Relay:
        started = time.monotonic()
        answer = await send(request, None)
        took = time.monotonic() - started
        if answer is None:
            if (log := recorder.open.pop((scope, task_id), None)) is not None:
                log.polled(time.time(), took, None, {}, None)
                recorder.follow((scope, task_id), log)
            return _unreachable(recorder)

        def read(kept: bytes | None) -> None:
            status = answer.status_code
            task = _json(kept) if status == 200 else None
            recorder.remember(task)
            if (log := recorder.open.pop((scope, task_id), None)) is None:
                return
            log.polled(time.time(), took, status, _lower(answer.headers.raw), task)
            if log.ended:
                recorder.ended(log)
            else:
                recorder.follow((scope, task_id), log)

        return _Relay(answer, read, recorder.max_body)

    async def route(request: Request) -> Response | _Relay:
        """The contract's routes, read from the path's own bytes; anything else is refused here."""
        raw = request.scope.get("raw_path") or request.url.path.encode()
        found = _ROUTE.fullmatch(raw)
        if found and found[1] in _SCOPES and found[2] not in (b".", b".."):
            scope, task_id = found[1].decode(), found[2]
            wanted = "POST" if task_id is None else "GET"
            if request.method != wanted:
                return error(405, "method_not_allowed", f"Use {wanted} on this route.")
            return await (submit(request, scope) if task_id is None else poll(request, scope, task_id.decode()))
        if raw in recorder.links and request.method in ("GET", "HEAD"):
            answer = await send(request, None)
            return _unreachable(recorder) if answer is None else _Relay(answer)
        return error(
            404,
            "not_found",
            "The recorder forwards only the contract's routes: POST /v2/{scope}/generations, "
            "GET /v2/{scope}/generations/{task_id}, and GET or HEAD of an output link a task answer named.",
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await recorder.close()

    every = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", route, methods=every)], lifespan=lifespan)


async def _body(request: Request, limit: int) -> bytes | None:
    """The request's body, None if the client went away; ``BodyTooLarge`` past ``limit`` bytes, as soon as its
    Content-Length says so or once that much has come, so that no more of it is read and none is sent on."""
    length = request.headers.get("content-length", "")
    if length.isascii() and length.isdigit() and int(length[:20]) > limit:
        raise asgi_io.BodyTooLarge
    return await asgi_io.read_body(request.receive, limit)


def _unreachable(recorder: Recorder) -> Response:
    return error(502, "upstream_unreachable", f"The recorder could not reach the upstream {recorder.upstream}.")


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
    names = ("upstream", "key", "out", "host", "port", "log_level", "max_open")
    command_line.refuse_invalid(parser, "mock-cli", command_line.given_options(args, names))
    try:
        writer = Writer(args.out)
    except OSError as exc:
        parser.error(f"--out: cannot open {args.out}: {exc.strerror or exc}")
    recorder = Recorder(args.upstream.rstrip("/"), writer, args.key, args.keep_prompts, args.probe, args.max_open)
    print(f"recording {recorder.upstream} on http://{args.host}:{args.port} into {args.out}", flush=True)
    # uvicorn stops gracefully on either signal, then raises it again once done; ignored then, so that SIGTERM
    # ends the recorder as Ctrl-C does: its open lines written, this message, exit status 0.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda number, frame: None)
    uvicorn.run(create_app(recorder), host=args.host, port=args.port, log_level=args.log_level)
    print(f"recorder stopped; lines are in {args.out}", file=sys.stderr, flush=True)
