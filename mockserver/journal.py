"""The request journal: the last requests with their body, status and timing, bounded in memory.

A pure ASGI middleware, installed only when the admin API is on, so the default mock pays nothing
for it. It records no headers, so API keys never reach it, and skips the admin API's own requests.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .faults import DROPPED, RAW_RECEIVE
from .modes import SEEN

BODY_LIMIT = 2048
PATH_LIMIT = 512  # a path can be as long as the server's header limit; the journal keeps this much of it


class Journal:
    def __init__(self, app: ASGIApp, entries: deque[dict[str, Any]], clock: Callable[[], float]) -> None:
        self.app = app
        self.entries = entries
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock/"):
            await self.app(scope, receive, send)
            return
        body, status, started = bytearray(), 0, time.perf_counter()

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < BODY_LIMIT:
                body.extend(message.get("body", b"")[: BODY_LIMIT - len(body)])
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        inner = {**scope, RAW_RECEIVE: receive}
        try:
            await self.app(inner, recording_receive, recording_send)
        finally:
            if inner.get(DROPPED):
                status = 0
            self.entries.append(
                {
                    "at": self.clock(),
                    "method": scope["method"],
                    "path": scope["path"][:PATH_LIMIT],
                    "status": status,  # 0: the connection was dropped
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                    "body": body.decode("utf-8", "replace"),
                    "truncated": len(body) >= BODY_LIMIT,
                    "action": inner.get(SEEN),  # the mode a submit was read as, or a polled task's
                }
            )
