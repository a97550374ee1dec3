"""Reading what the admin API is sent: bodies and query strings, checked once against ``schemas/``.

Every admin route, the rules' too, reads its input here, so each is strict JSON of a bounded size and
judged by the settings validator (finite numbers, integers without a fraction). A refusal is raised as
``refusals.Refused``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from .. import contract
from ..engine import jsonio
from ..engine.refusals import Refused

PAGE = 100
MAX_PAGE = 1000
MAX_BODY = 64 * 1024  # admin bodies are a few fields


def refusal(problems: list[Any]) -> Refused:
    first = problems[0]
    param = contract.location(first).lstrip("/") or None
    return Refused(400, "invalid_field", contract.describe(first), param=param)


async def body_of(request: Request, schema: str | None) -> Any:
    """The body as strict JSON (no NaN, no Infinity), bounded in size: an object valid against
    ``schemas/<schema>``, or with None any JSON, for a caller that first words what its schema says poorly."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise Refused(413, "request_too_large", f"An admin body is {MAX_BODY} bytes at most.")
    try:
        payload = jsonio.loads(bytes(body))
    except ValueError as exc:  # TooDeep too
        raise Refused(400, "invalid_json", f"The body is not valid JSON: {str(exc) or 'nested too deeply'}.") from exc
    if schema is None:
        return payload
    if not isinstance(payload, dict):
        raise Refused(400, "invalid_body", "The body must be a JSON object.")
    try:
        problems = contract.errors(schema, payload, settings=True)
    except RecursionError as exc:  # parsed, but deeper than jsonschema can quote: a 500 in plain text
        raise Refused(400, "invalid_json", "The body is not valid JSON: nested too deeply.") from exc
    if problems:
        raise refusal(problems)
    return payload


def paging(request: Request, default_limit: int = PAGE) -> tuple[int, int]:
    """``offset`` and ``limit`` from the query string, checked against ``admin-query.json``; limit capped."""
    given = {name: request.query_params[name] for name in ("offset", "limit") if name in request.query_params}
    problems = contract.errors("admin-query", given, settings=True)
    if problems:
        raise refusal(problems)
    return int(given.get("offset", 0)), min(int(given.get("limit", default_limit)), MAX_PAGE)
