"""uvicorn's HTTP/1.1 protocols with a deadline for a request's headers, which uvicorn itself does not have.

uvicorn times out an idle keep-alive connection, but from the first byte of a request until its last
header, and on a connection that never sends a byte, it waits for ever: 1,100 connections sending a
header line now and then held every file descriptor of a worker under ``ulimit -n 1024``, and every new
request failed. Here a connection is closed when its request's headers are not all in ``header_timeout``
seconds after the connection opened or the request began, as granian's ``header_read_timeout`` does.

uvicorn builds a protocol with ``config=``, ``server_state=``, ``app_state=`` and ``_loop=``; ``protocol``
hands it a ``functools.partial`` that adds the timeout, which pickles to worker processes as uvicorn's
config does.
"""

from __future__ import annotations

import asyncio
import importlib.util
from functools import partial
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol


class _Deadline(asyncio.Protocol):
    """The deadline itself: armed when headers are awaited, disarmed when they are in, closing on expiry."""

    loop: asyncio.AbstractEventLoop
    transport: asyncio.Transport

    def __init__(self, *args: Any, header_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout = header_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is None:
            self._deadline = self.loop.call_later(self.header_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()


class H11Deadline(_Deadline, H11Protocol):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()  # a whole request line and headers are in
        elif self.conn.trailing_data[0]:
            self._arm()  # part of the next request's head


if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class HttpToolsDeadline(_Deadline, HttpToolsProtocol):
        def on_message_begin(self) -> None:
            super().on_message_begin()
            self._arm()

        def on_headers_complete(self) -> None:
            self._disarm()
            super().on_headers_complete()

    CHOSEN: type[_Deadline] = HttpToolsDeadline  # as uvicorn's "auto" chooses
else:  # httptools is optional to uvicorn
    CHOSEN = H11Deadline


def protocol(header_timeout: float) -> Any:
    """What uvicorn's ``http`` setting takes: its protocol class, made with the header deadline."""
    return partial(CHOSEN, header_timeout=header_timeout)
