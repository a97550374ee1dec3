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

import errno
import importlib.util
import multiprocessing
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

SERVERS = ("uvicorn", "granian")
FACTORY = "mockserver.cli:worker_app"  # builds a worker's app from the command line handed over in the environment
BACKLOG = 2048  # uvicorn's default
STARTUP_FAILED = 3  # the exit status when the server could not start: uvicorn's own


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


def require_installed(server: str) -> None:
    """Refuse a server that is not installed, before anything starts."""
    if server == "granian" and importlib.util.find_spec("granian") is None:
        raise Unavailable('granian is not installed; pip install "unified-generations[fast]" (or drop --server)')


def run(server: str, app: Any, options: Options, listening: socket.socket) -> None:
    """Serve on ``listening`` (from ``bound``) until interrupted; ``app`` serves as it is with one uvicorn worker,
    else workers build their own."""
    require_installed(server)
    if server == "granian":
        _granian(options, listening.getsockname()[1])
    else:
        _uvicorn(app, options, listening)


class Unbound(Exception):
    """The address cannot be served on; the message says why and what to change."""


@contextmanager
def bound(server: str, host: str, port: int) -> Iterator[socket.socket]:
    """The address bound before anything is said about it, so that a port in use is reported, not announced.

    uvicorn is handed this listening socket. granian's workers each bind the address themselves
    (SO_REUSEPORT), so for granian the socket is bound with SO_REUSEPORT and never listens: it takes no
    connections, but finds a port in use, and keeps the port (for port 0, a free one) until the server stops.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        shared = socket.SO_REUSEPORT if server == "granian" else socket.SO_REUSEADDR  # uvicorn's own choice
        sock.setsockopt(socket.SOL_SOCKET, shared, 1)
        try:
            sock.bind((host, port))
            if server != "granian":
                sock.listen(BACKLOG)
        except OSError as exc:
            raise Unbound(_unbound(host, port, exc)) from None
        sock.set_inheritable(True)  # uvicorn's workers inherit it
        yield sock


def _unbound(host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return f"port {port} on {host} is in use by another program; stop it, or choose another port"
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; 127.0.0.1 serves this machine, 0.0.0.0 every network"
    if exc.errno == errno.EACCES:
        return f"port {port} needs privileges this user lacks; choose one from 1024 up"
    if isinstance(exc, socket.gaierror):
        return f"the host {host!r} cannot be resolved ({exc.strerror})"
    return f"cannot serve on {host}:{port}: {exc.strerror or exc}"


def _uvicorn(app: Any, options: Options, listening: socket.socket) -> None:
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from .deadlines import protocol

    settings = {
        "host": options.host,
        "port": options.port,
        "log_level": options.log_level,
        "access_log": False,  # the app writes its own (access_log.py), in batches
        "timeout_graceful_shutdown": options.grace,
        "timeout_keep_alive": options.keep_alive,
        "http": protocol(options.header_timeout),
    }
    # uvicorn shuts down gracefully on SIGTERM, then raises it again to die of it (status -15): a stop asked
    # for is a clean exit here, as Ctrl-C's already is.
    # Ctrl-C is re-raised likewise, as KeyboardInterrupt: uvicorn.run swallows it, and so does this.
    before = signal.signal(signal.SIGTERM, _stopped)
    try:
        if options.workers == 1:
            server = uvicorn.Server(uvicorn.Config(app, **settings))
            server.run(sockets=[listening])
            if not server.started:  # the app's startup failed, and uvicorn said why
                raise SystemExit(STARTUP_FAILED)
        else:
            config = uvicorn.Config(FACTORY, factory=True, workers=options.workers, **settings)
            Multiprocess(config, sockets=[listening]).run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, before)


def _stopped(signum: int, frame: Any) -> None:
    raise SystemExit(0)


def _granian(options: Options, port: int) -> None:
    level = "debug" if options.log_level == "trace" else options.log_level  # granian has no trace level
    # Fresh worker interpreters, as uvicorn's: a forked one would inherit the parent's app, its store's
    # connections, and prometheus_client's choice of single-process values made when it was imported.
    multiprocessing.set_start_method("spawn", force=True)
    _run_granian(options, level, port)


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
        log_access=False,  # the app writes its own (access_log.py), in batches
        workers_kill_timeout=options.grace,
        # HTTP/1.1 only: while hyper's "auto" mode tells HTTP/1.1 from HTTP/2 no header timer runs, so a connection
        # that never sends a byte was held for ever (clients speak HTTP/1.1 to a mock without TLS anyway)
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=max(1, round(options.header_timeout * 1000))),
    ).serve()
