"""Callbacks in the fleet's Redis (``--store redis://``): any instance sends a callback another one noted.

Every instance watches every callback of the fleet: it loads the unsettled ones at start and adopts
those noted since (``adopted``, read past the last it saw, a bounded read each second at most), so a
callback due after the instance that accepted its task died is sent by another. A delivery is claimed
with ``SET NX`` on ``send:{webhook-id}:{copy}`` holding the claimer's token and expiring after the
lease, so of the instances that come to it at once exactly one sends it; settling replaces the claim
with its outcome, kept as long as tasks are. A sender that died between the receiver's 2xx and the
settling lets its claim expire, and another sends that delivery again, with the same ``webhook-id``.

A sender renews its claim (``hold``) as each attempt starts, after any wait for a connection slot, so
the lease runs from the POST, not from the claim: an instance whose claim lapsed while it waited, and was
taken by another, drops the delivery instead of sending it a second time.

Keys, under ``mockserver:``: ``callback:{task id}`` (what the submit asked, expiring with its task),
``callbacks`` (their task ids, scored in the order they came by ``callbacks:count``; it expires with the
last task noted, and an id whose callback expired or is damaged is dropped from it when read) and the
claims. What is read back is checked as any input is: a member or value another tool wrote wrong is
logged and skipped, and the rest are read on.
"""

from __future__ import annotations

import json
import math
from functools import partial
from typing import Any

from ..engine.callback_request import MAX_URL, Asked
from ..engine.callback_settings import Allowed
from .callback_ledger import Key, Noted, checked, log, sound
from .redis import PREFIX, RedisStore

_INDEX, _COUNT = f"{PREFIX}callbacks", f"{PREFIX}callbacks:count"
_CHUNK = 1000  # callbacks read per round trip
_LARGEST = 4 * MAX_URL  # bytes of a noted callback past which it is not what add() wrote
SETTLED = b"="  # a claim's value once settled: "=delivered" or "=failed"
# Note a callback and list it once, in the order callbacks came.
_ADD = """
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if not redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  redis.call('ZADD', KEYS[2], redis.call('INCR', KEYS[3]), ARGV[1])
end
redis.call('EXPIRE', KEYS[2], ARGV[3])
"""
# Settle a claim this instance holds, or one that lapsed and nobody took since; never another's.
_SETTLE = """
local held = redis.call('GET', KEYS[1])
if not held or held == ARGV[1] then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) end
"""
# Renew a claim this instance holds, or take back one that lapsed and nobody took since: 1; another's: 0.
_HOLD = """
local held = redis.call('GET', KEYS[1])
if held and held ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""


def _claim_key(key: Key) -> str:
    return f"{PREFIX}send:{key[0]}:{key[1]}"


class RedisLedger:
    def __init__(self, store: RedisStore, worker: str) -> None:
        self.store, self.worker = store, worker
        self._add = store.client.register_script(_ADD)
        self._settle = store.client.register_script(_SETTLE)
        self._hold = store.client.register_script(_HOLD)
        self._seen = -math.inf  # the score of the last callback loaded or adopted here

    async def add(self, task_id: str, asked: Asked, media_base: str) -> None:
        noted = json.dumps([asked.url, asked.every_change, asked.fault, media_base])
        keys = [f"{PREFIX}callback:{task_id}", _INDEX, _COUNT]
        await self.store.writes.script(self._add, keys, [task_id, noted, self.store.ttl])  # with its task's put

    async def unsettled(self, allowed: Allowed) -> list[Noted]:
        self._seen = -math.inf
        found: list[Noted] = []
        while True:
            batch, full = await self._after(allowed)
            found += batch
            if not full:
                return found

    async def adopted(self, allowed: Allowed) -> list[Noted]:
        return (await self._after(allowed))[0]

    async def _after(self, allowed: Allowed) -> tuple[list[Noted], bool]:
        """Up to ``_CHUNK`` callbacks listed after the last seen here, in the order they came; and whether
        that was a full chunk (more may follow)."""
        client = self.store.client
        low = "-inf" if self._seen == -math.inf else f"({self._seen:.0f}"
        listed = await self.store.run(
            lambda: client.zrangebyscore(_INDEX, low, "+inf", start=0, num=_CHUNK, withscores=True)
        )
        if not listed:
            return [], False
        self._seen = listed[-1][1]
        keys = [PREFIX.encode() + b"callback:" + member for member, _ in listed]
        raws = await self.store.run(lambda: client.mget(keys))
        found, gone = [], []
        for (member, _), raw in zip(listed, raws, strict=True):
            parsed = _parsed(member, raw)
            if parsed is None:
                gone.append(member)  # expired with its task, or damaged: no instance will ever send it
            elif (noted := checked(*parsed, allowed)) is not None:
                found.append(noted)
        if gone:
            await self.store.run(lambda: client.zrem(_INDEX, *gone))
        return found, len(listed) == _CHUNK

    async def claim(self, key: Key, now: float, lease: float) -> float | None:
        name, client = _claim_key(key), self.store.client
        if await self.store.run(lambda: client.set(name, self.worker, nx=True, px=max(1, math.ceil(lease * 1000)))):
            return None
        held, left = await self.store.run(lambda: client.pipeline(transaction=False).get(name).pttl(name).execute())
        if held is None:
            return now  # the claim lapsed just now: look again at once
        if held.startswith(SETTLED):
            return math.inf
        return now + max(left, 0) / 1000

    async def hold(self, key: Key, now: float, lease: float) -> bool:
        px = max(1, math.ceil(lease * 1000))
        return bool(await self.store.run(lambda: self._hold(keys=[_claim_key(key)], args=[self.worker, px])))

    async def settle(self, key: Key, outcome: str) -> None:
        settled = SETTLED + outcome.encode()
        await self.store.run(lambda: self._settle(keys=[_claim_key(key)], args=[self.worker, settled, self.store.ttl]))

    async def finish(self, task_id: str, keys: list[Key]) -> None:
        client = self.store.client
        await self.store.run(
            lambda: client.pipeline().unlink(f"{PREFIX}callback:{task_id}").zrem(_INDEX, task_id).execute()
        )

    async def clear(self) -> None:
        """A reset: every callback and claim of the fleet, found by SCAN (a reset is rare; requests never scan)."""
        client = self.store.client
        for pattern in (f"{PREFIX}callback:*", f"{PREFIX}send:*"):
            found = await self.store.run(partial(_scan, client, pattern))
            for at in range(0, len(found), _CHUNK):
                await self.store.run(partial(client.unlink, *found[at : at + _CHUNK]))
        await self.store.run(lambda: client.unlink(_INDEX))  # the count goes on: other instances read past it
        self._seen = -math.inf


async def _scan(client: Any, pattern: str) -> list[bytes]:
    return [key async for key in client.scan_iter(match=pattern, count=_CHUNK)]


def _parsed(member: bytes, raw: bytes | None) -> tuple[str, Any, Any, Any, Any] | None:
    """A stored callback's task id and fields, for ``checked``; None for one that expired, or that another tool
    wrote wrong (logged)."""
    if raw is None:
        return None
    try:
        if len(raw) > _LARGEST:
            raise ValueError(f"{len(raw)} bytes")
        url, every, fault, base = json.loads(raw)
        fields = member.decode("ascii"), url, every, fault, base
        if not sound(*fields):
            raise ValueError("not the fields add() writes")
        return fields
    except (ValueError, TypeError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        log.warning("callbacks: dropped a damaged entry of %s (%.80r): %s", _INDEX, member, type(exc).__name__)
        return None
