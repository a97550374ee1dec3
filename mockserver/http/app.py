"""The app: a ``Service`` behind the contract's routes, the admin API and the dashboard, wired into Starlette."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..callbacks.sender import Sender
from ..engine import lifecycle
from ..engine.catalog import resolve
from ..engine.config import Config
from ..engine.refusals import Refused
from ..engine.service import Service
from ..stores import Backend, StoreError, backend_for
from . import admin, api, cors, dashboard, dialects, errors, health
from .errors import error
from .front import Front, FrontedStarlette
from .journal import Journal
from .metrics import Metrics

# Served in front of Starlette's router (front.py): nearly all of a mock's traffic, submits, polls and the output
# files clients fetch once a task succeeds. A path here is one of the routes'.
HOT = ("/v2/{scope}/generations", "/v2/{scope}/generations/{task_id}", "/_media/{task_id}/{name}")


def create_app(
    config: Config | None = None,
    *,
    clock: Callable[[], float] | None = None,
    store: Any = None,
    backend: Backend | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    secret: bytes | None = None,
    slot: int = 0,
) -> Starlette:
    """A fresh mock; ``clock`` (unix seconds) lets tests move time, ``sleep`` lets them skip added latency.

    ``secret`` and ``slot`` are the ``Service``'s: the id signing secret, and this worker's nonce slot. The
    ``backend`` is ``stores.open_backend``'s; or give a ``store`` already opened (a test's), bundled here.
    """
    config = config or Config()
    if backend is None:
        reasons, size = tuple(config.fail_reasons), config.journal_size
        backend = backend_for(store, seed=config.seed, reasons=reasons, journal_size=size)
    clock = clock or time.time
    catalog = resolve(config)
    journal = backend.journal if config.admin_key else None  # callbacks' attempts join the journal where it is served
    callbacks = Sender(catalog, config.callbacks, backend.ledger, backend.tasks.get, clock, journal)
    metrics = Metrics(backend.tasks.count, catalog.reasons, shared_store=backend.shared) if config.metrics else None
    service = Service(
        config, catalog, clock=clock, backend=backend, callbacks=callbacks, metrics=metrics, secret=secret, slot=slot
    )
    routes = api.routes(service, sleep) + dialects.routes(service)
    middleware = [cors.middleware(config.cors_origins)] if config.cors_origins else []
    if config.admin_key:
        routes += admin.routes(service, config.admin_key) + dashboard.routes(service, config.admin_key)
        middleware.append(Middleware(Journal, entries=backend.journal, clock=service.clock))
    if service.metrics is not None:
        routes.append(Route("/metrics", service.metrics.endpoint, methods=["GET"]))
    handlers = {HTTPException: http_error, Refused: errors.answer, lifecycle.Gone: gone, StoreError: store_down}
    hot = [route for route in routes if isinstance(route, Route) and route.path in HOT]
    middleware.append(Middleware(Front, routes=hot, handlers=handlers))  # innermost: inside the journal and CORS
    app = FrontedStarlette(
        routes=routes,
        middleware=middleware,
        exception_handlers=handlers,
        lifespan=service.lifespan,  # the callbacks' one scheduler, and Redis's listener, run while the app serves
    )
    app.router.redirect_slashes = False  # a bare 307 before any key check; clients that follow it re-POST
    if service.metrics is not None:
        service.metrics.instrument(app.router, status_of)
    app.router.routes[:0] = health.routes(service)  # after the metrics' timing: probes are not counted
    app.state.service = service
    return app


def status_of(exc: Exception) -> int:
    """The status the handlers below answer ``exc`` with, for the metrics, which see it pass on its way out."""
    if isinstance(exc, HTTPException):
        return exc.status_code
    if isinstance(exc, Refused):
        return exc.status
    if isinstance(exc, StoreError):  # a damaged record's too: answered by ``store_down``
        return 503
    return 410 if isinstance(exc, lifecycle.Gone) else 500


async def gone(request: Request, exc: Exception) -> Response:
    message = "This task was accepted under a config that no longer has its profile or failure reason."
    return error(410, "task_gone", message + " Restart with that config to play it.")


async def store_down(request: Request, exc: Exception) -> Response:
    """A store that fails for a moment (a locked file, a full disk) is a 503 the client retries, not a 500."""
    return error(503, "store_unavailable", f"The task store failed: {exc}. Try again.", headers={"Retry-After": "1"})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        return error(405, "method_not_allowed", "That method is not served here.", headers=dict(exc.headers or {}))
    return error(404, "not_found", "Nothing is served at this path.")
