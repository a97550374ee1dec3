"""Callbacks with the SQLite store: nothing is lost to a kill, and of several servers that know a callback,
one sends it. Servers are real processes; the receiver is a real one on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import time
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from mockserver import Config, create_app
from mockserver.cli import _config, _parse
from mockserver.engine import callback_settings
from mockserver.engine.callback_settings import DEV_SECRET
from mockserver.engine.config import config_from
from mockserver.engine.profiles import MODELS, Profile, fixed
from mockserver.stores.local import SqliteStore
from tests.helpers.callbackrun import Clock, client, run_for
from tests.helpers.callbackrun import submit as submit_in_process
from tests.helpers.receiver import Receiver

pytestmark = pytest.mark.slow

HEADERS = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
TERMINAL = {"SUCCESS", "FAILURE"}
# 60x: veo3 runs for 0.2 to 6 s, so a kill right after the submits lands before most callbacks
FAST = ("--time-scale", "60", "--secret", "restarts")
SETTINGS = "[callbacks]\ntimeout = 1\ntries = 3\nbackoff = 0.2\n"
LOCAL_9 = {"time_scale": 100, "callbacks": {"local_ports": [9]}}  # a port nothing listens on, called back


def submit(url: str, count: int, callback: str) -> list[str]:
    with httpx.Client(base_url=url, headers=HEADERS) as http:
        scopes = ("videos", "images", "audio")
        return [
            http.post(f"/v2/{scopes[n % 3]}/generations", json={**BODY, "callback_url": callback}).json()["task_id"]
            for n in range(count)
        ]


def kill(process: Any) -> None:
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def unsettled(db: Path) -> int:
    """Deliveries claimed and not yet settled, or never claimed, as the shared file says."""
    with sqlite3.connect(db) as file:
        open_ = file.execute("SELECT count(*) FROM mock_callback_sends WHERE outcome IS NULL").fetchone()[0]
        return open_ + file.execute("SELECT count(*) FROM mock_callbacks WHERE finished = 0").fetchone()[0]


def settle(db: Path, limit: float = 60.0) -> None:
    """Wait until every callback in the file is settled, each server having finished what it claimed."""
    deadline = time.monotonic() + limit
    while unsettled(db):
        assert time.monotonic() < deadline, f"{unsettled(db)} callbacks still unsettled"
        time.sleep(0.05)


def options(tmp_path: Path, receiver: Receiver, more: str = "") -> tuple[str, ...]:
    config = tmp_path / "callbacks.toml"
    config.write_text(SETTINGS + f"local_ports = [{receiver.port}]\n" + more)
    return ("--config", str(config), "--store", f"sqlite:{tmp_path / 'tasks.db'}", *FAST)


def test_callbacks_due_when_the_server_is_killed_are_sent_after_a_restart(spawn: Any, tmp_path: Path) -> None:
    with Receiver() as receiver:
        with spawn(*options(tmp_path, receiver)) as (url, process):
            ids = submit(url, 30, receiver.url)
            kill(process)
        before = len(receiver.received)
        assert before < len(ids), "the kill should land before the callbacks are due"
        with spawn(*options(tmp_path, receiver)):
            assert receiver.wait_for(lambda got: {r.task["task_id"] for r in got} >= set(ids)), (
                f"{len(set(ids) - {r.task['task_id'] for r in receiver.received})} callbacks lost"
            )
            settle(tmp_path / "tasks.db")
    verify = Webhook(DEV_SECRET)
    for got in receiver.received:
        verify.verify(got.body, got.headers)
        assert got.task["status"] in TERMINAL
    ids_per_task = {
        task_id: {r.headers["webhook-id"] for r in receiver.received if r.task["task_id"] == task_id} for task_id in ids
    }
    assert all(len(found) == 1 for found in ids_per_task.values()), "a resend keeps its webhook-id"


def test_a_sender_killed_after_the_receivers_2xx_and_before_settling_sends_it_again_with_its_webhook_id(
    spawn: Any, tmp_path: Path
) -> None:
    """At least once: the settling write is held back by a lock another program took, and the server dies
    meanwhile. The restarted server finds the claim unsettled and, once its lease is out, sends it again."""
    db = tmp_path / "tasks.db"
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    locked: list[bool] = []

    def lock_the_file() -> None:
        if not locked:  # the first POST only: the server's settle waits on the lock, then gives up
            holder.execute("BEGIN EXCLUSIVE")
            locked.append(True)

    with Receiver(before_answer=lock_the_file) as receiver:
        with spawn(*options(tmp_path, receiver)) as (url, process):
            (task_id,) = submit(url, 1, receiver.url)
            assert receiver.wait_answered(1)
            kill(process)  # within the second its settle waits for the lock
        holder.execute("ROLLBACK")
        holder.close()
        with spawn(*options(tmp_path, receiver)):
            assert receiver.wait_for(lambda got: len(got) == 2), "the unsettled delivery was not sent again"
            settle(db)
    first, again = receiver.received
    assert first.task["task_id"] == again.task["task_id"] == task_id
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert first.task == again.task


def test_of_two_servers_that_both_load_a_callback_one_sends_it(spawn: Any, tmp_path: Path) -> None:
    """Both restart on the same file, and both load every unsettled callback: the claim lets one through.

    Each callback comes 2 s after its task ends, so none is in flight at the kill: a kill between a
    receiver's 2xx and the settling write is the one way a callback is sent twice (the test above).
    """
    with Receiver() as receiver:
        later = options(tmp_path, receiver, "delay = 120\n")
        with spawn(*later) as (url, process):
            ids = submit(url, 60, receiver.url)
            kill(process)
        assert not receiver.received
        with spawn(*later), spawn(*later):
            assert receiver.wait_for(lambda got: {r.task["task_id"] for r in got} >= set(ids))
            settle(tmp_path / "tasks.db")
        sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == len(ids) and set(sent.values()) == {1}, sent.most_common(3)


def test_workers_sharing_the_store_send_each_callback_once(spawn: Any, tmp_path: Path) -> None:
    with (
        Receiver() as receiver,
        spawn(*options(tmp_path, receiver), "--workers", "2", "--time-scale", "240") as (url, _),
    ):
        ids = submit(url, 90, receiver.url)
        assert receiver.wait_for(lambda got: {r.task["task_id"] for r in got} >= set(ids))
        settle(tmp_path / "tasks.db")
        sent = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sent) == len(ids) and set(sent.values()) == {1}, sent.most_common(3)


def test_a_hand_edited_callback_row_is_checked_again_when_loaded(tmp_path: Path) -> None:
    """The file is outside input too: a URL rewritten to a host the allow-list refuses is never called."""
    db = tmp_path / "tasks.db"
    app = create_app(config_from(LOCAL_9), clock=Clock(), store=SqliteStore(db))

    async def accept() -> None:
        async with client(app) as http:
            await submit_in_process(http, 2, {"callback_url": "http://127.0.0.1:9/hook"})

    asyncio.run(accept())
    with sqlite3.connect(db) as file:
        file.execute("UPDATE mock_callbacks SET url = 'http://169.254.169.254/latest' WHERE rowid = 1")
    again = create_app(config_from(LOCAL_9), clock=Clock(), store=SqliteStore(db))
    assert asyncio.run(again.state.service.callbacks.load()) == 1


def test_the_command_line_sets_the_allowed_hosts_and_the_secret() -> None:
    secret = "whsec_" + "c2VjcmV0LW9mLXRoZS1jb21tYW5kLWxpbmU="
    given = ["--callback-host", "hooks.test", "--callback-port", "9000", "--callback-secret", secret]
    config = _config(*_parse(given, {}))
    assert config.callbacks.allow_hosts == ("hooks.test",) and config.callbacks.secret == secret
    assert config.callbacks.local_ports == (9000,)
    with pytest.raises(SystemExit) as exit_:
        _config(*_parse(["--callback-host", "http://hooks.test/"], {}))
    assert exit_.value.code == 2


def _start(db: Path, config: Config, clock: Clock) -> tuple[Any, int]:
    """A server started on ``db``: its app, and how many callbacks it loaded; each loaded one is looked at once."""
    app = create_app(config, clock=clock, store=SqliteStore(db))
    sender = app.state.service.callbacks

    async def start() -> int:
        loaded = await sender.load()
        await sender.send_due()
        return loaded

    return app, asyncio.run(start())


def _accepted(db: Path, config: Config, clock: Clock, count: int) -> list[str]:
    """Tasks accepted on ``db`` with a callback to a port nothing listens on: the ledger notes each."""
    app = create_app(config, clock=clock, store=SqliteStore(db))

    async def accept() -> list[str]:
        async with client(app) as http:
            return await submit_in_process(http, count, {"callback_url": "http://127.0.0.1:9/hook"})

    return asyncio.run(accept())


def test_a_callback_whose_task_is_not_stored_is_finished_and_not_loaded_at_every_start(tmp_path: Path) -> None:
    """As when the store's write failed after the ledger noted the callback (the submit was a 503)."""
    db, config, clock = tmp_path / "tasks.db", config_from(LOCAL_9), Clock()
    ids = _accepted(db, config, clock, 2)
    with sqlite3.connect(db) as file:
        file.execute("DELETE FROM tasks WHERE task_id = ?", (ids[0],))
    assert [_start(db, config, clock)[1] for _ in range(3)] == [2, 1, 1]


