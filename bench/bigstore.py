"""What the admin API and the dashboard cost at a million tasks: how long the event loop stalls on each read.

A SQLite file of a million tasks is filled directly (about ten seconds), then each dashboard and admin
read is sent in-process while a ticker on the same loop notes its longest gap: the stall a client's
polls would see. With a Redis on the PATH, a journal of 100,000 entries is read for one task's
timeline, and Redis's own time for the script is taken from its SLOWLOG. Figures, not assertions
(``tests/reliability/test_large_stores.py`` holds the bounds), printed and written to ``bench/results.json``'s
``bigstore`` section: ``python bench/bigstore.py [TASKS]``.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import redis
import results

from mockserver import Config, create_app
from mockserver.engine.lifecycle import Record
from mockserver.stores.local import SqliteStore
from mockserver.stores.redis import RedisStore
from mockserver.stores.redis_shared import JOURNAL
from mockserver.testing import await_port, free_port

ADMIN = {"Authorization": "Bearer adm"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
READS = ["/_mock/ui/api/tasks", "/_mock/ui/api/overview", "/_mock/health", "/_mock/tasks?offset={last}"]


def filled(path: Path, tasks: int) -> SqliteStore:
    store = SqliteStore(path)
    names = ", ".join(Record._fields)
    rows = ((f"{n:064x}", "videos", 1, 1_756_693_797.0, 5.0, 30.0, -1, 0, 0, -1, 0.0, 0, -1) for n in range(tasks))
    store._db.execute("BEGIN")
    store._db.executemany(f"INSERT INTO tasks ({names}) VALUES ({', '.join('?' * len(Record._fields))})", rows)
    store._db.execute("COMMIT")
    return store


async def longest_gap(stop: asyncio.Event) -> float:
    """The longest a 1 ms ticker on the loop waited between ticks until ``stop``: the loop's worst stall."""
    worst, last = 0.0, time.perf_counter()
    while not stop.is_set():
        await asyncio.sleep(0.001)
        now = time.perf_counter()
        worst, last = max(worst, now - last), now
    return worst


async def stalls(app: Any, paths: list[str]) -> dict[str, tuple[float, float]]:
    """Each read's time and the loop's worst stall meanwhile, in milliseconds."""
    found = {}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
        for path in paths:
            stop = asyncio.Event()
            ticking = asyncio.create_task(longest_gap(stop))
            await asyncio.sleep(0.01)
            started = time.perf_counter()
            answer = await http.get(path, headers=ADMIN)
            took = time.perf_counter() - started
            stop.set()
            worst = await ticking
            assert answer.status_code == 200, answer.text
            found[path] = (took * 1000, worst * 1000)
    return found


Figures = dict[str, tuple[float, str]]


def sqlite(tasks: int) -> Figures:
    with tempfile.TemporaryDirectory() as where:
        started = time.perf_counter()
        store = filled(Path(where) / "tasks.db", tasks)
        print(f"sqlite: {tasks:,} tasks written in {time.perf_counter() - started:.1f} s")
        app = create_app(Config(admin_key="adm"), store=store)
        paths = {path.format(last=tasks - 100): path.format(last="…") for path in READS}
        figures: Figures = {}
        for path, (took, worst) in asyncio.run(stalls(app, list(paths))).items():
            print(f"  {path:40} {took:7.1f} ms, the event loop's longest stall {worst:6.1f} ms")
            figures[f"`{paths[path]}`, answered in"] = (round(took, 1), "ms")
            figures[f"`{paths[path]}`, the event loop's longest stall"] = (round(worst, 1), "ms")
        return figures


def timeline(entries: int) -> Figures:
    binary = shutil.which("redis-server")
    if binary is None:
        print("redis: skipped (no redis-server on the PATH)")
        return {}
    figures: Figures = {}
    port = free_port()
    server = subprocess.Popen(
        [binary, "--port", str(port), "--save", "", "--bind", "127.0.0.1"], stdout=subprocess.DEVNULL
    )
    try:
        await_port(port, server)
        url = f"redis://127.0.0.1:{port}/0"
        store = RedisStore(url)
        app = create_app(Config(admin_key="adm", journal_size=entries), store=store)
        probe = redis.Redis(port=port)

        async def run() -> None:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
                body = {"prompt": "p", "model": "veo3"}
                task_id = (await http.post("/v2/videos/generations", json=body, headers=KEY)).json()["task_id"]
                await http.get("/_mock/journal?limit=1", headers=ADMIN)
                pipe = probe.pipeline(transaction=False)
                for n in range(entries):
                    pipe.xadd(JOURNAL, {"e": b'{"path": "/"}', "t": f"other-{n}"})
                pipe.execute()
                probe.config_set("slowlog-log-slower-than", 0)
                probe.slowlog_reset()
                await http.get(f"/_mock/ui/api/tasks/{task_id}", headers=ADMIN)
                scripts = [e["duration"] for e in probe.slowlog_get(128) if e["command"].startswith(b"EVALSHA")]
                print(f"redis: a task's timeline, journal of {entries:,}: Redis busy {max(scripts) / 1000:.1f} ms")
                figures[f"Redis's own time for a task's timeline, journal of {entries:,}"] = (
                    round(max(scripts) / 1000, 1),
                    "ms",
                )
                await store.close()

        asyncio.run(run())
    finally:
        server.terminate()
        server.wait()
    return figures


if __name__ == "__main__":
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    found = {"tasks in the SQLite file": (tasks, "")} | sqlite(tasks) | timeline(100_000)
    results.measured("bigstore", found, "bench/bigstore.py", f"python bench/bigstore.py {tasks}")
    print(f"written to {results.PATH}; python docs/gen.py puts it in the docs")
