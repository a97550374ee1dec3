"""``mockserver``: serve the mock with uvicorn, or granian (``--server granian``)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

from starlette.applications import Starlette

from . import replay
from .accesslog import AccessLog
from .app import create_app
from .callbacks import settings as callback_settings
from .config import Config, ConfigError, check, load_config
from .contract.recording import RecordingError
from .ids import derive_secret
from .metrics import MULTIPROC_ENV
from .nonces import claim_slot
from .redis_store import RedisStore
from .servers import HEADER_TIMEOUT, KEEP_ALIVE, Options, Unavailable
from .servers import check as check_server
from .servers import run as serve
from .store import check_store, open_store
from .usage import check as _check

# Worker processes rebuild the app from the same command line, handed over in the environment,
# because uvicorn starts several workers, and granian any, only from an import string.
_ARGV_ENV = "MOCKSERVER_ARGV"
_PER_WORKER = "note: each admin request reaches one worker; run-time faults, the journal and resets are that worker's"
_UNSHARED = ", and so are rules and forced states unless the workers share --store sqlite:PATH"
SHUTDOWN_GRACE = 5  # seconds in-flight requests get on Ctrl-C or SIGTERM, so a long added latency cannot hold the exit
_LOGS_REQUESTS = ("info", "debug", "trace")  # the levels at which a server writes its access log
_SERVER_OPTIONS = (
    "host",
    "port",
    "workers",
    "log_level",
    "store",
    "secret",
    "replay",
    "server",
    "header_timeout",
    "keep_alive",
)
_COMMANDS = {"record": "mockserver.record", "fit": "mockserver.fit"}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        description="Mock of the unified generations API.",
        epilog="commands: 'mockserver record --help' (record a gateway), 'mockserver fit --help' (fit a recording)",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--config", metavar="FILE", help="a TOML file (schemas/mock-config.json); default: embedded")
    parser.add_argument(
        "--key",
        action="append",
        metavar="KEY[=SCENARIO]",
        help="an accepted API key, with the scenario its submits play (repeatable; replaces the development key)",
    )
    parser.add_argument("--admin-key", help="switch on the admin API under /_mock/, for this bearer key")
    parser.add_argument(
        "--cors-origin", action="append", help="let a browser app on this origin call the mock (repeatable; * for any)"
    )
    parser.add_argument(
        "--callback-host",
        action="append",
        metavar="HOST",
        help="a host elsewhere callback URLs may name (repeatable; *.example.com, or * for any); default: none",
    )
    parser.add_argument(
        "--callback-port",
        action="append",
        type=int,
        metavar="PORT",
        help="a port of this machine where a callback receiver listens (repeatable); default: none",
    )
    parser.add_argument("--callback-secret", help="the Standard Webhooks secret (whsec_...) callbacks are signed with")
    parser.add_argument(
        "--replay", metavar="FILE.jsonl", help="play each recorded model's lifecycles as recorded (mockserver record)"
    )
    parser.add_argument("--time-scale", type=float, help="60 makes a three-minute job take three seconds")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
    parser.add_argument(
        "--server", default="uvicorn", help='uvicorn, or granian (pip install "unified-generations[fast]")'
    )
    parser.add_argument(
        "--store", default="memory", help="where tasks live: memory, sqlite:PATH, or redis://HOST:PORT/DB"
    )
    parser.add_argument("--secret", help="signs task ids; default: derived from the seed and keys")
    parser.add_argument("--metrics", action="store_true", default=None, help="serve Prometheus metrics at /metrics")
    parser.add_argument("--log-level", default="info", help="critical, error, warning, info, debug or trace")
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="SECONDS",
        help=f"close a connection whose request headers are not all in by then (default {HEADER_TIMEOUT:g})",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=KEEP_ALIVE,
        metavar="SECONDS",
        help=f"close a keep-alive connection idle this long (default {KEEP_ALIVE:g})",
    )
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="skip a log line per request")
    return parser


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Config:
    _check(
        parser,
        "mock-cli",
        {name: getattr(args, name) for name in _SERVER_OPTIONS if getattr(args, name) is not None},
        {},
    )
    keys = [_key(given) for given in args.key or ()]
    given = {
        "time_scale": args.time_scale,
        "seed": args.seed,
        "keys": [key for key, _ in keys] or None,
        "admin_key": args.admin_key,
        "cors_origins": args.cors_origin,
        "metrics": args.metrics,
    }
    given = {name: value for name, value in given.items() if value is not None}
    _check(parser, "mock-config", given, {"keys": "key", "cors_origins": "cors_origin"})
    flags = {"allow_hosts": "callback_host", "local_ports": "callback_port", "secret": "callback_secret"}
    calling = {name: getattr(args, flag) for name, flag in flags.items()}
    calling = {name: value for name, value in calling.items() if value is not None}
    for name, value in calling.items():  # each one alone, so that a refusal names its option
        flag = flags[name]
        _check(parser, "mock-config", {"callbacks": {name: value}}, {"callbacks": flag})
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    if args.replay:
        try:
            config = replay.apply(config, args.replay)
        except (RecordingError, ConfigError) as exc:
            parser.error(f"--replay: {exc}")
    listed = {name: tuple(value) for name, value in given.items() if isinstance(value, list)}
    config = replace(config, **{**given, **listed})
    if calling:  # the command line's replace the file's
        config = replace(config, callbacks=callback_settings.from_dict(calling, config.callbacks))
    chosen = {key: scenario for key, scenario in keys if scenario}
    if keys:  # the command line's keys replace the file's, and so do their scenarios
        kept = {key: scenario for key, scenario in config.key_scenarios.items() if key in config.keys}
        config = replace(config, key_scenarios={**kept, **chosen})
    try:
        check(config)
    except ConfigError as exc:
        parser.error(str(exc).replace("key_scenarios.", "--key ", 1))
    return config


def _key(given: str) -> tuple[str, str]:
    """``KEY=SCENARIO`` splits at its last ``=`` when text follows it; a key ending in ``=`` (base64) stays whole."""
    key, equals, scenario = given.rpartition("=")
    if not equals or not scenario.strip() or not key:
        return given, ""
    return key, scenario


def _app(parser: argparse.ArgumentParser, args: argparse.Namespace, config: Config) -> Starlette:
    """The app of a process that serves, with its own store, and a nonce slot no other process with its secret
    holds (nonces.py)."""
    try:
        store = open_store(args.store)
        secret = args.secret.encode() if args.secret else derive_secret(config.seed, config.keys)
        # a fleet sharing Redis takes slots from it, so that servers on other hosts get others too
        slot = store.claim_slot(secret) if isinstance(store, RedisStore) else claim_slot(secret)
    except (ValueError, sqlite3.Error) as exc:
        parser.error(f"--store: {exc}")
    app = create_app(config, store=store, secret=secret, slot=slot)
    app.state.workers = args.workers  # the dashboard says when it shows one worker of several
    if args.access_log and args.log_level in _LOGS_REQUESTS:
        app.add_middleware(AccessLog)
    return app


def worker_app() -> Starlette:
    """The app of one worker process, built from the command line its parent was given."""
    parser = _parser()
    args = parser.parse_args(json.loads(os.environ[_ARGV_ENV]))
    return _app(parser, args, _config(parser, args))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in _COMMANDS:  # ``mockserver record ...``, ``mockserver fit ...``: their own modules
        importlib.import_module(_COMMANDS[argv[0]]).main(argv[1:])
        return
    parser = _parser()
    args = parser.parse_args(argv)
    config = _config(parser, args)
    try:
        check_server(args.server)
    except Unavailable as exc:
        parser.error(f"--server: {exc}")
    url = f"http://{args.host}:{args.port}"
    keys = f"key{'s' if len(config.keys) > 1 else ''}: Authorization: Bearer {' or '.join(config.keys)}"
    where = f"{url} (port 0: a free port, which {args.server}'s next lines name)" if args.port == 0 else url
    print(f"mock serving on {where}  {keys}", flush=True)
    if args.access_log:  # about 6% of a poll's CPU under uvicorn, 8% under granian (README, Benchmarks)
        print("access log on: a line per request; pass --no-access-log for load tests", flush=True)
    if config.admin_key:
        print(f"admin API on {url}/_mock/  key: Authorization: Bearer {config.admin_key}", flush=True)
        print(f"dashboard on {url}/_mock/ui  (log in with the admin key)", flush=True)
        if args.workers > 1 and not args.store.startswith("redis:"):
            print(_PER_WORKER + ("" if args.store.startswith("sqlite:") else _UNSHARED), file=sys.stderr, flush=True)
    options = Options(
        args.host, args.port, args.workers, args.log_level, SHUTDOWN_GRACE, args.header_timeout, args.keep_alive
    )
    app = None  # with workers, each builds its own app and opens its own store; the parent only checks it
    try:
        if args.workers == 1 and args.server == "uvicorn":
            app = _app(parser, args, config)
        else:
            check_store(args.store)
    except (ValueError, sqlite3.Error) as exc:
        parser.error(f"--store: {exc}")
    if config.metrics:
        print(f"metrics on {url}/metrics", flush=True)
    if args.workers > 1 or args.server != "uvicorn":
        os.environ[_ARGV_ENV] = json.dumps(argv)
    with metrics_dir(config.metrics and args.workers > 1):
        serve(args.server, app, options)


@contextmanager
def metrics_dir(wanted: bool) -> Iterator[None]:
    """With workers, each writes its metrics to files in a fresh directory, which every scrape adds up."""
    if not wanted or MULTIPROC_ENV in os.environ:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="mockserver-metrics-") as where:
        os.environ[MULTIPROC_ENV] = where
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]
