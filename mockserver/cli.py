"""``mockserver``: serve the mock with uvicorn, or granian (``--server granian``)."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from importlib import metadata
from typing import Any, NoReturn

from starlette.applications import Starlette

from .contract.command_line import given_options, refuse_invalid
from .contract.recording import RecordingError
from .engine import callback_settings
from .engine.config import Config, ConfigError, check_references, load_config
from .engine.ids import derive_secret
from .http.access_log import AccessLog
from .http.app import create_app
from .http.metrics import MULTIPROC_ENV
from .http.servers import HEADER_TIMEOUT, KEEP_ALIVE, Options, Unavailable, Unbound, bound, require_installed
from .http.servers import STARTUP_FAILED as CANNOT_START
from .http.servers import run as serve
from .recording import replay
from .stores import check_spec, open_backend
from .stores.redis import parse as redis_url

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
_COMMANDS = {"record": "mockserver.recording.record", "fit": "mockserver.recording.fit"}
DISTRIBUTION = "unified-generations"  # the package whose metadata --version reads


ENV_PREFIX = "MOCKSERVER_"  # every option is also read from MOCKSERVER_<NAME>; the command line wins
_YES, _NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
USAGE = """%(prog)s [options]                  serve the mock
       %(prog)s record [options]           record a real gateway (mockserver record --help)
       %(prog)s fit FILE.jsonl [options]   fit a recording into a config (mockserver fit --help)"""
EXIT_CODES = """\
Every option can also be given in the environment as MOCKSERVER_<NAME> (shown in brackets); the
command line wins. Lists (--key, --cors-origin, --callback-host) are separated by spaces there, and
switches take 1/true/yes/on or 0/false/no/off.

exit codes:
  0  stopped by Ctrl-C or SIGTERM (requests in flight get %(grace)s s to finish)
  1  the server failed while serving
  2  a bad option or MOCKSERVER_ variable, config file, recording or --store
  3  cannot start here: the port is in use or not allowed, Redis cannot be reached, or the app failed to start
"""


class _Help(argparse.RawDescriptionHelpFormatter):
    """Each option's help with its default, where it has one, and the variable that sets it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if not action.option_strings or action.dest in ("help", "version"):
            return text
        if not isinstance(action.default, bool | None) and "%(default)" not in text:
            text += " (default: %(default)s)"
        return f"{text} [{env_name(action)}]"


def env_name(action: argparse.Action) -> str:
    """``--admin-key`` -> ``MOCKSERVER_ADMIN_KEY``, ``--no-access-log`` -> ``MOCKSERVER_NO_ACCESS_LOG``."""
    return ENV_PREFIX + action.option_strings[-1].lstrip("-").replace("-", "_").upper()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver",
        usage=USAGE,
        description="Mock of the unified generations API: POST /v2/{scope}/generations, then poll the task.",
        epilog=EXIT_CODES % {"grace": SHUTDOWN_GRACE},
        formatter_class=_Help,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {metadata.version(DISTRIBUTION)}")
    parser.add_argument("--host", default="127.0.0.1", help="the address to serve on; 0.0.0.0 for every network")
    parser.add_argument("--port", type=int, default=8000, help="the port to serve on; 0 for a free one")
    parser.add_argument(
        "--config", metavar="FILE", help="a TOML file (schemas/mock-config.json); default: the embedded one"
    )
    parser.add_argument(
        "--key",
        action="append",
        metavar="KEY[=SCENARIO]",
        help="an accepted API key, with the scenario its submits play (repeatable; replaces the development key,"
        " sk-mock-dev)",
    )
    parser.add_argument(
        "--admin-key", metavar="KEY", help="switch on the admin API and dashboard under /_mock/, for this bearer key"
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let a browser app on this origin call the mock (repeatable; * for any)",
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
    parser.add_argument(
        "--callback-secret", metavar="SECRET", help="the Standard Webhooks secret (whsec_...) callbacks are signed with"
    )
    parser.add_argument(
        "--replay", metavar="FILE.jsonl", help="play each recorded model's lifecycles as recorded (mockserver record)"
    )
    parser.add_argument(
        "--time-scale",
        type=float,
        metavar="FACTOR",
        help="how much faster than real tasks run: 60 makes three minutes three seconds; default: the config's",
    )
    parser.add_argument(
        "--seed",
        type=int,
        metavar="N",
        help="seeds every draw (timings, failures, faults), so a run repeats; default: the config's",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="N", help="worker processes sharing the port")
    parser.add_argument(
        "--server",
        default="uvicorn",
        metavar="NAME",
        help='uvicorn, or granian (pip install "unified-generations[fast]")',
    )
    parser.add_argument(
        "--store",
        default="memory",
        metavar="STORE",
        help="where tasks live: memory, sqlite:PATH, or redis://HOST:PORT/DB[?ttl=SECONDS]",
    )
    parser.add_argument(
        "--secret",
        help="signs task ids; the same on every instance of a fleet; default: derived from the seed and keys",
    )
    parser.add_argument("--metrics", action="store_true", default=None, help="serve Prometheus metrics at /metrics")
    parser.add_argument(
        "--log-level", default="info", metavar="LEVEL", help="critical, error, warning, info, debug or trace"
    )
    parser.add_argument(
        "--header-timeout",
        type=float,
        default=HEADER_TIMEOUT,
        metavar="SECONDS",
        help="close a connection whose request headers are not all in by then",
    )
    parser.add_argument(
        "--keep-alive",
        type=float,
        default=KEEP_ALIVE,
        metavar="SECONDS",
        help="close a keep-alive connection idle this long",
    )
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="skip a log line per request")
    commands = parser.add_subparsers(title="commands", dest="command", metavar="{record,fit}")
    commands.add_parser("record", help="a proxy in front of a real gateway, writing a recording", add_help=False)
    commands.add_parser("fit", help="a config fitted to a recording: timings, failures, outputs", add_help=False)
    return parser


