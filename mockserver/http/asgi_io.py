"""Reading a request and writing a JSON answer at the ASGI level, for the two routes clients hammer.

Submits and polls are nearly all of a mock's traffic. Starlette's ``Request`` and ``Response``
objects, and the wrapper its router puts around a plain function, cost about as much as the engine's
own work on a poll; these helpers do the little those routes need with the ASGI messages themselves.
Every other route keeps Starlette's objects.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

Handler = Callable[[Scope, Receive, Send], Awaitable[None]]
STATUS = "mockserver.status"  # what a reporting endpoint answered, when not 200 (see ``endpoint``)


class BodyTooLarge(Exception):
    """The body went past the limit; nothing more of it was read."""


def endpoint(handler: Handler, *, reports_status: bool = False) -> ASGIApp:
    """``handler`` as an ASGI app, so that ``Route`` calls it as it is rather than wrapping it.

    ``Route`` treats a plain function as ``f(request) -> response``; any other callable is taken to be
    an ASGI app. A class whose ``__call__`` is the handler adds no frame to each call. A handler that
    ``reports_status`` answers 200 through ``send_json``, any other answer through ``send_answer``, and
    raises its refusals: the metrics then learn its status without watching what it sends.
    """
    body = {"__call__": staticmethod(handler), "__slots__": (), "reports_status": reports_status}
    return type(handler.__name__, (), body)()


async def send_answer(answer: ASGIApp, status: int, scope: Scope, receive: Receive, send: Send) -> None:
    """Send a response other than a 200 from a handler that reports its status."""
    scope[STATUS] = status
    await answer(scope, receive, send)


def headers(scope: Scope) -> dict[bytes, bytes]:
    """The request's headers by lower-case name; the first of repeated ones, as Starlette's ``get`` gives."""
    return dict(reversed(scope["headers"]))


def header(scope: Scope, name: bytes) -> bytes | None:
    """One header by lower-case name, as ``headers(scope).get(name)`` gives it: half the instructions for one."""
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None if the client went away; ``BodyTooLarge`` past ``limit`` bytes."""
    message = await receive()
    body = message.get("body", b"")
    if len(body) > limit:
        raise BodyTooLarge
    if not message.get("more_body"):
        return body if message["type"] == "http.request" else None
    chunks, size = [body], len(body)
    while message.get("more_body"):
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


async def send_json(send: Send, content: Any) -> None:
    """A 200 with ``content`` as JSON, byte for byte what Starlette's ``JSONResponse`` sends.

    Starlette writes compact separators and raw UTF-8, as orjson does; the mock's answers hold only
    strings, integers, None, lists and dicts, for which the two agree.
    """
    body = orjson.dumps(content)
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")],
    }
    await send(start)
    await send({"type": "http.response.body", "body": body})
