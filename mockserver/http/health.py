"""``/healthz`` and ``/readyz``: what an orchestrator asks of a mock before sending it traffic, or restarting it.

``/healthz`` is liveness: the process answers, so it is not stuck. ``/readyz`` is readiness: the store
answers, and on Redis the listener is subscribed to the fleet's changes (or admin calls through other
instances would not reach this one) and the process still holds its nonce slot (or it could mint ids
another instance mints). Otherwise it is a 503 naming each check that fails. Both are public and cheap,
and neither is written to the journal or counted by the metrics (app.py adds them after the metrics' timing).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..engine.service import Service
from ..stores import StoreError
from .journal import PROBES

_ALIVE = b'{"status":"ok"}'
OK = "ok"


def routes(service: Service) -> list[Route]:
    async def healthz(request: Request) -> Response:
        return Response(_ALIVE, media_type="application/json")

    async def readyz(request: Request) -> Response:
        checks = await readiness(service)
        ready = all(said == OK for said in checks.values())
        return JSONResponse({"status": "ready" if ready else "unready", "checks": checks}, 200 if ready else 503)

    return [Route(PROBES[0], healthz, methods=["GET"]), Route(PROBES[1], readyz, methods=["GET"])]


async def readiness(service: Service) -> dict[str, str]:
    """Each check's name and ``ok``, or what is wrong."""
    backend = service.backend
    checks = {"store": OK}
    try:
        if backend.ping is not None:
            await backend.ping()
        else:
            await backend.tasks.newest(1)  # one row, on the connection requests use: a file locked or gone fails here
    except StoreError as exc:
        checks["store"] = f"the store does not answer: {exc}"
    return {**checks, **backend.ready()}
