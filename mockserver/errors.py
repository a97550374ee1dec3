"""JSON error answers, typed from ``error.json``'s ``x-errors`` table, and the one exception that carries them.

A request the mock will not carry out raises ``Refused`` wherever that is found, in the service or in
a route; the app's one handler (``answer``) turns it into the contract's error body.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import contract


def error(
    status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    row = contract.error_table()[status]
    if code not in row["codes"]:
        raise ValueError(f"{code!r} is not a code of HTTP {status} in error.json")
    body = {"error": {"message": message, "type": row["type"], "code": code, "param": param}}
    return JSONResponse(body, status_code=status, headers=headers)


class Refused(Exception):
    """A request answered with an error of ``error.json`` instead of being carried out."""

    def __init__(
        self, status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param, self.headers = status, code, message, param, headers

    def response(self) -> JSONResponse:
        return error(self.status, self.code, self.message, param=self.param, headers=self.headers)


async def answer(request: Request, exc: Exception) -> Response:
    """The app's handler for ``Refused``."""
    assert isinstance(exc, Refused)
    return exc.response()
