"""The kit's I/O: send requests, keep to the budget, and walk tasks to their end.

Nothing here judges a response; it records ``Exchange``s for the checks. Walks of many tasks run
concurrently on one event loop, so a run lasts about as long as its slowest task.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from .client import FINISHED, NOT_VISIBLE, TIMEOUT, Policy, Poller, Retries, as_task, doubled, grace, transient
from .equivalents import Spelling
from .findings import Exchange, elapsed
from .options import all_scopes

HOLD_POLLS = 8  # polls after a terminal state, to see that it holds (each a free GET)
IN_FLIGHT = 8  # unpaid requests sent at once: a slow server then costs seconds, not minutes
_KEPT_MEDIA_BYTES = 16 * 1024 * 1024  # enough of an output to decode it whole; the rest is only counted
_LATE_OUTPUT = frozenset({None, 403, 404, 410, 429})  # what a CDN answers before the file reaches it
_OUTPUT_RETRY = 0.25  # seconds before the first retry of an output, doubling


@dataclass
class Budget:
    """The most tasks one run may create: against a real gateway every accepted submit is paid for.

    Submits in flight hold a slot each until answered, so concurrent ones never overspend.
    """

    limit: int
    spent: int = 0
    pending: int = 0
    _freed: asyncio.Condition | None = None

    async def reserve(self) -> bool:
        """Take a slot, waiting while submits in flight might still leave one; False once none can."""
        self._freed = self._freed or asyncio.Condition()
        async with self._freed:
            await self._freed.wait_for(lambda: self.spent + self.pending < self.limit or not self.pending)
            if self.spent + self.pending >= self.limit:
                return False
            self.pending += 1
            return True

    async def release(self, exchange: Exchange) -> None:
        """Free the submit's slot; it is spent if the server accepted the submit (a paid generation)."""
        assert self._freed is not None
        async with self._freed:
            self.pending -= 1
            self.spent += exchange.status is not None and 200 <= exchange.status < 300
            self._freed.notify_all()


@dataclass
class Target:
    base_url: str
    key: str
    policy: Policy
    budget: Budget
    http: httpx.AsyncClient
    second_key: str | None = None
    hold: float = 5.0  # seconds a finished task is still polled
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    accepted: list[tuple[str, Exchange]] = field(default_factory=list)  # every submit answered 2xx, by scope
    request_timeout: float = math.inf  # seconds one request may take, its body included
    ends: float = math.inf  # when the run gives up on the server: no request outlives it
    rand: Callable[[], float] = field(default_factory=lambda: random.Random(0).random)  # jitter, seeded
    seen: list[Exchange] = field(default_factory=list)  # every exchange of the run, for the checks on every answer

    def url(self, scope: str, task_id: str | None = None) -> str:
        return f"{self.base_url}/v2/{scope}/generations" + ("" if task_id is None else f"/{task_id}")

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key if key is None else key}"}

    def bound(self) -> float:
        """Seconds the next request may take: ``request_timeout``, the task timeout, and what is left of the run."""
        return min(self.request_timeout, self.policy.timeout, self.ends - self.clock())

    def expired(self) -> bool:
        return self.clock() >= self.ends

    def keep(self, exchange: Exchange) -> Exchange:
        self.seen.append(exchange)
        return exchange


async def send(target: Target, method: str, url: str, **kwargs: Any) -> Exchange:
    """One request, its whole answer bounded in time (``Target.bound``), however slowly the server sends it."""
    request = target.http.build_request(method, url, **kwargs)

    async def answered() -> Exchange:
        return Exchange.of(await target.http.send(request))

    return await _bounded(target, request, answered)


