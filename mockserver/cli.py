"""``mockserver``: serve the mock with uvicorn."""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
from dataclasses import replace

import uvicorn
from starlette.applications import Starlette

from .app import create_app
from .config import Config, ConfigError, check, load_config
from .store import open_store

# Worker processes rebuild the app from the same command line, handed over in the environment,
# because uvicorn starts several workers only from an import string.
_ARGV_ENV = "MOCKSERVER_ARGV"
_PER_WORKER = "note: each admin request reaches one worker; run-time faults, the journal and resets are that worker's"
_UNSHARED = ", and so are rules and forced states unless the workers share --store sqlite:PATH"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mockserver", description="Mock of the unified generations API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--config", metavar="FILE", help="a TOML file (schemas/mock-config.json); default: embedded")
    parser.add_argument(
        "--key", action="append", metavar="KEY[=SCENARIO]",
        help="an accepted API key, with the scenario its submits play (repeatable; replaces the development key)",
    )
    parser.add_argument("--admin-key", help="switch on the admin API under /_mock/, for this bearer key")
    parser.add_argument("--cors-origin", action="append", help="let a browser app on this origin call the mock (repeatable; * for any)")
    parser.add_argument("--time-scale", type=float, help="60 makes a three-minute job take three seconds")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--workers", type=int, default=1, help="worker processes sharing the port")
    parser.add_argument("--store", default="memory", help="where tasks live: memory, or sqlite:PATH to keep them")
    parser.add_argument("--secret", help="signs task ids; default: derived from the seed and keys")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--no-access-log", dest="access_log", action="store_false", help="skip a log line per request")
    return parser


def _config(parser: argparse.ArgumentParser, args: argparse.Namespace) -> Config:
    if args.time_scale is not None and args.time_scale <= 0:
        parser.error("--time-scale must be above 0")
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    keys = [_key(parser, given) for given in args.key or ()]
    if keys:
        scenarios = {key: scenario for key, scenario in keys if scenario}
        config = replace(config, key_scenarios={**config.key_scenarios, **scenarios})
    given = {
        "time_scale": args.time_scale,
        "seed": args.seed,
        "keys": tuple(key for key, _ in keys) or None,
        "admin_key": args.admin_key,
        "cors_origins": tuple(args.cors_origin) if args.cors_origin else None,
    }
    config = replace(config, **{name: value for name, value in given.items() if value is not None})
    try:
        check(config)
    except ConfigError as exc:
        parser.error(str(exc).replace("key_scenarios.", "--key ", 1))
    return config


def _key(parser: argparse.ArgumentParser, given: str) -> tuple[str, str]:
    """``KEY=SCENARIO`` splits at its last ``=`` when text follows it; a key ending in ``=`` (base64) stays whole."""
    key, equals, scenario = given.rpartition("=")
    if not equals or not scenario.strip() or not key:
        return given, ""
    return key, scenario


def _app(parser: argparse.ArgumentParser, args: argparse.Namespace, config: Config) -> Starlette:
    try:
        store = open_store(args.store)
    except (ValueError, sqlite3.Error) as exc:
        parser.error(f"--store: {exc}")
    return create_app(config, store=store, secret=args.secret.encode() if args.secret else None)


def worker_app() -> Starlette:
    """The app of one worker process, built from the command line its parent was given."""
    parser = _parser()
    args = parser.parse_args(json.loads(os.environ[_ARGV_ENV]))
    return _app(parser, args, _config(parser, args))


def main(argv: list[str] | None = None) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    config = _config(parser, args)
    url = f"http://{args.host}:{args.port}"
    keys = f"key{'s' if len(config.keys) > 1 else ''}: Authorization: Bearer {' or '.join(config.keys)}"
    where = f"{url} (port 0: a free port, which uvicorn's next line names)" if args.port == 0 else url
    print(f"mock serving on {where}  {keys}", flush=True)
    if config.admin_key:
        print(f"admin API on {url}/_mock/  key: Authorization: Bearer {config.admin_key}", flush=True)
        if args.workers > 1:
            print(_PER_WORKER + ("" if args.store.startswith("sqlite:") else _UNSHARED), file=sys.stderr, flush=True)
    options = {"host": args.host, "port": args.port, "log_level": args.log_level, "access_log": args.access_log}
    app = _app(parser, args, config)  # with workers, only to refuse a bad --store before they start
    if args.workers == 1:
        uvicorn.run(app, **options)
        return
    os.environ[_ARGV_ENV] = json.dumps(argv if argv is not None else sys.argv[1:])
    uvicorn.run("mockserver.cli:worker_app", factory=True, workers=args.workers, **options)
