"""Memory per stored task: fill a store through the same path a submit takes, and weigh it.

tracemalloc counts exactly what the records, their ids and the store's index allocate, and
nothing of the interpreter around them, so the figure is the same on any machine.
"""

from __future__ import annotations

import random
import sys
import tracemalloc

from mockserver import ids, lifecycle
from mockserver.catalog import resolve
from mockserver.config import Config
from mockserver.scenarios import Choice
from mockserver.store import MemoryStore


def bytes_per_task(count: int, config: Config | None = None) -> float:
    config = config or Config()
    secret = ids.derive_secret(config.seed, config.keys)
    nonces = random.Random(config.seed)
    catalog, profile = resolve(config), resolve(config).defaults["videos"]
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    store = MemoryStore()
    for n in range(count):
        ticket = ids.Ticket(submitted_ms=1_756_693_797_000 + n, profile=0, scenario=0, nonce=nonces.getrandbits(56))
        task_id = ids.mint(secret, ticket, "videos", 1)
        store.put(lifecycle.plan(catalog, task_id, "videos", 1, ticket.submitted_ms / 1000, profile, Choice()))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    return used / count


if __name__ == "__main__":
    print(f"{bytes_per_task(int(sys.argv[1])):.1f}")
