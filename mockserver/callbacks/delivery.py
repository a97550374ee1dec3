"""One signed POST: Standard Webhooks headers, no redirects followed, a bounded answer and a timeout.

The POST is h11 (the HTTP/1.1 state machine under httpcore) over an asyncio stream, one connection
each: httpx cost about 1.5 ms of CPU a callback here, this about a quarter of that, and callbacks share
the event loop with the polls. No proxy or netrc from the environment is read, and the URL is not parsed
again: the host and port called are the ``Target`` the allow-list approved.

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
import ssl
import time
from dataclasses import dataclass
from functools import cache

import h11

from .asked import Target

CONNECTIONS = 16  # POSTs in flight per worker; a burst beyond waits its turn
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


async def post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> Answer:
    """POST ``body``, all of it done within ``timeout``; a 3xx is an answer like any other non-2xx, not followed."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            tls = _tls() if target.tls else None
            reader, writer = await asyncio.open_connection(
                target.host, target.port, ssl=tls, server_hostname=target.host if tls else None
            )
            connection = h11.Connection(h11.CLIENT, max_incomplete_event_size=ANSWER_LIMIT)
            sent = [
                ("host", target.authority),
                ("content-type", "application/json"),
                ("content-length", str(len(body))),
                ("user-agent", USER_AGENT),
                ("connection", "close"),
                *headers.items(),
            ]
            request = h11.Request(method="POST", target=target.path, headers=sent)
            writer.write(connection.send(request) + connection.send(h11.Data(data=body)))
            writer.write(connection.send(h11.EndOfMessage()))
            while (event := connection.next_event()) is h11.NEED_DATA:
                connection.receive_data(await reader.read(16384))
            if isinstance(event, h11.Response):
                return Answer(event.status_code, _ms(started))
            return Answer(0, _ms(started), "the receiver closed the connection without an answer")
    except TimeoutError:
        return Answer(0, _ms(started), f"no answer within {timeout:g} s")
    except (OSError, h11.ProtocolError, UnicodeError, ValueError) as exc:
        return Answer(0, _ms(started), f"{type(exc).__name__}: {exc}"[:200])
    finally:
        if writer is not None:
            writer.close()


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
