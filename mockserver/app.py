"""The HTTP layer: authenticate, validate through ``schemas/``, and answer from the engine."""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from email.utils import formatdate
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from . import admin, contract, cors, ids, jsonio, lifecycle, media, modes, scenarios, ui, urls, validate, wire
from .callbacks import asked as callback_asked
from .callbacks.sender import Sender, for_app
from .catalog import SCOPES, Catalog, parse_choice, resolve
from .config import Config
from .errors import error
from .faults import FAULT, Injector, drop_connection, proxy_page
from .journal import Journal
from .media import serve as media_serve
from .media.cache import MediaCache
from .media.shape import Shapes
from .metrics import Metrics, fault_kinds
from .nonces import Nonces
from .rules import Rules, SharedRules, key_owner
from .store import MemoryStore, Store, StoreError

REBUILT_KEPT = 4096  # records rebuilt from signed ids kept per worker; a few MiB at most


@dataclass
class Mock:
    """What a running mock holds; the admin API reads and changes it."""

    config: Config
    catalog: Catalog
    store: Store
    clock: Callable[[], float]
    injector: Injector
    journal: deque[dict[str, Any]]
    lookup: Callable[[str], lifecycle.Record | None] = lambda task_id: None
    rules: Rules = field(default_factory=lambda: Rules(0))
    metrics: Metrics | None = None
    callbacks: Sender | None = None
    keys: dict[int, str] = field(default_factory=dict)  # the API key behind each record's owner number
    epoch: float = -math.inf  # ids minted before this (an admin reset) are forgotten


