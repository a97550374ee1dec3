"""Admin and dashboard reads stay bounded however many tasks or journal entries the store holds.

At a million SQLite tasks each dashboard refresh blocked the event loop about 300 ms (a count, then an
OFFSET walking the table, on the loop's own connection), and a task's timeline on Redis scanned the whole
journal in Lua once a second, blocking Redis 132 ms at 100,000 entries. The bounds are shown by what is
read, not by timing: the work on the event loop's SQLite connection (its virtual machine's steps) is the
same at 1,000 tasks as at 50,000, and the timeline's script reads no more than ``SCANNED`` entries.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import redis

from mockserver import Config, create_app
from mockserver.engine.journal_entries import SCANNED
from mockserver.stores.local import SqliteStore
from mockserver.stores.redis import RedisStore
from mockserver.stores.redis_shared import JOURNAL
from tests.helpers.benchload import load_bench
from tests.helpers.fakeclock import Clock

ADMIN = {"Authorization": "Bearer adm"}
KEY = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
filled = load_bench("bigstore").filled  # a SQLite file of so many tasks, written at once
READS = ["/_mock/ui/api/tasks", "/_mock/ui/api/overview", "/_mock/health", "/_mock/tasks?offset={last}&limit=5"]


def steps_on_the_loop(store: SqliteStore, tasks: int) -> dict[str, int]:
    """Steps of SQLite's virtual machine (in thousands) that each read costs the event loop's connection."""
    app = create_app(Config(admin_key="adm"), store=store, clock=Clock())
    counted = {"steps": 0}

    def step() -> int:
        counted["steps"] += 1
        return 0

    ran: list[str] = []  # a count is one step that walks every page of the table: it is looked for by name
    store._db.set_progress_handler(step, 1000)
    store._db.set_trace_callback(ran.append)

    async def run() -> dict[str, int]:
        found = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
            for path in READS:
                counted["steps"] = 0
                answer = await http.get(path.format(last=tasks - 5), headers=ADMIN)
                assert answer.status_code == 200, answer.text
                found[path] = counted["steps"]
        walking = [sql for sql in ran if "count(" in sql or "OFFSET" in sql]
        assert walking == [], f"{walking} ran on the event loop's connection"
        return found

    return asyncio.run(run())


def test_dashboard_and_admin_reads_cost_the_event_loop_the_same_at_any_size(tmp_path: Path) -> None:
    small = steps_on_the_loop(filled(tmp_path / "small.db", 1000), 1000)
    large = steps_on_the_loop(filled(tmp_path / "large.db", 50_000), 50_000)
    assert large == small, f"reads walked the table on the event loop: {small} at 1,000 tasks, {large} at 50,000"


def test_the_admin_reads_of_a_large_sqlite_store_are_still_right(tmp_path: Path) -> None:
    store = filled(tmp_path / "tasks.db", 2000)
    app = create_app(Config(admin_key="adm"), store=store, clock=Clock())

    async def run() -> None:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
            assert (await http.get("/_mock/health", headers=ADMIN)).json()["tasks"] == 2000
            listed = (await http.get("/_mock/tasks?offset=1998", headers=ADMIN)).json()["tasks"]
            assert [task["task_id"] for task in listed] == [f"{n:064x}" for n in (1998, 1999)]
            rows = (await http.get("/_mock/ui/api/tasks", headers=ADMIN)).json()["tasks"]
            assert [row["task_id"] for row in rows] == [f"{n:064x}" for n in range(1999, 1499, -1)]  # newest first

    asyncio.run(run())


def test_a_tasks_timeline_reads_a_bounded_part_of_a_long_redis_journal(redis_server: Any) -> None:
    size = 4 * SCANNED
    store = RedisStore(redis_server.url)
    app = create_app(Config(admin_key="adm", journal_size=size), store=store)
    probe = redis.Redis(port=redis_server.port)

    async def run() -> tuple[int, list[dict[str, Any]]]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
            task_id = (await http.post("/v2/videos/generations", json=BODY, headers=KEY)).json()["task_id"]
            await http.get(f"/v2/videos/generations/{task_id}", headers=KEY)
            await http.get("/_mock/journal?limit=1", headers=ADMIN)  # the journal's writes are done
            pipe = probe.pipeline(transaction=False)
            for n in range(size - 10):  # other tasks' entries, newer than this one's
                pipe.xadd(JOURNAL, {"e": b'{"path": "/"}', "t": f"other-{n}"})
            pipe.execute()
            await http.get(f"/v2/videos/generations/{task_id}", headers=KEY)  # and one on top
            probe.config_resetstat()
            timeline = (await http.get(f"/_mock/ui/api/tasks/{task_id}", headers=ADMIN)).json()["requests"]
            await store.close()
            stats = probe.info("commandstats").get("cmdstat_xrevrange", {"calls": 0})
            return stats["calls"], timeline

    calls, timeline = asyncio.run(run())
    assert calls <= SCANNED // 500 + 1, f"the script read {calls} batches of 500: the whole journal"
    assert [entry["method"] for entry in timeline] == ["GET"]  # the newest, within the scan
