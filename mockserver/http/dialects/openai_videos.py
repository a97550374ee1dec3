"""OpenAI's video API as new-api serves it: ``POST /v1/videos``, ``GET /v1/videos/{id}`` and its ``/content``.

Answers are OpenAI's video object (``schemas/openai-video.json``), with new-api's extra ``task_id``;
refusals are OpenAI's error shape (``schemas/openai-error.json``). The task is the /v2 videos task of
the same id, so a client may submit here and poll ``/v2/videos/generations/{id}``, or the reverse.
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import contract
from ...engine import lifecycle
from ...engine import output_shape as shapes
from ...engine.refusals import Refused
from ...engine.service import Service
from .. import downloads, media
from . import common

STATUSES: dict[str, str] = contract.schema("openai-video")["properties"]["status"]["x-from-states"]


def refuse(exc: Refused) -> Response:
    """OpenAI's error shape, typed by the status as error.json types it."""
    kind = contract.error_table()[exc.status]["type"]
    body = {"error": {"message": exc.message, "type": kind, "param": exc.param, "code": exc.code}}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def video(service: Service, record: lifecycle.Record, view: dict[str, Any] | None, model: str) -> dict[str, Any]:
    """The video object of ``record`` as ``view`` (the /v2 task now) shows it; queued at submit (``view`` None)."""
    shape = shapes.unpack(record.shape)
    status = STATUSES[view["status"] if view is not None else lifecycle.SUBMITTED]
    answer: dict[str, Any] = {
        "id": record.task_id,
        "task_id": record.task_id,
        "object": "video",
        "model": model,
        "status": status,
        "progress": common.percent(view["progress"]) if view is not None else 0,
        "created_at": int(record.submitted_at),
        "completed_at": view["finish_time"] or None if view is not None else None,
        "expires_at": None,
        "prompt": None,
        "seconds": f"{shape.duration:g}",
        "size": f"{shape.width}x{shape.height}",
        "remixed_from_video_id": None,
        "error": None,
    }
    if status == STATUSES[lifecycle.SUCCESS]:
        expires = lifecycle.link_expires(service.catalog, record)
        answer["expires_at"] = None if math.isinf(expires) else int(expires)
    elif status == STATUSES[lifecycle.FAILURE]:
        reason = service.catalog.reasons[record.failure] if record.failure >= 0 else "failed"
        answer["error"] = {"code": reason, "message": view["fail_reason"]}  # type: ignore[index]
    return answer


def routes(service: Service) -> list[Route]:
    download = downloads.downloads(service)

    async def create(request: Request) -> Response:
        made = await common.submitted(service, request, "openai-video-request", multipart=True)
        if made is None:  # the client went away before sending its body: nothing is answered
            return Response(status_code=400)
        return JSONResponse(video(service, made[0], None, made[1]))

    async def polled(request: Request) -> tuple[lifecycle.Record, dict[str, Any]]:
        """The path's video, as this key may see it now; a 404 otherwise."""
        found = await common.polled(service, request, request.path_params["video_id"])
        if found is None:
            raise Refused(404, "not_found", f"No video {contract.quote(request.path_params['video_id'])} for this key.")
        return found

    async def retrieve(request: Request) -> Response:
        record, view = await polled(request)
        return JSONResponse(video(service, record, view, common.model_of(service, record)))

    async def content(request: Request) -> Response:
        """The video file itself, for the key that made it, once it is completed (OpenAI's ``variant=video``)."""
        record, view = await polled(request)
        if view["status"] != lifecycle.SUCCESS:
            raise Refused(404, "not_found", f"The video is {STATUSES[view['status']]}, not completed: no content yet.")
        variant = request.query_params.get("variant", "video")
        if variant != "video":
            raise Refused(400, "invalid_field", "Only variant=video is served.", param="variant")
        if service.clock() >= lifecycle.link_expires(service.catalog, record):
            raise Refused(404, "not_found", "The video's content has expired (the profile's link_ttl).")
        request.scope[downloads.OUTPUT] = (record.task_id, media.filename(record.scope, 0))
        return _Sent(download)

    return [
        Route("/v1/videos", common.guarded(create, refuse), methods=["POST"]),
        Route("/v1/videos/{video_id}", common.guarded(retrieve, refuse), methods=["GET"]),
        Route("/v1/videos/{video_id}/content", common.guarded(content, refuse), methods=["GET"]),
    ]


class _Sent(Response):
    """A response that is another ASGI app's: the output route's, with its ranges, ETag and expiry."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.background = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)
