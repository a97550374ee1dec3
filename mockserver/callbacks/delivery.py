"""One signed POST: Standard Webhooks headers, no redirects followed, a bounded answer and a timeout.

The signature is ``v1,`` and the base64 HMAC-SHA256, keyed by the secret's base64 part after
``whsec_``, of ``{webhook-id}.{webhook-timestamp}.{body}``: the Standard Webhooks scheme, a few lines
that need no library. Any outcome (an answer, a refused connection, a timeout) is an ``Answer``; this
module never raises for what the receiver does.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

CONNECTIONS = 16  # POSTs in flight per worker, and the pool's size; a burst beyond waits its turn
ANSWER_LIMIT = 64 * 1024  # bytes of a receiver's answer read before the connection is let go
USER_AGENT = "unified-generations-mock (callbacks)"


@dataclass(frozen=True, slots=True)
class Answer:
    """``status`` 0: no HTTP answer at all (``error`` says why)."""

    status: int
    ms: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def key_of(secret: str) -> bytes:
    """The HMAC key a ``whsec_<base64>`` secret stands for."""
    return base64.b64decode(secret.removeprefix("whsec_"))


def signed(key: bytes, webhook_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three Standard Webhooks headers for ``body``."""
    message = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def client() -> httpx.AsyncClient:
    """No redirects, no proxies or netrc from the environment: the URL given is the one called."""
    # Few idle connections: httpcore checks each idle one with a select() before every request.
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=4)
    return httpx.AsyncClient(follow_redirects=False, trust_env=False, limits=limits)


async def post(http: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body``, all of it done within ``timeout``; a 3xx is an answer like any other non-2xx, not followed."""
    sent = {"content-type": "application/json", "user-agent": USER_AGENT, **headers}
    started = time.perf_counter()
    try:
        async with (
            asyncio.timeout(timeout),
            http.stream("POST", url, content=body, headers=sent, timeout=timeout) as answer,
        ):
            read = 0
            async for chunk in answer.aiter_raw():
                read += len(chunk)
                if read >= ANSWER_LIMIT:
                    break
            return Answer(answer.status_code, _ms(started))
    except TimeoutError:
        return Answer(0, _ms(started), f"no answer within {timeout:g} s")
    except httpx.HTTPError as exc:
        return Answer(0, _ms(started), f"{type(exc).__name__}: {exc}"[:200])


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
