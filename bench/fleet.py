"""A fleet on ``--store redis://`` against one process on memory: submits and polls a second, and their ratios.

Usage: ``python bench/fleet.py [--duration 5] [--rounds 3] [--instances 3] [--note TEXT]``. Needs ``wrk``
and Debian's ``redis-server``. It writes its figures, dated, to the ``fleet`` section of
``bench/results.json``, from which ``python docs/gen.py`` writes ``docs/snippets/bench-fleet.md``.

One instance on the memory store and ``--instances`` on one scratch Redis run at once, with the same
server settings. Round after round, each setup takes its turn on the same path: the memory instance,
the first Redis instance alone, then every Redis instance at once (a wrk each, their sums). Each
ratio is taken within a round, so load from elsewhere on a shared machine hits both sides alike; the
median of the rounds is given, with half their range beside it as the noise. Polls ask for one task,
which each instance has read once and keeps (stores/redis.py), as a client polling its task does;
submits each write a record. The CPU per request is the instances' own, and Redis's is given apart.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import results
import run

from mockserver.testing import await_port, free_port

# Of the memory store's, for one instance on Redis; and of one instance's, for the fleet together.
TARGETS = {"submit": 0.6, "poll": 0.9, "fleet poll": 2.0}
SETUPS = ("memory", "redis", "fleet")  # the turns each round takes
Turns = dict[str, list[tuple[float, float, float, int]]]  # each setup's rounds: req/s, CPU µs, Redis's, non-2xx


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


def load_on(servers: list[tuple[str, int, str]], path: str, duration: float, connections: int) -> run.Load:
    """A wrk on each server at once, on ``path`` (each polls its own task); their sums, CPU per request weighted."""
    script = run.HERE / "submit.lua" if path == "submit" else None
    with ThreadPoolExecutor(len(servers)) as pool:
        loads = list(
            pool.map(lambda s: run.wrk(s[0] + run.path_of(path, s[2]), s[1], duration, connections, script), servers)
        )
    requests = sum(load.requests for load in loads)
    cpu = sum(load.cpu_us * load.requests for load in loads) / max(requests, 1)
    return run.Load(
        sum(load.rps for load in loads),
        max(load.p50_ms for load in loads),
        max(load.p99_ms for load in loads),
        sum(load.bad for load in loads),
        requests,
        cpu,
    )


def measure(instances: int, duration: float, connections: int, rounds: int) -> dict[str, Turns]:
    """Per path, each setup's rounds (req/s, CPU µs a request, Redis's CPU µs a request, non-2xx)."""
    with redis_server() as (store, redis_pid), ExitStack() as stack:
        setups: dict[str, list[tuple[str, int, str]]] = {}
        for name, spec, count in (("memory", "memory", 1), ("fleet", store, instances)):
            setups[name] = []
            for _ in range(count):
                port = free_port()
                argv = [sys.executable, "-m", "mockserver", "--port", str(port), "--store", spec, "--secret", "bench"]
                url, pid = stack.enter_context(run.serving([*argv, "--no-access-log", "--log-level", "warning"], port))
                setups[name].append((url, pid, run.first_task(url)[0]))
        setups["redis"] = setups["fleet"][:1]
        found: dict[str, Turns] = {}
        for path in ("submit", "poll"):
            for name in SETUPS:
                load_on(setups[name], path, 1, connections)  # warm up
            turns: Turns = {name: [] for name in SETUPS}
            for _ in range(rounds):
                for name in SETUPS:
                    before = run.cpu_seconds(redis_pid)
                    load = load_on(setups[name], path, duration, connections)
                    redis_us = 1e6 * (run.cpu_seconds(redis_pid) - before) / max(load.requests, 1)
                    turns[name].append((load.rps, load.cpu_us, redis_us, load.bad))
            found[path] = turns
        return found


def ratios(found: dict[str, Turns]) -> dict[str, dict[str, float]]:
    """Each target's ratio, the median of its rounds', and its noise: half the range of the rounds' ratios."""
    pairs = {
        "submit": ("submit", "redis", "memory"),
        "poll": ("poll", "redis", "memory"),
        "fleet poll": ("poll", "fleet", "redis"),
    }
    out = {}
    for target, (path, this, base) in pairs.items():
        each = [a[0] / b[0] for a, b in zip(found[path][this], found[path][base], strict=True)]
        out[target] = {"ratio": round(statistics.median(each), 3), "noise": round((max(each) - min(each)) / 2, 3)}
    return out


def medians(found: dict[str, Turns]) -> dict[str, dict[str, float]]:
    """Each setup's median round on each path: req/s, CPU µs a request, Redis's, and non-2xx over every round."""
    return {
        f"{name} {path}": {
            "rps": round(statistics.median(turn[0] for turn in turns[name])),
            "cpu_us": round(statistics.median(turn[1] for turn in turns[name]), 1),
            "redis_cpu_us": round(statistics.median(turn[2] for turn in turns[name]), 1),
            "bad": sum(turn[3] for turn in turns[name]),
        }
        for path, turns in found.items()
        for name in SETUPS
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per turn (default 5)")
    parser.add_argument("--rounds", type=int, default=3, help="turns each setup takes (default 3)")
    parser.add_argument("--instances", type=int, default=3, help="Redis instances in the fleet (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="per instance (default 32)")
    parser.add_argument("--note", default="", help="said beside the figures, such as how busy the machine was")
    parser.add_argument("--results", type=Path, default=results.PATH, help="its section is written here")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing; on Debian or Ubuntu: apt-get install -y wrk")
    found = measure(args.instances, args.duration, args.connections, args.rounds)
    setups, targets = medians(found), ratios(found)
    for name, setup in setups.items():
        print(
            f"{name}: {setup['rps']:,} req/s, {setup['cpu_us']} µs CPU a request "
            f"(Redis {setup['redis_cpu_us']}), {setup['bad']} non-2xx"
        )
    for name, target in targets.items():
        verdict = "met" if target["ratio"] >= TARGETS[name] else "MISSED"
        print(
            f"{name}: {target['ratio']:.2f}× ±{target['noise']:.2f} (median of {args.rounds} paired rounds), "
            f"target ≥{TARGETS[name]}× {verdict}"
        )
    command = f"python bench/fleet.py --duration {args.duration:g} --rounds {args.rounds} --instances {args.instances}"
    command += f" --connections {args.connections}"  # the note is given apart
    values = {"targets": targets, "goals": TARGETS, "setups": setups, "instances": args.instances}
    values |= {"command": command, "note": args.note}
    results.update("fleet", values, "bench/fleet.py", args.results)
    print(f"written to {args.results}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main()
