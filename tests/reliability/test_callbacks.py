"""Callbacks in-process on a clock the test moves, delivered over real sockets to a receiver on 127.0.0.1.

The sender's loop is not running: each test moves the clock and has the sender send what is due, so
no test sleeps. The clock starts at the real time, so that the Standard Webhooks library's own check
of ``webhook-timestamp`` (five minutes either way) judges the signatures as a receiver would.
"""

from __future__ import annotations

import asyncio
import re
import socket
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from mockserver.engine.callback_settings import DEV_SECRET
from mockserver.testing import free_port
from tests.helpers.callbackrun import KEY, TERMINAL, Clock, attempts, client, journal, make, run_for, submit
from tests.helpers.receiver import Receiver


@pytest.mark.slow
def test_a_thousand_tasks_get_one_terminal_callback_each_with_a_valid_signature() -> None:
    clock, verify = Clock(), Webhook(DEV_SECRET)

    async def scenario(receiver: Receiver) -> tuple[list[str], dict[str, dict[str, Any]]]:
        app = make(clock, receiver)
        async with client(app) as http:
            ids = await submit(http, 1000, {"callback_url": receiver.url})
            await run_for(app, clock, 6, step=0.5)
            polls = {}
            for task_id in ids:
                scope = "videos" if len(polls) % 3 == 0 else "images" if len(polls) % 3 == 1 else "audio"
                polls[task_id] = (await http.get(f"/v2/{scope}/generations/{task_id}", headers=KEY)).json()
        return ids, polls

    with Receiver() as receiver:
        ids, polls = asyncio.run(scenario(receiver))
    per_task = Counter(r.task["task_id"] for r in receiver.received)
    assert per_task == Counter(ids), "each task gets exactly one callback"
    for got in receiver.received:
        assert verify.verify(got.body, got.headers) == got.task  # raises on a bad signature
        assert got.task["status"] in TERMINAL
        assert got.task == polls[got.task["task_id"]], "the body is the task as a poll sees it"
        assert got.headers["webhook-id"] == f"msg_{got.task['task_id']}_{got.task['status']}"
        assert got.headers["content-type"] == "application/json"


def test_a_tampered_body_or_another_secret_fails_verification() -> None:
    """The control for the test above: the library does refuse what is not signed with the secret."""
    clock = Clock()

    async def scenario(receiver: Receiver) -> None:
        app = make(clock, receiver)
        async with client(app) as http:
            await submit(http, 1, {"callback_url": receiver.url})
            await run_for(app, clock, 5, step=0.5)

    with Receiver() as receiver:
        asyncio.run(scenario(receiver))
    (got,) = receiver.received
    with pytest.raises(Exception, match="signature"):
        Webhook(DEV_SECRET).verify(got.body.replace(b"SUCCESS", b"FAILURE"), got.headers)
    with pytest.raises(Exception, match="signature"):
        Webhook("whsec_" + "b3RoZXItc2VjcmV0LW9mLXRoaXJ0eS10d28tYnl0ZXM=").verify(got.body, got.headers)


def test_a_500_is_retried_with_backoff_under_the_same_webhook_id_and_each_attempt_is_shown() -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port, backoff=10, backoff_max=20)  # real seconds: 10, then 20

    async def scenario(receiver: Receiver) -> list[float]:
        async with client(app) as http:
            await submit(http, 1, {"callback_url": receiver.url})
            await run_for(app, clock, 5, step=0.5)  # the task has ended: the first attempt is made
            seen = [len(receiver.received)]
            await run_for(app, clock, 4, step=0.5)  # not yet the second, 10 s after the first
            seen.append(len(receiver.received))
            await run_for(app, clock, 30, step=0.5)
            seen.append(len(receiver.received))
            return seen

    with Receiver(answers=[500, 503], port=port) as receiver:
        seen = asyncio.run(scenario(receiver))
        assert seen == [1, 1, 3]
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert len(ids) == 1 and len({r.body for r in receiver.received}) == 1
    shown = attempts(app)
    assert [(a["attempt"], a["status"]) for a in shown] == [(1, 500), (2, 503), (3, 200)]
    assert all(a["url"] == receiver.url and a["ms"] >= 0 and a["task_id"] for a in shown)
    entries = journal(app)
    assert [e["status"] for e in entries if e.get("callback")] == [500, 503, 200]


