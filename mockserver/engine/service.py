"""The mock's state and rules, apart from HTTP: who a key is, what a submit becomes, which task an id names.

The routes (``http/api.py``), the admin API and the dashboard all hold one ``Service`` and read or change
the mock only through it. A request it will not carry out raises ``refusals.Refused``.

Everything kept beyond a request is reached through one handle, ``backend`` (``stores.open_backend``):
``backend.tasks`` is the store as an ``AsyncStore``, awaited by everything but the poll and submit routes,
which call a local store (``backend.local``: memory or SQLite, answering at once) as plain functions and
await only a remote one (Redis). An await there would cost the local stores' polls a few tenths of a
microsecond each; everything past the lookup is the same code for every store.
"""

from __future__ import annotations

import asyncio
import hmac
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .. import contract
from . import callback_request, encodings, ids, lifecycle, scenarios
from .catalog import SCOPES, Catalog
from .config import Config, faults_from
from .faults import Faults, Injector
from .output_shape import Shapes
from .refusals import Refused
from .rules import MAX_RULES, Rule, key_owner

if TYPE_CHECKING:  # built by the app, which wires the service to them
    from ..callbacks.sender import Sender
    from ..http.metrics import Metrics
    from ..stores import Backend

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
        catalog: Catalog,
        *,
        clock: Callable[[], float],
        backend: Backend,
        callbacks: Sender,
        metrics: Metrics | None = None,
        secret: bytes | None = None,
        slot: int = 0,
    ) -> None:
        self.config = config
        self.catalog = catalog
        self.backend = backend
        self.clock = clock
        self.injector = Injector(config.faults, config.seed)
        if backend.listener is not None:  # what the admin API changes is the fleet's (stores/redis_shared.py)
            backend.listener.changed = self._changed  # runs while the app serves (lifespan)
        self.metrics = metrics
        self.callbacks = callbacks
        self.secret = secret or ids.derive_secret(config.seed, config.keys)
        self.keys = {key_owner(key): key for key in config.keys}  # the API key behind each record's owner number
        self._owners = [(key.encode(), owner) for owner, key in self.keys.items()]
        # with Redis, a leased slot, fenced: no id once the lease cannot be proved held
        self._nonces: Callable[[], int] = backend.nonces_for(self.secret, slot)
        self._choices = scenarios.by_code(len(catalog.reasons))
        self._shapes = Shapes(catalog.scopes, catalog.profiles)
        self._by_key = {key_owner(k): scenarios.parse(s, catalog.reasons) for k, s in config.key_scenarios.items()}
        # Records rebuilt from other workers' ids: each task is polled many times, and a rebuild (a MAC check
        # and a fresh plan) took about 8 of a 29 us poll in-process, where a dict lookup costs well under one.
        self._rebuilt: dict[str, lifecycle.Record] = {}
        self._forgotten_before = -math.inf  # ids minted before the last reset no longer replay

    @property
    def tasks(self) -> Any:
        """The store as an ``AsyncStore`` (``Backend.tasks``)."""
        return self.backend.tasks

    @property
    def journal(self) -> Any:
        """The request journal (``Backend.journal``)."""
        return self.backend.journal

    @asynccontextmanager
    async def lifespan(self, app: Any) -> AsyncIterator[None]:
        """While the app serves: the callbacks' scheduler, and with Redis the listener; then the connections closed."""
        listener = self.backend.listener
        listening = None if listener is None else asyncio.get_running_loop().create_task(listener.run())
        try:
            async with self.callbacks.lifespan(app):
                yield
        finally:
            if listening is not None:
                listening.cancel()
                await asyncio.gather(listening, return_exceptions=True)
            if self.backend.close is not None:
                await self.backend.close()

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
        asked = None if callback_request.FIELDS.isdisjoint(payload) else self._callback(payload)
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
            if (rules := self.backend.rules).active:
                choice = await rules.choose(scope, model, owner)
            if choice is None:
                choice = catalog.chosen.get((scope, model)) or self._by_key.get(owner) or scenarios.DEFAULT
        shape = self._shapes.packed(profile, payload)  # an interned int, shared by the records that ask alike
        if walk := choice.lifecycle - 1 if choice.lifecycle else catalog.lifecycles[profile]:
            shape = encodings.with_lifecycle(shape, walk)
        submitted_ms, nonce = round(self.clock() * 1000), self._nonces()
        task_id = ids.mint(self.secret, (submitted_ms, profile, choice.code, nonce, shape), scope, owner)
        record = lifecycle.plan(catalog, task_id, scope, owner, submitted_ms / 1000, profile, choice, nonce, shape)
        # The callback is noted first: a store that fails then leaves a callback for no task, never the reverse.
        noted = (
            None if asked is None else self.callbacks.subscribe(record, replace(asked, fault=choice.callback), links())
        )
        if (local := self.backend.local) is not None:
            if noted is not None:
                await noted
            local.put(record)
        elif noted is not None:  # queued in this order, both go to Redis in one round trip (stores/redis_writes.py)
            await asyncio.gather(noted, self.backend.tasks.put(record))
        else:
            await self.backend.tasks.put(record)
        if self.metrics is not None:
            self.metrics.created(scope, catalog.names[profile], record.shape, choice)
        return record

    def _callback(self, payload: dict[str, Any]) -> callback_request.Asked | None:
        """The callback the mock's own fields ask for (``schemas/mock-callback.json``), checked before anything."""
        try:
            return callback_request.read(payload, self.config.callbacks)
        except callback_request.Refusal as refusal:
            raise Refused(400, "invalid_field", refusal.message, param=refusal.param) from None

    def found(self, record: lifecycle.Record | None, task_id: str, scope: str, owner: int) -> lifecycle.Record | None:
        """The store's ``record`` for a poll of ``task_id``, or, where the store lacks it, one rebuilt from a
        signed id that another worker handed out.

        Raises ``lifecycle.Gone`` for a stored task of this key that the running config cannot play.
        """
        if record is None and self.backend.complete:
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
        if self.backend.complete:
            return None
        found = (self.found(None, task_id, scope, owner) for scope in SCOPES for owner in self.keys)
        return next((record for record in found if record is not None), None)

    def rebuilt(self, task_id: str) -> lifecycle.Record | None:
        """The record this process rebuilt from another worker's id, while it keeps it (a reset forgets it)."""
        return self._rebuilt.get(task_id)

    async def reset(self) -> None:
        """Forget every task (ids handed out before now no longer replay), the journal, and runtime faults."""
        backend = self.backend
        await backend.tasks.clear()
        await backend.journal.clear()
        await backend.rules.clear()
        await self.callbacks.clear()
        await self._forget()
        if backend.listener is not None:
            await backend.listener.publish("faults", None)
            await backend.listener.publish("reset")

    async def _forget(self) -> None:
        """What each process keeps apart from the backend, dropped on a reset here or anywhere in the fleet."""
        self._rebuilt.clear()
        self.injector = Injector(self.config.faults, self.config.seed)
        self._forgotten_before = self.clock()
        if self.metrics is not None:
            await self.metrics.reset()

    async def set_faults(self, faults: Faults) -> None:
        """Run-time faults from now, in every instance that shares the store."""
        self.injector.faults = faults
        if self.backend.listener is not None:
            await self.backend.listener.publish("faults", faults.as_dict())

    async def _changed(self, kind: str, value: dict[str, Any] | None) -> None:
        """Another instance changed the faults or rules, or reset the mock (awaited by the listener)."""
        if kind == "rules":
            self.backend.rules.forget()
        elif kind == "faults":
            self.injector.faults = self.config.faults if value is None else faults_from(value)
        elif kind == "reset":
            await self._forget()

    async def add_rule(self, payload: dict[str, Any]) -> Rule:
        """A rule from an admin body already valid against ``schemas/mock-rule.json``, checked against this mock
        (its scenario's reasons, its keys, the cap) and added."""
        try:
            choice = scenarios.parse(payload["scenario"], self.catalog.reasons, "scenario")
        except scenarios.UnknownScenario as exc:
            raise Refused(400, "invalid_field", str(exc), param="scenario") from None
        key = payload.get("key")
        if key is not None and key not in self.config.keys:
            raise Refused(400, "invalid_field", "key is not one of the keys this mock accepts.", param="key")
        rules = self.backend.rules
        if len(await rules.listing()) >= MAX_RULES:
            raise Refused(400, "invalid_field", f"At most {MAX_RULES} rules at once; DELETE /_mock/rules first.")
        owner = None if key is None else key_owner(key)
        given = payload.get("next"), payload.get("fraction"), payload.get("scope"), payload.get("model")
        return await rules.add(Rule(0, payload["scenario"], choice, *given, key, owner))

    async def force(self, record: lifecycle.Record, status: str, fail_reason: str | None) -> lifecycle.Record:
        """Move the task on to ``status``, or hold it where it is, from now; never back, and never out of a final
        state. The override is stored in its record, so the engine stays a pure function of record and clock."""
        now = self.clock()
        current = lifecycle.status_at(record, now)
        if status != current and status not in contract.lifecycle()["transitions"][current]:
            raise Refused(400, "invalid_field", f"A task in {current} cannot move to {status}.", param="status")
        reasons = self.catalog.reasons
        failure = -1 if status == lifecycle.SUCCESS else record.failure
        if status == lifecycle.FAILURE:
            name = reasons[max(record.failure, 0)] if fail_reason is None else fail_reason
            if name not in reasons:
                message = f"fail_reason must be one of {list(reasons)}."
                raise Refused(400, "invalid_field", message, param="fail_reason")
            failure = reasons.index(name)
        if status == current and current in lifecycle.TERMINAL and failure != record.failure:
            shown = reasons[record.failure]
            message = f"The task already failed with {shown!r}; a finished task never changes."
            raise Refused(409, "task_finished", message)
        if status == current and (record.forced >= 0 or status in lifecycle.TERMINAL):
            return record  # already held there
        if record.forced >= 0:
            # Moving on from a held state: what was seen while held stays true, so the task's own
            # schedule no longer applies; it starts (if it had not) and ends when forced to.
            started = lifecycle.times(record).started
            record = record._replace(queue_for=started - record.submitted_at, run_for=math.inf)
        record = record._replace(forced=lifecycle.STATES.index(status), forced_at=now, failure=failure)
        await self.backend.tasks.put(record)
        self.callbacks.changed(record.task_id)  # its callbacks are derived from the record: look again
        return record

    def _rebuild(self, task_id: str, scope: str, owner: int) -> lifecycle.Record | None:
        """The record a signed id stands for, as ``accept`` planned it; None if its profile or scenario is not here."""
        ticket = ids.read(self.secret, task_id, scope, owner)
        if ticket is None or ticket.submitted_ms / 1000 < self._forgotten_before:
            return None
        choice = self._choices.get(ticket.scenario)
        if choice is None or ticket.profile >= len(self.catalog.profiles):
            return None
        submitted = ticket.submitted_ms / 1000
        record = lifecycle.plan(
            self.catalog, task_id, scope, owner, submitted, ticket.profile, choice, ticket.nonce, ticket.shape
        )
        if not lifecycle.playable(self.catalog, record):  # a lifecycle or take this config does not have
            return None
        if len(self._rebuilt) >= REBUILT_KEPT:
            del self._rebuilt[next(iter(self._rebuilt))]  # oldest first: a client polls its newest tasks
        self._rebuilt[task_id] = record
        return record
