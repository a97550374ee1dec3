"""Head to head: this checkout's mock against another's (an older commit, say), taking turns under the same load.

Usage: ``python bench/versus.py OTHER_CHECKOUT [--duration 5] [--rounds 3]``; an older commit can be
unpacked with ``git archive COMMIT | tar -x -C DIR``. On a shared machine the bare route's req/s can
move by half between runs, so a change is best judged against the code before it, at the same moment.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import ExitStack
from pathlib import Path

import run

from mockserver.testing import free_port

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other", type=Path, help="the root of the other checkout")
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    roots = {"other": args.other.resolve(), "this": HERE.parent}
    with ExitStack() as stack:
        servers = []
        for name, root in roots.items():
            port = free_port()
            argv = [
                sys.executable,
                "-m",
                "mockserver",
                "--port",
                str(port),
                "--no-access-log",
                "--log-level",
                "warning",
            ]
            url, pid = stack.enter_context(run.serving(argv, port, {"PYTHONPATH": str(root)}))
            task_id, _ = run.first_task(url)
            servers.append(
                (
                    name,
                    pid,
                    {
                        "poll": (f"{url}/v2/videos/generations/{task_id}", None),
                        "submit": (f"{url}/v2/videos/generations", HERE / "submit.lua"),
                    },
                )
            )
        best: dict[str, run.Load] = {}
        for path in ("poll", "submit"):
            for _, pid, targets in servers:
                run.wrk(*targets[path][:1], pid, 1, 64, targets[path][1])  # warm up
            for _ in range(args.rounds):
                for name, pid, targets in servers:
                    load = run.wrk(targets[path][0], pid, args.duration, 64, targets[path][1])
                    if f"{name} {path}" not in best or load.rps > best[f"{name} {path}"].rps:
                        best[f"{name} {path}"] = load
    for path in ("poll", "submit"):
        other, this = best[f"other {path}"], best[f"this {path}"]
        print(
            f"{path}: this {this.rps:,.0f} req/s, other {other.rps:,.0f} ({this.rps / other.rps:.0%});"
            f" CPU per request {this.cpu_us:.0f} µs against {other.cpu_us:.0f} ({this.cpu_us / other.cpu_us:.0%})"
        )


if __name__ == "__main__":
    main()
