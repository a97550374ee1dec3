"""The yardstick: bare Starlette routes that answer the mock's own JSON without doing any work.

The benchmark serves this under the same uvicorn settings as the mock, so the ratio of the two
measures what the mock adds on top of the framework, whatever the machine.
"""

from __future__ import annotations

import json
import os

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

# The bodies the mock answered, handed over by bench/run.py.
_TASK = json.loads(os.environ.get("BENCH_TASK_JSON", '{"task_id": "t", "status": "QUEUED"}'))
_SUBMITTED = {"task_id": _TASK["task_id"]}
_MEDIA = open(os.environ["BENCH_MEDIA_FILE"], "rb").read() if "BENCH_MEDIA_FILE" in os.environ else b""  # noqa: SIM115


async def poll(request: Request) -> JSONResponse:
    return JSONResponse(_TASK)


async def submit(request: Request) -> JSONResponse:
    await request.body()  # any submit handler must read what it was sent
    return JSONResponse(_SUBMITTED)


async def media(request: Request) -> Response:
    return Response(_MEDIA, media_type="video/mp4")  # the same bytes a mock download sends, from memory


app = Starlette(
    routes=[
        Route("/v2/{scope}/generations", submit, methods=["POST"]),
        Route("/v2/{scope}/generations/{task_id}", poll, methods=["GET"]),
        Route("/media", media, methods=["GET"]),
    ]
)
