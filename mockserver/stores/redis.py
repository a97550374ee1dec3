"""Tasks in Redis (``--store redis://HOST:PORT/DB``), shared by every mock process on every host.

Every accepted task is written before its id is answered, so the store holds every task of the
fleet: a poll reads its record from Redis (one round trip, or none for a task this process keeps) and
an id Redis lacks is no task (reset, expired, or never accepted), with no rebuild from the id. That makes
forced states and resets exact on the very next poll through any instance. Run-time faults, which every
request consults, are kept in each process and kept in step by pub/sub (``redis_shared.py``). A submit's
writes go in one round trip, shared with whatever else the process writes in that instant
(``redis_writes.py``).

The client is redis-py's asyncio one (``base.AsyncStore``): while Redis answers one request, the
event loop serves others. Only the checks at start (is Redis there, which nonce slot is free) use a
short-lived synchronous connection, before the server serves. Sockets time out after half a second
(room for a Redis whose fsync stalls while it rewrites its append-only file) and nothing is retried;
after a failure the store answers ``StoreError`` at once for a second (the 503 carries
``Retry-After: 1``) rather than make each request wait out a timeout on a Redis that has stopped
answering, then tries again, so service resumes by itself.

Ids are unique by fencing. Each process leases a nonce slot (``slot:{secret hash}:{n}``, holding a
token of its own, expiring after the lease) and renews it every third of the lease by compare-and-set on
that token (``SlotLease``). It mints an id only while it can prove the lease still holds: the last
renewal's send time, by the local monotonic clock, plus the lease less a tenth. A process paused past its
lease (a GC pause, a stopped container) finds on waking that it cannot, and answers submits 503 until it
has leased a slot again, while another process may have taken the old one meanwhile.

Everything read from Redis is checked before use, as any input is (``schemas/mock-redis.json``, and
``base.record_from`` for a task): a damaged task is a 503 naming its key, never a 500.

Keys live under ``mockserver:``: ``task:{id}`` (a record, expiring after the TTL), ``tasks`` and
``tasks:at`` (sorted sets of ids in the order they came and by submit time, for listing; each put unlists
tasks past the TTL, and the index keys themselves expire a TTL after the last put),
``slot:{secret hash}:{n}`` (nonce slots), ``ack:{message id}`` (the replies to an admin change), the
shared admin state of ``redis_shared.py`` and the callbacks of ``redis_ledger.py``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import cache, partial
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio
from jsonschema.exceptions import best_match
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.retry import Retry as BlockingRetry

from .. import contract
from ..engine.lifecycle import Record
from ..engine.nonces import COUNT_BITS, SLOT_BITS
from .base import DamagedRecord, StoreError, record_from
from .redis_writes import Task, Writes

PREFIX = "mockserver:"
DEFAULT_TTL = 86_400  # seconds a task is kept: a day
TIMEOUT = 0.5  # seconds a connect or a command may take
PAUSE = 1.0  # seconds the store fails fast after Redis failed
SLOT_LEASE = 30  # seconds a nonce slot is held without renewal by default (?lease=); renewed every third of that
MARGIN = 0.1  # the share of a lease not counted on: room for the drift of Redis's clock from this one's
RECORD_MOST = 4096  # bytes a stored record may take; the mock's own are under 300
_CHUNK = 1000
CACHED = 65_536  # records kept per process for polls; some tens of MiB at most
CHANNEL = f"{PREFIX}changes"  # the fleet's admin changes, published (redis_shared.py)
ANNOUNCED_WITHIN = 1.0  # seconds an admin call waits for every instance to apply its change
T = TypeVar("T")
log = logging.getLogger(__name__)
_INDEX = (f"{PREFIX}tasks", f"{PREFIX}tasks:at", f"{PREFIX}tasks:count")
# Store the records of a batch of writes (KEYS[4..], with ARGV: the TTL, the cutoff, then each one's id, record
# and submit time); list each new one in the order tasks came (a count) and by submit time, and keep the index
# keys a TTL longer, so that when the last task expires, so do they; and unlist up to a hundred tasks whose
# time is before the cutoff, so the listing stays as bounded as the expiring records. One call for every task
# a batch writes: each costs Redis and this process a few arguments more, not a command.
_PUT = """
for i = 4, #KEYS do
  local at = 3 * (i - 3)
  redis.call('SET', KEYS[i], ARGV[at + 1], 'EX', ARGV[1])
  if not redis.call('ZSCORE', KEYS[1], ARGV[at]) then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[3]), ARGV[at])
    redis.call('ZADD', KEYS[2], ARGV[at + 2], ARGV[at])
  end
