"""Callbacks cannot be aimed: this machine is reached only on the ports the config names, whatever the URL
or the allow-list says, and a callback URL is bounded and kept once.

The confused deputy: ``mockserver record --key`` proxies a real gateway from this machine and adds its key
to what it forwards, so a mock that POSTs to any local port lets any client of the mock POST, with that key,
to any route of the gateway. A receiver on 127.0.0.1 stands in for the proxy, and must never hear a thing.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from typing import Any

import pytest

from mockserver import create_app
from mockserver.engine.callback_request import MAX_URL
from mockserver.engine.config import config_from
from mockserver.testing import free_port
from tests.helpers.callbackrun import BODY, KEY, Clock, attempts, client, make, run_for, submit
from tests.helpers.receiver import Receiver

REVOKE = "/gateway/v1/admin/keys/revoke-all?confirm=yes"


async def post(app: Any, url: str) -> Any:
    async with client(app) as http:
        return await http.post("/v2/videos/generations", json={**BODY, "callback_url": url}, headers=KEY)


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "LOCALHOST.", "hooks.localhost", "127.0.0.2", "[::1]", "0.0.0.0", "[::ffff:127.0.0.1]"],
)
@pytest.mark.parametrize("allowed", [[], ["*"]])
def test_a_callback_to_a_local_port_the_config_does_not_name_is_a_400(host: str, allowed: list[str]) -> None:
    """By default no local port is named; ``*`` allows any host elsewhere, never this machine's other ports."""
    clock = Clock()
    with Receiver() as recorder:
        app = make(clock, allow_hosts=allowed) if allowed else make(clock)
        answer = asyncio.run(post(app, f"http://{host}:{recorder.port}{REVOKE}"))
        asyncio.run(run_for(app, clock, 6, step=0.5))
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["param"] == "callback_url" and f"--callback-port {recorder.port}" in error["message"], error
    assert len(app.state.service.backend.local) == 0 and recorder.received == []


def test_a_name_that_resolves_to_this_machine_is_refused_when_it_is_sent() -> None:
    """``127.1`` is a name to the allow-list (``*`` lets it through) and 127.0.0.1 to a resolver: the address
    it resolves to is judged as a literal one is, before the connection."""
    clock = Clock()
    with Receiver() as recorder:
        app = make(clock, allow_hosts=["*"], tries=1)
        answer = asyncio.run(post(app, f"http://127.1:{recorder.port}{REVOKE}"))
        asyncio.run(run_for(app, clock, 6, step=0.5))
    assert answer.status_code == 200, answer.text
    assert recorder.received == []
    (shown,) = attempts(app)
    assert shown["status"] == 0 and "resolves to this machine" in shown["error"], shown


def test_a_receiver_on_a_named_local_port_is_called_back_and_no_other_local_port() -> None:
    clock = Clock()
    with Receiver() as receiver, Receiver() as recorder:
        app = make(clock, receiver)

        async def scenario() -> list[int]:
            answers = [await post(app, receiver.url), await post(app, f"http://127.0.0.1:{recorder.port}{REVOKE}")]
            await run_for(app, clock, 6, step=0.5)
            return [a.status_code for a in answers]

        assert asyncio.run(scenario()) == [200, 400]
    assert len(receiver.received) == 1 and recorder.received == []


def test_a_callback_url_past_the_schemas_bound_is_a_400_naming_the_field() -> None:
    clock = Clock()
    with Receiver() as receiver:
        app = make(clock, receiver)
        base = receiver.url + "?pad="
        fits, over = base + "a" * (MAX_URL - len(base)), base + "a" * (2000 - len(base))
        answers = [asyncio.run(post(app, url)) for url in (fits, over)]
    assert [a.status_code for a in answers] == [200, 400]
    error = answers[1].json()["error"]
    assert error["param"] == "callback_url" and "too long" in error["message"], error


@pytest.mark.slow
def test_a_long_callback_url_is_kept_once_per_task() -> None:
    """A 2,000-character URL cost 5.3 KB a task: the text as given, and its path again as parsed."""
    clock, count = Clock(), 200
    long_pad, short_pad = "a" * (MAX_URL - 60), "a"

    def cost(pad: str) -> float:
        app = create_app(config_from({"callbacks": {"local_ports": [9]}}), clock=clock)  # no journal of bodies
        extra = {"callback_url": f"http://127.0.0.1:9/hook?pad={pad}"}

        async def scenario() -> int:
            async with client(app) as http:
                await submit(http, 30, extra)  # every cache and lazy import warmed first
                gc.collect()
                tracemalloc.start()
                before = tracemalloc.take_snapshot()
                await submit(http, count, extra)
                gc.collect()
                grown = sum(s.size_diff for s in tracemalloc.take_snapshot().compare_to(before, "filename"))
                tracemalloc.stop()
                return grown

        return asyncio.run(scenario()) / count

    extra = cost(long_pad) - cost(short_pad)
    assert extra < 1.3 * (len(long_pad) - len(short_pad)), (
        f"{extra:.0f} bytes a task for {len(long_pad)} more characters"
    )


def test_the_command_line_names_local_ports() -> None:
    from mockserver.cli import _config, _parse

    port = free_port()
    config = _config(*_parse(["--callback-port", str(port)], {}))
    assert config.callbacks.local_ports == (port,) and config.callbacks.allow_hosts == ()
    with pytest.raises(SystemExit):
        _config(*_parse(["--callback-port", "70000"], {}))
