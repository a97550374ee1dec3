"""``mockserver``: serve the mock with uvicorn."""

from __future__ import annotations

import argparse
from dataclasses import replace

import uvicorn

from .app import create_app
from .config import ConfigError, load_config


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="mockserver", description="Mock of the unified generations API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--config", metavar="FILE", help="a TOML file (schemas/mock-config.json); default: embedded")
    parser.add_argument("--key", action="append", help="an accepted API key (repeatable; replaces the development key)")
    parser.add_argument("--time-scale", type=float, help="60 makes a three-minute job take three seconds")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    if args.time_scale is not None and args.time_scale <= 0:
        parser.error("--time-scale must be above 0")
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    given = {"time_scale": args.time_scale, "seed": args.seed, "keys": tuple(args.key) if args.key else None}
    config = replace(config, **{name: value for name, value in given.items() if value is not None})
    print(f"mock serving on http://{args.host}:{args.port}  key: Authorization: Bearer {config.keys[0]}", flush=True)
    uvicorn.run(create_app(config), host=args.host, port=args.port, log_level=args.log_level)
