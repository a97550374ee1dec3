"""``GET /_mock/callbacks``: the last delivery attempts of this worker, and how many callbacks it still watches."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .admin_input import paging

if TYPE_CHECKING:
    from ..engine.service import Service


def routes(service: Service, guard: Any) -> list[Route]:
    async def attempts(request: Request) -> Response:
        _, limit = paging(request)
        sender = service.callbacks
        shown = list(sender.attempts)[-limit:]
        task_id = request.query_params.get("task_id")
        if task_id is not None:
            shown = [entry for entry in shown if entry["task_id"] == task_id]
        return JSONResponse({"attempts": shown, "watched": sender.pending()})

    return [Route("/_mock/callbacks", guard(attempts), methods=["GET"])]
