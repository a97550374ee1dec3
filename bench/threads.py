"""Instructions per poll on each thread of a real granian worker, with ``--metrics`` and without.

Usage: ``python bench/threads.py`` (needs valgrind; about two minutes).

Granian parses HTTP on its own Rust threads and runs the app on one Python thread, and that thread
bounds a worker's throughput. ``instructions.py`` counts the app in-process, without a server; this
runs ``mockserver --server granian --workers 1`` under callgrind with a count per thread, zeroes the
counts after a warm-up, and reads them after ``POLLS`` polls, slow enough under valgrind that the
batches metrics count once a second are in them.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import results

from mockserver.testing import await_port, free_port

POLLS, WARM_UP = 2_000, 300
HEADERS = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def per_thread(flags: list[str]) -> dict[str, float]:
    """The worker's threads, by callgrind's number, and the instructions each spent on one poll."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        argv = ["valgrind", "--tool=callgrind", "--trace-children=yes", "--separate-threads=yes"]
        argv += [f"--callgrind-out-file={scratch}/cg.%p", sys.executable, "-m", "mockserver", "--server", "granian"]
        argv += ["--workers", "1", "--no-access-log", "--log-level", "warning", "--port", str(port), *flags]
        server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            await_port(port, server, limit=240)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=HEADERS, timeout=60) as http:
                task_id = http.post("/v2/videos/generations", json=BODY).json()["task_id"]
                for _ in range(WARM_UP):
                    http.get(f"/v2/videos/generations/{task_id}")
                subprocess.run(["callgrind_control", "--zero"], capture_output=True, check=True)
                for _ in range(POLLS):
                    http.get(f"/v2/videos/generations/{task_id}")
                subprocess.run(["callgrind_control", "--dump"], capture_output=True, check=True)
        finally:
            server.terminate()
            server.wait(timeout=60)
        counts = {}
        for dump in Path(scratch).glob("cg.*.1-*"):  # the dump taken above: "<pid>.1-<thread>"
            text = dump.read_text(errors="replace")
            total = re.search(r"^(?:summary|totals): (\d+)", text, re.MULTILINE)
            if total and int(total.group(1)) > 0:
                counts[f"pid {dump.name.split('.')[1]} thread {dump.name.rsplit('-', 1)[1]}"] = int(total.group(1))
        return {name: count / POLLS for name, count in sorted(counts.items())}


def main() -> None:
    if shutil.which("valgrind") is None:
        sys.exit("bench/threads.py needs valgrind: apt-get install -y valgrind")
    off, on = per_thread([]), per_thread(["--metrics"])
    print("| granian worker thread | a poll | with --metrics | |")
    print("|---|---:|---:|---|")
    threads = {}
    for (name, plain), metered in zip(off.items(), on.values(), strict=True):
        name = name.split(" ", 2)[2]  # the pids differ between the runs
        threads[name] = [round(plain), round(metered)]
        print(
            f"| {name} | {plain:,.0f} | {metered:,.0f} | {metered - plain:+,.0f} ({(metered - plain) / plain:+.1%}) |"
        )
    results.update("threads", {"counts": threads}, "bench/threads.py")
    print(f"written to {results.PATH}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main()
