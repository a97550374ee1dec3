"""What the admin API changes, shared by every instance through the Redis store: rules, faults, resets, journal.

- Scenario rules live in Redis hashes and are read on each submit without a header, as ``SqliteRules``
  reads SQLite; a ``next`` rule is spent by a Lua script, so it counts its submits across the fleet.
- Run-time faults are consulted by every request, so each process keeps them in memory. A change is
  written to Redis and published (pub/sub, channel ``mockserver:changes``); each process's listener,
  a task on its event loop, applies it and replies, and the admin call that made it answers once every
  listener has (``RedisStore.announce``, a second at most), so the next request anywhere sees it. On every
  (re)connection a listener reads the current faults and drops what the process kept (the store's
  records, the rules last read), so a change made while it was cut off, or a Redis restarted empty, is
  not missed. A message is checked before it is acted on (``schemas/mock-redis.json``), bounded in size
  and depth; one that is not the mock's is logged and skipped, and nothing a message holds stops the
  listener. Resets are published alike, so every process also resets its run-time faults and metrics (the
  tasks, rules and journal are Redis's, cleared once), and so are forced states and rule changes, which
  drop what each process keeps of them (the store's records, the rules last read).
- The journal is a Redis stream capped at ``journal_size`` entries, appended to by every instance, and
  read from its newest end, no more than a page asks for (a task's entries among the newest ``SCANNED``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import uuid
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import orjson
import redis
import redis.asyncio

from .. import contract
from ..engine import jsonio, scenarios
from ..engine.journal_entries import SCANNED
from ..engine.rules import Rule, checked, fires
from .redis import CHANNEL, PREFIX, TIMEOUT, RedisStore, connect, problem

FAULTS = f"{PREFIX}faults"
JOURNAL = f"{PREFIX}journal"
_RULES, _LEFT, _PLAYED, _COUNTER = (f"{PREFIX}rules{part}" for part in ("", ":left", ":played", ":counter"))
# Spend one submit of a ``next`` rule if any is left: 1, or 2 for its last; 0 if another instance spent it.
_SPEND = """
local left = tonumber(redis.call('HGET', KEYS[2], ARGV[1]))
if not left or left <= 0 then return 0 end
if left == 1 then
  redis.call('HDEL', KEYS[1], ARGV[1]); redis.call('HDEL', KEYS[2], ARGV[1]); redis.call('HDEL', KEYS[3], ARGV[1])
  return 2
