"""What every dialect does alike: read a body against its schema, make it a /v2 submit, find a key's task,
and answer refusals in its own shape."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import Response

from ... import contract
from ...engine import lifecycle, validate
from ...engine.catalog import SCOPES
from ...engine.refusals import Refused
from ...engine.service import Service
from .. import api, asgi_io, link_base

SCOPE = "videos"  # both dialects are video APIs: their tasks are the /v2 videos scope's
IMAGE_FIELDS = ("image", "input_reference")  # one input image, under new-api's and OpenAI's names
Handler = Callable[[Request], Awaitable[Response]]
Refuse = Callable[[Refused], Response]


def guarded(handler: Handler, refuse: Refuse) -> Handler:
    """``handler`` with every refusal, a task the config can no longer play among them, in the dialect's shape."""

    async def run(request: Request) -> Response:
        try:
            return await handler(request)
        except Refused as exc:
            return refuse(exc)
        except lifecycle.Gone:
            return refuse(Refused(410, "task_gone", "This task was accepted under a config that cannot play it."))

    return run


def owner(service: Service, request: Request) -> int:
    return service.owner(request.headers.get("authorization", "").encode("latin-1"))


async def form(request: Request, limit: int) -> dict[str, Any] | None:
    """A ``multipart/form-data`` body (OpenAI's SDKs send one to ``/v1/videos``) as the JSON body it stands
    for: text fields as strings, a file as a base64 data URI of its type. None if the client went away."""
    try:
        body = await asgi_io.read_body(request.receive, limit)
    except asgi_io.BodyTooLarge:
        raise Refused(413, "request_too_large", f"The body is over {limit} bytes.") from None
    if body is None:
        return None

    async def replay() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        fields = await Request(request.scope, replay).form(max_files=4, max_fields=100, max_part_size=limit)
    except (MultiPartException, HTTPException) as exc:
        why = str(getattr(exc, "detail", None) or getattr(exc, "message", exc)).rstrip(".")
        raise Refused(400, "invalid_body", f"The body is not the multipart/form-data it says: {why}.") from None
    payload: dict[str, Any] = {}
    for name, value in fields.multi_items():
        if isinstance(value, UploadFile):
            kind = value.content_type or "application/octet-stream"
            value = f"data:{kind};base64,{base64.b64encode(await value.read()).decode()}"
        payload[name] = value
    return payload


async def submitted(
    service: Service, request: Request, schema: str, multipart: bool = False
) -> tuple[lifecycle.Record, str] | None:
    """A dialect's submit made a task, as a /v2 submit would (X-Mock-Scenario included), and the model it
    named; None if the client left. ``multipart``: a form body is read too (``form``), else JSON only.

    The body is checked against the dialect's ``schema`` (its properties' ``default`` filling what is
    absent), then read as a /v2 body (``v2_body``), which is checked against ``submit-request.json``
    too: a refusal names a field either way, and nothing is made.
    """
    key = owner(service, request)
    limit = service.config.max_body_bytes
    if multipart and request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
        payload = await form(request, limit)
        if payload is not None and (problems := validate.checked(schema, payload)):
            raise api.refusal(problems)
    else:
        payload = await api.submit_body(asgi_io.headers(request.scope), request.receive, limit, schema)
    if payload is None:
        return None
    v2 = v2_body({**defaults(schema), **payload})
    if problems := validate.checked("submit-request", v2):
        raise api.refusal(problems)
    scenario = request.headers.get("x-mock-scenario")
    record = await service.accept(SCOPE, key, v2, scenario, lambda: link_base.media_base(request.scope))
    return record, v2["model"]


@cache
def defaults(schema: str) -> dict[str, Any]:
    """What a dialect's request schema says an absent property means (OpenAI's model: sora-2)."""
    return {name: node["default"] for name, node in contract.schema(schema)["properties"].items() if "default" in node}


def v2_body(payload: dict[str, Any]) -> dict[str, Any]:
    """A dialect's valid body as the /v2 submit it stands for: one image field becomes ``images``, and
    ``seconds`` (a number in a string) stands in for ``duration`` when that is absent; the rest passes."""
    body = {name: value for name, value in payload.items() if name not in (*IMAGE_FIELDS, "seconds")}
    if not payload.get("images"):
        given = [payload[name] for name in IMAGE_FIELDS if payload.get(name)]
        if given:
            body["images"] = given[:1]
    seconds = payload.get("seconds")
    if "duration" not in body and seconds is not None:
        body["duration"] = float(seconds)
    return body


async def polled(service: Service, request: Request, task_id: str) -> tuple[lifecycle.Record, dict[str, Any]] | None:
    """The key's videos task ``task_id`` and its /v2 view now, or None where a /v2 poll would answer 404."""
    key = owner(service, request)
    record = service.found(await service.tasks.get(task_id), task_id, SCOPE, key)
    if record is None:
        return None
    view = lifecycle.view(service.catalog, record, service.clock(), link_base.media_base(request.scope))
    if view is None:
        return None
    if service.metrics is not None:
        service.metrics.polled(task_id, view["status"], record.failure)
    return record, view


def percent(progress: str) -> int:
    """``"42%"`` as 42."""
    return int(progress.rstrip("%"))


def model_of(service: Service, record: lifecycle.Record) -> str:
    """The model a task plays, as answers name it: its profile's model, or "" for a scope's default."""
    return service.catalog.names[record.profile] if record.profile >= len(SCOPES) else ""
