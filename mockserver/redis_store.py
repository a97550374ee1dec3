"""Tasks in Redis (``--store redis://HOST:PORT/DB``), shared by every mock process on every host.

Every accepted task is written before its id is answered, so the store holds every task of the
fleet: a poll reads its record from Redis (one round trip) and an id Redis lacks is no task (reset,
expired, or never accepted), with no rebuild from the id. That makes forced states and resets exact
on the very next poll through any instance. Run-time faults, which every request consults, are kept
in each process and kept in step by pub/sub (``redis_shared.py``).

The client is redis-py's asyncio one (``store.AsyncStore``): while Redis answers one request, the
event loop serves others. Only the checks at start (is Redis there, which nonce slot is free) use a
short-lived synchronous connection, before the server serves. Sockets time out after half a second
(room for a Redis whose fsync stalls while it rewrites its append-only file) and nothing is retried;
after a failure the store answers ``StoreError`` at once for a second (the 503 carries
``Retry-After: 1``) rather than make each request wait out a timeout on a Redis that has stopped
answering, then tries again, so service resumes by itself.

Keys live under ``mockserver:``: ``task:{id}`` (a record, expiring after the TTL), ``tasks`` and
``tasks:at`` (sorted sets of ids in the order they came and by submit time, for listing; each put unlists
tasks past the TTL), ``slot:{secret hash}:{n}`` (nonce slots), ``ack:{message id}`` (the replies to an
admin change), the shared admin state of ``redis_shared.py`` and the callbacks of ``callbacks/redis_ledger.py``.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.retry import Retry as BlockingRetry

from .lifecycle import Record
from .nonces import SLOT_BITS
from .store import DamagedRecord, StoreError, _record

PREFIX = "mockserver:"
DEFAULT_TTL = 86_400  # seconds a task is kept: a day
TIMEOUT = 0.5  # seconds a connect or a command may take
PAUSE = 1.0  # seconds the store fails fast after Redis failed
SLOT_LEASE = 30  # seconds a nonce slot is held without renewal; renewed every third of that
_CHUNK = 1000
CACHED = 65_536  # records kept per process for polls; some tens of MiB at most
CHANNEL = f"{PREFIX}changes"  # the fleet's admin changes, published (redis_shared.py)
ANNOUNCED_WITHIN = 1.0  # seconds an admin call waits for every instance to apply its change
T = TypeVar("T")
_INDEX = (f"{PREFIX}tasks", f"{PREFIX}tasks:at", f"{PREFIX}tasks:count")
# Store a record; list a new one in the order tasks came (a count) and by submit time, and unlist up to a
# hundred whose time is past the TTL, so the listing stays as bounded as the expiring records.
_PUT = """
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[4]), ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
local old = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', '(' .. ARGV[5], 'LIMIT', 0, 100)
if #old > 0 then
  redis.call('ZREM', KEYS[2], unpack(old))
  redis.call('ZREM', KEYS[3], unpack(old))
end
"""


def parse(spec: str) -> tuple[str, int, int, int]:
    """``redis://HOST:PORT/DB[?ttl=SECONDS]`` as host, port, db and TTL; ValueError naming what is wrong."""
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
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"ttl"})
    if unknown:
        raise ValueError(f"{spec!r}: unknown parameter {unknown[0]!r}; the only one is ttl (seconds)")
    ttl = query.get("ttl", [str(DEFAULT_TTL)])[-1]
    if not ttl.isdigit() or not 1 <= int(ttl) <= 10 * 365 * 86_400:
        raise ValueError(f"{spec!r}: ttl={ttl!r} is not a whole number of seconds from 1 to ten years")
    return parts.hostname, port, int(db), int(ttl)


def _dump(record: Record) -> str:
    return json.dumps(record)  # a list; the standard library's json writes a stuck task's Infinity


def _load(raw: bytes) -> Record:
    try:
        row = json.loads(raw)
    except ValueError:
        row = None
    if not isinstance(row, list) or len(row) != len(Record._fields):
        raise DamagedRecord("a task stored in Redis is damaged")
    return _record(tuple(row))


def _blocking(address: dict[str, Any]) -> redis.Redis:
    """A synchronous connection for the checks at start, which run before the server's event loop does."""
    return redis.Redis(
        **address, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=BlockingRetry(NoBackoff(), 0)
    )


def check(spec: str) -> None:
    """Refuse a bad URL, or a Redis that does not answer, as serving on it would; leaves no connection open."""
    host, port, db, _ = parse(spec)
    with _blocking({"host": host, "port": port, "db": db}) as client:
        try:
            client.ping()
        except redis.RedisError as exc:
            raise ValueError(f"cannot reach Redis at redis://{host}:{port}/{db}: {exc}") from exc


