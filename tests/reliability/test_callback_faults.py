"""Each callback fault does what it says, per request with a scenario or at configured, seeded rates;
every-change callbacks, forced states and bad callback fields."""

from __future__ import annotations

import asyncio
import sqlite3
from collections import Counter
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from mockserver import create_app
from mockserver.engine.callback_settings import DEV_SECRET
from mockserver.engine.config import config_from
from mockserver.stores import StoreError
from mockserver.stores.local import SqliteStore
from mockserver.testing import free_port
from tests.helpers.callbackrun import ADMIN, KEY, TERMINAL, Clock, attempts, client, make, run_for, submit
from tests.helpers.receiver import Receiver

ORDER = ["SUBMITTED", "QUEUED", "IN_PROGRESS"]


def deliver(
    count: int, extra: dict[str, Any], seconds: float = 6, scenario: str | None = None, **settings: Any
) -> Receiver:
    """``count`` tasks asking for callbacks to a fresh receiver; the clock moved ``seconds`` on."""
    clock, port = Clock(), free_port()
    app = make(clock, port, **settings)
    headers = {"X-Mock-Scenario": scenario} if scenario else None

    async def scenario_run(receiver: Receiver) -> None:
        async with client(app) as http:
            await submit(http, count, {"callback_url": receiver.url, **extra}, headers)
            await run_for(app, clock, seconds, step=0.25)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario_run(receiver))
    return receiver


def test_every_change_is_called_back_in_order_when_asked() -> None:
    for extra in ({"callback_events": "all"}, {"webhook_events_filter": ["start", "completed"]}):
        got = deliver(1, extra).received
        states = [r.task["status"] for r in got]
        assert states[:3] == ORDER and states[3] in TERMINAL and len(states) == 4, states
        assert len({r.headers["webhook-id"] for r in got}) == 4


def test_replicates_completed_filter_and_the_default_call_back_once_at_the_end() -> None:
    for extra in ({"webhook_events_filter": ["completed"]}, {}):
        got = deliver(3, extra).received
        assert len(got) == 3 and {r.task["status"] for r in got} <= TERMINAL


def test_the_config_can_make_every_change_the_default() -> None:
    got = deliver(1, {}, events="all").received
    assert [r.task["status"] for r in got][:3] == ORDER


def test_duplicate_sends_the_same_delivery_twice_with_one_webhook_id() -> None:
    got = deliver(3, {}, scenario="callback-duplicate").received
    assert len(got) == 6
    by_id = Counter(r.headers["webhook-id"] for r in got)
    assert set(by_id.values()) == {2}
    for webhook_id in by_id:
        bodies = {r.body for r in got if r.headers["webhook-id"] == webhook_id}
        assert len(bodies) == 1


def test_never_sends_nothing_while_the_control_sends() -> None:
    assert not deliver(3, {}, seconds=120, scenario="callback-never").received
    assert len(deliver(3, {}, seconds=120).received) == 3


def test_late_comes_late_by_after_its_time() -> None:
    """late_by is simulated: 1000 s at 100x is 10 s after the callback's own time (a veo3 task ends within 4)."""
    assert not deliver(1, {}, seconds=8, scenario="callback-late", late_by=1000).received
    assert len(deliver(1, {}, seconds=16, scenario="callback-late", late_by=1000).received) == 1


def test_out_of_order_sends_the_last_change_first() -> None:
    got = deliver(1, {}, scenario="callback-out-of-order").received
    states = [r.task["status"] for r in got]
    assert states[0] in TERMINAL and states[1:] == ORDER[::-1], states


def test_an_out_of_order_rate_makes_some_changes_arrive_after_the_next() -> None:
    got = deliver(30, {"callback_events": "all"}, faults={"out_of_order": 0.3}).received
    late = 0
    for task_id in {r.task["task_id"] for r in got}:
        states = [r.task["status"] for r in got if r.task["task_id"] == task_id]
        late += states != sorted(states, key=lambda s: ORDER.index(s) if s in ORDER else 3)
    assert 3 <= late <= 27, late  # each task has three changes that may come after the next


@pytest.mark.slow
def test_fault_rates_are_seeded_and_near_their_rate() -> None:
    runs = [deliver(200, {}, seconds=8, faults={"never": 0.25, "duplicate": 0.25}) for _ in range(2)]
    counts = [Counter(Counter(r.headers["webhook-id"] for r in run.received).values()) for run in runs]
    assert counts[0] == counts[1], "the same seed and requests meet the same faults"
    sent_once, sent_twice = counts[0][1], counts[0][2]
    never = 200 - sent_once - sent_twice
    assert 25 <= never <= 75 and 25 <= sent_twice <= 75, counts  # about 50 each


def test_a_forced_state_is_called_back_from_when_it_was_forced() -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port)

    async def scenario(receiver: Receiver) -> None:
        async with client(app) as http:
            (task_id,) = await submit(http, 1, {"callback_url": receiver.url}, {"X-Mock-Scenario": "stuck"})
            await run_for(app, clock, 10, step=0.5)
            assert not receiver.received  # stuck: never ends by itself
            forced = await http.post(f"/_mock/tasks/{task_id}/state", json={"status": "FAILURE"}, headers=ADMIN)
            assert forced.status_code == 200, forced.text
            await run_for(app, clock, 2, step=0.25)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario(receiver))
    (got,) = receiver.received
    assert got.task["status"] == "FAILURE" and got.task["fail_reason"]
    Webhook(DEV_SECRET).verify(got.body, got.headers)


