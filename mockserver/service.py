"""The mock's state and rules, apart from HTTP: who a key is, what a submit becomes, which task an id names.

The routes (``api.py``), the admin API and the dashboard all hold one ``Service`` and read or change
the mock only through it. A request it will not carry out raises ``errors.Refused``.

The store is reached through one seam: ``tasks``, the store as an ``AsyncStore``, awaited by everything
but the poll and submit routes, which call a local store (``local``: memory or SQLite, answering at once)
as plain functions and await only a remote one (Redis). An await there would cost the local stores'
polls a few tenths of a microsecond each; everything past the lookup is the same code for every store.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any

from . import ids, lifecycle, scenarios
from .callbacks import asked as callbacks_asked
from .callbacks.sender import for_app as callback_sender
from .catalog import SCOPES, resolve
from .config import Config, faults_from
from .errors import Refused
from .faults import Faults, Injector
from .journal import Entries, MemoryJournal
from .media.shape import Shapes
from .metrics import Metrics
from .nonces import Nonces
from .redis_shared import Listener, RedisJournal, RedisRules
from .redis_store import RedisStore
from .rules import Rules, SharedRules, key_owner
from .store import AsyncStore, Awaited, MemoryStore, Store

REBUILT_KEPT = 4096  # records rebuilt from signed ids kept per worker; a few MiB at most


class Service:
    """One mock: its config resolved, its tasks, and what the admin API changes at run time.

    Task ids are signed with ``secret`` (by default derived from the seed and keys), so every worker
    started with the same settings can answer a poll for a task another one accepted. Each worker of
    one server needs its own ``slot`` (``nonces.py``), so that no two mint one id.
    """

    def __init__(
        self,
        config: Config,
        *,
        clock: Callable[[], float],
        store: Store | AsyncStore | None = None,
        secret: bytes | None = None,
        slot: int = 0,
    ) -> None:
        self.config = config
        self.catalog = catalog = resolve(config)
        self.store = MemoryStore() if store is None else store
        self.local: Store | None = None if isinstance(self.store, RedisStore) else self.store
        self.tasks: AsyncStore = self.store if self.local is None else Awaited(self.local)  # type: ignore[assignment]
        self.clock = clock
        self.injector = Injector(config.faults, config.seed)
        self.journal: Entries = MemoryJournal(config.journal_size)
        self.rules = _rules(config, store)
        self._complete = getattr(self.store, "complete", False)  # it holds every task: no rebuilding from ids
        self._listener: Listener | None = None
        if isinstance(self.store, RedisStore):  # what the admin API changes is the fleet's (redis_shared.py)
            self.journal = RedisJournal(self.store, config.journal_size)
            self._listener = Listener(self.store, self._changed)  # runs while the app serves (lifespan)
        self.metrics: Metrics | None = None
        if config.metrics:
            shared = not isinstance(self.store, MemoryStore)
            self.metrics = Metrics(self.tasks.count, catalog.reasons, shared_store=shared)
        journal = self.journal if config.admin_key else None  # attempts join the journal where it is served
        self.callbacks = callback_sender(catalog, config.callbacks, self.store, clock, journal, self.tasks.get)
        self.secret = secret or ids.derive_secret(config.seed, config.keys)
        self.keys = {key_owner(key): key for key in config.keys}  # the API key behind each record's owner number
        self._owners = [(key.encode(), owner) for owner, key in self.keys.items()]
        self._nonces: Callable[[], int] = Nonces(slot)
        if isinstance(self.store, RedisStore):  # a leased slot, fenced: no id once the lease cannot be proved held
            if not self.store.lease.keys:  # not claimed by the command line (an app built in a test)
                self.store.claim_slot(self.secret)
            self._nonces = self.store.lease
        self._choices = scenarios.by_code(len(catalog.reasons))
        self._shapes = Shapes(catalog.scopes, catalog.profiles)
        self._by_key = {key_owner(k): scenarios.parse(s, catalog.reasons) for k, s in config.key_scenarios.items()}
        # Records rebuilt from other workers' ids: each task is polled many times, and a rebuild (a MAC check
        # and a fresh plan) took about 8 of a 29 us poll in-process, where a dict lookup costs well under one.
        self._rebuilt: dict[str, lifecycle.Record] = {}
        self._forgotten_before = -math.inf  # ids minted before the last reset no longer replay

    @property
    def listener(self) -> Listener | None:
        """With Redis, the task that hears the fleet's changes (its readiness is ``/readyz``'s)."""
        return self._listener

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """While the app serves: the callbacks' scheduler, and with Redis the listener; then the connections closed."""
        listening = None if self._listener is None else asyncio.get_running_loop().create_task(self._listener.run())
        try:
            async with self.callbacks.lifespan(app):
                yield
        finally:
            if listening is not None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
            if isinstance(self.store, RedisStore):
                await self.store.close()

    def owner(self, authorization: bytes | None) -> int:
        """The owner number of the key in an ``Authorization: Bearer`` header."""
        scheme, _, key = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not key:
            raise Refused(401, "missing_api_key", "Send Authorization: Bearer <API-Key>.")
        given = key.strip()
        for known, owner in self._owners:
            if hmac.compare_digest(known, given):
                return owner
        raise Refused(401, "invalid_api_key", "That API key is not known to this server.")

    async def accept(
        self,
        scope: str,
        owner: int,
        payload: dict[str, Any],
        scenario: str | None,
        links: Callable[[], str] = lambda: "",
    ) -> lifecycle.Record:
        """A valid submit body made a task: its fate chosen, its id signed, its record stored, its callback noted.

        ``links`` gives the output links' base as the client reached the mock, for a callback's body.
        """
        catalog = self.catalog
        asked = None if callbacks_asked.FIELDS.isdisjoint(payload) else self._callback(payload)
        try:
            choice = None if scenario is None else scenarios.parse(scenario, catalog.reasons)
        except scenarios.UnknownScenario as exc:
            raise Refused(400, "invalid_field", str(exc), param="X-Mock-Scenario") from None
        model = payload["model"]
        profile = catalog.profile_for(scope, model)
        if profile is None:
            known = sorted(name for s, name in catalog.index if s == scope)
            message = f"Unknown model for {scope}; use one of: {', '.join(known)}."
            raise Refused(400, "unknown_model", message, param="model")
        if choice is None:  # the header wins; then a run-time rule, the model's alias, the key (docs/mock/scenarios.md)
            if self.rules.active:
                choice = await self.rules.choose(scope, model, owner)
            if choice is None:
                choice = catalog.chosen.get((scope, model)) or self._by_key.get(owner) or scenarios.DEFAULT
        shape = self._shapes.packed(profile, payload)  # an interned int, shared by the records that ask alike
        if walk := choice.lifecycle - 1 if choice.lifecycle else catalog.lifecycles[profile]:
            shape |= walk << lifecycle.LIFECYCLE_SHIFT
        submitted_ms, nonce = round(self.clock() * 1000), self._nonces()
        task_id = ids.mint(self.secret, ids.Ticket(submitted_ms, profile, choice.code, nonce, shape), scope, owner)
        record = lifecycle.plan(catalog, task_id, scope, owner, submitted_ms / 1000, profile, choice, nonce, shape)
        if asked is not None:  # noted first: a store that fails then leaves a callback for no task, never the reverse
            await self.callbacks.subscribe(record, replace(asked, fault=choice.callback), links())
        if self.local is not None:
            self.local.put(record)
        else:
            await self.tasks.put(record)
        if self.metrics is not None:
            self.metrics.created(scope, catalog.names[profile], payload, choice)
        return record

    def _callback(self, payload: dict[str, Any]) -> callbacks_asked.Asked | None:
        """The callback the mock's own fields ask for (``schemas/mock-callback.json``), checked before anything."""
        try:
            return callbacks_asked.read(payload, self.config.callbacks)
        except callbacks_asked.Refusal as refusal:
            raise Refused(400, "invalid_field", refusal.message, param=refusal.param) from None

    def found(self, record: lifecycle.Record | None, task_id: str, scope: str, owner: int) -> lifecycle.Record | None:
        """The store's ``record`` for a poll of ``task_id``, or, where the store lacks it, one rebuilt from a
        signed id that another worker handed out.

        Raises ``lifecycle.Gone`` for a stored task of this key that the running config cannot play.
        """
        if record is None and self._complete:
            return None
        if record is None:
            record = self._rebuilt.get(task_id) or self._rebuild(task_id, scope, owner)
        elif (record.owner, record.scope) == (owner, scope) and not lifecycle.playable(self.catalog, record):
            raise lifecycle.Gone(task_id)
        if record is None or record.owner != owner or record.scope != scope:
            return None
        return record

    async def find_public(self, task_id: str) -> lifecycle.Record | None:
        """For keyless output links and the admin API: any scope and key the id could be signed for (a few)."""
        record = await self.tasks.get(task_id)
        if record is not None:
            if not lifecycle.playable(self.catalog, record):
                raise lifecycle.Gone(task_id)
            return record
        if self._complete:
            return None
        found = (self.found(None, task_id, scope, owner) for scope in SCOPES for owner in self.keys)
        return next((record for record in found if record is not None), None)

    async def reset(self) -> None:
        """Forget every task (ids handed out before now no longer replay), the journal, and runtime faults."""
        await self.tasks.clear()
        await self.journal.clear()
        await self.rules.clear()
        await self.callbacks.clear()
        self._rebuilt.clear()
        self.injector = Injector(self.config.faults, self.config.seed)
        self._forgotten_before = self.clock()
        if self.metrics is not None:
            await self.metrics.reset()
        if self._listener is not None:
            await self._listener.publish("faults", None)
            await self._listener.publish("reset")

    async def set_faults(self, faults: Faults) -> None:
        """Run-time faults from now, in every instance that shares the store."""
        self.injector.faults = faults
        if self._listener is not None:
            await self._listener.publish("faults", faults.as_dict())

    async def _changed(self, kind: str, value: dict[str, Any] | None) -> None:
        """Another instance changed the faults or rules, or reset the mock (awaited by the listener)."""
        if kind == "rules" and isinstance(self.rules, RedisRules):
            self.rules.forget()
        elif kind == "faults":
            self.injector.faults = self.config.faults if value is None else faults_from(value)
        elif kind == "reset":
            self.injector = Injector(self.config.faults, self.config.seed)
            self._rebuilt.clear()
            self._forgotten_before = self.clock()
            if self.metrics is not None:
                await self.metrics.reset()

    def _rebuild(self, task_id: str, scope: str, owner: int) -> lifecycle.Record | None:
        """The record a signed id stands for, as ``accept`` planned it; None if its profile or scenario is not here."""
        ticket = ids.read(self.secret, task_id, scope, owner)
        if ticket is None or ticket.submitted_ms / 1000 < self._forgotten_before:
            return None
        choice = self._choices.get(ticket.scenario)
        if choice is None or ticket.profile >= len(self.catalog.profiles):
            return None
        if ticket.shape >> lifecycle.LIFECYCLE_SHIFT >= len(lifecycle.WALKS):
            return None
        submitted = ticket.submitted_ms / 1000
        record = lifecycle.plan(
            self.catalog, task_id, scope, owner, submitted, ticket.profile, choice, ticket.nonce, ticket.shape
        )
        if len(self._rebuilt) >= REBUILT_KEPT:
            del self._rebuilt[next(iter(self._rebuilt))]  # oldest first: a client polls its newest tasks
        self._rebuilt[task_id] = record
        return record


def _rules(config: Config, store: Store | AsyncStore | None) -> Rules:
    """Run-time rules in this process, or in the SQLite file or Redis the workers share, beside its tasks."""
    if isinstance(store, RedisStore):
        return RedisRules(store, config.seed, tuple(config.fail_reasons))
    shared = getattr(store, "path", None)
    return Rules(config.seed) if shared is None else SharedRules(shared, config.seed, tuple(config.fail_reasons))
