"""The kit's I/O: send requests, keep to the budget, and walk tasks to their end.

Nothing here judges a response; it records ``Exchange``s for the checks. Walks of many tasks run
concurrently on one event loop, so a run lasts about as long as its slowest task.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from . import contract
from .client import HONOURS_RETRY_AFTER, Policy, backoff, is_terminal, retry_after
from .findings import Exchange

HOLD_POLLS = 3  # polls after a terminal state, to see that it holds
STRANGE_POLLS = 3  # polls in a row with a status outside the seed's before a walk gives up
VISIBILITY_GRACE = 15.0  # seconds a new task may answer "not found" before that counts against it
_NOT_VISIBLE = frozenset({400, 404, 410})
_TRANSIENT = frozenset({None, 429, 500, 502, 503, 504})
_KEPT_MEDIA_BYTES = 64 * 1024


@dataclass
class Budget:
    """The most tasks one run may create: against a real gateway every accepted submit is paid for."""

    limit: int
    spent: int = 0

    def allows(self) -> bool:
        return self.spent < self.limit

    def charge(self, exchange: Exchange) -> None:
        if exchange.status is not None and 200 <= exchange.status < 300:
            self.spent += 1


@dataclass
class Target:
    base_url: str
    key: str
    policy: Policy
    budget: Budget
    http: httpx.AsyncClient
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep

    def url(self, scope: str, task_id: str | None = None) -> str:
        return f"{self.base_url}/v2/{scope}/generations" + ("" if task_id is None else f"/{task_id}")

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key if key is None else key}"}


async def send(target: Target, method: str, url: str, **kwargs: Any) -> Exchange:
    request = target.http.build_request(method, url, **kwargs)
    try:
        return Exchange.of(await target.http.send(request))
    except httpx.HTTPError as exc:
        return Exchange.failed(request, exc)


def encode(body: Any) -> bytes:
    """A body as the wire sees it; bytes pass untouched so malformed JSON stays malformed."""
    return body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()


async def submit(
    target: Target,
    scope: str,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
    retry_gateway_errors: bool = False,
) -> Exchange | None:
    """POST once, or again after a 429 (which created nothing); None when the budget is spent.

    ``retry_gateway_errors`` also retries 5xx and dropped connections: only for bodies that must be
    refused, since a valid submit that timed out at a proxy may still have become a paid task.
    """
    if not target.budget.allows():
        return None
    sent = {"Content-Type": content_type, **(target.auth() if headers is None else headers)}
    retry = _TRANSIENT if retry_gateway_errors else frozenset({429})
    url = target.url(scope)
    exchange = await _retrying(target, lambda: send(target, "POST", url, content=encode(body), headers=sent), retry)
    target.budget.charge(exchange)
    return exchange


@dataclass
class Poll:
    at: float
    exchange: Exchange
    task: dict[str, Any] | None


@dataclass
class Walk:
    """Every poll of one task, from just after its submit until it ended or the walk gave up."""

    scope: str
    task_id: str
    started: float
    polls: list[Poll] = field(default_factory=list)
    outcome: str = "finished"  # finished | timeout | gone | unreadable | off-contract
    downloads: list[Exchange] = field(default_factory=list)

    @property
    def last(self) -> dict[str, Any] | None:
        return next((p.task for p in reversed(self.polls) if p.task is not None), None)


async def walk(target: Target, scope: str, task_id: str) -> Walk:
    """Poll on the seed's schedule to a terminal state, then a few more times to see it hold."""
    policy = target.policy
    found = Walk(scope, task_id, target.clock())
    attempt = transient = held = strange = 0
    states = contract.lifecycle()["states"]
    while True:
        exchange = await send(target, "GET", target.url(scope, task_id), headers=target.auth())
        now = target.clock()
        task = exchange.json() if exchange.status == 200 else None
        task = task if isinstance(task, dict) else None
        found.polls.append(Poll(now, exchange, task))
        hint = None
        if task is not None:
            transient = 0
            held += is_terminal(task)
            strange = 0 if task.get("status") in states else strange + 1
            if held > HOLD_POLLS:
                return found
            if strange >= STRANGE_POLLS:
                found.outcome = "off-contract"  # it may never reach a state we know to be the end
                return found
        elif transient_error(exchange):
            transient += 1
            if transient > policy.retries:
                found.outcome = "unreadable"
                return found
            if exchange.status in HONOURS_RETRY_AFTER:
                hint = retry_after(exchange.header("retry-after"), time.time(), policy.retry_after_max)
        elif exchange.status in _NOT_VISIBLE and found.last is None and now - found.started < _grace(policy):
            pass  # some gateways make a new task visible a moment after its submit
        else:
            found.outcome = "gone" if found.last is not None else "unreadable"
            return found
        if now - found.started >= policy.timeout:
            found.outcome = "timeout"
            return found
        delay = policy.poll_initial if held else hint if hint is not None else backoff(attempt, policy)
        attempt += 1
        await target.sleep(min(delay, max(0.0, found.started + policy.timeout - now)))


def transient_error(exchange: Exchange) -> bool:
    """What a client retries: a dropped connection, a 429 or a 5xx."""
    return exchange.status in _TRANSIENT or (exchange.status or 0) >= 500


async def read(target: Target, scope: str, task_id: str, headers: dict[str, str] | None = None) -> Exchange:
    """One look at a task, retried on transient errors as a poll would be."""
    sent = target.auth() if headers is None else headers
    return await _retrying(target, lambda: send(target, "GET", target.url(scope, task_id), headers=sent), _TRANSIENT)


async def _retrying(target: Target, attempt_once: Callable[[], Awaitable[Exchange]], retry: frozenset[int]) -> Exchange:
    """Send until the answer is not one of ``retry`` (None: a dropped connection), honouring Retry-After."""
    policy = target.policy
    for attempt in range(policy.retries + 1):
        exchange = await attempt_once()
        if exchange.status not in retry or attempt == policy.retries:
            break
        hint = retry_after(exchange.header("retry-after"), time.time(), policy.retry_after_max)
        await target.sleep(backoff(attempt, policy) if hint is None else hint)
    return exchange


def _grace(policy: Policy) -> float:
    return min(VISIBILITY_GRACE, policy.timeout / 4)


async def download(target: Target, url: str) -> Exchange:
    """GET an output as a client keeps it: without a key, then with it only where the gateway itself asks.

    Only the first bytes are kept: enough to show and to recognise the media.
    """
    exchange = await _fetch(target, url, {})
    if exchange.status in (401, 403) and _same_origin(url, target.base_url):
        exchange = await _fetch(target, url, target.auth())  # the gateway's own content endpoint
    return exchange


async def _fetch(target: Target, url: str, headers: dict[str, str]) -> Exchange:
    request = target.http.build_request("GET", url, headers=headers)
    try:
        response = await target.http.send(request, stream=True, follow_redirects=True)
        try:
            head = b""
            async for chunk in response.aiter_bytes():
                head = (head + chunk)[:_KEPT_MEDIA_BYTES]
        finally:
            await response.aclose()
    except httpx.HTTPError as exc:
        return Exchange.failed(request, exc)
    answer = (response.status_code, tuple(response.headers.multi_items()), head)
    return Exchange("GET", url, tuple(request.headers.multi_items()), b"", *answer)


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