def create_app(
    config: Config | None = None,
    *,
    clock: Callable[[], float] | None = None,
    store: Store | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    secret: bytes | None = None,
    slot: int = 0,
) -> Starlette:
    """A fresh mock; ``clock`` (unix seconds) lets tests move time, ``sleep`` lets them skip added latency.

    Task ids are signed with ``secret`` (by default derived from the seed and keys), so every
    worker started with the same settings can answer a poll for a task another one accepted.
    Each worker of one server needs its own ``slot`` (``nonces.py``), so that no two mint one id.
    """
    config = config or Config()
    mock = Mock(
        config,
        resolve(config),
        MemoryStore() if store is None else store,
        clock or time.time,
        Injector(config.faults, config.seed),
        deque(maxlen=config.journal_size),
        rules=_rules(config, store),
    )
    catalog, tasks, now = mock.catalog, mock.store, mock.clock
    if config.metrics:
        shared = not isinstance(tasks, MemoryStore)
        mock.metrics = Metrics(lambda: len(tasks), catalog.reasons, shared_store=shared)  # type: ignore[arg-type]
    metrics = mock.metrics
    mock.callbacks = for_app(mock.catalog, config.callbacks, tasks, now, mock.journal if config.admin_key else None)
    nonces = Nonces(slot)
    choices = scenarios.by_code(len(catalog.reasons))
    secret = secret or ids.derive_secret(config.seed, config.keys)
    owners = [(k.encode(), key_owner(k)) for k in config.keys]
    shapes = Shapes(catalog.scopes, catalog.profiles)
    by_key = {key_owner(k): parse_choice(scenario, catalog.reasons) for k, scenario in config.key_scenarios.items()}
    mock.keys = {owner: key.decode() for key, owner in owners}

    def owner_of(authorization: bytes | None) -> int | None:
        scheme, _, key = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not key:
            return None
        given = key.strip()
        for known, owner in owners:
            if hmac.compare_digest(known, given):
                return owner
        return -1

    def guard(scope: Scope, headers: dict[bytes, bytes]) -> Response | int:
        owner = owner_of(headers.get(b"authorization"))
        if owner is None:
            return error(401, "missing_api_key", "Send Authorization: Bearer <API-Key>.")
        if owner == -1:
            return error(401, "invalid_api_key", "That API key is not known to this server.")
        name = scope["path_params"]["scope"]
        if name not in SCOPES:
            return error(404, "unknown_scope", f"Unknown scope {contract.quote(name)}; use one of {sorted(SCOPES)}.")
        return owner

    async def fault(scope: Scope, receive: Receive, submit: bool) -> Response | None:
        """A simulated fault's answer, or None to answer normally; decided before anything is stored."""
        chosen = mock.injector.decide(submit)
        if chosen.delay or chosen.drop or chosen.status:
            kinds = fault_kinds(chosen.status, chosen.drop, chosen.delay)
            scope[FAULT] = ",".join(kinds)  # for the journal
            if metrics is not None:
                for kind in kinds:
                    metrics.fault(kind)
        if chosen.delay:
            await sleep(chosen.delay)
        if chosen.drop:
            drop_connection(scope, receive)
            return Response(status_code=500)  # never sent: the connection is gone
        if not chosen.status:
            return None
        faults = mock.injector.faults
        wait = faults.retry_after
        after = formatdate(math.ceil(now()) + wait, usegmt=True) if faults.retry_after_date else str(wait)
        carries = contract.error_table()[chosen.status].get("headers", ())  # error.json says which statuses
        retry = {"Retry-After": after} if "Retry-After" in carries else None
        if chosen.status == 429:
            return error(
                429, "rate_limited", "Simulated rate limit: try again after Retry-After seconds.", headers=retry
            )
        if faults.proxy_html and chosen.status in (502, 503):
            return HTMLResponse(proxy_page(chosen.status), status_code=chosen.status, headers=retry)
        return error(chosen.status, "simulated_fault", f"Simulated HTTP {chosen.status} fault.", headers=retry)

    async def submit(scope: Scope, receive: Receive, send: Send) -> None:
        answer = await accept(scope, receive)
        if isinstance(answer, str):
            await wire.send_json(send, {"task_id": answer})
        elif answer is not None:
            await answer(scope, receive, send)

    async def accept(scope: Scope, receive: Receive) -> str | Response | None:
        """The new task's id, a refusal, or None if the client went away before sending its body."""
        headers = wire.headers(scope)
        owner = guard(scope, headers)
        if isinstance(owner, Response):
            return owner
        if mock.injector.faults.active and (refused := await fault(scope, receive, submit=True)) is not None:
            return refused
        if headers.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json":
            return error(415, "unsupported_media_type", "Send the body as Content-Type: application/json.")
        try:
            body = await wire.read_body(receive, config.max_body_bytes)
        except wire.BodyTooLarge:
            return error(413, "request_too_large", f"The body is over {config.max_body_bytes} bytes.")
        if body is None:
            return None
        try:
            payload = jsonio.loads(body)
            if not isinstance(payload, dict):
                return error(400, "invalid_body", "The body must be a JSON object.")
            problems = validate.problems("submit-request", payload)
        except jsonio.TooDeep:
            return error(400, "invalid_json", "The body is nested too deeply (about 1,000 levels at most).")
        except ValueError as exc:
            return error(400, "invalid_json", f"The body is not valid JSON: {exc}.")
        if problems:
            first = problems[0]
            code = "missing_field" if first.validator == "required" else "invalid_field"
            return error(400, code, contract.describe(first), param=contract.location(first).lstrip("/") or None)
        try:  # the mock's own callback fields, checked against their own schema (callbacks/asked.py)
            asked = (
                None if callback_asked.FIELDS.isdisjoint(payload) else callback_asked.read(payload, config.callbacks)
            )
        except callback_asked.Refusal as refusal:
            return error(400, "invalid_field", refusal.message, param=refusal.param)
        header = headers.get(b"x-mock-scenario")
        choice = None if header is None else scenarios.parse(header.decode("latin-1"), catalog.reasons)
        if isinstance(choice, str):
            return error(400, "invalid_field", choice, param="X-Mock-Scenario")
        name = scope["path_params"]["scope"]
        profile = catalog.profile_for(name, payload["model"])
        if profile is None:
            known = sorted(model for s, model in catalog.index if s == name)
            message = f"Unknown model for {name}; use one of: {', '.join(known)}."
            return error(400, "unknown_model", message, param="model")
        if choice is None:  # the header wins; then a run-time rule, the model's alias, the key (README)
            if mock.rules.active:
                choice = mock.rules.choose(name, payload["model"], owner)
            if choice is None:
                choice = catalog.chosen.get((name, payload["model"])) or by_key.get(owner) or scenarios.DEFAULT
        shape = shapes.packed(profile, payload)
        ticket = ids.Ticket(round(now() * 1000), profile, choice.code, nonce=nonces(), shape=shape)
        task_id = ids.mint(secret, ticket, name, owner)
        record = replay(task_id, ticket, name, owner)
        tasks.put(record)  # type: ignore[arg-type]
        if asked is not None:
            mock.callbacks.subscribe(record, replace(asked, fault=choice.callback), urls.media_base(scope))  # type: ignore[arg-type]
        scope[modes.SEEN] = modes.ACTIONS[name][shape & 3]
        if metrics is not None:
            metrics.created(name, catalog.names[profile], payload, choice)
        return task_id

    def replay(task_id: str, ticket: ids.Ticket, scope: str, owner: int) -> lifecycle.Record | None:
        choice = choices.get(ticket.scenario)
        if choice is None or ticket.profile >= len(catalog.profiles):
            return None
        return lifecycle.plan(
            catalog,
            task_id,
            scope,
            owner,
            ticket.submitted_ms / 1000,
            ticket.profile,
            choice,
            fate=ticket.nonce,
            shape=ticket.shape,
        )

    # Records rebuilt from other workers' ids: each task is polled many times, and a rebuild (a MAC check and
    # a fresh plan) took about 8 of a 29 us poll in-process, where a dict lookup costs well under one.
    rebuilt: dict[str, lifecycle.Record] = {}

    def find(task_id: str, scope: str, owner: int) -> lifecycle.Record | None:
        """This process's record, or one rebuilt from a signed id that another worker handed out.

        Raises ``lifecycle.Gone`` for a stored task of this key that the running config cannot play.
        """
        record = tasks.get(task_id)
        if (
            record is not None
            and (record.owner, record.scope) == (owner, scope)
            and not lifecycle.playable(catalog, record)
        ):
            raise lifecycle.Gone(task_id)
        if record is None and (record := rebuilt.get(task_id)) is not None and record.submitted_at < mock.epoch:
            return None
        if record is not None:
            return record if record.owner == owner and record.scope == scope else None
        ticket = ids.read(secret, task_id, scope, owner)
        if ticket is None or ticket.submitted_ms / 1000 < mock.epoch:
            return None
        record = replay(task_id, ticket, scope, owner)
        if record is not None:
            if len(rebuilt) >= REBUILT_KEPT:
                del rebuilt[next(iter(rebuilt))]  # oldest first: a client polls its newest tasks
            rebuilt[task_id] = record
        return record

    def find_public(task_id: str) -> lifecycle.Record | None:
        """For keyless output links: try each scope and key the id could have been signed for (a few)."""
        record = tasks.get(task_id)
        if record is not None:
            if not lifecycle.playable(catalog, record):
                raise lifecycle.Gone(task_id)
            return record
        found = (find(task_id, scope, owner) for scope in SCOPES for _, owner in owners)
        return next((record for record in found if record is not None), None)

    def not_found() -> Response:
        if config.unknown_task == "new-api":  # off the contract's error shape, on purpose: as new-api answers
            return JSONResponse({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 400)
        return error(404, "task_not_found", "No such task for this key and scope.")

    async def poll(scope: Scope, receive: Receive, send: Send) -> None:
        headers = wire.headers(scope)
        owner = guard(scope, headers)
        if isinstance(owner, Response):
            return await owner(scope, receive, send)
        if mock.injector.faults.active and (refused := await fault(scope, receive, submit=False)) is not None:
            return await refused(scope, receive, send)
        params = scope["path_params"]
        record = find(params["task_id"], params["scope"], owner)
        task = None if record is None else lifecycle.view(catalog, record, now(), urls.media_base(scope))
        if task is None:
            return await not_found()(scope, receive, send)
        scope[modes.SEEN] = task["action"]
        if metrics is not None:
            metrics.polled(params["task_id"], task["status"], record.failure)  # type: ignore[union-attr]
        await wire.send_json(send, task)

    made = MediaCache()

    types = {name: media.content_type(name).encode() for name in SCOPES}

    async def download(scope: Scope, receive: Receive, send: Send) -> None:
        """Output files are public links, as on a CDN: no key, only for a visible, successful task."""
        params = scope["path_params"]
        record = find_public(params["task_id"])
        at = now()
        name = params["name"]
        if (
            record is None
            or name not in media.filenames(record.scope, lifecycle.output_count(catalog, record))
            or not lifecycle.visible(catalog, record, at)
            or lifecycle.status_at(record, at) != lifecycle.SUCCESS
        ):
            return await error(404, "not_found", "No such output.")(scope, receive, send)
        expires = lifecycle.link_expires(catalog, record)
        if at >= expires:
            return await media.expired(expires, at)(scope, receive, send)
        file = await made.get(record.scope, record.shape, media.hue(record.task_id, int(name.partition(".")[0])))
        max_age = 31_536_000 if math.isinf(expires) else max(0, int(expires - at))
        answer = media_serve.answer(
            scope["method"], wire.headers(scope), file.body, file.etag, types[record.scope], max_age
        )
        await answer(scope, receive, send)

    async def gone(request: Request, exc: Exception) -> Response:
        message = "This task was accepted under a config that no longer has its profile or failure reason."
        return error(410, "task_gone", message + " Restart with that config to play it.")

    async def store_down(request: Request, exc: Exception) -> Response:
        """A store that fails for a moment (a locked file, a full disk) is a 503 the client retries, not a 500."""
        return error(
            503, "store_unavailable", f"The task store failed: {exc}. Try again.", headers={"Retry-After": "1"}
        )

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            return error(405, "method_not_allowed", "That method is not served here.", headers=dict(exc.headers or {}))
        return error(404, "not_found", "Nothing is served at this path.")

    routes = [
        Route("/v2/{scope}/generations", wire.endpoint(submit), methods=["POST"]),
        Route("/v2/{scope}/generations/{task_id}", wire.endpoint(poll), methods=["GET"]),
        Route("/_media/{task_id}/{name}", wire.endpoint(download), methods=["GET"]),
    ]
    middleware = []
    if config.cors_origins:
        middleware.append(cors.middleware(config.cors_origins))
    if config.admin_key:
        mock.lookup = find_public
        routes += admin.routes(mock, config.admin_key) + ui.routes(mock, config.admin_key)
        middleware.append(Middleware(Journal, entries=mock.journal, clock=now))
    if metrics is not None:
        routes.append(Route("/metrics", metrics.endpoint, methods=["GET"]))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={HTTPException: http_error, lifecycle.Gone: gone, StoreError: store_down},
        lifespan=mock.callbacks.lifespan,
    )
    app.router.redirect_slashes = False  # a bare 307 before any key check; clients that follow it re-POST
    if metrics is not None:
        metrics.instrument(app.router)
    app.state.mock = mock
    return app


def _rules(config: Config, store: Store | None) -> Rules:
    """Run-time rules in this process, or in the SQLite file the workers share, beside its tasks."""
    shared = getattr(store, "path", None)
    return Rules(config.seed) if shared is None else SharedRules(shared, config.seed, tuple(config.fail_reasons))
