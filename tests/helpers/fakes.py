"""Small independent servers of the unified API, to prove the kit right on servers that are not ours.

``Fake`` is a plain implementation written from the spec, not from our schemas or our mock, whose
every choice is a field: some fields make it conform in ways our mock does not, and the ``*_hook``
fields break it in exactly one way. A task advances one state per poll; the clock is read once, for
its submit_time.
"""

from __future__ import annotations

import io
import json
import struct
import time
import uuid
import wave
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def _png() -> bytes:
    """A real 8x8 grey PNG, made with zlib: the kit decodes what it downloads."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x80" * 8 for _ in range(8))
    head = struct.pack(">IIBBBBB", 8, 8, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", head) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _mp4() -> bytes:
    """Four frames of a 16x16 MPEG-4 video, made with PyAV."""
    import av

    out = io.BytesIO()
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("mpeg4", rate=4)
        stream.width, stream.height, stream.pix_fmt = 16, 16, "yuv420p"
        for _ in range(4):
            container.mux(stream.encode(av.VideoFrame(16, 16, "yuv420p")))
        container.mux(stream.encode(None))
    return out.getvalue()


def _wav() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(8000)
        sound.writeframes(b"\x00\x00" * 800)
    return out.getvalue()


PNG = _png()
MEDIA = {"images": (PNG, "image/png"), "videos": (_mp4(), "video/mp4"), "audio": (_wav(), "audio/wav")}
WALK = (("SUBMITTED", "0%"), ("QUEUED", "0%"), ("IN_PROGRESS", "30%"), ("IN_PROGRESS", "70%"), ("SUCCESS", "100%"))
TERMINAL = ("SUCCESS", "FAILURE")


@dataclass
class Task:
    task_id: str
    scope: str
    key: str
    body: dict[str, Any] = field(default_factory=dict)  # what created it
    submitted: int = field(default_factory=lambda: int(time.time()))  # the one clock read: submit_time
    polls: int = 0
    fetches: int = 0  # downloads of its output


def own_scope_only(task: Task, owner: str, scope: str) -> bool:
    """Who may read a task: its own key, through its own scope's path."""
    return task.key == owner and task.scope == scope


def openai_error(status: int, message: str) -> Response:
    return JSONResponse({"error": {"message": message, "type": "invalid_request_error", "code": str(status)}}, status)


def bare_error(status: int, message: str) -> Response:
    """An error in a JSON shape of its own, as many gateways answer: not ``schemas/error.json``'s."""
    return JSONResponse({"message": message}, status)


def problem(body: Any) -> str | None:
    """What is wrong with a submit body, by the spec's own words; None when nothing is."""
    if not isinstance(body, dict):
        return "body must be an object"
    for name in ("prompt", "model"):
        if not isinstance(body.get(name), str) or not body[name]:
            return f"{name} is required"
    kinds = {"duration": (int, float), "aspect_ratio": str, "size": str, "resolution": str, "watermark": bool}
    for name, kind in kinds.items():
        if name in body and (not isinstance(body[name], kind) or (kind is not bool and isinstance(body[name], bool))):
            return f"{name} has the wrong type"
    for name in ("images", "videos"):
        if name in body and not (isinstance(body[name], list) and all(isinstance(x, str) for x in body[name])):
            return f"{name} must be a list of strings"
    if any(not v.startswith(("http://", "https://")) for v in body.get("videos", [])):
        return "videos are URLs only"
    return None


