"""How long ``mockserver fit`` and ``--replay`` take on a long recording, and the memory they peak at.

Writes LINES recording lines (default a million) the way the recorder does (``TaskLog`` and
``Writer``): a thousand drawn tasks of twenty models, each with queued, running and ended polls, some
failures, a 503 with Retry-After now and then, and an output's first byte, cycled until there are
enough. Then runs ``fit`` (the command, config check included) and ``--replay``'s loading, each timed,
and prints seconds (wall and CPU: on a shared machine the CPU's are the figure), microseconds a line and the
process's peak resident memory so far, and writes them to ``bench/results.json``'s ``recording`` section.

    python bench/recording.py [LINES]
"""

from __future__ import annotations

import random
import resource
import sys
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path
from typing import Any

import results

from mockserver import Config
from mockserver.contract.recording import TaskLog, Writer
from mockserver.recording import fit, replay

MODELS = 20


def drawn(rng: random.Random, n: int) -> dict[str, Any]:
    """One task as the recorder logs it, from its submit to its output's first byte."""
    at = 1_700_000_000.0 + n
    log = TaskLog.start("videos", {"model": f"gw-video-{n % MODELS}", "prompt": "x"}, at)
    log.submitted(at + 0.2, 0.2, 200, {}, {"task_id": f"task-{n}"})
    for status, progress in (("QUEUED", 0), ("IN_PROGRESS", 10), ("IN_PROGRESS", 40), ("IN_PROGRESS", 80)):
        at += rng.uniform(1, 20)
        log.polled(at, 0.02, 200, {}, {"status": status, "progress": f"{progress}%", "platform": "google"})
        if rng.random() < 0.05:
            log.polled(at + 0.5, 0.02, 503, {"retry-after": "3"}, None)
    at += rng.uniform(1, 20)
    if rng.random() < 0.1:
        log.polled(at, 0.02, 200, {}, {"status": "FAILURE", "fail_reason": rng.choice(["quota", "safety", "timeout"])})
    else:
        log.polled(at, 0.02, 200, {}, {"status": "SUCCESS", "data": {"output": f"https://gw.example/{n}.mp4"}})
        headers = {"content-type": "video/mp4", "cache-control": "max-age=86400", "content-range": "bytes 0-0/2048000"}
        log.fetched(f"https://gw.example/{n}.mp4", at + 1, 0.05, 206, headers, 2_048_000)
    return log.line()


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(count: int) -> None:
    rng = random.Random(7)
    tasks = [drawn(rng, n) for n in range(1000)]
    with tempfile.TemporaryDirectory() as where:
        path, out = Path(where) / "rec.jsonl", Path(where) / "fitted.toml"
        writer = Writer(path)
        for line in islice(cycle(tasks), count):
            writer.write(line)
        writer.close()
        size = path.stat().st_size / 2**20
        print(f"{count:,} lines, {size:,.0f} MB; peak {peak_mb():,.0f} MB so far", flush=True)
        figures: dict[str, tuple[float, str]] = {"the recording": (round(size), "MB")}
        for name, run in (
            ("fit", lambda: fit.main([str(path), "--out", str(out)])),
            ("--replay", lambda: replay.apply(Config(), path)),
        ):
            started, cpu = time.perf_counter(), time.process_time()
            run()
            took, cpu = time.perf_counter() - started, time.process_time() - cpu
            said = f"{took:.1f} s ({cpu:.1f} s of CPU), {cpu / count * 1e6:.0f} µs of CPU a line"
            print(f"{name}: {said}; peak {peak_mb():,.0f} MB", flush=True)
            figures |= {
                f"`{name}`, CPU": (round(cpu, 1), "s"),
                f"`{name}`, CPU a line": (round(cpu / count * 1e6), "µs"),
                f"`{name}`, wall time": (round(took, 1), "s"),
                f"`{name}`, peak resident memory": (round(peak_mb() / 1024, 2), "GB"),
            }
    results.measured("recording", figures, "bench/recording.py", f"python bench/recording.py {count}")
    print(f"written to {results.PATH}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
