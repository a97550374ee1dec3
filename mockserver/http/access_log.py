"""The access log: a line per request, written in batches so that a load test does not pay a write each.

uvicorn's own access log builds a ``logging`` record, formats it and writes and flushes stdout for
every request; under load that halved the mock's polls a second. Here a request formats its line with
one f-string and keeps it (a string, which the garbage collector never walks, unlike the request's
scope). The lines are written when ``BATCH_LINES`` have gathered or 50 ms after the first, whichever
comes first, and at the app's shutdown (workers are ended without running ``atexit``).
Each write holds whole lines and at most a pipe's atomic size, so workers sharing a terminal never
split each other's lines. The servers' own access logs are then off, so the line reads the same under
uvicorn and granian.

The path and query are shown as they came on the wire (``raw_path``, as uvicorn's own log shows them),
never decoded: ``%0a`` and ``%1b`` in a path stay those three characters, so no request forges a line or
sends a terminal escape. Any byte outside printable ASCII, a space or a ``"`` is percent-encoded, as
uvicorn encodes ``"``, whatever the server let through.
"""

from __future__ import annotations

import asyncio
import select
import sys
from collections.abc import Awaitable
from http import HTTPStatus
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FLUSH_AFTER = 0.05  # seconds a line may wait for others
BATCH_LINES = 64  # requests noted before they are written
BATCH_BYTES = select.PIPE_BUF  # a write of at most this many bytes to a pipe is never interleaved with another's
_PRINTABLE = bytes(c for c in range(0x21, 0x7F) if c != 0x22)  # shown as they are; any other byte as %XX
SHOWN_KEPT = 4096  # paths whose shown form is kept; then the lot is dropped and kept afresh
_SHOWN: dict[bytes, str] = {}
_ENDINGS = {status.value: f" {status.value} {status.phrase}\n" for status in HTTPStatus}  # after the request line


def line(scope: Scope, status: int) -> str:
    """``INFO:     127.0.0.1:50312 - "GET /v2/videos/generations/... HTTP/1.1" 200 OK``, as uvicorn words it."""
    client = scope.get("client")
    query = scope.get("query_string")
    raw = scope.get("raw_path") or scope["path"].encode("utf-8", "replace")
    if query:
        raw += b"?" + query
    path = _SHOWN.get(raw) or _shown(raw)
    ending = _ENDINGS.get(status) or f" {status} \n"
    asked = f'"{scope["method"]} {path} HTTP/{scope["http_version"]}"{ending}'
    return f"INFO:     {client[0]}:{client[1]} - {asked}" if client else f"INFO:     - - {asked}"


def _shown(raw: bytes) -> str:
    """The path and query as one line of printable ASCII with no ``"``; kept, as polls repeat their paths."""
    if raw.translate(None, _PRINTABLE):
        return "".join(chr(b) if b in _PRINTABLE else f"%{b:02X}" for b in raw)
    if len(_SHOWN) >= SHOWN_KEPT:
        _SHOWN.clear()
    shown = _SHOWN[raw] = raw.decode("ascii")
    return shown


class Lines:
    """Lines waiting to be written to ``stream``, a batch at a time."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.waiting: list[str] = []
        self.timer: asyncio.TimerHandle | None = None

    def noted(self) -> None:
        """After each request: start the clock on a new batch, or write a full one."""
        if len(self.waiting) >= BATCH_LINES:
            self.flush()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        writes: list[list[str]] = [[]]  # whole lines, at most a pipe's atomic size each (a longer line alone)
        size = 0
        for text in self.waiting:
            if writes[-1] and size + len(text) > BATCH_BYTES:
                writes.append([])
                size = 0
            writes[-1].append(text)
            size += len(text)
        self.waiting = []
        try:
            for lines in writes:
                if lines:
                    self.stream.write("".join(lines))
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout: the lines are lost, the server goes on
            pass


class AccessLog:
    """Notes every HTTP request with the status its client got, for ``Lines`` to write."""

    def __init__(self, app: ASGIApp, stream: TextIO | None = None) -> None:
        self.app = app
        self.lines = Lines(stream or sys.stdout)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":

            async def flushing_receive() -> Message:
                message = await receive()
                if message["type"] == "lifespan.shutdown":
                    self.lines.flush()
                return message

            await self.app(scope, flushing_receive, send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answered = [500]  # what the client gets if the app raises before it answers

        def noting_send(message: Message) -> Awaitable[None]:
            # A plain function handing back send's own awaitable: no extra coroutine per message.
            if message["type"] == "http.response.start":
                answered[0] = message["status"]
            return send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            self.lines.waiting.append(line(scope, answered[0]))
            self.lines.noted()
