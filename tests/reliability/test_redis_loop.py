"""The Redis store on the event loop: an admin call awaiting the fleet's replies leaves requests answered,
the journal is read a page at a time from its newest end, and a parent whose workers serve opens nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from typing import Any

import httpx
import pytest
import redis

from mockserver import create_app
from mockserver.cli import main
from mockserver.engine.config import config_from
from mockserver.stores.redis import RedisStore

pytestmark = pytest.mark.slow

KEY = {"Authorization": "Bearer sk-mock-dev"}
ADMIN = {"Authorization": "Bearer adm"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def served_while_waiting(url: str, task_id: str, waiting: Any) -> bool | None:
    """One admin call that awaits the stopped instance's reply (a second at most): whether a poll sent once
    the call is seen waiting (its BLPOP in Redis) was answered while it still waited. None when the wait
    ended first (a slow machine), which tells nothing either way."""
    done: dict[str, httpx.Response] = {}
    call = threading.Thread(
        target=lambda: done.update(answer=httpx.put(f"{url}/_mock/faults", json={"drop": 0}, headers=ADMIN))
    )
    call.start()
    try:
        while not waiting():
            if not call.is_alive():
                return None
        assert httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200
        return True if waiting() else None
    finally:
        call.join()
        assert done["answer"].status_code == 200, done["answer"].text


def test_an_admin_call_awaiting_a_stopped_instance_leaves_the_loop_serving(redis_server: Any, spawn_under: Any) -> None:
    """No clock: a loop the wait blocks answers the poll only after the wait, so no try tells True."""
    argv = ("--store", redis_server.url, "--secret", "one fleet", "--admin-key", "adm")
    watch = redis.Redis.from_url(redis_server.url)

    def waiting() -> bool:
        return any(client["cmd"] == "blpop" for client in watch.client_list())

    with spawn_under(*argv) as (a, _), spawn_under(*argv) as (_, stopped):
        task_id = httpx.post(f"{a}/v2/videos/generations", json=BODY, headers=KEY).json()["task_id"]
        os.killpg(stopped.pid, signal.SIGSTOP)  # its subscription stays open: a's admin call awaits its reply
        tries: list[bool | None] = []
        try:
            while True not in tries and len(tries) < 5:
                tries.append(served_while_waiting(a, task_id, waiting))
        finally:
            os.killpg(stopped.pid, signal.SIGCONT)
            watch.close()
    assert True in tries, f"no poll was answered while an admin call waited on the fleet: {tries}"


def test_the_journal_is_read_from_its_newest_end_no_more_than_asked(redis_server: Any) -> None:
    store = RedisStore(redis_server.url)
    app = create_app(config_from({"admin_key": "adm", "journal_size": 200}), store=store)

    async def run() -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://mock.test") as http:
            task_id = (await http.post("/v2/videos/generations", json=BODY, headers=KEY)).json()["task_id"]
            for _ in range(3):
                await http.get(f"/v2/videos/generations/{task_id}", headers=KEY)
            for n in range(40):
                await http.get(f"/v2/videos/generations/marker-{n}", headers=KEY)
            newest = (await http.get("/_mock/journal?limit=5", headers=ADMIN)).json()["entries"]
            timeline = (await http.get(f"/_mock/ui/api/tasks/{task_id}", headers=ADMIN)).json()["requests"]
            await store.close()
            return newest, timeline, task_id

    newest, timeline, task_id = asyncio.run(run())
    assert [entry["path"] for entry in newest] == [f"/v2/videos/generations/marker-{n}" for n in range(35, 40)]
    assert [entry["method"] for entry in timeline] == ["POST", "GET", "GET", "GET"]  # older than the newest page
    assert {entry["task_id"] for entry in timeline} == {task_id}
    stats = redis.Redis(port=redis_server.port).info("commandstats")
    assert "cmdstat_xrange" not in stats, "the whole stream was read"


def test_a_parent_whose_workers_serve_checks_redis_and_leaves_nothing_open(
    redis_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[Any] = []
    monkeypatch.setenv("MOCKSERVER_ARGV", "")  # main() hands its argv to the workers there; undone after
    monkeypatch.setattr("mockserver.cli.serve", lambda server, app, options, listening: started.append(app))
    monkeypatch.setattr("mockserver.cli.create_app", lambda *a, **k: pytest.fail("the parent built an app"))
    probe = redis.Redis(port=redis_server.port)
    before = len(probe.client_list())
    main(["--port", "0", "--workers", "2", "--store", redis_server.url])
    assert started == [None]  # no app of its own: each worker builds one
    assert len(probe.client_list()) == before, "the parent left a connection to Redis open"
    assert [t.name for t in threading.enumerate() if "redis" in t.name] == []
    with pytest.raises(SystemExit) as exit_:
        main(["--port", "0", "--workers", "2", "--store", "redis://127.0.0.1:1/0"])
    assert exit_.value.code == 3  # cannot start here (mockserver --help)
