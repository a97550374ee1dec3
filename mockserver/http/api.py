"""The contract's routes: submit, poll and the output links, spoken at the ASGI level over a ``Service``.

Submits and polls are nearly all of a mock's traffic, so these two read and answer the ASGI messages
themselves (``asgi_io.py``), and a poll calls a local store as a plain function, awaiting only a remote one
(``Backend.local``). A refusal found anywhere is raised as ``refusals.Refused``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from .. import contract
from ..engine import jsonio, lifecycle, modes, validate
from ..engine.catalog import SCOPES
from ..engine.config import Config
from ..engine.encodings import MODE_MASK
from ..engine.refusals import Refused
from ..engine.service import Service
from . import asgi_io, fault_answers, link_base
from .downloads import downloads
from .errors import NEWAPI_UNKNOWN_TASK, error, newapi_error
from .fault_answers import FAULT
from .metrics import fault_kinds

Sleep = Callable[[float], Awaitable[None]]


def routes(service: Service, sleep: Sleep) -> list[Route]:
    config, catalog, now, metrics = service.config, service.catalog, service.clock, service.metrics
    found, accept, owner_of = service.found, service.accept, service.owner
    local, remote = service.backend.local, service.backend.tasks

    async def fault(scope: Scope, receive: Receive, submit: bool) -> Response | None:
        """A simulated fault's answer, or None to answer normally; decided before anything is stored."""
        chosen = service.injector.decide(submit)
        if chosen.delay or chosen.drop or chosen.status:
            kinds = fault_kinds(chosen.status, chosen.drop, chosen.delay)
            scope[FAULT] = ",".join(kinds)  # for the journal
            if metrics is not None:
                for kind in kinds:
                    metrics.fault(kind)
        return await fault_answers.play(chosen, service.injector.faults, scope, receive, now, sleep)

    async def submit(scope: Scope, receive: Receive, send: Send) -> None:
        headers = asgi_io.headers(scope)
        owner = owner_of(headers.get(b"authorization"))
        if (name := scope["path_params"]["scope"]) not in SCOPES:  # tested here: a call less on every request
            raise unknown_scope(name)
        if service.injector.faults.active and (refused := await fault(scope, receive, submit=True)) is not None:
            return await asgi_io.send_answer(refused, refused.status_code, scope, receive, send)
        payload = await submit_body(headers, receive, config.max_body_bytes)
        if payload is None:  # the client went away before sending its body: nothing is answered
            scope[asgi_io.STATUS] = 0
            return None
        header = headers.get(b"x-mock-scenario")
        scenario = None if header is None else header.decode("latin-1")
        record = await accept(name, owner, payload, scenario, lambda: link_base.media_base(scope))
        scope[modes.SEEN] = modes.ACTIONS[name][record.shape & MODE_MASK]
        await asgi_io.send_json(send, {"task_id": record.task_id})

    async def poll(scope: Scope, receive: Receive, send: Send) -> None:
        owner = owner_of(asgi_io.header(scope, b"authorization"))
        params = scope["path_params"]
        if (name := params["scope"]) not in SCOPES:
            raise unknown_scope(name)
        if service.injector.faults.active and (refused := await fault(scope, receive, submit=False)) is not None:
            return await asgi_io.send_answer(refused, refused.status_code, scope, receive, send)
        task_id = params["task_id"]
        record = found(local.get(task_id) if local is not None else await remote.get(task_id), task_id, name, owner)
        if record is None or (task := lifecycle.view(catalog, record, now(), link_base.media_base(scope))) is None:
            missing = not_found(config)
            return await asgi_io.send_answer(missing, missing.status_code, scope, receive, send)
        # the mode, whatever the profile's action says
        scope[modes.SEEN] = modes.ACTIONS[name][record.shape & MODE_MASK]
        if metrics is not None:
            metrics.polled(task_id, task["status"], record.failure)
        await asgi_io.send_json(send, task)

    return [
        Route("/v2/{scope}/generations", asgi_io.endpoint(submit, reports_status=True), methods=["POST"]),
        Route("/v2/{scope}/generations/{task_id}", asgi_io.endpoint(poll, reports_status=True), methods=["GET"]),
        Route("/_media/{task_id}/{name}", asgi_io.endpoint(downloads(service)), methods=["GET"]),
    ]


def unknown_scope(name: str) -> Refused:
    """The 404 for a path's scope the contract does not have."""
    return Refused(404, "unknown_scope", f"Unknown scope {contract.quote(name)}; use one of {sorted(SCOPES)}.")


async def submit_body(
    headers: dict[bytes, bytes], receive: Receive, limit: int, schema: str = "submit-request"
) -> dict[str, Any] | None:
    """The submit body, valid against ``schema`` (``submit-request.json``, or a dialect's request), numbers
    written as strings read where it says so; None if the client went away first."""
    if headers.get(b"content-type", b"").split(b";")[0].strip().lower() != b"application/json":
        raise Refused(415, "unsupported_media_type", "Send the body as Content-Type: application/json.")
    try:
        body = await asgi_io.read_body(receive, limit)
    except asgi_io.BodyTooLarge:
        raise Refused(413, "request_too_large", f"The body is over {limit} bytes.") from None
    if body is None:
        return None
    try:
        payload = jsonio.loads(body)
        if not isinstance(payload, dict):
            raise Refused(400, "invalid_body", "The body must be a JSON object.")
        problems = validate.checked(schema, payload)
    except jsonio.TooDeep:
        raise Refused(400, "invalid_json", "The body is nested too deeply (about 1,000 levels at most).") from None
    except ValueError as exc:
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {exc}.") from None
    if problems:
        raise refusal(problems)
    return payload


def refusal(problems: list[Any]) -> Refused:
    """The 400 for a body's first problem, naming its field."""
    first = problems[0]
    code = "missing_field" if first.validator == "required" else "invalid_field"
    return Refused(400, code, contract.describe(first), param=contract.location(first).lstrip("/") or None)


def not_found(config: Config) -> JSONResponse:
    if config.unknown_task == "new-api":  # off the contract's error shape, on purpose: as new-api answers
        return newapi_error(400, NEWAPI_UNKNOWN_TASK, NEWAPI_UNKNOWN_TASK)
    return error(404, "task_not_found", "No such task for this key and scope.")
