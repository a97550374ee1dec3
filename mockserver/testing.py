"""Run the mock on a real socket inside the current process, for other projects' tests."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .engine.config import Config
from .http.app import create_app


@dataclass(frozen=True)
class RunningMock:
    url: str
    keys: tuple[str, ...]
    app: Starlette
    admin_key: str | None = None


@contextmanager
def running_mock(
    config: Config | None = None, *, clock: Callable[[], float] | None = None, **overrides: Any
) -> Iterator[RunningMock]:
    """Serve the mock with uvicorn on 127.0.0.1 and a free port until the block ends.

    ``overrides`` replace fields of ``config`` (``time_scale=600``, ``seed=1``, ``keys=(...)``,
    ``admin_key="..."`` to switch on the admin API).
    """
    config = replace(config or Config(), **overrides)
    app = create_app(config, clock=clock)
    with serving(app) as url:
        yield RunningMock(url, config.keys, app, config.admin_key)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Serve any ASGI app with uvicorn on 127.0.0.1 and a free port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        _await_start(server, thread)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def _await_start(server: uvicorn.Server, thread: threading.Thread, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the mock did not start")
        time.sleep(0.01)


def free_port() -> int:
    """A loopback port free now, for a server that cannot be asked for port 0 (redis-server, where 0 switches
    TCP off) or an address nothing listens on. It may be taken before it is used: start the mock itself with
    ``--port 0`` and read its port from its log (``await_url``) instead."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def await_port(port: int, process: subprocess.Popen[Any], limit: float = 30.0) -> None:
    """Wait until a server process takes connections on 127.0.0.1:``port``; raise if it dies or is too slow.

    A plain socket, so that no client library's state is involved.
    """
    deadline = time.monotonic() + limit
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"no server came up on port {port}") from None
            time.sleep(0.05)


_LISTENING = re.compile(rb"(?:Uvicorn running|mock serving) on (https?://[^\s:]+):(\d+)")


def await_url(log: Path, process: subprocess.Popen[Any], limit: float = 30.0) -> str:
    """The base URL of a ``mockserver --port 0`` process, read from its log, once it takes connections.

    With port 0 the kernel picks a free port and the server holds it from the start: no port is bound,
    closed and handed on for another process to take in between. ``mockserver`` names the port it got in
    its banner ("mock serving on"), once bound, and a plain uvicorn (``mockserver record``) in its "running on"
    line (at log level info). Raises, quoting the log, if the process dies or is too slow.
    """
    deadline = time.monotonic() + limit
    while True:
        found = _LISTENING.search(log.read_bytes()) if log.exists() else None
        if found:
            await_port(int(found[2]), process, max(deadline - time.monotonic(), 1.0))
            return f"{found[1].decode()}:{found[2].decode()}"
        if process.poll() is not None or time.monotonic() > deadline:
            said = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"the server never said where it listens; its log ends:\n{said}")
        time.sleep(0.05)