end
for i = 1, 3 do redis.call('EXPIRE', KEYS[i], ARGV[1]) end
local old = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. ARGV[2], 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('ZREM', KEYS[1], unpack(old))
  redis.call('ZREM', KEYS[2], unpack(old))
end
"""
# Lease the lowest free slot of KEYS (SET NX with an expiry of ARGV[2] ms, holding the token ARGV[1]): its
# position from 0, or -1 if every one is held. One round trip, the same at start and after a lease lapsed.
_CLAIM = """
for i, key in ipairs(KEYS) do
  if redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2]) then return i - 1 end
end
return -1
"""
# Renew a lease only if this process still holds it (compare-and-set on its token): 1, else 0.
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""


@cache
def _checker(definition: str) -> Any:
    """A validator of one definition of ``schemas/mock-redis.json``, as the mock's settings are judged."""
    ref = f"{contract.BASE_ID}mock-redis.json#/$defs/{definition}"
    return contract.settings_validator("mock-redis").evolve(schema={"$ref": ref})


def problem(definition: str, value: Any) -> str | None:
    """How ``value`` breaks the definition ``definition`` of ``schemas/mock-redis.json``, in words; None if it keeps it."""
    found = best_match(_checker(definition).iter_errors(value))
    return None if found is None else contract.describe(found)


def parse(spec: str) -> tuple[str, int, int, int, int]:
    """``redis://HOST:PORT/DB[?ttl=SECONDS&lease=SECONDS]`` as host, port, db, TTL and slot lease; ValueError
    naming what is wrong."""
    parts = urlsplit(spec)
    if parts.scheme != "redis" or not parts.hostname:
        raise ValueError(f"{spec!r} is not redis://HOST:PORT/DB")
    try:
        port = parts.port
    except ValueError:
        raise ValueError(f"{spec!r} has no valid port (1 to 65535)") from None
    # No defaults: a fleet's instances must agree on the database, and one left out is easy to miss.
    example = f"redis://{parts.hostname}:6379/0"
    if port is None:
        raise ValueError(f"{spec!r} names no port; give redis://HOST:PORT/DB, such as {example}")
    db = parts.path.lstrip("/")
    if not db:
        raise ValueError(f"{spec!r} names no database; give redis://HOST:PORT/DB, such as {example}")
    if not db.isdigit() or int(db) > 1_000_000:
        raise ValueError(f"{spec!r}: the database {db!r} is not a number")
    given = {name: values[-1] for name, values in parse_qs(parts.query, keep_blank_values=True).items()}
    if wrong := problem("parameters", given):
        wrong = wrong.removeprefix("body: ")  # a name that is no parameter
        raise ValueError(f"{spec!r}: {wrong} (the parameters are ttl and lease, in seconds)")
    ttl, lease = int(given.get("ttl", DEFAULT_TTL)), int(given.get("lease", SLOT_LEASE))
    if ttl > 10 * 365 * 86_400:
        raise ValueError(f"{spec!r}: ttl={ttl} is more than ten years")
    return parts.hostname, port, int(db), ttl, lease


def _dump(record: Record) -> str:
    return json.dumps(record)  # a list; the standard library's json writes a stuck task's Infinity


def _load(raw: bytes, task_id: str | bytes) -> Record:
    """The record stored for ``task_id``, checked as any input is: bounded in size and depth, each field of its
    type and range, and the id its own. Anything else is ``DamagedRecord`` naming the key (a 503)."""
    key = f"{PREFIX}task:{task_id.decode(errors='replace') if isinstance(task_id, bytes) else task_id}"[:120]
    try:  # the standard library's json, which reads back a stuck task's Infinity; the size bounds the depth
        row = json.loads(raw) if len(raw) <= RECORD_MOST else None
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested past the parser's depth
        row = None
    try:
        if not isinstance(row, list) or len(row) != len(Record._fields):
            raise DamagedRecord("not a list of the record's fields")
        record = record_from(tuple(row))
    except DamagedRecord as exc:
        raise DamagedRecord(f"the task stored in Redis at {key!r} is damaged") from exc
    if record.task_id.encode() != (task_id if isinstance(task_id, bytes) else task_id.encode()):
        raise DamagedRecord(f"the task stored in Redis at {key!r} is damaged: it names another task")
    return record


