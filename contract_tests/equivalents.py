"""Near-equivalent spellings of the kit's requests, as proxies and frameworks normalise them differently.

A path with a trailing slash, a doubled slash, a percent-encoded letter, a matrix parameter or the scope in
capitals; ``HEAD`` for ``GET``; header names in other cases, a scheme in lower case. One layer may read such
a request as the plain one while another (the auth middleware, the router, a cache) does not, and then a
check done in one place is skipped in the other. So each spelling is sent where the plain request is
refused, and the rule (``equivalent_requests``) is that a spelling never does better than the plain
request: no task shown to a key that is not its owner's, no task for an id that names none, no paid task
without a key, and never a 5xx where the plain request gets a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

from .findings import FAIL, Exchange, Finding


@dataclass(frozen=True)
class Spelling:
    why: str
    method: str
    path: str  # appended to the base URL, as sent
    headers: dict[str, str]


def _paths(scope: str, task_id: str | None) -> list[tuple[str, str]]:
    """``(why, path)``: the plain path and its near-equivalents, for a task (``task_id``) or the submit."""
    tail = "" if task_id is None else f"/{task_id}"
    first, rest = scope[0], scope[1:]
    return [
        ("a trailing slash", f"/v2/{scope}/generations{tail}/"),
        ("a doubled slash", f"/v2/{scope}//generations{tail}"),
        ("the scope in capitals", f"/v2/{scope.upper()}/generations{tail}"),
        ("a percent-encoded letter in the scope", f"/v2/%{ord(first):02X}{rest}/generations{tail}"),
        ("a matrix parameter", f"/v2/{scope}/generations{tail};x=1"),
        ("an empty query", f"/v2/{scope}/generations{tail}?"),
    ]


def _credentials(key: str | None, name: str = "Authorization") -> dict[str, str]:
    return {} if key is None else {name: f"Bearer {key}"}


def reads(scope: str, task_id: str, keys: dict[str, str | None]) -> list[Spelling]:
    """A task read by each of ``keys`` (why -> key, None for none) in every spelling, ``HEAD`` among them."""
    found = []
    for who, key in keys.items():
        plain = f"/v2/{scope}/generations/{task_id}"
        found += [Spelling(f"GET with {who}, {why}", "GET", p, _credentials(key)) for why, p in _paths(scope, task_id)]
        found.append(Spelling(f"HEAD with {who}", "HEAD", plain, _credentials(key)))
        if key is not None:
            found.append(
                Spelling(f"GET with {who}, header name in capitals", "GET", plain, _credentials(key, "AUTHORIZATION"))
            )
            found.append(
                Spelling(f"GET with {who}, scheme in lower case", "GET", plain, {"Authorization": f"bearer {key}"})
            )
    return found


def submits(scope: str) -> list[Spelling]:
    """A submit without a key, in every spelling of its path: each would be a task nobody pays for."""
    return [Spelling(f"POST without a key, {why}", "POST", p, {}) for why, p in _paths(scope, None)]


def judge(spelling: Spelling, exchange: Exchange, shows: str | None) -> Finding | None:
    """The rule: a spelling of a refused request is refused too (any 4xx, or a redirect), never served or a 5xx.

    ``shows`` is what a 2xx would have given away, for the message; None when the refusal itself is the point.
    """
    status = exchange.status
    if status is not None and 300 <= status < 500:
        return None
    if status is None or status >= 500:
        said = status or exchange.error
        msg = f"{spelling.why}: answered {said} where the plain request is refused"
        return Finding("equivalent_requests", FAIL, msg, (exchange,))
    msg = f"{spelling.why}: answered {status} ({shows or 'served'}) where the plain request is refused"
    return Finding("equivalent_requests", FAIL, msg, (exchange,))