def test_a_reset_forgets_callbacks_still_due() -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port)

    async def scenario(receiver: Receiver) -> None:
        async with client(app) as http:
            await submit(http, 2, {"callback_url": receiver.url})
            assert (await http.post("/_mock/reset", headers=ADMIN)).status_code == 200
            await run_for(app, clock, 10, step=0.5)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario(receiver))
    assert not receiver.received and not attempts(app)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        ({"callback_url": "ftp://127.0.0.1/hook"}, "callback_url"),
        ({"notify_hook": "not a url"}, "notify_hook"),
        ({"webhook": "http://"}, "webhook"),
        ({"callback_url": "http://127.0.0.1:99999/hook"}, "callback_url"),
        ({"callback_url": "https://example.com/hook"}, "callback_url"),  # not in the allow-list
        ({"callback_url": "http://169.254.169.254/latest/meta-data"}, "callback_url"),
        ({"callback_url": 5}, "callback_url"),
        ({"callback_url": "http://127.0.0.1:9/a", "webhook": "http://127.0.0.1:9/b"}, "webhook"),
        ({"callback_url": "http://127.0.0.1:9/a", "callback_events": "sometimes"}, "callback_events"),
        ({"webhook": "http://127.0.0.1:9/a", "webhook_events_filter": ["done"]}, "webhook_events_filter/0"),
        ({"callback_url": "http://127.0.0.1:8001/"}, "callback_url"),  # this machine, on a port not named
    ],
)
def test_a_bad_callback_field_is_a_400_naming_it_and_creates_no_task(fields: dict[str, Any], param: str) -> None:
    clock = Clock()
    app = make(clock, 9)

    async def scenario() -> Any:
        async with client(app) as http:
            body = {"prompt": "a fox", "model": "veo3", **fields}
            return await http.post("/v2/videos/generations", json=body, headers=KEY)

    answer = asyncio.run(scenario())
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == param, answer.json()
    assert param.split("/")[0] in answer.json()["error"]["message"]
    assert len(app.state.service.backend.local) == 0


def test_an_empty_callback_field_is_no_callback_and_an_allowed_host_any_url() -> None:
    clock = Clock()
    app = make(clock, allow_hosts=["*.example.com", "hooks.test"])

    async def scenario() -> list[int]:
        async with client(app) as http:
            bodies = [
                {"notify_hook": ""},
                {"webhook": None},
                {"callback_url": "https://api.example.com/hook?x=1"},
                {"callback_url": "http://hooks.test:8080/"},
            ]
            answers = [
                await http.post("/v2/images/generations", json={"prompt": "a", "model": "m", **b}, headers=KEY)
                for b in bodies
            ]
            return [a.status_code for a in answers]

    assert asyncio.run(scenario()) == [200] * 4
    assert app.state.service.callbacks.pending() == 2


def test_a_callback_fault_is_chosen_by_a_model_alias_for_clients_that_send_no_header() -> None:
    clock = Clock()
    aliases = {"veo3-twice": {"model": "veo3", "scenario": "stuck, callback-duplicate"}}
    port = free_port()
    config = {"time_scale": 100, "aliases": aliases, "admin_key": "adm", "callbacks": {"local_ports": [port]}}
    app = create_app(config_from(config), clock=clock)

    async def scenario(receiver: Receiver) -> None:
        async with client(app) as http:
            body = {"prompt": "a fox", "model": "veo3-twice", "callback_url": receiver.url}
            task_id = (await http.post("/v2/videos/generations", json=body, headers=KEY)).json()["task_id"]
            await http.post(f"/_mock/tasks/{task_id}/state", json={"status": "SUCCESS"}, headers=ADMIN)
            await run_for(app, clock, 3, step=0.25)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario(receiver))
    assert [r.task["status"] for r in receiver.received] == ["SUCCESS", "SUCCESS"]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1


def test_a_store_that_fails_for_a_moment_delays_a_callback_and_loses_none() -> None:
    """A locked SQLite file raises StoreError; the scheduler must look again, not stop."""
    clock, port = Clock(), free_port()
    app = make(clock, port)
    sender = app.state.service.callbacks
    read, failures = sender.record_of, iter([True, True, True])

    def flaky(task_id: str) -> Any:
        if next(failures, False):
            raise StoreError("database is locked")
        return read(task_id)

    async def scenario(receiver: Receiver) -> None:
        async with client(app) as http:
            await submit(http, 1, {"callback_url": receiver.url})
            sender.record_of = flaky
            await run_for(app, clock, 8, step=0.25)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario(receiver))
    assert len(receiver.received) == 1 and next(failures, None) is None


def test_a_failing_callback_ledger_refuses_the_submit_with_a_503_and_keeps_no_task(tmp_path: Any) -> None:
    """The callback is noted before the task is stored, and a ledger that fails is a 503 the client retries."""
    path = tmp_path / "tasks.db"
    config = config_from({"time_scale": 100, "seed": 3, "callbacks": {"local_ports": [9]}})
    store = SqliteStore(path)
    app = create_app(config, clock=Clock(), store=store)
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("DROP TABLE mock_callbacks")  # another program broke the ledger; the tasks' table still works

    async def scenario() -> Any:
        async with client(app) as http:
            body = {"prompt": "a fox", "model": "veo3", "callback_url": "http://127.0.0.1:9/hook"}
            return await http.post("/v2/videos/generations", json=body, headers=KEY)

    try:
        answer = asyncio.run(scenario())
    finally:
        other.close()
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "store_unavailable"
    assert answer.headers["Retry-After"] == "1"
    assert len(store) == 0
