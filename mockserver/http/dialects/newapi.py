"""new-api's own video routes: ``POST /v1/video/generations`` and ``GET /v1/video/generations/{task_id}``.

As new-api answers them (router/video-router.go; relay/relay_task.go): the submit with the OpenAI video
object its task adaptors write, the fetch with ``{"code": "success", "message", "data": <TaskDto>}``,
whose status, progress and times are the /v2 task's (``schemas/newapi-task.json``); refusals as its
``TaskError`` (``schemas/newapi-error.json``). An unknown task is ``task_not_exist``, with new-api's 400
under ``unknown_task = "new-api"``, else with the 404 the mock's /v2 route answers by default.
"""

from __future__ import annotations

import zlib
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ...engine import lifecycle
from ...engine.refusals import Refused
from ...engine.service import Service
from ..errors import NEWAPI_UNKNOWN_TASK, newapi_error
from . import common, openai_videos


def refuse(exc: Refused) -> Response:
    return newapi_error(exc.status, exc.code, exc.message, headers=exc.headers)


def task(service: Service, record: lifecycle.Record, view: dict[str, Any], now: float) -> dict[str, Any]:
    """new-api's TaskDto of a task: the /v2 view's fields, and the rows new-api keeps beside them."""
    data = view["data"] or {}
    outputs = data.get("outputs") or [data["output"]] if data else []
    dto: dict[str, Any] = {
        "id": zlib.crc32(record.task_id.encode()),  # a row number, stable for the task
        "created_at": view["submit_time"],
        "updated_at": view["finish_time"] or int(now),
        "task_id": record.task_id,
        "platform": view["platform"],
        "user_id": 0,
        "group": "default",
        "channel_id": 0,
        "quota": 0,
        "action": view["action"],
        "status": view["status"],
        "fail_reason": view["fail_reason"],
        "submit_time": view["submit_time"],
        "start_time": view["start_time"],
        "finish_time": view["finish_time"],
        "progress": view["progress"],
        "properties": {"origin_model_name": common.model_of(service, record)},
        "data": data,
    }
    if outputs:
        dto["result_url"] = outputs[0]
    return dto


def routes(service: Service) -> list[Route]:
    async def submit(request: Request) -> Response:
        made = await common.submitted(service, request, "newapi-video-request")
        if made is None:  # the client went away before sending its body: nothing is answered
            return Response(status_code=400)
        return JSONResponse(openai_videos.video(service, made[0], None, made[1]))

    async def fetch(request: Request) -> Response:
        found = await common.polled(service, request, request.path_params["task_id"])
        if found is None:  # new-api's body; its status 400 under unknown_task = "new-api", as the /v2 route's
            status = 400 if service.config.unknown_task == "new-api" else 404
            raise Refused(status, NEWAPI_UNKNOWN_TASK, NEWAPI_UNKNOWN_TASK)
        record, view = found
        return JSONResponse({"code": "success", "message": "", "data": task(service, record, view, service.clock())})

    return [
        Route("/v1/video/generations", common.guarded(submit, refuse), methods=["POST"]),
        Route("/v1/video/generations/{task_id}", common.guarded(fetch, refuse), methods=["GET"]),
    ]
