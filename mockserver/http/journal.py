"""The request journal: the last requests with their body, status and timing, bounded in memory.

A pure ASGI middleware, installed only when the admin API is on, so the default mock pays nothing
for it. It records no headers, so API keys never reach it, and skips the admin API's own requests
and the health probes.
Each entry names the task it concerns (from a poll's or a link's path, or a submit's answer) and the
faults injected into it, so the dashboard can mark a task's polls on its timeline.

Entries go to a ``MemoryJournal``, or with ``--store redis://`` to the fleet's stream
(``stores.redis_shared.RedisJournal``); both are read a page at a time from the newest end (``newest``). One
task's entries are looked for among the newest ``SCANNED`` only, so a dashboard open on a task's timeline,
which asks once a second, costs a bounded time however long the journal is (it blocked Redis 132 ms a
time at 100,000 entries).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import jsonio
from ..engine.journal_entries import Entries
from ..engine.modes import SEEN
from .fault_answers import DROPPED, FAULT, RAW_RECEIVE

BODY_LIMIT = 2048
PATH_LIMIT = 512  # a path can be as long as the server's header limit; the journal keeps this much of it
ANSWER_LIMIT = 512  # a submit's answer is read for its task_id only when it is this short
PROBES = ("/healthz", "/readyz")  # an orchestrator's, every few seconds (health.py): not the client's traffic


def task_of(path: str) -> str | None:
    """The task id in a poll's path (/v2/{scope}/generations/{id}) or an output link's (/_media/{id}/{name})."""
    parts = path.split("/")
    if len(parts) == 5 and parts[1] == "v2" and parts[3] == "generations":
        return parts[4]
    if len(parts) == 4 and parts[1] == "_media":
        return parts[2]
    return None


class Journal:
    def __init__(self, app: ASGIApp, entries: Entries, clock: Callable[[], float]) -> None:
        self.app = app
        self.entries = entries
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/_mock/") or scope["path"] in PROBES:
            await self.app(scope, receive, send)
            return
        body, status, started = bytearray(), 0, time.perf_counter()
        task_id = task_of(scope["path"][:PATH_LIMIT])

        async def recording_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and len(body) < BODY_LIMIT:
                body.extend(message.get("body", b"")[: BODY_LIMIT - len(body)])
            return message

        async def recording_send(message: Message) -> None:
            nonlocal status, task_id
            if message["type"] == "http.response.start":
                status = message["status"]
            elif task_id is None and status == 200 and scope["method"] == "POST":
                task_id = _submitted(message.get("body", b""))
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
                    "task_id": task_id,
                    "fault": inner.get(FAULT),  # "503", "latency,drop", ... or None
                    "action": inner.get(SEEN),  # the mode a submit was read as, or a polled task's
                }
            )


def _submitted(answer: bytes) -> str | None:
    """The task id of a submit's answer, ``{"task_id": ...}``; None for any other body."""
    if len(answer) > ANSWER_LIMIT:
        return None
    try:
        found = jsonio.loads(answer)
    except ValueError:
        return None
    task_id = found.get("task_id") if isinstance(found, dict) else None
    return task_id if isinstance(task_id, str) else None
