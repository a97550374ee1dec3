"""The access log: a line per request, written in batches so that a load test does not pay a write each.

uvicorn's own access log builds a ``logging`` record, formats it and writes and flushes stdout for
every request; under load that halved the mock's polls a second. This middleware formats the same
line with one f-string, keeps it, and writes what has gathered once the next line would overfill a
pipe's atomic write (so workers sharing a terminal never split each other's lines) or 50 ms after its first line,
whichever comes first, and at the app's shutdown (workers are ended without running ``atexit``). The servers' own access logs are then off, so the line reads the
same under uvicorn and granian.
"""

from __future__ import annotations

import asyncio
import select
import sys
from http import HTTPStatus
from typing import TextIO

from starlette.types import ASGIApp, Message, Receive, Scope, Send

FLUSH_AFTER = 0.05  # seconds a line may wait for others
BATCH_BYTES = select.PIPE_BUF  # a write of at most this many bytes to a pipe is never interleaved with another's
_PHRASES = {status.value: status.phrase for status in HTTPStatus}


class Lines:
    """Lines waiting to be written to ``stream``, as one write per batch."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.waiting: list[str] = []
        self.size = 0
        self.timer: asyncio.TimerHandle | None = None

    def add(self, line: str) -> None:
        if self.size + len(line) > BATCH_BYTES:
            self.flush()
        self.waiting.append(line)
        self.size += len(line)
        if self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if not self.waiting:
            return
        text, self.waiting, self.size = "".join(self.waiting), [], 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed or broken stdout: the lines are lost, the server goes on
            pass


class AccessLog:
    """``INFO:     127.0.0.1:50312 - "GET /v2/videos/generations/... HTTP/1.1" 200 OK``, as uvicorn words it."""

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
        status = 500  # what the client gets if the app raises before it answers

        async def noting_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_send)
        finally:
            client = scope.get("client")
            where = f"{client[0]}:{client[1]}" if client else "-"
            query = scope.get("query_string")
            path = f"{scope['path']}?{query.decode('latin-1')}" if query else scope["path"]
            self.lines.add(
                f'INFO:     {where} - "{scope["method"]} {path} HTTP/{scope["http_version"]}" '
                f"{status} {_PHRASES.get(status, '')}\n"
            )