def _parse(argv: list[str], environ: Mapping[str, str]) -> tuple[argparse.ArgumentParser, argparse.Namespace]:
    """The command line over the environment: each ``MOCKSERVER_<NAME>`` set is read as its option's value
    (checked as the option is, and named in a refusal), and an option on the command line replaces it."""
    parser = _parser()
    named: dict[str, str] = {}  # option -> the variable its value came from
    lists: dict[str, list[str]] = {}
    for action in parser._actions:
        if not action.option_strings or action.dest in ("help", "version") or env_name(action) not in environ:
            continue
        variable, text = env_name(action), environ[env_name(action)]
        if isinstance(action, argparse._AppendAction):  # argparse would add the command line's to these
            lists[action.dest] = [_value(parser, action, variable, item) for item in text.split()]
            if not lists[action.dest]:
                parser.error(f"{variable}: is empty; give one or more, separated by spaces")
        else:
            action.default = _value(parser, action, variable, text)
        named[action.dest] = variable
    args = parser.parse_args(argv)
    if args.command:
        parser.error(f"{args.command} takes options of its own: put it first (mockserver {args.command} --help)")
    for dest, values in lists.items():
        if getattr(args, dest) is None:
            setattr(args, dest, values)
        else:
            del named[dest]
    args.named = named
    return parser, args


def _value(parser: argparse.ArgumentParser, action: argparse.Action, variable: str, text: str) -> Any:
    """A variable's text as its option's value; a switch takes yes or no."""
    if isinstance(action, argparse._StoreConstAction):  # --metrics, --no-access-log
        if text.strip().lower() not in _YES + _NO:
            parser.error(f"{variable}: {text!r} is neither of {'/'.join(_YES)} nor {'/'.join(_NO)}")
        return action.const if text.strip().lower() in _YES else action.default
    if not callable(action.type):  # argparse also allows a registered type's name; these options use none
        return text
    try:
        return action.type(text)
    except ValueError:
        kind = "a whole number" if action.type is int else "a number"
        parser.error(f"{variable}: {text!r} is not {kind}")


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Config:
    named = args.named
    refuse_invalid(parser, "mock-cli", given_options(args, _SERVER_OPTIONS), {}, named)
    if args.store.startswith("redis:"):
        try:
            redis_url(args.store)
        except ValueError as exc:
            parser.error(f"{_name(args, 'store')}: {exc}")
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
    refuse_invalid(parser, "mock-config", given, {"keys": "key", "cors_origins": "cors_origin"}, named)
    flags = {"allow_hosts": "callback_host", "local_ports": "callback_port", "secret": "callback_secret"}
    calling = {name: getattr(args, flag) for name, flag in flags.items()}
    calling = {name: value for name, value in calling.items() if value is not None}
    for name, value in calling.items():  # each one alone, so that a refusal names its option
        flag = flags[name]
        refuse_invalid(parser, "mock-config", {"callbacks": {name: value}}, {"callbacks": flag}, named)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(f"{_name(args, 'config')}: {exc}")
    if args.replay:
        try:
            config = replay.apply(config, args.replay)
        except (RecordingError, ConfigError) as exc:
            parser.error(f"{_name(args, 'replay')}: {exc}")
    listed = {name: tuple(value) for name, value in given.items() if isinstance(value, list)}
    config = replace(config, **{**given, **listed})
    if calling:  # the command line's replace the file's
        config = replace(config, callbacks=callback_settings.from_dict(calling, config.callbacks))
    chosen = {key: scenario for key, scenario in keys if scenario}
    if keys:  # the command line's keys replace the file's, and so do their scenarios
        kept = {key: scenario for key, scenario in config.key_scenarios.items() if key in config.keys}
        config = replace(config, key_scenarios={**kept, **chosen})
    try:
        check_references(config)
    except ConfigError as exc:
        parser.error(str(exc).replace("key_scenarios.", f"{_name(args, 'key')} ", 1))
    return config