def test_a_callback_whose_task_this_config_cannot_play_is_sent_under_one_that_can(tmp_path: Path) -> None:
    """Its record outlives the config, and so does its callback: loaded at each start until a config plays it."""
    db, clock = tmp_path / "tasks.db", Clock()
    fast = Profile(queue=fixed(1), run=fixed(1), fail_rate=0.0, scope="videos")
    with Receiver() as receiver:
        calling = callback_settings.from_dict({"local_ports": [receiver.port]})
        mine = Config(time_scale=100, models={**MODELS, "my-model": fast}, callbacks=calling)
        default = Config(time_scale=100, callbacks=calling)
        first = create_app(mine, clock=clock, store=SqliteStore(db))

        async def accept() -> list[str]:
            async with client(first) as http:
                return await submit_in_process(http, 1, {"model": "my-model", "callback_url": receiver.url})

        (task_id,) = asyncio.run(accept())
        assert [_start(db, default, clock)[1] for _ in range(2)] == [1, 1]
        app, loaded = _start(db, mine, clock)
        asyncio.run(run_for(app, clock, 2))
        assert loaded == 1 and [(r.task["task_id"], r.task["status"]) for r in receiver.received] == [
            (task_id, "SUCCESS")
        ]
    assert _start(db, mine, clock)[1] == 0


def test_a_callback_whose_stored_row_is_damaged_is_looked_at_once_a_start_not_every_second(tmp_path: Path) -> None:
    """A locked file mends, so its callback is looked at again soon; a damaged row does not, and was read 1/s forever."""
    db, config, clock = tmp_path / "tasks.db", config_from(LOCAL_9), Clock()
    (task_id,) = _accepted(db, config, clock, 1)
    with sqlite3.connect(db) as file:
        file.execute("UPDATE tasks SET submitted_at = 1e300 WHERE task_id = ?", (task_id,))
    reads: list[str] = []

    class Counted(SqliteStore):
        def get(self, wanted: str) -> Any:
            reads.append(wanted)
            return super().get(wanted)

    app = create_app(config, clock=clock, store=Counted(db))

    async def start_and_wait() -> int:
        loaded = await app.state.service.callbacks.load()
        await run_for(app, clock, 10, step=0.5)
        return loaded

    assert asyncio.run(start_and_wait()) == 1
    assert reads == [task_id]
    assert _start(db, config, clock)[1] == 1  # still in the ledger: a mended row is called back about after a restart