async def _bounded(target: Target, request: httpx.Request, answered: Callable[[], Awaitable[Exchange]]) -> Exchange:
    """``answered()`` within ``Target.bound``, kept; a request over time or failed is an ``Exchange`` that says so."""
    bound = target.bound()
    try:
        async with asyncio.timeout(None if math.isinf(bound) else max(bound, 0.0)):
            return target.keep(await answered())
    except TimeoutError:
        return target.keep(Exchange.overdue_after(request, bound))
    except httpx.HTTPError as exc:
        return target.keep(Exchange.failed(request, exc))


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
    path: str | None = None,
) -> Exchange | None:
    """POST once, or again after a 429 (which created nothing); None when the budget is spent.

    ``retry_gateway_errors`` also retries 5xx and dropped connections: only for bodies that must be
    refused, since a valid submit that timed out at a proxy may still have become a paid task. ``path``
    spells the submit's path otherwise (``equivalents``).
    """
    if not await target.budget.reserve():
        return None
    sent = {"Content-Type": content_type, **(target.auth() if headers is None else headers)}
    retry = transient if retry_gateway_errors else _rate_limited
    url = target.url(scope) if path is None else target.base_url + path
    exchange = Exchange("POST", url, (), b"", None, error="not sent")
    try:
        exchange = await _retrying(target, lambda: send(target, "POST", url, content=encode(body), headers=sent), retry)
    finally:
        await target.budget.release(exchange)
    if exchange.status is not None and 200 <= exchange.status < 300:
        target.accepted.append((scope, exchange))
    return exchange


async def submit_many(target: Target, scope: str, bodies: list[Any]) -> list[Exchange | None]:
    """Refusal probes, ``IN_FLIGHT`` at a time, answers in the order of ``bodies`` whatever order they came in."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(body: Any) -> Exchange | None:
        async with gate:
            return await submit(target, scope, body, retry_gateway_errors=True)

    return list(await asyncio.gather(*(one(b) for b in bodies)))


async def read_many(target: Target, scope: str, task_ids: list[str]) -> list[Exchange]:
    """Polls of ids that name no task, ``IN_FLIGHT`` at a time, answers in the order of ``task_ids``."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(task_id: str) -> Exchange:
        async with gate:
            return await read(target, scope, task_id)

    return list(await asyncio.gather(*(one(t) for t in task_ids)))


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
    outcome: str = FINISHED  # or how the ``Poller`` gave up: timeout, gone, unreadable, off-contract
    downloads: list[Exchange] = field(default_factory=list)
    late_downloads: list[Exchange] = field(default_factory=list)  # first answers of outputs that came late
    foreign: list[tuple[str, Exchange]] = field(default_factory=list)  # the second key's reads, while it ran
    request: Any = None  # the body that created the task
    siblings: tuple[Any, ...] = ()  # the bodies of the run's other tasks

    @property
    def last(self) -> dict[str, Any] | None:
        return next((p.task for p in reversed(self.polls) if p.task is not None), None)


async def walk(target: Target, scope: str, task_id: str) -> Walk:
    """Poll on the spec's schedule to a terminal state, then on for a while to see it hold.

    Every decision is the client's ``Poller``'s, so the kit judges a server by what the shipped
    client would meet. While the task runs, the second key (if any) tries to read it once.
    """
    found = Walk(scope, task_id, target.clock())
    poller = Poller(task_id, target.policy, found.started, target.rand, hold=target.hold, hold_polls=HOLD_POLLS)
    while True:
        if target.expired():
            found.outcome = TIMEOUT
            return found
        exchange = await send(target, "GET", target.url(scope, task_id), headers=target.auth())
        now = target.clock()
        task = as_task(exchange.status, exchange.json())
        found.polls.append(Poll(now, exchange, task))
        verdict = poller.step(exchange.status, task, now, exchange.header("retry-after"))
        if task is not None and poller.finished is None and target.second_key and not found.foreign:
            found.foreign = await foreign_reads(target, scope, task_id, "while it ran")
        if isinstance(verdict, str):
            found.outcome = verdict
            return found
        await target.sleep(verdict)


async def foreign_reads(target: Target, scope: str, task_id: str, when: str) -> list[tuple[str, Exchange]]:
    """The second key reads the task through every scope's path: none of them may show it."""
    assert target.second_key
    paths = [scope, *(s for s in all_scopes() if s != scope)]
    headers = target.auth(target.second_key)
    reads = [read(target, s, task_id, headers) for s in paths]
    answers = await asyncio.gather(*reads)
    return [(f"another key's {scope} task, {when}, read at /v2/{s}/", a) for s, a in zip(paths, answers)]


