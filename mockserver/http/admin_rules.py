"""``/_mock/rules``: the admin routes of the run-time scenario rules (``rules.py``), read and changed through
the ``Service``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import contract
from .admin_input import body_of, refusal
from .errors import error

if TYPE_CHECKING:
    from ..engine.service import Service


def routes(service: Service, guard: Any) -> list[Route]:
    """``/_mock/rules``: GET lists, POST adds, DELETE clears; ``/_mock/rules/{id}``: DELETE removes one."""
    rules = service.backend.rules

    async def listed(request: Request) -> Response:
        if request.method == "DELETE":
            await rules.clear()
        return JSONResponse({"rules": [rule.as_dict() for rule in await rules.listing()]})

    async def add(request: Request) -> Response:
        payload = await body_of(request, None)
        if isinstance(payload, dict) and ("next" in payload) == ("fraction" in payload):  # the schema's oneOf, in words
            return error(400, "invalid_field", "Give exactly one of next (a count of submits) or fraction (0 to 1).")
        if problems := contract.errors("mock-rule", payload, settings=True):
            raise refusal(problems)
        return JSONResponse((await service.add_rule(payload)).as_dict(), status_code=201)

    async def remove(request: Request) -> Response:
        given = request.path_params["number"]
        found = await rules.remove(int(given)) if given.isdigit() and len(given) < 19 else None
        if found is None:
            return error(404, "not_found", "No rule with that id (spent next rules are gone).")
        return JSONResponse(found.as_dict())

    return [
        Route("/_mock/rules", guard(listed), methods=["GET", "DELETE"]),
        Route("/_mock/rules", guard(add), methods=["POST"]),
        Route("/_mock/rules/{number}", guard(remove), methods=["DELETE"]),
    ]
