"""The contract's hot routes, answered in front of Starlette's router.

Submits and polls are nearly all of a mock's traffic. On every request Starlette's router tries each route in
turn and copies its scope, its exception layer builds a ``Request``, and two of its layers wrap ``send`` in a
coroutine: together more than the poll's own work. ``Front`` sits where the exception layer would be, innermost
of the app's middleware (so the journal, CORS and the access log still see every request), or outermost but for
the access log when the app has no other (``FrontedStarlette``). It tries only the hot routes of the request's
method, each with the route's own regular expression, and a match goes straight to the route's endpoint, timed
here under ``--metrics``. Anything else (another path or method, HEAD, a root path, a websocket, the
lifespan) goes on to Starlette's exception layer and router, as before.

A hot route is served as the router would serve it, so long as no route before it in the router matches its
paths (the health probes and the contract's routes come first), its parameters are plain ``{name}`` strings,
and it raises its refusals before it sends anything, as ``asgi_io``'s endpoints do. A refusal is answered by a
Starlette ``ExceptionMiddleware`` with the app's own handlers; any other exception goes out to a Starlette
``ServerErrorMiddleware``, the app's or this layer's own.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from time import perf_counter
from typing import Any

from starlette.applications import Starlette
from starlette.convertors import StringConvertor
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .access_log import AccessLog
from .asgi_io import STATUS
from .metrics import Reported

_ERROR = "mockserver.front.error"  # the exception a hot route raised, handed to the exception layer


def _served(route: Route) -> tuple[Any, ASGIApp, Reported | None]:
    """The route's path pattern, what serves it, and what times it. Where ``--metrics`` took the place of its
    ``handle`` (read as the app builds its middleware, so after that), this layer times the endpoint itself when
    the metrics can (``Reported``), else calls that ``handle``; unmetered, it calls the endpoint, as
    ``Route.handle`` adds only the method check that the match made."""
    if not all(isinstance(c, StringConvertor) for c in route.param_convertors.values()):
        raise ValueError(f"{route.path}: a hot route's parameters are plain {{name}} strings")
    handle = vars(route).get("handle")
    if isinstance(handle, Reported):
        return route.path_regex, handle.app, handle
    return route.path_regex, route.app if handle is None else handle, None


async def _raise_again(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(_ERROR)


class Front:
    """ASGI middleware: ``routes`` matched here, everything else to ``app`` (the exception layer and router).

    ``handlers`` are the app's exception handlers, as given to ``Starlette``: a hot route's refusal is answered
    by them, through the same ``ExceptionMiddleware`` Starlette builds, as if the router had served it.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[Route], handlers: Mapping[Any, Any]) -> None:
        self.app = app
        self.table: dict[str, list[tuple[Any, ASGIApp, Reported | None]]] = {}
        for route in routes:
            for method in sorted((route.methods or set()) - {"HEAD"}):  # HEAD goes to Starlette
                self.table.setdefault(method, []).append(_served(route))
        self.refusals: ASGIApp = ExceptionMiddleware(
            _raise_again, handlers={k: v for k, v in handlers.items() if k not in (500, Exception)}
        )
        self.guards = False  # whether an unexpected exception's 500 is this layer's to send (``outermost``)

    def outermost(self, errors: ServerErrorMiddleware) -> Front:
        """This layer in place of Starlette's outermost, ``errors``, which it wraps (the app has no other middleware).

        ``errors`` cost a poll about 7% of its instructions, a coroutine around each message sent. It now wraps only
        what this layer hands on, and a hot route's exception goes through an ``errors`` of its own, which sends
        its 500 for an unexpected one, as before, unless the route had begun to answer.
        """
        errors.app, self.app = self.app, errors
        self.refusals = ServerErrorMiddleware(self.refusals, handler=errors.handler, debug=errors.debug)
        self.guards = True
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            path = scope["path"]
            for pattern, serve, timed in self.table.get(scope["method"], ()):
                matched = pattern.match(path)
                if matched is None:
                    continue
                scope["path_params"] = matched.groupdict()
                started = False
                sending = send
                if self.guards:

                    def sending(message: Message) -> Awaitable[None]:
                        # A plain function handing back send's own awaitable: no coroutine per message.
                        nonlocal started
                        started = started or message["type"] == "http.response.start"
                        return send(message)

                began = perf_counter() if timed is not None else 0.0
                try:
                    await serve(scope, receive, sending)
                except Exception as exc:  # answered there as Starlette would, or raised again
                    if timed is not None:
                        timed.failed(scope, exc, began)
                    if started:  # too late for an answer: raised on, as Starlette's layers would
                        raise
                    scope[_ERROR] = exc
                    await self.refusals(scope, receive, send)
                    return
                if timed is not None:  # a 200's time added here (``Reported.answered`` inline): a call less a poll
                    ok = timed.ok.get(scope["method"]) if STATUS not in scope else None
                    if ok is None:
                        return timed.answered(scope, began)
                    ok.append(perf_counter() - began)
                    if not timed.batch.due:
                        timed.batch.schedule()
                return
        await self.app(scope, receive, send)


class FrontedStarlette(Starlette):
    """Starlette, whose middleware stack has ``Front`` outermost when it is the app's only middleware, or next to
    it when the access log is the other.

    The access log goes outside Starlette's ``ServerErrorMiddleware`` then: it notes the 500 that layer sends for
    an exception, where it noted its own 500 for the exception passing out, and both lines read the same.
    """

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if not isinstance(stack, ServerErrorMiddleware):
            return stack
        if isinstance(stack.app, Front):
            return stack.app.outermost(stack)
        logged = stack.app
        if isinstance(logged, AccessLog) and isinstance(logged.app, Front):
            logged.app = logged.app.outermost(stack)
            return logged
        return stack