@dataclass
class Fake:
    keys: tuple[str, ...] = ("sk-one", "sk-two")
    scopes: tuple[str, ...] = tuple(MEDIA)
    walk: tuple[tuple[str, str], ...] = WALK
    make_id: Callable[[int], str] = lambda n: str(uuid.UUID(int=n + 1, version=4))
    id_hook: Callable[[dict[str, Any], str], str] | None = None  # makes the id from (body, scope) instead
    unset: Any = 0  # how a timestamp not reached yet is shown; "absent" leaves it out
    extra: dict[str, Any] = field(default_factory=dict)
    result: Callable[[str, Task], dict[str, Any]] = lambda base, t: {"output": f"{base}files/{t.task_id}"}
    media: Callable[[str], tuple[bytes, str]] = lambda scope: MEDIA[scope]
    not_found: Callable[[], Response] = lambda: openai_error(404, "no such task")
    error: Callable[[int, str], Response] = openai_error
    submit_status: int = 200
    refuse_images_with_videos: bool = False
    check_content_type: bool = True
    exact_scheme: bool = False  # only "Bearer" as written
    exact_content_type: bool = False  # only "application/json" as written, without a charset
    normalise: Callable[[Any], Any] | None = None  # rewrites a parsed body before it is judged
    find: Callable[[dict[str, Task], str], Task | None] = lambda tasks, task_id: tasks.get(task_id)
    lookup_hook: Callable[[str], Response | None] | None = None  # first look at a polled id
    body_hook: Callable[[bytes], Response | None] | None = None  # first look at a raw body
    submit_hook: Callable[[Any], Response | None] | None = None  # first look at a parsed body
    task_hook: Callable[[dict[str, Any], Task], dict[str, Any]] | None = None  # last word on each poll
    poll_hook: Callable[[Task], Response | None] | None = None  # answers a poll instead, when it returns one
    auth_hook: Callable[[str | None], str | None] | None = None  # maps the presented key to the owner
    shows: Callable[[Task, str, str], bool] = own_scope_only  # whether (task, owner, scope path) may read it
    file_hook: Callable[[Task], Response | None] | None = None  # answers a download instead, when it returns one
    request_hook: Callable[[Fake, Request], Awaitable[Response | None]] | None = None  # first look at any request
    routes: tuple[Route, ...] = ()  # routes of its own, tried before the API's
    tasks: dict[str, Task] = field(default_factory=dict)

    def owner(self, request: Request) -> str | None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        bearer = scheme == "Bearer" if self.exact_scheme else scheme.lower() == "bearer"
        given = key.strip() if bearer else None
        if self.auth_hook:
            return self.auth_hook(given)
        return given if given in self.keys else None

    async def submit(self, request: Request) -> Response:
        if self.request_hook and (answer := await self.request_hook(self, request)):
            return answer
        owner = self.owner(request)
        if owner is None:
            return self.error(401, "bad key")
        if request.path_params["scope"] not in self.scopes:
            return self.error(404, "no such scope")
        media_type = request.headers.get("content-type", "")
        media_type = media_type if self.exact_content_type else media_type.partition(";")[0].strip().lower()
        if self.check_content_type and media_type != "application/json":
            return self.error(415, "send JSON")
        raw = await request.body()
        if self.body_hook and (answer := self.body_hook(raw)):
            return answer
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return self.error(400, "not JSON")
        if self.submit_hook and (answer := self.submit_hook(body)):
            return answer
        body = self.normalise(body) if self.normalise else body
        if wrong := problem(body):
            return self.error(400, wrong)
        if self.refuse_images_with_videos and body.get("images") and body.get("videos"):
            return self.error(400, "images or videos, not both")
        scope = request.path_params["scope"]
        task_id = self.id_hook(body, scope) if self.id_hook else self.make_id(len(self.tasks))
        task = Task(task_id, scope, owner, body)
        self.tasks[task.task_id] = task
        return JSONResponse({"task_id": task.task_id, **self.extra}, self.submit_status)

    async def poll(self, request: Request) -> Response:
        if self.request_hook and (answer := await self.request_hook(self, request)):
            return answer
        owner = self.owner(request)
        if owner is None:
            return self.error(401, "bad key")
        task_id = request.path_params["task_id"]
        if self.lookup_hook and (answer := self.lookup_hook(task_id)):
            return answer
        task = self.find(self.tasks, task_id)
        if task is None or not self.shows(task, owner, request.path_params["scope"]):
            return self.not_found()
        task.polls += 1
        if self.poll_hook and (answer := self.poll_hook(task)):
            return answer
        body = self.view(task, str(request.base_url))
        return JSONResponse(self.task_hook(body, task) if self.task_hook else body)

    def view(self, task: Task, base: str) -> dict[str, Any]:
        step = min(task.polls - 1, len(self.walk) - 1)
        status, progress = self.walk[step]
        started = any(s in ("IN_PROGRESS", *TERMINAL) for s, _ in self.walk[: step + 1])
        body: dict[str, Any] = {"task_id": task.task_id, "status": status, "progress": progress, **self.extra}
        times = {"submit_time": task.submitted, "start_time": task.submitted + 5 if started else self.unset}
        times["finish_time"] = task.submitted + 60 if status in TERMINAL else self.unset
        body.update({k: v for k, v in times.items() if v != "absent"})
        body["fail_reason"] = "upstream refused the prompt" if status == "FAILURE" else ""
        body["data"] = self.result(base, task) if status == "SUCCESS" else None
        return body

    async def file(self, request: Request) -> Response:
        if self.request_hook and (answer := await self.request_hook(self, request)):
            return answer
        task = self.tasks.get(request.path_params["task_id"])
        if task is None:
            return Response("gone", 404)
        task.fetches += 1
        if self.file_hook and (answer := self.file_hook(task)):
            return answer
        content, kind = self.media(task.scope)
        return Response(content, media_type=kind)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                *self.routes,
                Route("/v2/{scope}/generations", self.submit, methods=["POST"]),
                Route("/v2/{scope}/generations/{task_id:path}", self.poll, methods=["GET"]),
                Route("/files/{task_id:path}", self.file, methods=["GET"]),
            ]
        )
