"""The HTTP servers ``mockserver`` runs the app under: uvicorn, the default, or granian (the ``fast`` extra).

Both take the same options and stop the same way: Ctrl-C or SIGTERM lets in-flight requests finish
for ``grace`` seconds, then exits 0. granian always serves from worker processes, which rebuild the
app from an import string (``factory``), as uvicorn's workers do.

Both close a connection whose request headers are not all in within ``header_timeout`` seconds
(granian's ``header_read_timeout``, which runs from the connection only in its HTTP/1.1 mode; for
uvicorn, which has none, ``deadlines.py``), and one idle between requests after ``keep_alive`` seconds
(uvicorn's ``timeout_keep_alive``; granian's idle connection waits for its next request's headers, so
the header deadline bounds it instead).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import signal
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SERVERS = ("uvicorn", "granian")
FACTORY = "mockserver.cli:worker_app"  # builds a worker's app from the command line handed over in the environment


class Unavailable(Exception):
    """The chosen server cannot run here; the message says how to install it."""


HEADER_TIMEOUT = 10.0  # seconds a client has to send a request's line and headers
KEEP_ALIVE = 5.0  # seconds an idle keep-alive connection is kept (uvicorn's default)


@dataclass(frozen=True)
class Options:
    host: str
    port: int
    workers: int
    log_level: str
    grace: int
    header_timeout: float = HEADER_TIMEOUT
    keep_alive: float = KEEP_ALIVE


def check(server: str) -> None:
    """Refuse a server that is not installed, before anything starts."""
    if server == "granian" and importlib.util.find_spec("granian") is None:
        raise Unavailable('granian is not installed; pip install "unified-generations[fast]" (or drop --server)')


def run(server: str, app: Any, options: Options) -> None:
    """Serve until interrupted; ``app`` serves as it is with one uvicorn worker, else workers build their own."""
    check(server)
    if server == "granian":
        _granian(options)
    else:
        _uvicorn(app, options)


def _uvicorn(app: Any, options: Options) -> None:
    import uvicorn

    from .deadlines import protocol

    settings = {
        "host": options.host,
        "port": options.port,
        "log_level": options.log_level,
        "access_log": False,  # the app writes its own (accesslog.py), in batches
        "timeout_graceful_shutdown": options.grace,
        "timeout_keep_alive": options.keep_alive,
        "http": protocol(options.header_timeout),
    }
    # uvicorn shuts down gracefully on SIGTERM, then raises it again to die of it (status -15): a stop asked
    # for is a clean exit here, as Ctrl-C's already is.
    before = signal.signal(signal.SIGTERM, _stopped)
    try:
        if options.workers == 1:
            uvicorn.run(app, **settings)
        else:
            uvicorn.run(FACTORY, factory=True, workers=options.workers, **settings)
    finally:
        signal.signal(signal.SIGTERM, before)


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _granian(options: Options) -> None:
    level = "debug" if options.log_level == "trace" else options.log_level  # granian has no trace level
    # Fresh worker interpreters, as uvicorn's: a forked one would inherit the parent's app, its store's
    # connections, and prometheus_client's choice of single-process values made when it was imported.
    multiprocessing.set_start_method("spawn", force=True)
    with _reserved(options.host, options.port) as port:
        _run_granian(options, level, port)


@contextmanager
def _reserved(host: str, port: int) -> Iterator[int]:
    """``port``, or for 0 a free one that stays reserved while granian serves, named as uvicorn names it.

    granian's workers each bind the address themselves (SO_REUSEPORT), so with port 0 each would get a
    port of its own. A socket bound here first with SO_REUSEPORT, never listening, takes no connections
    but keeps the port from any other program until the server stops.
    """
    if port:
        yield port
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        holder.bind((host, 0))
        port = holder.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        print(f"INFO:     granian running on http://{shown}:{port} (Press CTRL+C to quit)", file=sys.stderr, flush=True)
        yield port


def _run_granian(options: Options, level: str, port: int) -> None:
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    Granian(
        FACTORY,
        factory=True,
        address=options.host,
        port=port,
        interface=Interfaces.ASGI,
        workers=options.workers,
        log_level=level,  # type: ignore[arg-type]
        log_access=False,  # the app writes its own (accesslog.py), in batches
        workers_kill_timeout=options.grace,
        # HTTP/1.1 only: while hyper's "auto" mode tells HTTP/1.1 from HTTP/2 no header timer runs, so a connection
        # that never sends a byte was held for ever (clients speak HTTP/1.1 to a mock without TLS anyway)
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(options.header_timeout * 1000))),
    ).serve()
