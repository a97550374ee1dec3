"""JSON error answers, typed from ``error.json``'s ``x-errors`` table.

A request the mock will not carry out raises ``refusals.Refused`` wherever that is found, in the service or
in a route; the app's one handler (``answer``) turns it into the contract's error body.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .. import contract
from ..engine.refusals import Refused


def error(
    status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    row = contract.error_table()[status]
    if code not in row["codes"]:
        raise ValueError(f"{code!r} is not a code of HTTP {status} in error.json")
    body = {"error": {"message": message, "type": row["type"], "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


NEWAPI_UNKNOWN_TASK = "task_not_exist"  # new-api's code, and its message, for a task it cannot find


def newapi_error(status: int, code: str, message: str, *, headers: dict[str, str] | None = None) -> JSONResponse:
    """new-api's task error (``schemas/newapi-error.json``): off the contract's error shape, as new-api answers."""
    return JSONResponse({"code": code, "message": message, "data": None}, status_code=status, headers=headers)


async def answer(request: Request, exc: Exception) -> Response:
    """The app's handler for ``Refused``."""
    assert isinstance(exc, Refused)
    return error(exc.status, exc.code, exc.message, param=exc.param, headers=exc.headers)
