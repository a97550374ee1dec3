"""``generations``: the spec's worked example as a command, built on ``contract_tests.client``.

    generations run videos --model veo3 --prompt "A cat surfing in sunset, cinematic" --out out/
    generations status videos TASK_ID
    generations wait videos TASK_ID --out out/

It submits, polls at 2 s, 4 s, then 8 s (honouring ``Retry-After``) until SUCCESS or FAILURE or the
timeout, and keeps every output, each saved whole or not at all. The key is read from ``--key`` or
``GENERATIONS_KEY`` and is never printed. Exit codes: 0 success, 1 the task failed, 2 usage (or a
request the server refused as invalid), 3 timeout, 4 unreachable, key refused or a status outside
the contract; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import mimetypes
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

from mockserver import contract

from .client import ApiError, Client, DownloadError, OffContract, Policy, WaitTimeout
from .progress import display

OK, FAILED, USAGE, TIMEOUT, UNREACHABLE, INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_CODES = f"""\
exit codes:
  {OK}    the task succeeded (its outputs saved, with --out)
  {FAILED}    the task failed, or an output could not be saved
  {USAGE}    a bad option, or a request the server refused as invalid
  {TIMEOUT}    the task did not finish within --timeout
  {UNREACHABLE}    the server cannot be reached, refused the key, or answered outside the contract
  {INTERRUPTED}  Ctrl-C
"""
DEFAULT_URL = "http://127.0.0.1:8000"  # the mock's address and development key, so a first try needs no setup
DEFAULT_KEY = "sk-mock-dev"


class Usage(Exception):
    """Input the command refuses before sending anything, worded for the person who typed it."""


def _seconds(text: str) -> float:
    """A finite number above 0: argparse's ``float`` alone lets ``nan``, ``inf`` and ``-1`` through."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"wants a finite number above 0, got {text!r}")
    return value