end
redis.call('HINCRBY', KEYS[2], ARGV[1], -1); redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 1
"""
# The newest ARGV[2] entries naming the task ARGV[1] (field "t") among the newest ARGV[3], newest first, read
# within Redis: only the matches cross the network, and the scan is bounded whatever the stream holds.
_OF_TASK = """
local found, last, left = {}, '+', tonumber(ARGV[3])
while #found < tonumber(ARGV[2]) and left > 0 do
  local batch = redis.call('XREVRANGE', KEYS[1], last, '-', 'COUNT', math.min(500, left))
  if #batch == 0 then break end
  left = left - #batch
  for _, entry in ipairs(batch) do
    local fields = entry[2]
    for i = 1, #fields, 2 do
      if fields[i] == 't' and fields[i + 1] == ARGV[1] and #found < tonumber(ARGV[2]) then
        found[#found + 1] = entry
      end
    end
  end
  last = '(' .. batch[#batch][1]
end
return found
"""
MESSAGE_MOST = 64 * 1024  # bytes of a message on the channel; the mock's own are a few hundred
RULE_MOST = 4096  # bytes of a stored rule's definition; the admin API's are a few hundred
log = logging.getLogger(__name__)


class RedisRules:
    """Rules in Redis: one set through any instance plays for submits reaching any of them."""

    def __init__(self, store: RedisStore, seed: int, reasons: tuple[str, ...]) -> None:
        self.store, self.seed, self.reasons = store, seed, reasons
        self.draws = random.Random(seed)
        self._spend = store.client.register_script(_SPEND)
        self._known: list[Rule] | None = None  # the rules as last read, while the listener hears every change

    @property
    def active(self) -> bool:
        """False only when the listener is up and no rule is known: then submits skip the round trip."""
        return not (self.store.fresh and self._known == [])

    def forget(self) -> None:
        """The rules changed somewhere in the fleet (or may have): read them afresh on the next submit."""
        self._known = None

    async def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        self.store.lease.require_held()  # a submit refused for want of a nonce slot spends no rule
        known = self._known if self.store.fresh and self._known is not None else await self.listing()
        for rule in known:
            if not rule.matches(scope, model, owner):
                continue
            if rule.left is not None:
                spent = await self.store.run(partial(self._spend, keys=[_RULES, _LEFT, _PLAYED], args=[rule.number]))
                if spent != 1:  # 2: this was its last submit; 0: another instance spent it meanwhile
                    self._known = None
                    await self.store.announce("rules", wait=False)  # on a submit: never wait on the others
                if not spent:
                    continue
            elif not fires(rule, self.draws):
                continue
            else:
                self.store.writes.later("HINCRBY", _PLAYED, rule.number, 1)  # sent with the submit's task
            return rule.choice
        return None

    async def _changed(self) -> None:
        self._known = None
        await self.store.announce("rules")

    async def add(self, rule: Rule) -> Rule:
        definition = {name: getattr(rule, name) for name in ("scenario", "fraction", "scope", "model", "key")}

        async def add() -> int:
            number = await self.store.client.incr(_COUNTER)
            pipe = self.store.client.pipeline()
            pipe.hset(_RULES, number, json.dumps(definition))
            if rule.left is not None:
                pipe.hset(_LEFT, number, rule.left)
            pipe.hset(_PLAYED, number, 0)
            await pipe.execute()
            return number

        rule.number = await self.store.run(add)
        await self._changed()
        return rule

    async def remove(self, number: int) -> Rule | None:
        found = next((rule for rule in await self.listing() if rule.number == number), None)
        if found is not None:
            await self.store.run(
                lambda: (
                    self.store.client.pipeline()
                    .hdel(_RULES, number)
                    .hdel(_LEFT, number)
                    .hdel(_PLAYED, number)
                    .execute()
                )
            )
            await self._changed()
        return found

    async def listing(self) -> list[Rule]:
        pipe = self.store.client.pipeline(transaction=False)
        for key in (_RULES, _LEFT, _PLAYED):
            pipe.hgetall(key)
        fresh = self.store.fresh  # read before Redis is, so that a change heard meanwhile is not overwritten
        definitions, left, played = await self.store.run(pipe.execute)
        rules = [self._rule(n, raw, left.get(n), played.get(n, b"0")) for n, raw in definitions.items()]
        listed = sorted((rule for rule in rules if rule is not None), key=lambda rule: rule.number)
        if fresh:
            self._known = listed
        return list(listed)

    def _rule(self, number: bytes, raw: bytes, left: bytes | None, played: bytes) -> Rule | None:
        """A stored rule, checked as the admin API checks one; None, logged, for one another tool wrote wrong:
        it plays for no submit, and the others still do."""
        try:
            return self._checked(number, raw, left, played)
        except ValueError as exc:  # scenarios.UnknownScenario and jsonio.TooDeep too
            log.warning("skipped rule %r of %s: %s", number.decode("latin-1")[:20], _RULES, str(exc) or "too deep")
            return None

    def _checked(self, number: bytes, raw: bytes, left: bytes | None, played: bytes) -> Rule:
        """The rule, if each part keeps ``schemas/mock-redis.json`` and the whole ``mock-rule.json``; ValueError if not."""
        for counter in (number, played) if left is None else (number, played, left):
            if wrong := problem("counter", counter.decode("latin-1")):
                raise ValueError(wrong)
        if len(raw) > RULE_MOST:
            raise ValueError(f"its definition is over {RULE_MOST} bytes")
        given = jsonio.loads(raw)
        if wrong := problem("rule", given):
            raise ValueError(wrong)
        fraction, scope, model, key = (given.get(name) for name in ("fraction", "scope", "model", "key"))
        count = None if left is None else int(left)
        return checked(int(number), given["scenario"], count, fraction, scope, model, key, int(played), self.reasons)

    async def clear(self) -> None:
        await self.store.run(lambda: self.store.client.unlink(_RULES, _LEFT, _PLAYED))
        self.draws = random.Random(self.seed)
        await self._changed()


class RedisJournal:
    """The journal as a capped stream, appended to as a deque is and read a page at a time from its newest end.

    ``append`` is called where nothing is awaited (after a request, by the callbacks' sender), so it queues
    the entry's XADD with the store's writes (``redis_writes.py``): it goes with the next submit's round
    trip, or within ``LATER`` seconds, and entries keep their order. A read first has every instance send
    what it queued (``announce("journal")``), so it holds the fleet's requests up to that moment.
    """

    def __init__(self, store: RedisStore, size: int) -> None:
        self.store, self.maxlen = store, size
        self._of_task = store.client.register_script(_OF_TASK)

    def append(self, entry: dict[str, Any]) -> None:
        fields = ("e", orjson.dumps(entry), "t", entry.get("task_id") or "")
        self.store.writes.later("XADD", JOURNAL, "MAXLEN", self.maxlen, "*", *fields)

    async def _written(self) -> None:
        """Every instance's queued entries written: its own, then the fleet's (each flushes, then replies)."""
        await self.store.writes.flush()  # entries that fail to go are lost, as while Redis is down
        await self.store.announce("journal")

    async def newest(self, limit: int, task_id: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` entries (of ``task_id`` only, if given), oldest first: XREVRANGE with COUNT."""
        await self._written()
        if task_id is None:
            found = await self.store.run(lambda: self.store.client.xrevrange(JOURNAL, count=limit))
        else:
            found = await self.store.run(lambda: self._of_task(keys=[JOURNAL], args=[task_id, limit, SCANNED]))
        return [entry for _, fields in reversed(found) if (entry := _entry(_fields(fields))) is not None]

    async def clear(self) -> None:
        self.store.writes.drop()
        await self.store.run(lambda: self.store.client.unlink(JOURNAL))


Changed = Callable[[str, Any], Awaitable[None]]


async def _ignored(kind: str, value: Any) -> None:
    """What a listener does with a change until the service says (``Service`` sets ``changed``)."""


class Listener:
    """A task on the event loop, on its own connection, that hears the fleet's changes and awaits ``changed(kind, value)``.

    ``changed("faults", dict or None)`` on every change of the faults and on each (re)connection;
    ``changed("reset", None)`` when another instance reset the mock; ``changed("rules", None)`` when the
    rules may have changed. Records a forced state or a reset changed are dropped from the store's cache.
    Beside it runs the store's renewal of the process's nonce slot (``RedisStore.keep_slot``). It runs
    while the app serves (``run``, from the lifespan).
    """

    def __init__(self, store: RedisStore, changed: Changed | None = None) -> None:
        self.store, self.changed = store, changed or _ignored
        self.token = uuid.uuid4().hex  # its own messages are skipped: the sender applied them already
        # No retry: redis-py would reconnect and subscribe again unseen, and what was kept would outlive a Redis
        # restarted empty. A failure reaches ``run``, which forgets everything and connects anew.
        self.client = connect(store.address, 2 * TIMEOUT)

    @property
    def subscribed(self) -> bool:
        """Whether it is subscribed on a live connection, so hears every change (readiness)."""
        return self.store.fresh

    async def publish(self, kind: str, value: Any = None) -> None:
        """Tell every instance; with faults, also keep them in Redis for instances that start or reconnect later."""
        if kind == "faults":
            client = self.store.client
            await self.store.run(
                lambda: client.set(FAULTS, json.dumps(value)) if value is not None else client.unlink(FAULTS)
            )
        await self.store.announce(kind, value, self.token)

    async def run(self) -> None:
        """Listen until cancelled, and keep the nonce slot; after a failure, reconnect soon, so service resumes by itself."""
        slot = asyncio.get_running_loop().create_task(self.store.keep_slot())
        try:
            while True:
                try:
                    await self._listen()
                except (redis.RedisError, OSError):
                    pass
                except Exception:  # a bug must not silence the fleet for good: it connects anew
                    log.exception("the listener on %s failed", CHANNEL)
                self.store.fresh = False  # polls read Redis itself, and answer 503 while it is down
                self.store.forget()  # and nothing kept from the old connection is answered from
                await asyncio.sleep(0.2)
        finally:
            self.store.fresh = False
            slot.cancel()
            await asyncio.gather(slot, return_exceptions=True)
            await self.client.aclose()

    async def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(CHANNEL)
            faults = await self.client.get(FAULTS)
            self.store.forget()  # changes may have been missed while cut off, and Redis may have lost what it held
            await self.changed("rules", None)
            self.store.fresh = True
            await self.changed("faults", _faults(faults))
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None and message["type"] == "message":
                    await self._heard(message["data"])
        finally:
            self.store.fresh = False
            await pubsub.aclose()

    async def _heard(self, data: Any) -> None:
        """Act on one message, if it is the mock's; any other is logged and skipped. Only Redis failing escapes."""
        said = _message(data)
        if said is None:
            return
        try:
            await self._apply(said)
        except (redis.RedisError, OSError):
            raise
        except Exception:  # a bug here must not silence the fleet: the message is lost, the listener lives
            log.exception("a message on %s was not applied", CHANNEL)

    async def _apply(self, said: dict[str, Any]) -> None:
        kind = said["kind"]
        if kind == "forget":
            self.store.forget(said["value"])
        elif kind == "journal":
            await self.store.writes.flush()
        elif kind == "reset":
            self.store.forget()
            self.store.writes.drop()  # journal entries from before the reset stay out of the new journal
        if kind in ("reset", "rules"):
            await self.changed("rules", None)
        if said.get("from") != self.token and kind in ("faults", "reset"):
            await self.changed(kind, said.get("value") if kind == "faults" else None)
        if "id" in said:  # applied: reply, so the instance that announced it may answer now
            replies = f"{PREFIX}ack:{said['id']}"
            await self.client.pipeline().rpush(replies, 1).expire(replies, 10).execute()


def _message(data: Any) -> dict[str, Any] | None:
    """A message as the mock publishes it, checked against ``schemas/mock-redis.json``; None, logged, for any other."""
    if not isinstance(data, bytes) or len(data) > MESSAGE_MOST:
        log.warning("skipped a message on %s: not bytes, or over %d bytes", CHANNEL, MESSAGE_MOST)
        return None
    try:
        said = jsonio.loads(data)  # bounded in depth: TooDeep is a ValueError
    except ValueError as exc:  # not JSON, not UTF-8, nested too deep
        log.warning("skipped a message on %s that is not JSON: %s", CHANNEL, str(exc)[:200] or "nested too deeply")
        return None
    if wrong := problem("message", said):
        log.warning("skipped a message on %s that is not the mock's: %s", CHANNEL, wrong)
        return None
    return said


def _faults(raw: bytes | None) -> dict[str, Any] | None:
    """Faults as stored, if they are what ``PUT /_mock/faults`` accepts; None (the config's) otherwise."""
    try:
        given = jsonio.loads(raw) if raw is not None and len(raw) <= MESSAGE_MOST else None
    except ValueError:  # not JSON, not UTF-8, nested too deep: read on every (re)connection, it must not raise
        return None
    if not isinstance(given, dict) or contract.errors("admin-faults", given, settings=True):
        return None
    return given


def _fields(found: Any) -> dict[bytes, bytes]:
    """A stream entry's fields as XREVRANGE gives them (a dict) or a script does (a flat list)."""
    if isinstance(found, dict):
        return found
    return dict(zip(found[::2], found[1::2], strict=False)) if isinstance(found, list) else {}


def _entry(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    """A journal entry as this mock wrote it; None for one another tool put in the stream."""
    try:
        entry = orjson.loads(fields[b"e"])
    except (KeyError, orjson.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) else None
