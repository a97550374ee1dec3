"""The servers' edges, under uvicorn and granian alike: a connection that sends part of a request's headers,
or nothing, is closed within the header timeout, an idle keep-alive one within its own, and no request line
can forge a line of the access log or reach the terminal.

Each waits, with a bound far above the timeout under test, for the server to close the connection: a server
that holds it for ever fails the wait (``TimeoutError``), none passes by luck of timing.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import uvicorn

from mockserver import create_app
from mockserver.http.deadlines import H11Deadline, HttpToolsDeadline
from mockserver.testing import free_port

pytestmark = pytest.mark.slow

BOUND = 20.0  # seconds a test waits for the server to close; the timeouts under test are 1 s


def connect(url: str) -> socket.socket:
    where = urlsplit(url)
    conn = socket.create_connection((where.hostname, where.port), timeout=BOUND)
    return conn


def closed(conn: socket.socket) -> bool:
    """Read until the server closes the connection: True, or a TimeoutError after BOUND seconds."""
    while True:
        try:
            if not conn.recv(65536):
                return True
        except ConnectionResetError:
            return True


@pytest.mark.parametrize(
    "sent",
    [
        b"",  # connected, and never a byte
        b"GET /v2/videos/generations/x HTTP/1.1\r\nHost: mock\r\n",  # headers begun, never ended
        b"GET /v2/videos/generations/x HTTP/1.1\r\nHost: mock\r\n\r\nGET /v2/vid",  # a request, then half of one
    ],
    ids=["silent", "partial", "after-a-request"],
)
def test_a_connection_that_does_not_finish_its_headers_is_closed_within_the_header_timeout(
    spawn: Any, sent: bytes
) -> None:
    """uvicorn held partial headers for ever: 1,100 such connections under ulimit -n 1024 failed every request."""
    with spawn("--header-timeout", "1", "--keep-alive", "60") as (url, _), connect(url) as conn:
        conn.sendall(sent)
        assert closed(conn)


def test_an_idle_keep_alive_connection_is_closed(spawn: Any) -> None:
    with spawn("--header-timeout", "1", "--keep-alive", "1") as (url, _), connect(url) as conn:
        conn.sendall(b"GET /v2/videos/generations/x HTTP/1.1\r\nHost: mock\r\n\r\n")
        assert conn.recv(65536).startswith(b"HTTP/1.1 401")
        assert closed(conn)


def test_a_request_line_cannot_forge_a_log_line_or_send_a_terminal_escape(spawn: Any, tmp_path: Path) -> None:
    """The decoded path was logged: ``%0a`` began a forged line, ``%1b`` a terminal escape, on both servers."""
    log = tmp_path / "server.log"
    forged = b"/x%0aINFO:%20%201.2.3.4:1%20-%20%22GET%20/admin%22%20200%20OK%1b[2J?q=%0d%22"
    with spawn(log=log) as (url, _), connect(url) as conn:
        conn.sendall(b"GET " + forged + b" HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n")
        assert closed(conn)
        deadline = time.monotonic() + BOUND
        while b"/x%0a" not in log.read_bytes():  # the log is written in batches, 50 ms after a request
            assert time.monotonic() < deadline, log.read_text(errors="replace")
    lines = [line for line in log.read_bytes().splitlines() if b"1.2.3.4" in line]
    assert len(lines) == 1 and lines[0].startswith(b"INFO:     127.0.0.1:"), lines
    assert lines[0].endswith(b' - "GET ' + forged + b' HTTP/1.1" 404 Not Found'), lines
    assert b"\x1b" not in log.read_bytes()


@contextmanager
def uvicorn_with(protocol: type[Any]) -> Iterator[str]:
    """The mock under uvicorn in a thread of this process, with ``protocol`` and a 1 s header timeout."""
    port = free_port()
    config = uvicorn.Config(
        create_app(), host="127.0.0.1", port=port, http=partial(protocol, header_timeout=1), log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + BOUND
        while not server.started:
            assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("protocol", [HttpToolsDeadline, H11Deadline], ids=["httptools", "h11"])
def test_either_uvicorn_protocol_closes_partial_headers_and_still_serves_whole_requests(protocol: type[Any]) -> None:
    """uvicorn picks httptools when it is installed, else h11: the deadline is in both."""
    with uvicorn_with(protocol) as url:
        with connect(url) as conn:
            conn.sendall(b"GET /v2/videos/generations/x HTTP/1.1\r\nHost: mock\r\n")
            assert closed(conn)
        with connect(url) as conn:
            conn.sendall(b"GET /v2/videos/generations/x HTTP/1.1\r\nHost: mock\r\nConnection: close\r\n\r\n")
            assert conn.recv(65536).startswith(b"HTTP/1.1 401")
