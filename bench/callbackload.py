"""Polls with callbacks on: the mock polled while its one scheduler sends callbacks, against the same mock
without them and the bare route, taking turns as ``run.py``'s servers do.

Usage: ``python bench/callbackload.py [--duration S] [--rounds N] [--rates PER_SECOND ...]``; ``run.py``
adds its rows to the main table. Before each of its rounds a callbacks server is sent ``rate x duration``
submits asking for a callback, of a model whose run is uniform over the round, so callbacks go out
evenly while wrk polls. The receiver is a bare route of its own, which reads each body and answers 200.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from contextlib import ExitStack

import httpx
from run import HERE, KEY, UVICORN, Load, first_task, path_of, serving, wrk

from mockserver.testing import free_port

POINTS = 5  # callbacks on may cost at most this many points of the poll ratio to the bare route
MODEL = "bench-callback"
RATES = (20.0, 100.0)  # callbacks a second: a few clients that take callbacks, and many


def config(duration: float) -> str:
    """A model whose tasks end evenly over one round, and callbacks sent as soon as they end."""
    return (
        f'[models.{MODEL}]\nscope = "videos"\nqueue = 0\nrun = [0, {duration:g}]\nfail_rate = 0\n\n'
        "[callbacks]\ndelay = 0\n"
    )


def feed(url: str, receiver: str, count: int) -> None:
    """``count`` submits asking for a callback to ``receiver``, over one keep-alive connection."""
    body = {"prompt": "A cat surfing in sunset, cinematic", "model": MODEL, "callback_url": receiver}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {KEY}"}) as http:
        for _ in range(count):
            http.post("/v2/videos/generations", json=body).raise_for_status()


def measure(workers: int, duration: float, connections: int, rounds: int, rates: tuple[float, ...]) -> dict[str, Load]:
    """Best rounds of polls on the mock, the mock sending callbacks at each of ``rates``, and the bare route."""
    quiet = ["--workers", str(workers), "--no-access-log", "--log-level", "warning"]
    with ExitStack() as stack, tempfile.NamedTemporaryFile("w", suffix=".toml") as toml:
        toml.write(config(duration))
        toml.flush()
        started, hook_port = {}, free_port()  # the receiver's port, the one local port the mocks may call back
        for name in ("mock", *(f"callbacks {rate:g}" for rate in rates)):
            port = free_port()
            argv = [sys.executable, "-m", "mockserver", "--port", str(port), "--config", toml.name, *quiet]
            argv += ["--callback-port", str(hook_port)]
            url, pid = stack.enter_context(serving(argv, port))
            started[name] = (url, pid, *first_task(url))
        env = {"BENCH_TASK_JSON": json.dumps(started["mock"][3]), "PYTHONPATH": str(HERE)}
        bare = [sys.executable, "-m", "uvicorn", "bare:app", *UVICORN]
        port = free_port()
        bare_url, bare_pid = stack.enter_context(
            serving([*bare, "--workers", str(workers), "--port", str(port)], port, env)
        )
        receiver_url, _ = stack.enter_context(serving([*bare, "--port", str(hook_port)], hook_port, env))
        hook = f"{receiver_url}/v2/videos/generations"
        servers = [(name, url, pid, task_id) for name, (url, pid, task_id, _) in started.items()]
        servers.append(("bare", bare_url, bare_pid, started["mock"][2]))
        found: dict[str, Load] = {}
        for _, url, pid, polled in servers:
            wrk(url + path_of("poll", polled), pid, 1, connections)  # warm up
        for _ in range(rounds):
            for server, url, pid, polled in servers:
                if server.startswith("callbacks"):
                    feed(url, hook, round(float(server.split()[1]) * duration))
                load = wrk(url + path_of("poll", polled), pid, duration, connections)
                if server not in found or load.rps > found[server].rps:
                    found[server] = load
    return found


def rows(loads: dict[int, dict[str, Load]]) -> list[str]:
    """The table rows of ``run.py``: the mock with callbacks on, its ratio and its points off callbacks off."""
    out = []
    for workers, found in loads.items():
        bare, mock = found["bare"], found["mock"]
        ratio = mock.rps / bare.rps
        for name, calling in found.items():
            if not name.startswith("callbacks"):
                continue
            on = calling.rps / bare.rps
            points = 100 * (ratio - on)
            cpu_points = 100 * (bare.cpu_us / mock.cpu_us - bare.cpu_us / calling.cpu_us)
            verdict = "met" if points <= POINTS else "MISSED"
            row = f"mock poll, {name}/s, {workers} worker{'s' if workers > 1 else ''}"
            out.append(
                f"| {row} | {calling.rps:,.0f} | {calling.p50_ms:.2f} | {calling.p99_ms:.2f} | {calling.bad} |"
                f" {calling.cpu_us:.0f} | {on:.0%} | {bare.cpu_us / calling.cpu_us:.0%} |"
                f" {points:+.1f} points off callbacks off ({ratio:.0%}), {cpu_points:+.1f} by CPU"
                f" ({mock.cpu_us:.0f} µs a poll off); ≤{POINTS} {verdict} |"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rates", type=float, nargs="+", default=RATES, help="callbacks a second while polled")
    args = parser.parse_args()
    loads = {w: measure(w, args.duration, args.connections, args.rounds, tuple(args.rates)) for w in (1, 2)}
    print("\n".join(rows(loads)))


if __name__ == "__main__":
    main()