def _name(args: argparse.Namespace, option: str) -> str:
    """What gave ``option`` its value, for a refusal: its variable, or the option itself."""
    return args.named.get(option) or f"--{option.replace('_', '-')}"


def _store_refused(parser: argparse.ArgumentParser, args: argparse.Namespace, exc: Exception) -> NoReturn:
    """A Redis named well but unreachable (or its nonce slots all held) cannot start here, exit 3; any other
    store that cannot be opened is a bad value, exit 2."""
    if not args.store.startswith("redis:"):
        parser.error(f"{_name(args, 'store')}: {exc}")
    print(f"mockserver: {_name(args, 'store')}: {exc}", file=sys.stderr, flush=True)
    sys.exit(CANNOT_START)


def _key(given: str) -> tuple[str, str]:
    """``KEY=SCENARIO`` splits at its last ``=`` when text follows it; a key ending in ``=`` (base64) stays whole."""
    key, equals, scenario = given.rpartition("=")
    if not equals or not scenario.strip() or not key:
        return given, ""
    return key, scenario


def _app(parser: argparse.ArgumentParser, args: argparse.Namespace, config: Config) -> Starlette:
    """The app of a process that serves, with its own store, and a nonce slot no other process with its secret
    holds (engine/nonces.py)."""
    try:
        reasons, size = tuple(config.fail_reasons), config.journal_size
        backend = open_backend(args.store, seed=config.seed, reasons=reasons, journal_size=size)
        secret = args.secret.encode() if args.secret else derive_secret(config.seed, config.keys)
        # a fleet sharing Redis takes slots from it, so that servers on other hosts get others too
        slot = backend.claim(secret)
    except (ValueError, sqlite3.Error) as exc:
        _store_refused(parser, args, exc)
    app = create_app(config, backend=backend, secret=secret, slot=slot)
    app.state.workers = args.workers  # the dashboard says when it shows one worker of several
    if args.access_log and args.log_level in _LOGS_REQUESTS:
        app.add_middleware(AccessLog)
    return app


def worker_app() -> Starlette:
    """The app of one worker process, built from the command line its parent was given, over the same environment."""
    parser, args = _parse(json.loads(os.environ[_ARGV_ENV]), os.environ)
    return _app(parser, args, _config(parser, args))


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] and argv[0] in _COMMANDS:  # ``mockserver record ...``, ``mockserver fit ...``: their own modules
        importlib.import_module(_COMMANDS[argv[0]]).main(argv[1:])
        return
    parser, args = _parse(argv, os.environ)
    config = _config(parser, args)
    try:
        require_installed(args.server)
    except Unavailable as exc:
        parser.error(f"{_name(args, 'server')}: {exc}")
    app = None  # with workers, each builds its own app and opens its own store; the parent only checks it
    try:
        if args.workers == 1 and args.server == "uvicorn":
            app = _app(parser, args, config)
        else:
            check_spec(args.store)
    except (ValueError, sqlite3.Error) as exc:
        _store_refused(parser, args, exc)
    options = Options(
        args.host, args.port, args.workers, args.log_level, SHUTDOWN_GRACE, args.header_timeout, args.keep_alive
    )
    if args.workers > 1 or args.server != "uvicorn":
        os.environ[_ARGV_ENV] = json.dumps(argv)
    try:
        with bound(args.server, args.host, args.port) as listening:
            _banner(args, config, listening.getsockname()[1])
            with metrics_dir(config.metrics and args.workers > 1):
                serve(args.server, app, options, listening)
    except Unbound as exc:
        print(f"mockserver: {exc}", file=sys.stderr, flush=True)
        sys.exit(CANNOT_START)


def _banner(args: argparse.Namespace, config: Config, port: int) -> None:
    """What serves where, said once the port is bound: a port in use is reported instead."""
    host = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{host}:{port}"
    keys = f"key{'s' if len(config.keys) > 1 else ''}: Authorization: Bearer {' or '.join(config.keys)}"
    print(f"mock serving on {url}  {keys}", flush=True)
    if args.access_log:  # about 6% of a poll's CPU under uvicorn, 8% under granian (docs/benchmarks.md)
        print("access log on: a line per request; pass --no-access-log for load tests", flush=True)
    if config.admin_key:
        print(f"admin API on {url}/_mock/  key: Authorization: Bearer {config.admin_key}", flush=True)
        print(f"dashboard on {url}/_mock/ui  (log in with the admin key)", flush=True)
        if args.workers > 1 and not args.store.startswith("redis:"):
            print(_PER_WORKER + ("" if args.store.startswith("sqlite:") else _UNSHARED), file=sys.stderr, flush=True)
    if config.metrics:
        print(f"metrics on {url}/metrics", flush=True)


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
