"""Memory per stored task: fill a store the way a submit does, and weigh it.

tracemalloc counts exactly what the records, their ids and the store's index allocate, and
nothing of the interpreter around them, so the figure is the same on any machine.
"""

from __future__ import annotations

import sys
import tracemalloc
from collections.abc import Iterator

from mockserver.engine import ids, lifecycle, scenarios
from mockserver.engine.catalog import resolve
from mockserver.engine.config import Config
from mockserver.engine.nonces import Nonces
from mockserver.engine.output_shape import packed
from mockserver.stores.local import MemoryStore

START_MS = 1_756_693_797_000


def records(count: int, config: Config | None = None, owner: int = 1) -> Iterator[lifecycle.Record]:
    """What ``count`` submits of the spec's video request, a millisecond apart, would store.

    tests/reliability/test_bench.py holds this to the app's own submit path.
    """
    config = config or Config()
    catalog = resolve(config)
    secret = ids.derive_secret(config.seed, config.keys)
    nonces = Nonces()
    profile = catalog.profile_for("videos", "veo3")
    choice = scenarios.parse("default", catalog.reasons)
    assert profile is not None and isinstance(choice, scenarios.Choice)
    shape = packed(
        "videos", {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}, catalog.profiles[profile]
    )
    for at in range(START_MS, START_MS + count):
        ticket = ids.Ticket(submitted_ms=at, profile=profile, scenario=choice.code, nonce=nonces(), shape=shape)
        task_id = ids.mint(secret, ticket, "videos", owner)
        yield lifecycle.plan(
            catalog, task_id, "videos", owner, at / 1000, profile, choice, nonce=ticket.nonce, shape=shape
        )


def bytes_per_task(count: int) -> float:
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore()
    for record in records(count):
        store.put(record)
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count


if __name__ == "__main__":
    print(f"{bytes_per_task(int(sys.argv[1])):.1f}")