async def send_spelled(target: Target, spelling: Spelling) -> Exchange:
    """A request spelled as given (``equivalents``): its path appended to the base URL as it stands."""
    return await send(target, spelling.method, target.base_url + spelling.path, headers=spelling.headers)


def transient_error(exchange: Exchange) -> bool:
    """What a client retries: a dropped connection, a 429 or a 5xx."""
    return transient(exchange.status)


def _rate_limited(status: int | None) -> bool:
    return status == 429


async def read(target: Target, scope: str, task_id: str, headers: dict[str, str] | None = None) -> Exchange:
    """One look at a task, retried on transient errors as a poll would be."""
    sent = target.auth() if headers is None else headers
    return await _retrying(target, lambda: send(target, "GET", target.url(scope, task_id), headers=sent), transient)


async def reread(target: Target, scope: str, task_id: str) -> Exchange:
    """A known task read again later: "not found" is retried through the grace, as a walk would."""
    deadline = target.clock() + grace(target.policy)
    while True:
        exchange = await read(target, scope, task_id)
        if exchange.status not in NOT_VISIBLE or target.clock() >= deadline:
            return exchange
        await target.sleep(target.policy.poll_initial)


async def _retrying(
    target: Target, attempt_once: Callable[[], Awaitable[Exchange]], retry: Callable[[int | None], bool]
) -> Exchange:
    """Send until the answer is not one ``retry`` picks (None: a dropped connection), as the client's ``Retries`` say."""
    retries = Retries(target.policy, min(target.clock() + target.policy.timeout, target.ends), target.rand)
    exchange = await attempt_once()
    while retry(exchange.status) and not retries.spent(exchange.status) and target.clock() < retries.deadline:
        await target.sleep(retries.pause(target.clock(), exchange.status, exchange.header("retry-after")))
        exchange = await attempt_once()
    return exchange


async def download(target: Target, url: str) -> tuple[Exchange, Exchange | None]:
    """GET an output as a client keeps it, and the first failed answer if it only came after retries.

    A CDN may not have the file for a moment after SUCCESS, so a missing or failing output is
    fetched again, backing off, through the grace.
    """
    deadline = min(target.clock() + grace(target.policy), target.ends)
    first: Exchange | None = None
    attempt = 0
    while True:
        exchange = await _download_once(target, url)
        if exchange.status not in _LATE_OUTPUT and (exchange.status or 0) < 500:
            return exchange, first
        first = first or exchange
        if target.clock() >= deadline:
            return exchange, None
        await target.sleep(min(doubled(_OUTPUT_RETRY, attempt), deadline - target.clock()))
        attempt += 1


async def _download_once(target: Target, url: str) -> Exchange:
    """Without a key, then with it only where the gateway itself asks; the first bytes are kept."""
    exchange = await _fetch(target, url, {})
    if exchange.status in (401, 403) and _same_origin(url, target.base_url):
        exchange = await _fetch(target, url, target.auth())  # the gateway's own content endpoint
    return exchange


async def _fetch(target: Target, url: str, headers: dict[str, str]) -> Exchange:
    """An output, its first ``_KEPT_MEDIA_BYTES`` kept and every byte counted, within ``Target.bound``."""
    request = target.http.build_request("GET", url, headers=headers)

    async def answered() -> Exchange:
        response = await target.http.send(request, stream=True, follow_redirects=True)
        try:
            kept, size = bytearray(), 0
            async for chunk in response.aiter_bytes():
                kept += chunk[: max(0, _KEPT_MEDIA_BYTES - len(kept))]
                size += len(chunk)
        finally:
            await response.aclose()
        answer = (response.status_code, tuple(response.headers.multi_items()), bytes(kept))
        sent = tuple(request.headers.multi_items())
        return Exchange("GET", url, sent, b"", *answer, elapsed=elapsed(response), size=size)

    return await _bounded(target, request, answered)


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)
