"""HTTP-level faults: rate limits, server errors, latency and dropped connections, at configured rates.

Draws come from one generator seeded by the config's seed, one draw per request in arrival order,
so the same seed and the same requests meet the same faults. A fault is decided before anything
is stored: a refused submit never leaves a half-created task behind.
"""

from __future__ import annotations

import math
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from functools import cached_property
from typing import Any

from starlette.responses import HTMLResponse, Response
from starlette.types import Receive, Scope, Send

from . import contract
from .errors import error
from .profiles import Timing, table

# The schema bounds every number of a latency; a normal's tail could still draw past it, so draws are cut there.
LATENCY_MOST: float = contract.schema("mock-config")["$defs"]["faults"]["properties"]["latency"]["x-at-most"]


@dataclass(frozen=True)
class Faults:
    """Rates are probabilities per request, from 0 to 1; the embedded default injects nothing."""

    submit_429: float = 0.0
    retry_after: int = 1
    poll_500: float = 0.0
    poll_502: float = 0.0
    poll_503: float = 0.0
    drop: float = 0.0
    latency: Timing | None = None
    proxy_html: bool = False
    retry_after_date: bool = False

    @cached_property
    def active(self) -> bool:
        """Asked on every submit and poll, so worked out once: the faults never change, they are replaced."""
        return self.latency is not None or any(
            (self.submit_429, self.poll_500, self.poll_502, self.poll_503, self.drop)
        )

    def as_dict(self) -> dict[str, Any]:
        """The config's ``faults`` table form (``latency`` as a distribution table, or absent)."""
        names = ("submit_429", "retry_after", "poll_500", "poll_502", "poll_503", "drop")
        names += ("proxy_html", "retry_after_date")
        data: dict[str, Any] = {name: getattr(self, name) for name in names}
        if self.latency is not None:
            data["latency"] = table(self.latency)
        return data


@dataclass(frozen=True)
class Fault:
    """What to do instead of (or before) answering: ``status`` 0 means answer normally."""

    status: int = 0
    drop: bool = False
    delay: float = 0.0


NONE = Fault()


class Injector:
    """Decides each request's fault from ``faults``, which the admin API replaces in place.

    A reset makes a new injector, so that its draws start again from the seed.
    """

    def __init__(self, faults: Faults, seed: int) -> None:
        self.faults = faults
        self._rng = random.Random(f"{seed}:faults")

    def decide(self, submit: bool) -> Fault:
        f = self.faults
        if not f.active:
            return NONE
        delay = min(f.latency.draw(self._rng), LATENCY_MOST) if f.latency is not None else 0.0
        roll = self._rng.random()
        chances = [(f.drop, -1)] + (
            [(f.submit_429, 429)] if submit else [(f.poll_500, 500), (f.poll_502, 502), (f.poll_503, 503)]
        )
        for rate, status in chances:
            if roll < rate:
                return Fault(0 if status == -1 else status, status == -1, delay)
            roll -= rate
        return Fault(delay=delay)


class ConnectionDropped(Exception):
    """Raised where the server gives no handle on its connection (an in-process test client)."""


RAW_RECEIVE = "mockserver.receive"
DROPPED = "mockserver.dropped"
FAULT = "mockserver.fault"  # the kinds of fault injected into a request, for the journal


def drop_connection(scope: Scope, receive: Receive) -> Response:
    """Close the client's connection with no answer at all, as a crashed upstream or proxy does; returns what
    to send then.

    ASGI has no message for this. Under uvicorn, ``receive`` is bound to the request cycle, which
    holds the transport: marking the cycle disconnected stops uvicorn from sending its own 500,
    and closing the transport ends the connection. granian gives no handle on its connection, but
    ends it when an answer stops short of its length: the client reads a status line and headers,
    then the connection closes, as when an upstream dies mid-answer. Elsewhere (an in-process test
    client) the exception ends the request. Middleware that wraps ``receive`` keeps the server's own
    under ``RAW_RECEIVE`` in the scope, and finds ``DROPPED`` set in it afterwards.
    """
    scope[DROPPED] = True
    cycle = getattr(scope.get(RAW_RECEIVE, receive), "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is not None:
        cycle.disconnected = True  # type: ignore[union-attr]
        transport.close()
        return Response(status_code=500)  # never sent: the connection is gone
    if type(cycle).__module__.startswith("granian."):
        return _CutShort()
    raise ConnectionDropped


class _CutShort(Response):
    """Headers promising a body that never comes; granian closes the connection when the app returns."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1024")]})
        await send({"type": "http.response.body", "body": b"", "more_body": True})


def proxy_page(status: int) -> str:
    """The HTML a reverse proxy in front of a gateway answers when the gateway is down or overloaded."""
    title = f"{status} " + {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}[status]
    lines = ["<html>", f"<head><title>{title}</title></head>", "<body>", f"<center><h1>{title}</h1></center>"]
    return "\r\n".join([*lines, "<hr><center>nginx</center>", "</body>", "</html>", ""])


async def play(
    chosen: Fault,
    faults: Faults,
    scope: Scope,
    receive: Receive,
    clock: Callable[[], float],
    sleep: Callable[[float], Awaitable[None]],
) -> Response | None:
    """Carry out a fault: wait its delay, then drop the connection or give the answer; None to answer normally."""
    if chosen.delay:
        await sleep(chosen.delay)
    if chosen.drop:
        return drop_connection(scope, receive)
    if not chosen.status:
        return None
    wait = faults.retry_after
    after = formatdate(math.ceil(clock()) + wait, usegmt=True) if faults.retry_after_date else str(wait)
    carries = contract.error_table()[chosen.status].get("headers", ())  # error.json says which statuses
    retry = {"Retry-After": after} if "Retry-After" in carries else None
    if chosen.status == 429:
        return error(429, "rate_limited", "Simulated rate limit: try again after Retry-After seconds.", headers=retry)
    if faults.proxy_html and chosen.status in (502, 503):
        return HTMLResponse(proxy_page(chosen.status), status_code=chosen.status, headers=retry)
    return error(chosen.status, "simulated_fault", f"Simulated HTTP {chosen.status} fault.", headers=retry)