def parser() -> argparse.ArgumentParser:
    """The command line; ``--url``, ``--key`` and the rest go after the subcommand, as users type them."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--url", default=os.environ.get("GENERATIONS_URL", DEFAULT_URL), help="[env GENERATIONS_URL]")
    common.add_argument("--key", default=os.environ.get("GENERATIONS_KEY", DEFAULT_KEY), help="[env GENERATIONS_KEY]")
    common.add_argument("--json", action="store_true", help="print the final task as JSON, for scripts")
    spec = Policy()  # the spec's polling schedule
    common.add_argument(
        "--timeout",
        type=_seconds,
        default=spec.timeout,
        help=f"seconds to wait for the task (default {spec.timeout:g})",
    )
    common.add_argument("--poll-initial", type=_seconds, default=spec.poll_initial, help=argparse.SUPPRESS)
    common.add_argument("--poll-max", type=_seconds, default=spec.poll_max, help=argparse.SUPPRESS)
    scopes = contract.schema("common")["$defs"]["scope"]["enum"]
    top = argparse.ArgumentParser(
        prog="generations",
        description="Submit, follow and keep generations.",
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {metadata.version('unified-generations')}")
    commands = top.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common], help="submit a task, wait for it, save its outputs")
    run.add_argument("scope", choices=scopes)
    run.add_argument("--model", required=True)
    run.add_argument("--prompt", required=True)
    run.add_argument("--image", action="append", default=[], help="an image URL or a local file (sent as base64)")
    run.add_argument("--video", action="append", default=[], help="a video URL")
    run.add_argument("--duration", type=_seconds)
    run.add_argument("--aspect-ratio")
    run.add_argument("--size")
    run.add_argument("--resolution")
    run.add_argument("--watermark", action="store_true", default=None)
    run.add_argument("--field", action="append", default=[], metavar="KEY=VALUE", help="any other field (JSON value)")
    run.add_argument("--out", required=True, help="directory to save the outputs in")

    status = commands.add_parser("status", parents=[common], help="show a task once")
    wait = commands.add_parser("wait", parents=[common], help="wait for a task, and save its outputs with --out")
    for sub in (status, wait):
        sub.add_argument("scope", choices=scopes)
        sub.add_argument("task_id")
    wait.add_argument("--out", help="directory to save the outputs in")
    return top


def body_of(args: argparse.Namespace) -> dict[str, Any]:
    """The submit body from the flags, checked against ``schemas/submit-request.json`` before it costs anything."""
    body: dict[str, Any] = {"prompt": args.prompt, "model": args.model}
    if args.duration is not None:
        body["duration"] = int(args.duration) if args.duration.is_integer() else args.duration
    for name in ("aspect_ratio", "size", "resolution", "watermark"):
        if getattr(args, name) is not None:
            body[name] = getattr(args, name)
    if args.image:
        body["images"] = [_image(ref) for ref in args.image]
    if args.video:
        body["videos"] = args.video
    for item in args.field:
        name, sep, raw = item.partition("=")
        if not sep or not name:
            raise Usage(f"--field wants KEY=VALUE, got {item!r}")
        try:
            body[name] = json.loads(raw, parse_constant=_not_json)
        except (ValueError, RecursionError):
            body[name] = raw
    problems = contract.errors("submit-request", body)
    if problems:
        raise Usage("; ".join(contract.describe(p) for p in problems[:3]))
    return body


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")  # Python's json reads NaN and Infinity; the wire cannot carry them


def _image(ref: str) -> str:
    """A URL as given; a local file as a base64 data URI, which the spec allows for images."""
    if ref.lower().startswith(("http://", "https://", "data:")):
        return ref
    path = Path(ref)
    if not path.is_file():
        raise Usage(f"--image {ref!r} is neither an http(s) URL nor a file")
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{kind};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _follow(client: Client, scope: str, task_id: str, out: str | None, as_json: bool) -> int:
    with display(sys.stderr, task_id) as shown:
        task = client.wait(scope, task_id, on_poll=shown.update)
    files = [str(p) for p in client.download(task, scope, out)] if out and task.get("status") == "SUCCESS" else []
    return _report(task, files, as_json, followed=True)


def _report(task: dict[str, Any], files: list[str], as_json: bool, followed: bool = False) -> int:
    if as_json:
        print(json.dumps({"task": task, "files": files}, ensure_ascii=False))
    elif files:
        print(*files, sep="\n")
    else:  # `status` answers with the state; after `run` or `wait`, stdout carries only saved paths
        print(f"{task.get('task_id')} {task.get('status')}", file=sys.stderr if followed else sys.stdout)
    if task.get("status") == "FAILURE":
        print(f"generations: task failed: {task.get('fail_reason') or 'no reason given'}", file=sys.stderr)
        return FAILED
    return OK


def _command(args: argparse.Namespace) -> int:
    if not args.url.lower().startswith(("http://", "https://")):
        raise Usage(f"--url wants an http:// or https:// URL, got {args.url!r}")
    policy = Policy(poll_initial=args.poll_initial, poll_max=args.poll_max, timeout=args.timeout)
    with Client(args.url, args.key, policy=policy) as client:
        if args.command == "status":
            return _report(client.get(args.scope, args.task_id), [], args.json)
        if args.command == "wait":
            return _follow(client, args.scope, args.task_id, args.out, args.json)
        task_id = client.submit(args.scope, body_of(args))
        print(f"submitted {task_id}", file=sys.stderr)
        return _follow(client, args.scope, task_id, args.out, args.json)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)  # exits 2 on bad flags, as argparse does
    try:
        return _command(args)
    except Usage as exc:
        return _fail(USAGE, str(exc))
    except WaitTimeout as exc:
        return _fail(TIMEOUT, str(exc))
    except ApiError as exc:
        if exc.status in (401, 403):
            return _fail(UNREACHABLE, f"{args.url} refused the key (HTTP {exc.status})")
        return _fail(USAGE if 400 <= exc.status < 500 else UNREACHABLE, f"HTTP {exc.status}: {_said(exc.body)}")
    except httpx.TransportError as exc:
        return _fail(UNREACHABLE, f"cannot reach {args.url}: {type(exc).__name__}: {exc}")
    except OffContract as exc:
        return _fail(UNREACHABLE, f"{args.url} does not follow the contract: {exc}")
    except DownloadError as exc:
        return _fail(FAILED, f"could not save an output, so none was kept: {exc}")
    except KeyboardInterrupt:
        return _fail(INTERRUPTED, "interrupted; no partial file was left")


def _said(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message", body))
    return str(body)[:300]


def _fail(code: int, message: str) -> int:
    print(f"generations: {message}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
