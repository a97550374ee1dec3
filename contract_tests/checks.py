"""Checks on single responses, each named for the clause it enforces.

Every check takes one ``Exchange`` and the ``Expect`` that says what the request was meant to
provoke, and returns a ``Finding`` or None. A check that does not apply returns None as well:
checks are independent, so one broken clause yields one clear finding.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mockserver import contract

from .findings import FAIL, NOT_JSON, WARN, Exchange, Finding, Verdicts


@dataclass(frozen=True)
class Expect:
    """What a request should get. ``kind`` is one of the constants below; ``why`` names the input."""

    kind: str
    why: str = ""


ACCEPT = "accept"  # a body the schema accepts, with required fields only
ACCEPT_RICH = "accept-rich"  # a body the schema accepts, with optional or extra fields
REJECT = "reject"  # a body the spec forbids
AUTH = "auth"  # no key or a malformed header
WRONG_KEY = "wrong-key"  # a well-formed header with a key the server does not know
MALFORMED_AUTH = "malformed-auth"  # an Authorization header that is not "Bearer <key>" (RFC 6750 allows 400)
UNKNOWN = "unknown"  # a task id or scope that does not exist
FOREIGN = "foreign"  # another key's task
READING = "reading"  # an input only our reading forbids (a submit sent as text/plain)
READING_BODY = "reading-body"  # a body only our reading forbids (null for an optional field): accepting it warns
ODD_ID = "odd-id"  # a task id in the path that can name no task: any 4xx will do, even a proxy's

Check = Callable[[Exchange, Expect], Finding | None]
CHECKS: list[Check] = []


def check(fn: Check) -> Check:
    CHECKS.append(fn)
    return fn


# The error code in schemas/error.json's x-errors table that names each kind of refusal.
_USUAL_CODE = {
    REJECT: "invalid_field",
    AUTH: "missing_api_key",
    MALFORMED_AUTH: "missing_api_key",
    WRONG_KEY: "invalid_api_key",
    UNKNOWN: "task_not_found",
    FOREIGN: "task_not_found",
    READING: "unsupported_media_type",
    READING_BODY: "invalid_field",
}
_OUR_READING = (READING, READING_BODY)


def usual_status(code: str) -> int:
    """The HTTP status ``error.json``'s table gives an error code."""
    return next(status for status, row in contract.error_table().items() if code in row["codes"])


def _finding(fn: Check | str, severity: str, message: str, exchange: Exchange) -> Finding:
    name = fn if isinstance(fn, str) else fn.__name__
    return Finding(name, severity, message, (exchange,))


