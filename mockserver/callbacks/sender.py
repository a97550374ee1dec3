"""The one scheduler on the event loop: it sends each callback delivery once it is due, and retries.

It holds a heap of (when, task) to look at, and nothing else of a task: when an entry comes up, the
task's deliveries are derived afresh from its record (``due``), so a state forced through the admin API
or a restart changes nothing but what is derived. What it keeps is delivery state: claims and outcomes
in the ledger, and for the retries in flight, the attempt they are at. Each attempt is noted in the
journal and in a bounded list the admin API shows. Where the ledger is a fleet's (Redis), the loop also
adopts, each second at most, the callbacks other instances noted, so one that dies leaves none unsent.

Connections are held per destination (host and port): a receiver that never answers fills its own
``PER_DESTINATION`` slots, and the others' callbacks go on. An attempt is signed, and its claim renewed,
only once it holds a slot, so its ``webhook-timestamp`` is the time it is sent, and a claim that lapsed
while it waited (and another instance took) is dropped, not sent twice.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import sqlite3
from collections import deque
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import orjson

from ..engine import callback_schedule, lifecycle
from ..engine.callback_request import Asked, Refusal, check_url
from ..engine.callback_settings import Settings
from ..engine.catalog import Catalog
from ..engine.journal_entries import Entries
from ..stores.base import DamagedRecord, StoreError
from ..stores.callback_ledger import Key, Ledger
from . import delivery

ATTEMPTS_KEPT = 1000
PER_DESTINATION = 8  # POSTs in flight to one host and port; more wait their turn
CONNECTIONS = 256  # POSTs in flight per worker in all, within its file descriptors
NAP = 1.0  # real seconds the loop waits at most between looks, so a forced state is seen soon
FAILED = (sqlite3.Error, StoreError)  # a ledger or store failing for a moment: look again soon
RecordOf = Callable[[str], Awaitable[lifecycle.Record | None]]


class Sender:
    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        ledger: Ledger,
        record_of: RecordOf,
        clock: Callable[[], float],
        journal: Entries | None = None,
    ) -> None:
        self.catalog, self.settings, self.ledger = catalog, settings, ledger
        self.record_of, self.clock, self.journal = record_of, clock, journal
        self.attempts: deque[dict[str, Any]] = deque(maxlen=ATTEMPTS_KEPT)
        self._key = delivery.key_of(settings.secret)
        self._heap: list[tuple[float, int, str, callback_schedule.Delivery | None, int]] = []
        self._order = itertools.count()
        self._asked: dict[str, tuple[Asked, str]] = {}
        self._busy: set[Key] = set()  # claimed here and not yet settled
        self._sending: set[str] = set()  # tasks with an attempt in flight
        self._woken = asyncio.Event()
        self._slots = Slots(PER_DESTINATION, CONNECTIONS)
        self._tasks: set[asyncio.Task[None]] = set()
        self._adopted_at = -math.inf  # loop time of the last look for callbacks other instances noted

    @property
    def lease(self) -> float:
        """Clock seconds a claimed delivery may take at most, every try and wait included."""
        waits = sum(self.settings.retry_after(n) for n in range(1, self.settings.tries))
        return self.settings.tries * self.settings.timeout + waits + 1.0

    async def subscribe(self, record: lifecycle.Record, asked: Asked, media_base: str) -> None:
        """Note a submit's callback (in the ledger first, so a restart finds it) and look at it when callback_schedule."""
        try:
            await self.ledger.add(record.task_id, asked, media_base)
        except sqlite3.Error as exc:  # a locked or full file: the submit is a 503 the client retries
            raise StoreError(str(exc)) from exc
        self._watch(record.task_id, asked, media_base, record)

    def changed(self, task_id: str) -> None:
        """A task's record changed (a forced state): look at it again now."""
        if task_id in self._asked:
            self._push(self.clock(), task_id)

    async def load(self) -> int:
        """Every callback the ledger holds unsettled, as after a restart; returns how many."""
        count = 0
        for task_id, asked, base in await self.ledger.unsettled(self.settings.allowed):
            self._watch(task_id, asked, base, None)
            count += 1
        return count

    async def adopt(self) -> int:
        """Watch the callbacks other instances of a fleet noted since the last look; returns how many."""
        count = 0
        for task_id, asked, base in await self.ledger.adopted(self.settings.allowed):
            if task_id not in self._asked:
                # looked at a moment later: its submit stores the task just after noting the callback
                self._asked[task_id] = (asked, base)
                self._push(self.clock() + NAP, task_id)
                count += 1
        return count

    async def clear(self) -> None:
        self._heap.clear()
        self._asked.clear()
        self._busy.clear()
        self.attempts.clear()
        await self.ledger.clear()

    def pending(self) -> int:
        return len(self._asked)

    def _watch(self, task_id: str, asked: Asked, base: str, record: lifecycle.Record | None) -> None:
        """Look at the task when its first delivery is due; without its record at hand, at once."""
        self._asked[task_id] = (asked, base)
        first = min((d.due for d in self._plan(record, asked)), default=math.inf) if record else self.clock()
        self._push(first, task_id)

    def _plan(self, record: lifecycle.Record, asked: Asked) -> list[callback_schedule.Delivery]:
        return callback_schedule.deliveries(self.catalog, self.settings, record, asked)

    def _push(self, at: float, task_id: str, item: callback_schedule.Delivery | None = None, attempt: int = 1) -> None:
        if math.isfinite(at):
            heapq.heappush(self._heap, (at, next(self._order), task_id, item, attempt))
            self._woken.set()

    async def start_due(self) -> list[asyncio.Task[None]]:
        """Start sending everything due by the clock now; the sends' tasks, for a caller that awaits them."""
        now = self.clock()
        started: list[asyncio.Task[None]] = []
        looked: set[str] = set()
        while self._heap and self._heap[0][0] <= now:
            _, _, task_id, item, attempt = heapq.heappop(self._heap)
            if item is not None:
                started.append(self._spawn(task_id, item, attempt))
            elif task_id not in looked:
                looked.add(task_id)
                started += await self._look(task_id, now)
        return started

    async def send_due(self) -> int:
        """Send what is due and wait for those attempts to end: how tests drive the sender on a fake clock."""
        started = await self.start_due()
        await asyncio.gather(*started)
        return len(started)

    async def _look(self, task_id: str, now: float) -> list[asyncio.Task[None]]:
        found = self._asked.get(task_id)
        try:
            record = await self.record_of(task_id) if found else None
        except DamagedRecord:
            await self._forget(task_id)  # left in the ledger, as an unplayable record is: once per start, not 1/s
            return []
        except StoreError:
            self._push(now + NAP, task_id)  # the store failed for a moment: look again soon
            return []
        if found is None:
            return []  # forgotten already, and its ledger entry with it
        if record is None:
            # No task to call back about, ever: a reset, or a store write that failed after the ledger noted the
            # callback (that submit was a 503; its id was never given out). Finished, so no start loads it again.
            await self._forget(task_id, [])
            return []
        if not lifecycle.playable(self.catalog, record):
            # The running config cannot play the stored record, but a restart under the config it was made under
            # plays it again and must still call back: left unfinished, so each start loads it, looks at it once
            # and drops it, for as long as its record is stored.
            await self._forget(task_id)
            return []
        started: list[asyncio.Task[None]] = []
        later, settled = math.inf, True
        for item in self._plan(record, found[0]):
            if item.key in self._busy:
                settled = False
            elif item.due > now:
                later, settled = min(later, item.due), False
            elif started or task_id in self._sending:
                settled = False  # one at a time, in order: the attempt in flight looks again when it ends
            elif (again := await self._claim(item.key, now)) is None:
                self._busy.add(item.key)
                started.append(self._spawn(task_id, item, 1))
                settled = False
            elif math.isfinite(again):
                later, settled = min(later, again), False
        ended = lifecycle.status_at(record, now) in lifecycle.TERMINAL
        if settled and ended:
            await self._forget(task_id, [item.key for item in self._plan(record, found[0])])
        else:
            self._push(later, task_id)
        return started

    async def _claim(self, key: Key, now: float) -> float | None:
        try:
            return await self.ledger.claim(key, now, self.lease)
        except FAILED:
            return now + NAP  # the ledger failed for a moment: look again soon

    async def _forget(self, task_id: str, settled: list[Key] | None = None) -> None:
        """Stop watching the task; with ``settled`` (its deliveries' keys), finish it in the ledger too, and
        without, leave it there for the next start to load."""
        self._asked.pop(task_id, None)
        if settled is not None:
            try:
                await self.ledger.finish(task_id, settled)
            except FAILED:
                pass  # loaded again at the next start, and found settled then

    def _spawn(self, task_id: str, item: callback_schedule.Delivery, attempt: int) -> asyncio.Task[None]:
        self._sending.add(task_id)
        task = asyncio.get_running_loop().create_task(self._attempt(task_id, item, attempt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _attempt(self, task_id: str, item: callback_schedule.Delivery, attempt: int) -> None:
        try:
            await self._post(task_id, item, attempt)
        finally:
            self._sending.discard(task_id)
            self._push(self.clock(), task_id)  # the task's next delivery, if one is due

    async def _post(self, task_id: str, item: callback_schedule.Delivery, attempt: int) -> None:
        found = self._asked.get(task_id)
        try:
            record = await self.record_of(task_id) if found else None
        except DamagedRecord:
            self._busy.discard(item.key)
            await self._forget(task_id)
            return
        except StoreError:  # try this attempt again soon
            self._push(self.clock() + NAP, task_id, item, attempt)
            return
        if found is None or record is None:
            self._busy.discard(item.key)
            return
        asked, base = found
        try:
            target = check_url("callback_url", asked.url, self.settings.allowed)  # as it was judged at the submit
        except Refusal as refusal:
            self._note(task_id, asked.url, item, attempt, delivery.Answer(0, 0.0, refusal.message))
            await self._settle(item.key, "failed")
            return
        body = orjson.dumps(callback_schedule.body(self.catalog, record, item, base))
        async with self._slots.held((target.host, target.port)):
            try:
                mine = await self.ledger.hold(item.key, self.clock(), self.lease)
            except FAILED:
                mine = False  # unproven: left to lapse, and looked at again then
            if not mine:
                self._busy.discard(item.key)
                return
            headers = delivery.signed(self._key, item.webhook_id, int(self.clock()), body)  # as it is sent
            answer = await delivery.post(target, body, headers, self.settings.timeout, self.settings.allowed.ports)
        self._note(task_id, asked.url, item, attempt, answer)
        if answer.ok or attempt >= self.settings.tries:
            await self._settle(item.key, "delivered" if answer.ok else "failed")
        else:
            self._push(self.clock() + self.settings.retry_after(attempt), task_id, item, attempt + 1)

    async def _settle(self, key: Key, outcome: str) -> None:
        self._busy.discard(key)
        try:
            await self.ledger.settle(key, outcome)
        except FAILED:
            pass  # the claim runs out and another look sends it again, with the same webhook-id

    def _note(
        self, task_id: str, url: str, item: callback_schedule.Delivery, attempt: int, answer: delivery.Answer
    ) -> None:
        entry = {
            "at": self.clock(),
            "task_id": task_id,
            "url": url,
            "webhook_id": item.webhook_id,
            "state": item.state,
            "copy": item.copy,
            "attempt": attempt,
            "status": answer.status,  # 0: no answer (refused, timed out)
            "ms": answer.ms,
            "error": answer.error,
            "fault": item.fault,
        }
        self.attempts.append(entry)
        if self.journal is not None:
            self.journal.append(
                {
                    "at": entry["at"],
                    "method": "POST",
                    "path": url[:512],
                    "status": answer.status,
                    "ms": answer.ms,
                    "body": "",
                    "truncated": False,
                    "task_id": task_id,
                    "fault": None,
                    "action": None,
                    "callback": {k: entry[k] for k in ("webhook_id", "state", "copy", "attempt", "error", "fault")},
                }
            )

    async def run(self) -> None:
        """Send what is due, for ever: sleep until the next entry, a new one, or a short nap."""
        loop = asyncio.get_running_loop()
        while True:
            if loop.time() - self._adopted_at >= NAP:
                self._adopted_at = loop.time()
                try:
                    await self.adopt()
                except FAILED:
                    pass  # the ledger failed for a moment: adopted at the next look
            try:
                await self.start_due()
            except FAILED:
                pass  # a claim or a look that failed is looked at again
            wait = NAP if not self._heap else max(0.0, min(NAP, self._heap[0][0] - self.clock()))
            self._woken.clear()
            try:
                await asyncio.wait_for(self._woken.wait(), wait)
            except TimeoutError:
                pass

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    @asynccontextmanager
    async def lifespan(self, app: Any) -> Any:
        """Starlette's lifespan: load what a stopped server left due, run the loop, and stop it cleanly."""
        try:
            await self.load()
        except FAILED:
            pass  # the ledger failed at start: loaded at the next start, or on Redis adopted once it is back
        loop = asyncio.get_running_loop().create_task(self.run())
        try:
            yield
        finally:
            loop.cancel()
            await asyncio.gather(loop, return_exceptions=True)
            await self.close()


class Slots:
    """Connection slots held per destination, within a bound for the whole worker: a destination's semaphore
    lives while someone holds or waits for it, so the table holds only destinations in use."""

    def __init__(self, each: int, total: int) -> None:
        self.each = each
        self._total = asyncio.Semaphore(total)
        self._held: dict[tuple[str, int], tuple[asyncio.Semaphore, list[int]]] = {}

    @asynccontextmanager
    async def held(self, destination: tuple[str, int]) -> Any:
        semaphore, users = self._held.setdefault(destination, (asyncio.Semaphore(self.each), [0]))
        users[0] += 1
        try:
            async with semaphore, self._total:
                yield
        finally:
            users[0] -= 1
            if not users[0]:
                del self._held[destination]

    def __len__(self) -> int:
        return len(self._held)
