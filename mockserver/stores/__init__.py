"""Where the mock keeps what outlives a request, and the one place that knows which backend that is.

``open_backend(spec)`` opens the store named on the command line (``memory``, ``sqlite:PATH`` or
``redis://HOST:PORT/DB``) and returns a ``Backend``: the tasks, the run-time rules, the request journal, the
callbacks' ledger, the listener to the fleet's changes and the nonce slots, all kept in that one place.
Everything else reads the bundle and never asks which store it is (``Backend.shared``, ``Backend.complete``
say what differs). ``backend_for`` builds the same bundle around a store already opened (a test's).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..engine.journal_entries import Entries, MemoryJournal
from ..engine.nonces import Nonces, claim_slot
from ..engine.rules import MemoryRules, RuleBook
from .base import AsyncStore, DamagedRecord, Store, StoreError
from .callback_ledger import Ledger, MemoryLedger, SqliteLedger
from .local import Awaited, MemoryStore, SqliteStore
from .sqlite_rules import SqliteRules

if TYPE_CHECKING:  # imported with Redis only, which imports redis-py
    from .redis_shared import Listener

__all__ = ["AsyncStore", "Backend", "DamagedRecord", "Store", "StoreError", "backend_for", "check_spec", "open_backend"]

USAGE = "use memory, sqlite:PATH or redis://HOST:PORT/DB"


@dataclass
class Backend:
    """One backend's parts. ``tasks`` is every store as an ``AsyncStore``; ``local`` is the same store called as
    plain functions where it answers at once (memory, SQLite), so the poll and submit routes skip an await, and
    None for a remote one (Redis). ``shared``: other processes see the same tasks; ``complete``: it holds every
    task accepted, so an id it lacks is no task (no rebuilding from the id)."""

    tasks: AsyncStore
    local: Store | None
    rules: RuleBook
    journal: Entries
    ledger: Ledger
    shared: bool
    complete: bool
    listener: Listener | None = None  # with Redis: the fleet's changes, heard while the app serves
    nonces_for: Callable[[bytes, int], Callable[[], int]] = lambda secret, slot: Nonces(slot)
    claim: Callable[[bytes], int] = claim_slot  # a process's nonce slot, claimed before it serves
    close: Callable[[], Any] | None = None  # awaited when the app stops
    ready: Callable[[], dict[str, str]] = dict  # backend-specific readiness checks beyond the store's answer
    ping: Callable[[], Any] | None = None  # the store's own liveness check, awaited; else one read of ``tasks``


def worker_token() -> str:
    """Who holds a callback claim: unique per process start."""
    return f"{os.getpid()}-{time.time_ns()}"


def _redis(spec: str) -> Any:
    from .redis import RedisStore

    return RedisStore(spec)


def open_backend(spec: str, *, seed: int, reasons: tuple[str, ...], journal_size: int) -> Backend:
    """The backend ``--store`` names; ValueError names what is wrong with it."""
    kind, _, where = spec.partition(":")
    if kind == "memory" and not where:
        store: Any = MemoryStore()
    elif kind == "sqlite" and where:
        store = SqliteStore(where)
    elif kind == "redis":
        store = _redis(spec)
    else:
        raise ValueError(f"unknown store {spec!r}; {USAGE}")
    return backend_for(store, seed=seed, reasons=reasons, journal_size=journal_size, owned=True)


def backend_for(store: Any, *, seed: int, reasons: tuple[str, ...], journal_size: int, owned: bool = False) -> Backend:
    """The bundle around an opened store; None is a fresh memory store. ``owned``: the bundle opened the store,
    so closes it with the connections of its own (a caller's store stays open for the caller)."""
    if store is None:
        store = MemoryStore()
    if isinstance(store, MemoryStore):
        return Backend(
            Awaited(store), store, MemoryRules(seed), MemoryJournal(journal_size), MemoryLedger(), False, False
        )
    if isinstance(store, SqliteStore):
        rules = SqliteRules(store.path, seed, reasons)
        ledger = SqliteLedger(store.path, worker_token())

        async def close() -> None:  # every connection to the file: the last one's close removes -wal and -shm
            for each in (rules, ledger, store) if owned else (rules, ledger):
                each.close()

        return Backend(
            Awaited(store, apart=store), store, rules, MemoryJournal(journal_size), ledger, True, False, close=close
        )
    from .redis import RedisStore

    if isinstance(store, RedisStore):
        from .redis_ledger import RedisLedger
        from .redis_shared import Listener, RedisJournal, RedisRules

        listener = Listener(store)

        def nonces_for(secret: bytes, slot: int) -> Callable[[], int]:
            if not store.lease.keys:  # not claimed by the command line (an app built in a test)
                store.claim_slot(secret)
            return store.lease

        def ready() -> dict[str, str]:
            return {
                "listener": "ok" if listener.subscribed else "not subscribed to the fleet's changes in Redis",
                "nonce_slot": "ok" if store.holds_slot else "this process holds no nonce slot in Redis",
            }

        return Backend(
            tasks=store,
            local=None,
            rules=RedisRules(store, seed, reasons),
            journal=RedisJournal(store, journal_size),
            ledger=RedisLedger(store, worker_token()),
            shared=True,
            complete=True,
            listener=listener,
            nonces_for=nonces_for,
            claim=store.claim_slot,
            close=store.close,
            ready=ready,
            ping=lambda: store.run(store.client.ping),
        )
    raise TypeError(f"not a store: {store!r}")


def check_spec(spec: str) -> None:
    """Refuse a bad ``--store`` as ``open_backend`` would, leaving nothing open: a parent whose workers serve
    checks it so, and each worker opens its own."""
    kind, _, where = spec.partition(":")
    if kind == "redis":
        from .redis import require_reachable

        require_reachable(spec)
    elif kind == "sqlite" and where:
        SqliteStore(where).close()
    elif spec != "memory":
        raise ValueError(f"unknown store {spec!r}; {USAGE}")