def is_json_type(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


@check
def not_server_error(exchange: Exchange, expect: Expect) -> Finding | None:
    """No input, however bad, may earn a 5xx or a dropped connection."""
    if exchange.status is None:
        return _finding(not_server_error, FAIL, f"{expect.why}: no response", exchange)
    if exchange.status >= 500:
        return _finding(not_server_error, FAIL, f"{expect.why}: answered {exchange.status}", exchange)
    return None


@check
def status_code(exchange: Exchange, expect: Expect) -> Finding | None:
    """The status class is HTTP's and the spec's to decide; the exact 4xx is only our reading."""
    status = exchange.status
    if status is None or status >= 500:
        return None
    ok = 200 <= status < 300
    if expect.kind in (ACCEPT, ACCEPT_RICH):
        if ok:
            return None
        severity = FAIL if expect.kind == ACCEPT else WARN
        return _finding(status_code, severity, f"{expect.why}: a valid request was refused with {status}", exchange)
    if ok:
        what = {
            REJECT: "accepted a request the spec forbids (against a real gateway, a paid task)",
            AUTH: "served a request without a valid key",
            WRONG_KEY: "served a request with a wrong key",
            MALFORMED_AUTH: "served a request without a valid key",
            UNKNOWN: "answered 2xx for something that does not exist",
            FOREIGN: "showed one key's task to another key",
            READING: "accepted it",
            READING_BODY: "accepted it (only our reading refuses it: against a real gateway, a paid task)",
            ODD_ID: "answered 2xx for a task id nobody created",
        }[expect.kind]
        severity = WARN if expect.kind in _OUR_READING else FAIL
        return _finding(status_code, severity, f"{expect.why}: {what}", exchange)
    if expect.kind == ODD_ID and 300 <= status < 400:  # a router adding or dropping a slash, say; not followed
        return _finding(status_code, WARN, f"{expect.why}: redirected ({status}) rather than refused", exchange)
    if not 400 <= status < 500:
        return _finding(status_code, FAIL, f"{expect.why}: expected a 4xx, got {status}", exchange)
    if expect.kind == ODD_ID:
        return None  # 400, 404, 405 or a proxy's 414: the id names nothing, and any refusal says so
    wanted = usual_status(_USUAL_CODE[expect.kind])
    if status == wanted:
        return None
    tolerated = {WRONG_KEY: (403,), MALFORMED_AUTH: (400, 403)}.get(expect.kind, ())
    if expect.kind in (AUTH, WRONG_KEY, MALFORMED_AUTH) and status not in tolerated:
        return _finding(status_code, FAIL, f"{expect.why}: HTTP says 401 when credentials fail, got {status}", exchange)
    return _finding(status_code, WARN, f"{expect.why}: got {status}; {wanted} is the usual answer", exchange)


@check
def json_body(exchange: Exchange, expect: Expect) -> Finding | None:
    """Answers are JSON, by content type and by body.

    For a success and for a refused submit the issue and spec demand it; for other errors (which
    a framework's router or auth layer may write) it is our reading.
    """
    status = exchange.status
    if status is None or status >= 500 or expect.kind == ODD_ID:  # a proxy may refuse odd paths in HTML
        return None
    hard = 200 <= status < 300 or expect.kind in (REJECT, READING_BODY)
    severity = FAIL if hard else WARN
    if not is_json_type(exchange.content_type):
        return _finding(
            json_body, severity, f"{expect.why}: content type {exchange.content_type!r} is not JSON", exchange
        )
    if exchange.json() is NOT_JSON:
        return _finding(json_body, severity, f"{expect.why}: the body does not parse as JSON", exchange)
    return None


@check
def submit_response_schema(exchange: Exchange, expect: Expect) -> Finding | None:
    """An accepted submit answers with the spec's ``{"task_id": ...}``."""
    if expect.kind not in (ACCEPT, ACCEPT_RICH) or not _ok_json(exchange):
        return None
    return _schema_finding(submit_response_schema, "submit-response", exchange, FAIL)


@check
def error_schema(exchange: Exchange, expect: Expect) -> Finding | None:
    """Errors in ``schemas/error.json``'s shape: our reading, since the spec defines no errors."""
    status = exchange.status
    if status is None or not 400 <= status < 500 or exchange.json() is NOT_JSON or expect.kind == ODD_ID:
        return None
    return _schema_finding(error_schema, "error", exchange, WARN)


def _ok_json(exchange: Exchange) -> bool:
    return exchange.status is not None and 200 <= exchange.status < 300 and exchange.json() is not NOT_JSON


def _schema_finding(fn: Check | str, name: str, exchange: Exchange, severity: str) -> Finding | None:
    problems = contract.errors(name, exchange.json())
    if not problems:
        return None
    clauses = "; ".join(contract.describe(p) for p in problems[:3])
    return _finding(fn, severity, f"does not match schemas/{name}.json: {clauses}", exchange)


def run(exchange: Exchange, expect: Expect, verdicts: Verdicts) -> None:
    """Every check on one exchange, each recorded as passed or as its finding."""
    for fn in CHECKS:
        finding = fn(exchange, expect)
        if finding is None:
            verdicts.passed(fn.__name__)
        else:
            verdicts.add(finding)


def task_ids_distinct(accepted: list[tuple[str, Exchange]]) -> list[Finding]:
    """Every accepted submit of the run got its own id: same second, same model or another scope alike.

    An id made of the model and the second, or a counter per scope, hands one task's id to the next,
    and a client keeping tasks by id (as any does) then shows the one in place of the other.
    """
    first: dict[str, tuple[str, Exchange]] = {}
    found: list[Finding] = []
    for scope, exchange in accepted:
        body = exchange.json()
        task_id = body.get("task_id") if isinstance(body, dict) else None
        if not isinstance(task_id, str):
            continue
        if task_id in first:
            where = "in the same scope" if first[task_id][0] == scope else f"in {first[task_id][0]} and {scope}"
            msg = f"two accepted submits {where} got the same task_id {task_id!r}"
            found.append(Finding("task_ids_distinct", FAIL, msg, (first[task_id][1], exchange)))
        else:
            first[task_id] = (scope, exchange)
    return found


def auth_scheme_case(exchange: Exchange) -> Finding | None:
    """HTTP's auth scheme is case-insensitive (RFC 9110 11.1), so ``bearer KEY`` reads a task as ``Bearer KEY`` does.

    Only a warning: the spec writes ``Bearer``, and so does every client that follows it.
    """
    if exchange.status == 200:
        return None
    msg = f"a known task read with the scheme written 'bearer' answered {exchange.status or exchange.error}"
    return Finding("auth_scheme_case", WARN, f"{msg}; HTTP says the scheme is case-insensitive", (exchange,))
