"""JSON error answers, typed from ``error.json``'s ``x-errors`` table."""

from __future__ import annotations

from starlette.responses import JSONResponse

from . import contract


def error(
    status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    row = contract.error_table()[status]
    if code not in row["codes"]:
        raise ValueError(f"{code!r} is not a code of HTTP {status} in error.json")
    body = {"error": {"message": message, "type": row["type"], "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)
