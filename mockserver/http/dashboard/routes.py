"""Serve the dashboard's files under a strict Content-Security-Policy, and the views it reads.

The files are read once, at start, from a fixed list: a path the list does not name is a 404, so
nothing outside ``static/`` can be served. The views (``/_mock/ui/api/...``) are guarded by the
admin key like the rest of the admin API; the task list answers 304 to a poll whose ``If-None-Match``
still matches, so an idle dashboard costs a hash, not a download.
"""

from __future__ import annotations

import hashlib
import math
import os
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ... import contract
from ...engine import lifecycle
from .. import admin
from ..errors import error
from . import overview

if TYPE_CHECKING:
    from ...engine.service import Service

LISTED = 500  # the newest tasks the table shows
CHARTED = 2000  # the newest journal entries the charts read; a task's timeline reads only its own
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
# Same origin only, no inline script or style, no frames, no plug-ins, no form posts: what the page
# shows cannot run, and what it loads comes from the service. Output previews are the mock's own links.
POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def _files() -> dict[str, tuple[bytes, str]]:
    """Every file under ``static/``, by its path there, with its content type."""
    root = resources.files(__package__) / "static"
    found: dict[str, tuple[bytes, str]] = {}

    def walk(node: Any, prefix: str) -> None:
        for child in node.iterdir():
            name = f"{prefix}{child.name}"
            if child.is_dir():
                walk(child, f"{name}/")
            elif (kind := TYPES.get(os.path.splitext(child.name)[1])) is not None:
                found[name] = (child.read_bytes(), kind)

    walk(root, "")
    return found


def mask(key: str | None) -> str:
    """Enough of an API key to tell keys apart, not enough to use one."""
    if not key:
        return "?"
    return f"{key[:4]}…{key[-2:]}" if len(key) > 9 else "…"


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def row(service: Service, record: lifecycle.Record, now: float) -> dict[str, Any]:
    """A task as the table shows it; times that never come (a stuck run) are null."""
    summary = admin.summary(service, record, now)
    key = mask(service.keys.get(record.owner))
    if summary.get("gone"):  # stored under a config that no longer has its profile or reason
        nothing = {"status": "GONE", "model": "?", "behaviour": "?", "outcome": "?", "progress": None}
        return {
            **summary,
            **nothing,
            "key": key,
            "times": {"submitted": record.submitted_at, "started": None, "finished": None},
        }
    view = lifecycle.view(service.catalog, record, now, "")
    times = lifecycle.times(record)
    progress = view["progress"] if view else None
    return {
        **summary,
        "model": service.catalog.names[record.profile],
        "progress": int(progress.rstrip("%")) if progress else None,
        "key": key,
        "times": {
            "submitted": record.submitted_at,
            "started": _finite(times.started),
            "finished": _finite(times.finished),
        },
    }


async def newest(service: Service) -> list[lifecycle.Record]:
    """The last LISTED tasks, read from the store's end: a refresh must not count or skip a store of a million."""
    return await service.tasks.newest(LISTED)


def fields(name: str) -> dict[str, Any]:
    """A schema's properties (description, type, choices; each ``$ref`` read) and its ``oneOf``'s
    alternatives: what a form needs to lay out its inputs. Which values pass is left to the admin API
    to say, in its refusal, so no bound is restated in the page."""
    schema = contract.schema(name)
    resolver = contract.registry().resolver(base_uri=schema["$id"])
    properties = {}
    for prop, rule in schema["properties"].items():
        whole = {**(resolver.lookup(rule["$ref"]).contents if "$ref" in rule else {}), **rule}
        properties[prop] = {k: whole[k] for k in ("description", "type", "enum") if k in whole}
    one_of = [choice["required"][0] for choice in schema.get("oneOf", [])]
    return {"properties": properties, "one_of": one_of}


def routes(service: Service, admin_key: str) -> list[Route]:
    files = _files()
    guarded = admin.guard(admin_key)

    async def page(request: Request) -> Response:
        body, kind = files["index.html"]
        return Response(body, media_type=kind, headers=HEADERS)

    async def static(request: Request) -> Response:
        found = files.get(request.path_params["path"])
        if found is None:
            return error(404, "not_found", "Nothing is served at this path.")
        return Response(found[0], media_type=found[1], headers=HEADERS)

    def worker(request: Request) -> dict[str, Any]:
        """Which process answered, and how much of the whole it can see (the page says so)."""
        workers = getattr(request.app.state, "workers", 1)
        shared = service.backend.shared
        return {"pid": os.getpid(), "workers": workers, "shared_store": shared}

    async def tasks(request: Request) -> Response:
        now = service.clock()
        rows = [row(service, record, now) for record in reversed(await newest(service))]
        body = orjson.dumps({"worker": worker(request), "tasks": rows, "listed": LISTED})
        tag = f'"{hashlib.blake2b(body, digest_size=12).hexdigest()}"'
        headers = {**HEADERS, "ETag": tag, "X-Mock-Time": repr(now)}
        if request.headers.get("if-none-match") == tag:
            return Response(status_code=304, headers=headers)
        return Response(body, media_type="application/json", headers=headers)

    async def charts(request: Request) -> Response:
        now = service.clock()
        body = overview.series(await service.journal.newest(CHARTED), await newest(service), now)
        return JSONResponse({"worker": worker(request), **body}, headers=HEADERS)

    async def task(request: Request) -> Response:
        """One task for its timeline: the row, the view a poll gets now, and the polls the journal holds."""
        task_id = request.path_params["task_id"]
        record = await service.find_public(task_id)
        if record is None:
            return error(404, "task_not_found", "No such task.")
        now = service.clock()
        view = lifecycle.view(service.catalog, record, now, f"{request.base_url}_media")
        seen = await service.journal.newest(service.config.journal_size, task_id)
        body = {
            "worker": worker(request),
            "time": now,
            "task": row(service, record, now),
            "view": view,
            "requests": seen,
        }
        return JSONResponse(body, headers=HEADERS)

    async def forms(request: Request) -> Response:
        """What the control forms check before sending, read from the same schemas the admin API uses."""
        config = contract.schema("mock-config")
        return JSONResponse(
            {
                "faults": config["$defs"]["faults"],
                "states": list(lifecycle.STATES),
                "transitions": contract.lifecycle()["transitions"],
                "fail_reasons": list(service.catalog.reasons),
                "rule": fields("mock-rule"),
            },
            headers=HEADERS,
        )

    return [
        Route("/_mock/ui", page, methods=["GET"]),
        Route("/_mock/ui/static/{path:path}", static, methods=["GET"]),
        Route("/_mock/ui/api/tasks", guarded(tasks), methods=["GET"]),
        Route("/_mock/ui/api/tasks/{task_id}", guarded(task), methods=["GET"]),
        Route("/_mock/ui/api/overview", guarded(charts), methods=["GET"]),
        Route("/_mock/ui/api/forms", guarded(forms), methods=["GET"]),
    ]
