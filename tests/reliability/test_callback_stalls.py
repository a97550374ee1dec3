"""Callbacks cannot be stalled: a receiver that hangs holds only its own connection slots, an attempt is
signed when it is sent, a claim that lapsed while its attempt waited is not sent twice, and ``100 Continue``
is read past to the answer. In-process on a clock the test moves, over real sockets to receivers on
127.0.0.1; the fleet's case on a real redis-server.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections import Counter
from typing import Any

import redis

from mockserver import create_app
from mockserver.callbacks.sender import PER_DESTINATION
from mockserver.engine.config import config_from
from mockserver.stores.redis import RedisStore
from tests.helpers.callbackrun import BODY, KEY, Clock, attempts, client, make, run_for, submit
from tests.helpers.receiver import Receiver


async def start_for(app: Any, clock: Clock, seconds: float, step: float = 0.5) -> list[asyncio.Task[None]]:
    """Move the clock on, starting what falls due without waiting for it: the sends' tasks."""
    sender, started = app.state.service.callbacks, []
    for _ in range(round(seconds / step)):
        clock.now += step
        started += await sender.start_due()
    return started


def test_a_receiver_that_never_answers_holds_only_its_own_slots() -> None:
    """Sixty-four callbacks to a hung receiver once held every slot of the worker, and a good receiver's
    callback waited for their timeouts."""
    clock = Clock()
    with Receiver(hold=True) as stuck, Receiver() as good:
        app = make(clock, stuck, good, timeout=60, tries=1)

        async def scenario() -> bool:
            async with client(app) as http:
                await submit(http, 64, {"callback_url": stuck.url})
                started = await start_for(app, clock, 6)  # every one of them due and started
                await submit(http, 1, {"callback_url": good.url})
                started += await start_for(app, clock, 6)
                arrived = await asyncio.to_thread(good.wait_answered, 1, 20)
                stuck.release()
                await asyncio.gather(*started)
                return arrived

        assert asyncio.run(scenario()), "the good receiver's callback waited behind the hung one's"
        assert len(stuck.received) == 64


def test_an_attempt_that_waited_for_a_slot_is_signed_when_it_is_sent() -> None:
    """The timestamp was signed before the wait: after minutes in the queue a receiver's five-minute window
    refused it."""
    clock, count = Clock(), PER_DESTINATION + 12
    with Receiver(hold=True) as receiver:
        app = make(clock, receiver, timeout=60, tries=1)

        async def scenario() -> float:
            async with client(app) as http:
                await submit(http, count, {"callback_url": receiver.url})
                started = await start_for(app, clock, 6)
                assert await asyncio.to_thread(receiver.wait_for, lambda got: len(got) >= PER_DESTINATION)
                clock.now += 200  # the receiver hangs for 200 s
                released = clock.now
                receiver.release()
                await asyncio.gather(*started)
                await run_for(app, clock, 2)
                return released

        released = asyncio.run(scenario())
    assert len(receiver.received) == count
    late = [int(r.headers["webhook-timestamp"]) for r in receiver.received[PER_DESTINATION:]]
    assert all(stamp >= int(released) for stamp in late), (released, late)


def test_a_claim_that_lapsed_while_its_attempt_waited_is_not_sent_by_two_instances(redis_server: Any) -> None:
    """On Redis, one instance's attempt waited for a slot past its claim's lease, another instance took the
    delivery and sent it, and then the first sent it too (33 of 100 deliveries, twice)."""
    clock = Clock()
    with Receiver(hold=True) as receiver:
        config = config_from(
            {"time_scale": 100, "seed": 3, "callbacks": {"local_ports": [receiver.port], "timeout": 60, "tries": 1}}
        )
        stores = [RedisStore(redis_server.url) for _ in range(2)]
        a, b = (create_app(config, clock=clock, store=store, secret=b"fleet", slot=n) for n, store in enumerate(stores))

        async def scenario() -> None:
            async with client(a) as http:
                await submit(http, PER_DESTINATION + 1, {"callback_url": receiver.url})
            started = await start_for(a, clock, 6)  # a claims each; its last waits for a slot
            assert await asyncio.to_thread(receiver.wait_for, lambda got: len(got) >= PER_DESTINATION)
            sent = {r.headers["webhook-id"] for r in receiver.received}
            probe = redis.Redis(port=redis_server.port)
            claims = [
                key for key in probe.scan_iter(match="mockserver:send:*") if key.split(b":")[2].decode() not in sent
            ]
            assert len(claims) == 1, claims  # the one waiting for a slot
            probe.delete(*claims)  # its lease ran out
            assert await b.state.service.callbacks.load() == PER_DESTINATION + 1
            started += await start_for(b, clock, 0.5)  # b takes the lapsed claim and sends it
            assert await asyncio.to_thread(receiver.wait_for, lambda got: len(got) > PER_DESTINATION)
            receiver.release()
            await asyncio.gather(*started)
            await asyncio.gather(*await start_for(a, clock, 1), *await start_for(b, clock, 1))
            for store in stores:
                await store.close()

        asyncio.run(scenario())
    sends = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert len(sends) == PER_DESTINATION + 1 and set(sends.values()) == {1}, sends.most_common(2)


def test_a_100_continue_before_the_answer_is_read_past() -> None:
    """A receiver may send ``100 Continue`` first (any HTTP/1.1 server may); it was counted as no answer."""
    clock = Clock()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                got = b""
                while b"\r\n\r\n" not in got:
                    got += connection.recv(65536)
                connection.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                connection.sendall(b"HTTP/1.1 204 No Content\r\n\r\n")

        serving = threading.Thread(target=answer, daemon=True)
        serving.start()
        port = listener.getsockname()[1]
        app = make(clock, port, tries=1)

        async def scenario() -> None:
            async with client(app) as http:
                await http.post(
                    "/v2/videos/generations",
                    json={**BODY, "callback_url": f"http://127.0.0.1:{port}/hook"},
                    headers=KEY,
                )
                await run_for(app, clock, 6, step=0.5)

        asyncio.run(scenario())
        serving.join(timeout=10)
    assert [(a["status"], a["error"]) for a in attempts(app)] == [(204, None)]