def test_a_refused_connection_is_retried_until_the_receiver_is_up() -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port)

    async def before() -> None:
        async with client(app) as http:
            await submit(http, 1, {"callback_url": f"http://127.0.0.1:{port}/hook"})
            await run_for(app, clock, 5, step=0.5)

    asyncio.run(before())
    refused = attempts(app)
    assert refused and all(a["status"] == 0 and a["error"] for a in refused), refused
    with Receiver(port=port) as receiver:
        asyncio.run(run_for(app, clock, 60, step=1))
    assert len(receiver.received) == 1
    assert attempts(app)[-1]["status"] == 200


def test_after_its_tries_a_callback_is_given_up() -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port, tries=2)

    async def scenario(receiver: Receiver) -> None:
        async with client(app) as http:
            await submit(http, 1, {"callback_url": receiver.url})
            await run_for(app, clock, 120, step=1)

    with Receiver(answers=[500] * 10, port=port) as receiver:
        asyncio.run(scenario(receiver))
    assert len(receiver.received) == 2
    assert app.state.service.callbacks.pending() == 0


def test_a_redirect_is_an_answer_not_followed() -> None:
    clock, port, other = Clock(), free_port(), free_port()
    app = make(clock, port, other, tries=1)

    async def scenario(first: Receiver) -> None:
        async with client(app) as http:
            await submit(http, 1, {"callback_url": first.url})
            await run_for(app, clock, 5, step=0.5)

    with Receiver(port=other) as elsewhere, Receiver(redirect=elsewhere.url, port=port) as first:
        asyncio.run(scenario(first))
        assert len(first.received) == 1 and not elsewhere.received
    assert attempts(app)[-1]["status"] == 302


def test_a_receiver_that_never_answers_times_out() -> None:
    """Real time: an attempt's whole timeout, 0.2 s here, is what is under test."""
    clock = Clock()
    with socket.socket() as silent:  # takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        app = make(clock, silent.getsockname()[1], tries=1, timeout=0.2)

        async def scenario() -> None:
            async with client(app) as http:
                await submit(http, 1, {"callback_url": f"http://127.0.0.1:{silent.getsockname()[1]}/"})
                await run_for(app, clock, 5, step=0.5)

        asyncio.run(scenario())
    (shown,) = attempts(app)
    assert shown["status"] == 0 and "0.2 s" in shown["error"]


def test_the_readmes_verifier_accepts_the_mocks_signature_and_refuses_a_changed_body() -> None:
    """The docs show how to verify by hand (docs/mock/callbacks.md); it must agree with what the mock sends."""
    page = (Path(__file__).resolve().parents[2] / "docs" / "mock" / "callbacks.md").read_text(encoding="utf-8")
    code = re.search(r"```python\n(import base64, hashlib, hmac, time\n.*?)```", page, re.DOTALL)
    assert code, "the docs' verifier is missing"
    scope: dict[str, Any] = {}
    exec(code.group(1), scope)  # noqa: S102 - the docs' own example
    clock = Clock()

    async def scenario(receiver: Receiver) -> None:
        app = make(clock, receiver)
        async with client(app) as http:
            await submit(http, 3, {"callback_url": receiver.url})
            await run_for(app, clock, 6, step=0.5)

    with Receiver() as receiver:
        asyncio.run(scenario(receiver))
    assert len(receiver.received) == 3
    assert all(scope["verified"](r.body, r.headers) for r in receiver.received)
    assert not any(scope["verified"](r.body + b" ", r.headers) for r in receiver.received)
