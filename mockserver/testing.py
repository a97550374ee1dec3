"""Run the mock on a real socket inside the current process, for other projects' tests."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .config import Config


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
