"""One signed POST: Standard Webhooks headers, no redirects followed, a bounded answer and a timeout.

The POST is h11 (the HTTP/1.1 state machine under httpcore) over an asyncio stream, one connection
each: httpx cost about 1.5 ms of CPU a callback here, this about a quarter of that, and callbacks share
the event loop with the polls. No proxy or netrc from the environment is read: the host and port called
are the ``Target`` the allow-list approved. A host name is resolved here, once, and the connection made to
the address found; a name that resolves to this machine is refused unless its port is one the config names,
so no name (``127.0.0.1.nip.io``) can aim a callback at a local service the allow-list keeps out.
Informational answers (``100 Continue``) are read past to the final one.

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
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass
from functools import cache

import h11

from ..engine.callback_request import Target, local_address

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


class Unreachable(OSError):
    """A host name that resolves to this machine, on a port the config does not name."""


async def post(
    target: Target, body: bytes, headers: dict[str, str], timeout: float, local_ports: frozenset[int]
) -> Answer:
    """POST ``body``, all of it done within ``timeout``; a 3xx is an answer like any other non-2xx, not followed."""
    started = time.perf_counter()
    writer = None
    try:
        async with asyncio.timeout(timeout):
            tls = _tls() if target.tls else None
            reader, writer = await _connect(target, tls, local_ports)
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
            while (event := connection.next_event()) is h11.NEED_DATA or isinstance(event, h11.InformationalResponse):
                if event is h11.NEED_DATA:
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


async def _connect(
    target: Target, tls: ssl.SSLContext | None, local_ports: frozenset[int]
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the host as judged if it is an address, else to the first address it resolves to that
    takes one; refused when any of those is this machine on a port not named."""
    try:
        ipaddress.ip_address(target.host)
        addresses = [target.host]  # check_url judged this very address
    except ValueError:
        found = await asyncio.get_running_loop().getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addresses = [str(info[4][0]) for info in found]
        if target.port not in local_ports and any(local_address(ipaddress.ip_address(a)) for a in addresses):
            raise Unreachable(f"{target.host} resolves to this machine, whose port {target.port} is not named")
    name = target.host if tls else None
    for address in addresses[:-1]:
        try:
            return await asyncio.open_connection(address, target.port, ssl=tls, server_hostname=name)
        except OSError:
            continue
    return await asyncio.open_connection(addresses[-1], target.port, ssl=tls, server_hostname=name)


@cache
def _tls() -> ssl.SSLContext:
    return ssl.create_default_context()


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)
