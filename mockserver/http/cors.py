"""CORS for browser apps calling the mock, off unless origins are configured.

A gateway called from servers sends no CORS headers, so neither does the mock by default. With
``cors_origins`` set, Starlette's middleware answers preflights before any route or key check;
the one change here is that a refused preflight is a JSON error like every other refusal, not
Starlette's plain text.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from .. import contract
from .errors import error

ALLOWED_HEADERS = ["Authorization", "Content-Type", "X-Mock-Scenario"]


class _JSONRefusals(CORSMiddleware):
    def preflight_response(self, request_headers: Headers) -> Response:
        answer = super().preflight_response(request_headers)
        if answer.status_code != 400:
            return answer
        reason = bytes(answer.body).decode()  # Starlette's words: "Disallowed CORS origin, headers"
        sent, origins = request_headers.get("origin"), ", ".join(self.allow_origins)
        shown = sent if sent is None or len(sent) <= contract.QUOTE else sent[: contract.QUOTE - 3] + "..."
        allowed = f"{reason} (sent: {shown}). Allowed origins: {origins}; headers: {', '.join(ALLOWED_HEADERS)}."
        kept = {name: value for name, value in answer.headers.items() if name.startswith("access-control-")}
        return error(400, "cors_refused", allowed, headers=kept or None)


def middleware(origins: tuple[str, ...]) -> Middleware:
    return Middleware(
        _JSONRefusals,
        allow_origins=origins,
        allow_methods=["GET", "POST"],
        allow_headers=ALLOWED_HEADERS,
        expose_headers=sorted({name for row in contract.error_table().values() for name in row.get("headers", ())}),
    )
