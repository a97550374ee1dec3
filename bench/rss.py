"""Memory per task as the kernel counts it: a real ``mockserver`` process's resident set, before and after.

tracemalloc (``memory.py``) counts what the records allocate; this also counts what the allocator
keeps around them. The server is warmed with a few thousand submits first, so that its code, caches
and arenas are in place, then given ``count`` more; the growth of ``VmRSS`` over ``count`` is the figure.

Usage: ``python bench/rss.py [COUNT]`` (default 100000).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from loadgen import submit_many

from mockserver.testing import await_port, free_port

WARM = 5_000


def resident_bytes(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(kib) * 1024


def bytes_per_task(count: int) -> float:
    port = free_port()
    argv = [sys.executable, "-m", "mockserver", "--port", str(port), "--no-access-log", "--log-level", "warning"]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    try:
        await_port(port, process)
        url = f"http://127.0.0.1:{port}"
        submit_many(url, WARM)
        before = resident_bytes(process.pid)
        submit_many(url, count)
        return (resident_bytes(process.pid) - before) / count
    finally:
        process.terminate()
        process.wait(timeout=15)


if __name__ == "__main__":
    print(f"{bytes_per_task(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000):.1f}")
