"""Hostile callback URLs: each is refused naming its field, or POSTed to exactly the host and port checked.

The allow-list judges a URL as httpx parses it; a second parser at delivery (``urlsplit`` read ``:+80``,
``:٨٠`` and ``127.0.0.1。`` otherwise) would let the check approve one place and the POST go to another.
The receiver on 127.0.0.1 proves where each POST went: with no network beyond loopback, a POST aimed
anywhere else never arrives.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from mockserver import create_app
from mockserver.engine.callback_request import Target, check_url
from mockserver.engine.callback_settings import Allowed
from mockserver.engine.config import config_from
from mockserver.stores.local import SqliteStore
from mockserver.testing import free_port
from tests.helpers.callbackrun import KEY, Clock, attempts, client, make, run_for, submit
from tests.helpers.receiver import Receiver

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


@pytest.mark.parametrize(
    ("field", "url"),
    [
        ("callback_url", "http://127.0.0.1\\@evil.example/"),
        ("callback_url", "http://127.0.0.1:{port}\\@evil.example/"),
        ("notify_hook", "http://127.0.0.1:{port}@evil.example/"),
        ("webhook", "http://evil.example#@127.0.0.1:{port}/"),
        ("callback_url", "http://evil.example?@127.0.0.1:{port}/"),
        ("callback_url", "http://127.0.0.1\t.evil.example:{port}/"),
        ("callback_url", "http://127.0.\n0.1:{port}/"),
        ("callback_url", "http://evil.example\r\n@127.0.0.1:{port}/"),
        ("callback_url", "http://127.0.0.1: {port}/"),
        ("callback_url", "http://127.0.0.1:{port} /"),
        ("callback_url", "http://[::1:{port}/"),
        ("callback_url", "http://%31%32%37.0.0.1:{port}/"),
        ("callback_url", "http://127.1:{port}/"),  # a resolver reads it as 127.0.0.1; the allow-list cannot
        ("callback_url", "http://0x7f.0.0.1:{port}/"),
        ("callback_url", "http://xn--localhost-:{port}/"),  # not IDNA: it was a 500
        ("callback_url", "http://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54:{port}/"),  # full-width
    ],
)
def test_a_hostile_callback_url_is_a_400_naming_its_field_and_nothing_is_sent(field: str, url: str) -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port)  # the receiver's port is allowed: the host around it is what is refused

    async def scenario(receiver: Receiver) -> Any:
        async with client(app) as http:
            body = {"prompt": "a fox", "model": "veo3", field: url.format(port=receiver.port)}
            answer = await http.post("/v2/videos/generations", json=body, headers=KEY)
            await run_for(app, clock, 5, step=0.5)
            return answer

    with Receiver(port=port) as receiver:
        answer = asyncio.run(scenario(receiver))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["param"] == field and field in answer.json()["error"]["message"]
    assert len(app.state.service.backend.local) == 0 and not receiver.received


@pytest.mark.parametrize(
    ("url", "host", "path"),
    [
        ("http://127.0.0.1:+{port}/hook", "127.0.0.1", "/hook"),
        ("http://127.0.0.1:{arabic}/hook", "127.0.0.1", "/hook"),
        ("http://127.0.0.1\u3002:{port}/hook", "127.0.0.1", "/hook"),  # an ideographic full stop, then no name
        ("http://LocalHost.:{port}/hook", "localhost", "/hook"),
        ("http://127.0.0.1:{port}/hook#@evil.example", "127.0.0.1", "/hook"),
        ("http://127.0.0.1:{port}/hook?to=\\@evil.example", "127.0.0.1", "/hook?to=\\@evil.example"),
    ],
)
def test_an_odd_allowed_url_is_posted_to_the_host_and_port_checked(url: str, host: str, path: str) -> None:
    clock, port = Clock(), free_port()
    app = make(clock, port)

    async def scenario(receiver: Receiver) -> None:
        given = url.format(port=receiver.port, arabic=str(receiver.port).translate(ARABIC_INDIC))
        async with client(app) as http:
            await submit(http, 1, {"callback_url": given})
            await run_for(app, clock, 5, step=0.5)

    with Receiver(port=port) as receiver:
        asyncio.run(scenario(receiver))
        assert [(r.path, r.headers["host"]) for r in receiver.received] == [(path, f"{host}:{receiver.port}")], (
            attempts(app)
        )


def test_a_stored_url_is_posted_where_the_check_at_load_says(tmp_path: Path) -> None:
    """A ledger row is outside input too: loaded, it is checked again and sent where that check approved."""
    db, clock = tmp_path / "tasks.db", Clock()
    with Receiver() as receiver:
        config = config_from({"time_scale": 100, "callbacks": {"local_ports": [receiver.port]}})
        first = create_app(config, clock=clock, store=SqliteStore(db))

        async def accept() -> None:
            async with client(first) as http:
                await submit(http, 1, {"callback_url": receiver.url})

        asyncio.run(accept())
        with sqlite3.connect(db) as file:
            file.execute("UPDATE mock_callbacks SET url = ?", (f"http://127.0.0.1:+{receiver.port}/stored",))
        again = create_app(config, clock=clock, store=SqliteStore(db))
        assert asyncio.run(again.state.service.callbacks.load()) == 1
        asyncio.run(run_for(again, clock, 5, step=0.5))
        assert [r.path for r in receiver.received] == ["/stored"], attempts(again)


def test_the_target_is_what_the_allow_list_judged() -> None:
    local = Allowed((), frozenset({8080, 443}))
    assert check_url("webhook", "HTTP://127.0.0.1\u3002:8080/a%2fb?c=d#e", local) == Target(
        False, "127.0.0.1", 8080, "/a%2fb?c=d"
    )
    ipv6 = check_url("webhook", "https://[0:0::1]/", local)
    assert ipv6 == Target(True, "::1", 443, "/") and ipv6.authority == "[::1]"