class RedisStore:
    """``store.AsyncStore`` on Redis, plus what a fleet shares: nonce slots and the admin state."""

    complete = True  # holds every task the fleet accepted: an id it lacks is no task (service.py)

    def __init__(self, spec: str) -> None:
        check(spec)
        host, port, db, self.ttl = parse(spec)
        self.where = f"redis://{host}:{port}/{db}"
        self.address = {"host": host, "port": port, "db": db}
        # Connections are made on first use, on the loop that serves: nothing is opened here.
        self.client = redis.asyncio.Redis(
            **self.address, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT, retry=Retry(NoBackoff(), 0)
        )
        # An admin call blocks one connection of its own on its replies (BLPOP), up to a second.
        self._waiting = redis.asyncio.Redis(
            **self.address,
            socket_timeout=ANNOUNCED_WITHIN + TIMEOUT,
            socket_connect_timeout=TIMEOUT,
            retry=Retry(NoBackoff(), 0),
        )
        self._paused_until = 0.0
        self._put = self.client.register_script(_PUT)
        self._token = uuid.uuid4().hex
        self._slot: str | None = None
        self.holds_slot = False  # this process's nonce slot is leased to it (claim_slot, renew_slot)
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
        record = None if raw is None else _load(raw)
        if record is not None:
            self._keep(record)
        return record

    async def put(self, record: Record) -> None:
        cutoff = record.submitted_at - self.ttl
        keys = [f"{PREFIX}task:{record.task_id}", *_INDEX]
        args = [record.task_id, _dump(record), self.ttl, record.submitted_at, cutoff]
        await self.run(lambda: self._put(keys=keys, args=args))
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
            if left <= 0 or await self.run(lambda left=left: self._waiting.blpop([replies], timeout=left)) is None:
                break  # an instance that went away meanwhile: it reads everything afresh when it reconnects

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
            found += [_load(raw) for raw in await self.run(lambda keys=keys: self.client.mget(keys)) if raw is not None]
        return found

    async def page(self, offset: int, limit: int) -> list[Record]:
        return await self._records(await self._ids(offset, offset + limit - 1)) if limit > 0 else []

    async def clear(self) -> None:
        self.forget()
        ids = await self._ids(0, -1)
        for at in range(0, len(ids), _CHUNK):
            keys = [PREFIX.encode() + b"task:" + task_id for task_id in ids[at : at + _CHUNK]]
            await self.run(lambda keys=keys: self.client.unlink(*keys))
        await self.run(lambda: self.client.unlink(*_INDEX))

    async def count(self) -> int:
        return await self.run(lambda: self.client.zcard(f"{PREFIX}tasks"))

    async def close(self) -> None:
        """Close this process's connections (the app's lifespan, when the server stops)."""
        await self.client.aclose()
        await self._waiting.aclose()

    def claim_slot(self, secret: bytes) -> int:
        """The lowest nonce slot no live process of the fleet with ``secret`` holds, leased in Redis.

        Claimed at start, before the server serves, on a connection closed right after. The
        lease is renewed by ``renew_slot`` (redis_shared.py's listener, every few seconds), and lapses
        ``SLOT_LEASE`` seconds after its process dies, so no two live fleet members mint one id.
        """
        name = hashlib.blake2b(secret, digest_size=8, person=b"mock-slots").hexdigest()
        with _blocking(self.address) as client:
            for slot in range(1 << SLOT_BITS):
                key = f"{PREFIX}slot:{name}:{slot}"
                try:
                    taken = client.set(key, self._token, nx=True, ex=SLOT_LEASE)
                except redis.RedisError as exc:
                    raise ValueError(f"cannot reach Redis at {self.where}: {exc}") from exc
                if taken:
                    self._slot, self.holds_slot = key, True
                    return slot
        raise ValueError(f"all {1 << SLOT_BITS} nonce slots in {self.where} are held by live processes")

    async def renew_slot(self, client: redis.asyncio.Redis) -> None:
        """Extend this process's lease, through ``client`` (the listener's own connection); one that lapsed
        in an outage is taken back only if no other process took it meanwhile."""
        if self._slot is None:
            return
        if await client.get(self._slot) == self._token.encode():
            await client.set(self._slot, self._token, ex=SLOT_LEASE)
            self.holds_slot = True
        else:
            self.holds_slot = bool(await client.set(self._slot, self._token, nx=True, ex=SLOT_LEASE))
