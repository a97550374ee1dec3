"""How a fault the injector chose (``faults.py``) is played on the wire: an error page or answer, a delay,
or a connection dropped with no answer at all."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from email.utils import formatdate

from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from .. import contract
from ..engine.faults import Fault, Faults
from .errors import error


class ConnectionDropped(Exception):
    """Raised where the server gives no handle on its connection (an in-process test client)."""


RAW_RECEIVE = "mockserver.receive"
DROPPED = "mockserver.dropped"
FAULT = "mockserver.fault"  # the kinds of fault injected into a request, for the journal


def drop_connection(scope: Scope, receive: Receive) -> Response:
    """Close the client's connection with no answer at all, as a crashed upstream or proxy does; returns what
    to send then.

    ASGI has no message for this. Under uvicorn, ``receive`` is bound to the request cycle, which
    holds the transport: marking the cycle disconnected stops uvicorn from sending its own 500,
    and closing the transport ends the connection. granian gives no handle on its connection, but
    ends it when an answer stops short of its length: the client reads a status line and headers,
    then the connection closes, as when an upstream dies mid-answer. Elsewhere (an in-process test
    client) the exception ends the request. Middleware that wraps ``receive`` keeps the server's own
    under ``RAW_RECEIVE`` in the scope, and finds ``DROPPED`` set in it afterwards.
    """
    scope[DROPPED] = True
    cycle = getattr(scope.get(RAW_RECEIVE, receive), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        cycle.disconnected = True  # type: ignore[union-attr]
        transport.close()
        return Response(status_code=500)  # never sent: the connection is gone
    if type(cycle).__module__.startswith("granian."):
        return _CutShort()
    raise ConnectionDropped


class _CutShort(Response):
    """Headers promising a body that never comes; granian closes the connection when the app returns."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})


def proxy_page(status: int) -> str:
    """The HTML a reverse proxy in front of a gateway answers when the gateway is down or overloaded."""
    title = f"{status} " + {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}[status]
    lines = ["<html>", f"<head><title>{title}</title></head>", "<body>", f"<center><h1>{title}</h1></center>"]
    return "\r\n".join([*lines, "<hr><center>nginx</center>", "</body>", "</html>", ""])


async def play(
    chosen: Fault,
    faults: Faults,
    scope: Scope,
    receive: Receive,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> Response | None:
    """Carry out a fault: wait its delay, then drop the connection or give the answer; None to answer normally."""
    if chosen.delay:
        await sleep(chosen.delay)
    if chosen.drop:
        return drop_connection(scope, receive)
    if not chosen.status:
        return None
    wait = faults.retry_after
    after = formatdate(math.ceil(clock()) + wait, usegmt=True) if faults.retry_after_date else str(wait)
    carries = contract.error_table()[chosen.status].get("headers", ())  # error.json says which statuses
    retry = {"Retry-After": after} if "Retry-After" in carries else None
    if chosen.status == 429:
        return error(429, "rate_limited", "Simulated rate limit: try again after Retry-After seconds.", headers=retry)
    if faults.proxy_html and chosen.status in (502, 503):
        return HTMLResponse(proxy_page(chosen.status), status_code=chosen.status, headers=retry)
    return error(chosen.status, "simulated_fault", f"Simulated HTTP {chosen.status} fault.", headers=retry)