def connect(address: dict[str, Any], timeout: float) -> Any:
    """An asyncio client of ``address`` that never retries, connecting on first use.

    Typed as Any: redis-py annotates each command of its sync and async clients alike as returning
    ``Awaitable[T] | T`` (and replies as ``bytes | str``), so every awaited reply would need a cast.
    """
    return redis.asyncio.Redis(
        **address, socket_timeout=timeout, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
    )


def _blocking(address: dict[str, Any]) -> Any:
    """A synchronous connection for the checks at start, which run before the server's event loop does (Any, as
    ``connect``'s)."""
    return redis.Redis(
        **address, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=BlockingRetry(NoBackoff(), 0)
    )


def require_reachable(spec: str) -> None:
    """Refuse a bad URL, or a Redis that does not answer, as serving on it would; leaves no connection open."""
    host, port, db, _, _ = parse(spec)
    with _blocking({"host": host, "port": port, "db": db}) as client:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ValueError(f"cannot reach Redis at redis://{host}:{port}/{db}: {exc}") from exc


class SlotLost(StoreError):
    """This process cannot prove it still holds its nonce slot, so it mints no id (a 503) until it leases one."""


class SlotLease:
    """This process's nonce slot, leased in Redis, and the nonces it counts there while it can prove it holds it.

    ``__call__`` (a submit's nonce) first checks the lease as last renewed, by this process's monotonic clock:
    it holds from ``granted`` until the send time of the last renewal that Redis confirmed plus the lease less
    ``MARGIN``. Past that, it raises ``SlotLost``. A slot leased afresh after a lease was lost is used only a
    lease later, when any process that held it before Redis lost it (a restart without persistence) has
    stopped minting in it too. A lease lapses in Redis when its process dies, or stops, or is cut off.
    """

    __slots__ = ("_from", "_next", "_until", "clock", "key", "keys", "seconds", "token")

    def __init__(self, seconds: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds, self.clock = seconds, clock
        self.token = uuid.uuid4().hex
        self.keys: list[str] = []  # every slot's key, once the secret is known (``RedisStore.claim_slot``)
        self.key: str | None = None  # the slot leased, or the one last leased
        self._from, self._until = math.inf, -math.inf
        self._next = 0

    @property
    def held(self) -> bool:
        """Whether this process may mint ids now: it has proved it holds its slot within the last lease."""
        return self._from <= self.clock() < self._until

    def require_held(self) -> None:
        """``SlotLost`` unless ``held``: before anything a submit would change, such as a rule's count."""
        if not self._from <= self.clock() < self._until:
            raise SlotLost(
                f"this instance cannot prove it still holds its nonce slot ({self.key}: its lease of "
                f"{self.seconds} s was last renewed too long ago, or is waiting out a lease after it was lost), "
                "so it gives out no task id until it holds one again"
            )

    def __call__(self) -> int:
        self.require_held()
        nonce = self._next
        self._next = nonce + 1
        return nonce

    def granted(self, slot: int, sent: float, *, wait: bool) -> None:
        """Redis leased ``slot`` to a claim sent at ``sent``; counted from its base, after a lease if ``wait``."""
        self.key, self._next = self.keys[slot], slot << COUNT_BITS
        self._from = sent + self.seconds if wait else sent
        self.renewed(sent)

    def renewed(self, sent: float) -> None:
        self._until = sent + self.seconds * (1 - MARGIN)

    def lost(self) -> None:
        self._until = -math.inf


class RedisStore:
    """``base.AsyncStore`` on Redis, plus what a fleet shares: nonce slots and the admin state."""

    def __init__(self, spec: str) -> None:
        require_reachable(spec)
        host, port, db, self.ttl, lease = parse(spec)
        self.where = f"redis://{host}:{port}/{db}"
        self.address: dict[str, Any] = {"host": host, "port": port, "db": db}
        # Connections are made on first use, on the loop that serves: nothing is opened here.
        self.client = connect(self.address, TIMEOUT)
        # An admin call blocks one connection of its own on its replies (BLPOP), up to a second.
        self._waiting = connect(self.address, ANNOUNCED_WITHIN + TIMEOUT)
        self._paused_until = 0.0
        self._put = self.client.register_script(_PUT)
        self._claim = self.client.register_script(_CLAIM)
        self._renew = self.client.register_script(_RENEW)
        # a submit's writes and the journal's, one round trip a batch, with one call of _PUT for its tasks
        self.writes = Writes(self.client, self.run, self._put, self._tasks)
        self.lease = SlotLease(lease)
        # Records read or written here, kept while the listener is connected: it hears every change
        # (a forced state, a reset) within milliseconds and drops what changed, so a poll of a kept
        # task needs no round trip.
        self.cache: dict[str, Record] = {}
        self.fresh = False  # set by the listener while its subscription is up

    async def run(self, command: Callable[[], Awaitable[T]]) -> T:
        """``await command()``, or ``StoreError`` while Redis fails (at once, for ``PAUSE`` after a failure)."""
        if time.monotonic() < self._paused_until:
            raise StoreError(f"Redis at {self.where} failed a moment ago")
        try:
            return await command()
        except redis.RedisError as exc:
            self._paused_until = time.monotonic() + PAUSE
            raise StoreError(f"Redis at {self.where} failed ({type(exc).__name__})") from exc

    async def get(self, task_id: str) -> Record | None:
        cached = self.cache.get(task_id) if self.fresh else None
        if cached is not None and cached.submitted_at + self.ttl > time.time():
            if time.monotonic() < self._paused_until:
                raise StoreError(f"Redis at {self.where} failed a moment ago")
            return cached
        raw = await self.run(lambda: self.client.get(f"{PREFIX}task:{task_id}"))
        record = None if raw is None else _load(raw, task_id)
        if record is not None:
            self._keep(record)
        return record

    async def put(self, record: Record) -> None:
        await self.writes.task(f"{PREFIX}task:{record.task_id}", record.task_id, _dump(record), record.submitted_at)
        if record.forced >= 0:  # an admin change: every instance drops the record it may hold
            await self.announce("forget", record.task_id)
        self._keep(record)

    async def announce(self, kind: str, value: Any = None, sender: str = "", wait: bool = True) -> None:
        """Publish an admin change and, if ``wait``, await every listening instance's reply (a second at most).

        Each listener replies once it has acted on a message, by pushing onto the list ``ack:{message id}``
        (redis_shared.Listener), and this call blocks on that list (BLPOP) for as many replies as PUBLISH
        counted receivers, so when an admin call returns, the next request through any instance sees the
        change, cache or not. The wait is on Redis, so the event loop serves other requests meanwhile. A
        submit that spent a rule does not ``wait``: the others re-read the rules at their next look anyway.
        """
        said = {"kind": kind, "value": value, "from": sender, "id": uuid.uuid4().hex}
        receivers = await self.run(lambda: self.client.publish(CHANNEL, json.dumps(said)))
        if not wait:
            return
        replies = f"{PREFIX}ack:{said['id']}"
        deadline = time.monotonic() + ANNOUNCED_WITHIN
        for _ in range(receivers):
            left = deadline - time.monotonic()
            if left <= 0 or await self.run(partial(self._waiting.blpop, [replies], timeout=left)) is None:
                break  # an instance that went away meanwhile: it reads everything afresh when it reconnects

    def _tasks(self, tasks: list[Task]) -> tuple[Any, ...]:
        """The one EVALSHA of ``_PUT`` that writes a batch's ``tasks``."""
        cutoff = max(at for _, _, _, at in tasks) - self.ttl
        keys = [*_INDEX, *(key for key, _, _, _ in tasks)]
        fields = (field for _, task_id, record, at in tasks for field in (task_id, record, at))
        return ("EVALSHA", self._put.sha, len(keys), *keys, self.ttl, cutoff, *fields)

    def _keep(self, record: Record) -> None:
        if not self.fresh:
            return
        if len(self.cache) >= CACHED:  # the oldest first: a client polls its newest tasks
            del self.cache[next(iter(self.cache))]
        self.cache[record.task_id] = record

    def forget(self, task_id: str | None = None) -> None:
        """Drop one cached record, or all (a reset, or a reconnection that may have missed a change)."""
        if task_id is None:
            self.cache.clear()
        else:
            self.cache.pop(task_id, None)

    async def _ids(self, start: int, stop: int) -> list[bytes]:
        return await self.run(lambda: self.client.zrange(f"{PREFIX}tasks", start, stop))

    async def _records(self, ids: list[bytes]) -> list[Record]:
        found = []
        for at in range(0, len(ids), _CHUNK):
            keys = [PREFIX.encode() + b"task:" + task_id for task_id in ids[at : at + _CHUNK]]
            found += [
                _load(raw, task_id)
                for task_id, raw in zip(ids[at : at + _CHUNK], await self.run(partial(self.client.mget, keys)))
                if raw is not None
            ]
        return found

    async def page(self, offset: int, limit: int) -> list[Record]:
        return await self._records(await self._ids(offset, offset + limit - 1)) if limit > 0 else []

    async def clear(self) -> None:
        self.forget()
        ids = await self._ids(0, -1)
        for at in range(0, len(ids), _CHUNK):
            keys = [PREFIX.encode() + b"task:" + task_id for task_id in ids[at : at + _CHUNK]]
            await self.run(partial(self.client.unlink, *keys))
        await self.run(lambda: self.client.unlink(*_INDEX))

    async def newest(self, limit: int) -> list[Record]:
        """The last ``limit`` tasks listed, oldest first: one ZRANGE from the end, however many are listed."""
        return await self._records(await self._ids(-limit, -1)) if limit > 0 else []

    async def count(self) -> int:
        return await self.run(lambda: self.client.zcard(f"{PREFIX}tasks"))

    async def close(self) -> None:
        """Write what is queued, then close this process's connections (the app's lifespan, when the server stops)."""
        await self.writes.flush()
        await self.client.aclose()
        await self._waiting.aclose()

    def claim_slot(self, secret: bytes) -> int:
        """Lease the lowest nonce slot no live process of the fleet with ``secret`` holds; its number.

        Claimed at start, before the server serves, on a connection closed right after. The lease is
        renewed by ``keep_slot`` while the app serves, and lapses a lease after its process dies or stops.
        """
        name = hashlib.blake2b(secret, digest_size=8, person=b"mock-slots").hexdigest()
        lease = self.lease
        lease.keys = [f"{PREFIX}slot:{name}:{slot}" for slot in range(1 << SLOT_BITS)]
        sent = lease.clock()
        with _blocking(self.address) as client:
            try:
                slot = client.eval(_CLAIM, len(lease.keys), *lease.keys, lease.token, lease.seconds * 1000)
            except redis.RedisError as exc:
                raise ValueError(f"cannot reach Redis at {self.where}: {exc}") from exc
        if slot < 0:
            raise ValueError(f"all {1 << SLOT_BITS} nonce slots in {self.where} are held by live processes")
        lease.granted(slot, sent, wait=False)
        return slot

    @property
    def holds_slot(self) -> bool:
        """Whether this instance holds a valid nonce-slot lease right now, so may mint ids (readiness)."""
        return self.lease.held

    async def keep_slot(self) -> None:
        """Renew the lease every third of it, while the app serves (the listener runs this); never raises."""
        while True:
            try:
                await self.renew_slot()
            except (redis.RedisError, OSError):
                pass  # tried again in a third of a lease; minting stops by itself if the lease lapses meanwhile
            await asyncio.sleep(self.lease.seconds / 3)

    async def renew_slot(self) -> None:
        """Extend the lease if this process still holds it, by compare-and-set on its token; never a blind SET.

        A lease found lost (it lapsed, another process took the slot, Redis lost it) stops minting at once,
        and the lowest free slot is leased afresh, used a lease later (``SlotLease``).
        """
        lease = self.lease
        if not lease.keys:
            return  # never claimed: this process mints nothing
        sent, ms = lease.clock(), lease.seconds * 1000
        if lease.key is not None and await self._renew(keys=[lease.key], args=[lease.token, ms]) == 1:
            lease.renewed(sent)
            return
        if lease.key is not None:
            log.warning("nonce slot %s lost (its lease lapsed or was taken); no ids until a slot is leased", lease.key)
            lease.key = None
        lease.lost()
        slot = await self._claim(keys=lease.keys, args=[lease.token, ms])
        if slot >= 0:
            lease.granted(slot, sent, wait=True)
            log.warning("nonce slot %s leased: ids again in %d s, a lease", lease.key, lease.seconds)
