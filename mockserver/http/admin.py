"""The admin API under ``/_mock/``: inspect and steer a running mock from a test or a shell.

Served only when an admin key is configured, and only to ``Authorization: Bearer <admin key>``.
Forcing a state is the service's (``Service.force``). The routes read and change the mock only through its ``Service``. State lives in
one process: with ``--workers`` each worker has its own (the CLI says which parts), unless the store
is Redis, which every process of a fleet shares (docs/fleets.md).
"""

from __future__ import annotations

import hmac
import math
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine import encodings, lifecycle, modes, scenarios
from ..engine.config import faults_from
from ..engine.output_shape import unpack
from ..engine.refusals import Refused
from . import admin_callbacks, admin_rules
from .admin_input import body_of, paging
from .errors import error

if TYPE_CHECKING:
    from ..engine.service import Service


def guard(admin_key: str) -> Any:
    """Wraps a handler so that only ``Authorization: Bearer <admin key>`` reaches it; 401 otherwise."""
    expected = admin_key.encode()

    def authorize(request: Request) -> None:
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not key:
            raise Refused(401, "missing_api_key", "Send Authorization: Bearer <admin key>.")
        if not hmac.compare_digest(key.strip().encode(), expected):
            raise Refused(401, "invalid_api_key", "That is not the admin key.")

    def admin(handler: Any) -> Any:
        async def guarded(request: Request) -> Response:
            authorize(request)
            return await handler(request)

        return guarded

    return admin


def summary(service: Service, record: lifecycle.Record, now: float) -> dict[str, Any]:
    """A task as the admin API lists it: its profile, scenario, fate and state now."""
    catalog = service.catalog
    if not lifecycle.playable(catalog, record):
        return {"task_id": record.task_id, "scope": record.scope, "submitted_at": record.submitted_at, "gone": True}
    return {
        "task_id": record.task_id,
        "scope": record.scope,
        "profile": catalog.names[record.profile],
        "platform": catalog.profiles[record.profile].platform,
        "action": modes.ACTIONS[record.scope][encodings.mode_of(record.shape)],
        "output": _output(record),
        "behaviour": scenarios.BEHAVIOURS[encodings.behaviour_of(record.flags)],
        "outcome": "success" if record.failure < 0 else f"fail-{catalog.reasons[record.failure]}",
        "status": lifecycle.status_at(record, now),
        "visible": lifecycle.visible(catalog, record, now),
        "submitted_at": record.submitted_at,
    }


def routes(service: Service, admin_key: str) -> list[Route]:
    admin = guard(admin_key)

    def describe(record: lifecycle.Record) -> dict[str, Any]:
        return summary(service, record, service.clock())

    async def health(request: Request) -> Response:
        size = await service.tasks.count()
        faults = service.injector.faults.active
        return JSONResponse(
            {"status": "ok", "time": service.clock(), "tasks": size, "faults": faults, "seed": service.config.seed}
        )

    async def tasks(request: Request) -> Response:
        offset, limit = paging(request)
        page = [describe(r) for r in await service.tasks.page(offset, limit + 1)]
        more = len(page) > limit
        return JSONResponse({"tasks": page[:limit], "next_offset": offset + limit if more else None})

    async def task(request: Request) -> Response:
        record = await service.find_public(request.path_params["task_id"])
        if record is None:
            return error(404, "task_not_found", "No such task.")
        view = lifecycle.view(service.catalog, record, service.clock(), f"{request.base_url}_media")
        fields = {name: _finite(value) for name, value in record._asdict().items()}
        return JSONResponse({**describe(record), "record": fields, "view": view})

    async def force(request: Request) -> Response:
        """Move the task on, or hold it where it is, from now; never back, and never out of a final state."""
        record = await service.find_public(request.path_params["task_id"])
        if record is None:
            return error(404, "task_not_found", "No such task.")
        payload = await body_of(request, "admin-state")
        return JSONResponse(describe(await service.force(record, payload["status"], payload.get("fail_reason"))))

    async def reset(request: Request) -> Response:
        await service.reset()
        return JSONResponse({"status": "reset"})

    async def faults(request: Request) -> Response:
        if request.method == "PUT":
            await service.set_faults(faults_from(await body_of(request, "admin-faults")))
        return JSONResponse(service.injector.faults.as_dict())

    async def journal(request: Request) -> Response:
        _, limit = paging(request)
        return JSONResponse({"entries": await service.journal.newest(limit)})

    return [
        Route("/_mock/health", admin(health), methods=["GET"]),
        Route("/_mock/tasks", admin(tasks), methods=["GET"]),
        Route("/_mock/tasks/{task_id}", admin(task), methods=["GET"]),
        Route("/_mock/tasks/{task_id}/state", admin(force), methods=["POST"]),
        Route("/_mock/reset", admin(reset), methods=["POST"]),
        Route("/_mock/faults", admin(faults), methods=["GET", "PUT"]),
        Route("/_mock/journal", admin(journal), methods=["GET"]),
        *admin_rules.routes(service, admin),
        *admin_callbacks.routes(service, admin),
    ]


def _output(record: lifecycle.Record) -> dict[str, Any]:
    """The shape the outputs are made in: pixels for images and videos, seconds for videos and audio."""
    shape = unpack(record.shape)
    sides = {"width": shape.width, "height": shape.height} if record.scope != "audio" else {}
    return {**sides, **({"duration": shape.duration} if record.scope != "images" else {})}


def _finite(value: Any) -> Any:
    """JSON has no infinity: a time that never comes (a stuck task's run) is shown as null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value
