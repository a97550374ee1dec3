"""Submits and polls a second on ``--store redis://``: one instance, then a fleet of three sharing one Redis.

Usage: ``python bench/fleet.py [--duration 5] [--instances 3]``. Needs ``wrk`` and Debian's ``redis-server``.
Each instance has its own wrk at once, and the figures are their sums; the CPU per request is the
instances' own, and Redis's is given apart. Polls ask for one task, which each instance has read once and
keeps (stores/redis.py), as a client polling its task does; submits each write a record to Redis.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import run

from mockserver.testing import await_port, free_port


@contextmanager
def redis_server() -> Iterator[tuple[str, int]]:
    """A scratch ``redis-server`` on a free loopback port, with no persistence: its URL and pid."""
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit("redis-server is missing (Debian: apt-get install -y redis-server)")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as where:
        argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", where, "--save", "", "--appendonly", "no"]
        process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
        try:
            await_port(port, process)
            yield f"redis://127.0.0.1:{port}/0", process.pid
        finally:
            process.terminate()
            process.wait()


def measure(instances: int, duration: float, connections: int) -> dict[str, tuple[run.Load, float]]:
    """Each path's summed load, and Redis's CPU time per request in µs."""
    with redis_server() as (store, redis_pid), ExitStack() as stack:
        servers = []
        for _ in range(instances):
            port = free_port()
            argv = [sys.executable, "-m", "mockserver", "--port", str(port), "--store", store, "--secret", "bench"]
            argv += ["--no-access-log", "--log-level", "warning"]
            url, pid = stack.enter_context(run.serving(argv, port))
            servers.append((url, pid))
        task_id, _ = run.first_task(servers[0][0])
        targets = {
            "submit": [(f"{url}/v2/videos/generations", pid, run.HERE / "submit.lua") for url, pid in servers],
            "poll": [(f"{url}/v2/videos/generations/{task_id}", pid, None) for url, pid in servers],
        }
        found = {}
        with ThreadPoolExecutor(instances) as pool:
            for path, each in targets.items():
                list(pool.map(lambda t: run.wrk(t[0], t[1], 1, connections, t[2]), each))  # warm up
                before = run.cpu_seconds(redis_pid)
                loads = list(pool.map(lambda t: run.wrk(t[0], t[1], duration, connections, t[2]), each))
                requests = sum(load.requests for load in loads)
                redis_us = 1e6 * (run.cpu_seconds(redis_pid) - before) / requests
                cpu = sum(load.cpu_us * load.requests for load in loads) / requests
                load = run.Load(
                    sum(load.rps for load in loads),
                    max(load.p50_ms for load in loads),
                    max(load.p99_ms for load in loads),
                    sum(load.bad for load in loads),
                    requests,
                    cpu,
                )
                found[path] = (load, redis_us)
        return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--instances", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32, help="per instance")
    args = parser.parse_args()
    for instances in sorted({1, args.instances}):
        for path, (load, redis_us) in measure(instances, args.duration, args.connections).items():
            print(
                f"{instances} instance{'s' if instances > 1 else ''}, {path}: {load.rps:,.0f} req/s, "
                f"p50 {load.p50_ms:.2f} ms, p99 {load.p99_ms:.2f} ms, {load.cpu_us:.0f} µs CPU a request "
                f"(Redis {redis_us:.0f}), {load.bad} bad"
            )


if __name__ == "__main__":
    main()
