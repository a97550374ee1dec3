"""The contract's hot routes, answered in front of Starlette's router.

Submits and polls are nearly all of a mock's traffic. Starlette's router tries each route's regular expression
in turn and copies its scope, and its exception layer builds a ``Request`` and wraps ``send`` in a coroutine, on
every request: together more than the poll's own work. ``Front`` sits where that layer would be, innermost of
the app's middleware (so the journal, CORS and the access log still see every request), and matches the hot
routes' paths by splitting them at ``/``. A match goes straight to the route's own ``handle`` (where
``--metrics`` times it); anything else (another path or method, HEAD, a trailing slash, a root path, a
websocket, the lifespan) goes on to Starlette's exception layer and router, as it did before.

A hot route is served exactly as the router would serve it, so long as no route before it in the router matches
its paths (the health probes and the contract's routes come first), its path parameters are plain ``{name}``
segments (Starlette's ``[^/]+``), and it raises its refusals before it sends anything, as ``asgi_io``'s
endpoints do. A refusal is answered by a Starlette ``ExceptionMiddleware`` with the app's own handlers; any other
exception goes out to Starlette's ``ServerErrorMiddleware``, which still wraps the whole app.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from operator import itemgetter
from typing import Any

from starlette.applications import Starlette
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

_ERROR = "mockserver.front.error"  # the exception a hot route raised, handed to the exception layer


class _Hot:
    """One hot route: which path segments must read what, and which carry its parameters."""

    __slots__ = ("expected", "literals", "names", "serve", "values")

    def __init__(self, route: Route) -> None:
        parts = route.path.split("/")
        params = [i for i, part in enumerate(parts) if part.startswith("{")]
        literal = [i for i, part in enumerate(parts) if i and not part.startswith("{")]
        if any(not parts[i].endswith("}") or ":" in parts[i] for i in params) or not literal or not params:
            raise ValueError(f"{route.path}: a hot route has literal segments and plain {{name}} parameters")
        # The route's ``handle`` where ``--metrics`` took its place to time it (built with the app's middleware, so
        # after that); else its endpoint itself, as ``Route.handle`` adds only the method check made here.
        self.serve: ASGIApp = route.handle if "handle" in vars(route) else route.app
        self.literals, self.values = _picker(literal), _picker(params)
        self.expected = self.literals(parts)
        self.names = tuple(parts[i][1:-1] for i in params)


def _picker(indexes: list[int]) -> Callable[[list[str]], Any]:
    """The segments at ``indexes``, picked in C: a tuple for several, a one-item list (a slice) for one."""
    return itemgetter(*indexes) if len(indexes) > 1 else itemgetter(slice(indexes[0], indexes[0] + 1))


async def _raise_again(scope: Scope, receive: Receive, send: Send) -> None:
    raise scope.pop(_ERROR)


class Front:
    """ASGI middleware: ``routes`` by string matching, everything else to ``app`` (the exception layer and router).

    ``handlers`` are the app's exception handlers, as given to ``Starlette``: a hot route's refusal is answered
    by them, through the same ``ExceptionMiddleware`` Starlette builds, as if the router had served it.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[Route], handlers: Mapping[Any, Any]) -> None:
        self.app = app
        self.table: dict[tuple[str, int], list[_Hot]] = {}
        for route in routes:
            hot = _Hot(route)
            for method in sorted((route.methods or set()) - {"HEAD"}):  # HEAD goes to Starlette
                self.table.setdefault((method, route.path.count("/") + 1), []).append(hot)
        self.refusals: ASGIApp = ExceptionMiddleware(
            _raise_again, handlers={k: v for k, v in handlers.items() if k not in (500, Exception)}
        )

    def outermost(self, errors: ServerErrorMiddleware) -> Front:
        """This layer in place of Starlette's outermost, ``errors``, which it wraps (the app has no other middleware).

        ``errors`` cost a poll about 7% of its instructions, a coroutine around each message sent. It now wraps only
        what this layer hands on, and a hot route's exception goes through an ``errors`` of its own, which sends
        its 500 for an unexpected one, as before, unless the route had begun to answer.
        """
        errors.app, self.app = self.app, errors
        self.refusals = ServerErrorMiddleware(self.refusals, handler=errors.handler, debug=errors.debug)
        return self

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            parts = scope["path"].split("/")
            for hot in self.table.get((scope["method"], len(parts)), ()):
                if hot.literals(parts) == hot.expected and "" not in (values := hot.values(parts)):
                    scope["path_params"] = dict(zip(hot.names, values))
                    started = False

                    def sending(message: Message) -> Awaitable[None]:
                        # A plain function handing back send's own awaitable: no coroutine per message.
                        nonlocal started
                        started = started or message["type"] == "http.response.start"
                        return send(message)

                    try:
                        await hot.serve(scope, receive, sending)
                    except Exception as exc:  # answered there as Starlette would, or raised again
                        if started:  # too late for an answer: raised on, as Starlette's layers would
                            raise
                        scope[_ERROR] = exc
                        await self.refusals(scope, receive, send)
                    return
        await self.app(scope, receive, send)


class FrontedStarlette(Starlette):
    """Starlette, whose middleware stack has ``Front`` outermost when it is the app's only middleware."""

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        if isinstance(stack, ServerErrorMiddleware) and isinstance(stack.app, Front):
            return stack.app.outermost(stack)
        return stack
