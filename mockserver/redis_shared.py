"""What the admin API changes, shared by every instance through the Redis store: rules, faults, resets, journal.

- Scenario rules live in Redis hashes and are read on each submit without a header, as ``SharedRules``
  reads SQLite; a ``next`` rule is spent by a Lua script, so it counts its submits across the fleet.
- Run-time faults are consulted by every request, so each process keeps them in memory. A change is
  written to Redis and published (pub/sub, channel ``mockserver:changes``); each process's listener
  thread applies it and acknowledges it, and the admin call that made it answers once every listener
  has (``RedisStore.announce``, a second at most), so the next request anywhere sees it. On every
  (re)connection a listener reads the current faults, so a change made while it was cut off is not
  lost. Resets are published alike, so every process also resets its run-time faults and metrics (the
  tasks, rules and journal are Redis's, cleared once), and so are forced states and rule changes, which
  drop what each process keeps of them (the store's records, the rules last read).
- The journal is a Redis stream capped at ``journal_size`` entries, appended to by every instance.
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import orjson
import redis

from . import contract, scenarios
from .redis_store import CHANNEL, PREFIX, SLOT_LEASE, TIMEOUT, RedisStore
from .rules import Rule, Rules, key_owner
from .store import StoreError

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


class RedisRules(Rules):
    """Rules in Redis: one set through any instance plays for submits reaching any of them."""

    def __init__(self, store: RedisStore, seed: int, reasons: tuple[str, ...]) -> None:
        super().__init__(seed)
        self.store, self.reasons = store, reasons
        self._spend = store.client.register_script(_SPEND)
        self._known: list[Rule] | None = None  # the rules as last read, while the listener hears every change

    @property
    def active(self) -> bool:
        """False only when the listener is up and no rule is known: then submits skip the round trip."""
        return not (self.store.fresh and self._known == [])

    def forget(self) -> None:
        """The rules changed somewhere in the fleet (or may have): read them afresh on the next submit."""
        self._known = None

    def choose(self, scope: str, model: str, owner: int) -> scenarios.Choice | None:
        known = self._known if self.store.fresh and self._known is not None else self.listing()
        for rule in known:
            if not rule.matches(scope, model, owner):
                continue
            if rule.left is not None:
                spent = self.store.run(lambda r, n=rule.number: self._spend_one(r, n))
                if spent != 1:  # 2: this was its last submit; 0: another instance spent it meanwhile
                    self._known = None
                    self.store.announce("rules", wait=False)  # on a submit: never wait on the others
                if not spent:
                    continue
            elif self.draws.random() >= rule.fraction:  # type: ignore[operator]
                continue
            else:
                self.store.run(lambda r, n=rule.number: r.hincrby(_PLAYED, n, 1))
            return rule.choice
        return None

    def _changed(self) -> None:
        self._known = None
        self.store.announce("rules")

    def _spend_one(self, client: Any, number: int) -> int:
        return self._spend(keys=[_RULES, _LEFT, _PLAYED], args=[number], client=client)

    def add(self, rule: Rule) -> Rule:
        definition = {name: getattr(rule, name) for name in ("scenario", "fraction", "scope", "model", "key")}

        def add(r: Any) -> int:
            number = r.incr(_COUNTER)
            pipe = r.pipeline()
            pipe.hset(_RULES, number, json.dumps(definition))
            if rule.left is not None:
                pipe.hset(_LEFT, number, rule.left)
            pipe.hset(_PLAYED, number, 0)
            pipe.execute()
            return number

        rule.number = self.store.run(add)
        self._changed()
        return rule

    def remove(self, number: int) -> Rule | None:
        found = next((rule for rule in self.listing() if rule.number == number), None)
        if found is not None:
            self.store.run(lambda r: [r.hdel(key, number) for key in (_RULES, _LEFT, _PLAYED)])
            self._changed()
        return found

    def listing(self) -> list[Rule]:
        def read(r: Any) -> list[dict[bytes, bytes]]:
            pipe = r.pipeline(transaction=False)
            for key in (_RULES, _LEFT, _PLAYED):
                pipe.hgetall(key)
            return pipe.execute()

        fresh = self.store.fresh  # read before Redis is, so that a change heard meanwhile is not overwritten
        definitions, left, played = self.store.run(read)
        rules = [self._rule(int(n), raw, left.get(n), played.get(n, b"0")) for n, raw in definitions.items()]
        listed = sorted((rule for rule in rules if rule is not None), key=lambda rule: rule.number)
        if fresh:
            self._known = listed
        return list(listed)

    def _rule(self, number: int, raw: bytes, left: bytes | None, played: bytes) -> Rule | None:
        """A stored rule, checked as the admin API checks one; None for one another tool wrote wrong."""
        try:
            given = json.loads(raw)
            payload = {name: value for name, value in given.items() if value is not None and name != "key"}
            payload |= {"next": int(left)} if left is not None else {}
            choice = scenarios.parse(given["scenario"], self.reasons)
        except (ValueError, KeyError, TypeError, AttributeError, scenarios.UnknownScenario):
            return None
        if contract.errors("mock-rule", payload, settings=True):
            return None
        key = given.get("key") if isinstance(given.get("key"), str) else None
        fraction, scope, model = given.get("fraction"), given.get("scope"), given.get("model")
        owner = None if key is None else key_owner(key)
        return Rule(
            number, given["scenario"], choice, payload.get("next"), fraction, scope, model, key, owner, int(played)
        )

    def clear(self) -> None:
        self.store.run(lambda r: r.unlink(_RULES, _LEFT, _PLAYED))
        self.draws = random.Random(self.seed)
        self._changed()


class RedisJournal:
    """The journal as a capped stream; the middleware appends to it as to a deque."""

    def __init__(self, store: RedisStore, size: int) -> None:
        self.store, self.maxlen = store, size

    def append(self, entry: dict[str, Any]) -> None:
        try:
            self.store.run(lambda r: r.xadd(JOURNAL, {"e": orjson.dumps(entry)}, maxlen=self.maxlen, approximate=False))
        except StoreError:
            pass  # an entry is lost while Redis is down; the request it records was answered

    def clear(self) -> None:
        self.store.run(lambda r: r.unlink(JOURNAL))

    def __iter__(self) -> Iterator[dict[str, Any]]:
        entries = self.store.run(lambda r: r.xrange(JOURNAL))
        return iter([entry for _, fields in entries if (entry := _entry(fields)) is not None])


class Listener:
    """A thread on its own connection that hears the fleet's changes and hands them to ``changed(kind, value)``.

    ``changed("faults", dict or None)`` on every change of the faults and on each (re)connection;
    ``changed("reset", None)`` when another instance reset the mock; ``changed("rules", None)`` when the
    rules may have changed. Records a forced state or a reset changed are dropped from the store's cache.
    """

    def __init__(self, store: RedisStore, changed: Callable[[str, Any], None]) -> None:
        self.store, self.changed = store, changed
        self.token = uuid.uuid4().hex  # its own messages are skipped: the sender applied them already
        self.client = redis.Redis(**store.address, socket_timeout=SLOT_LEASE / 3, socket_connect_timeout=TIMEOUT)
        threading.Thread(target=self._run, name="mockserver-redis-listener", daemon=True).start()

    def publish(self, kind: str, value: Any = None) -> None:
        """Tell every instance; with faults, also keep them in Redis for instances that start or reconnect later."""
        if kind == "faults":
            self.store.run(lambda r: r.set(FAULTS, json.dumps(value)) if value is not None else r.unlink(FAULTS))
        self.store.announce(kind, value, self.token)

    def _run(self) -> None:
        while True:
            try:
                self._listen()
            except (redis.RedisError, OSError):
                self.store.fresh = False  # polls read Redis itself, and answer 503 while it is down
                time.sleep(0.2)  # try again soon, so service resumes by itself

    def _listen(self) -> None:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        pubsub.subscribe(CHANNEL)
        faults = self.client.get(FAULTS)
        self.store.forget()  # changes may have been missed while cut off
        self.changed("rules", None)
        self.store.fresh = True
        self.changed("faults", _faults(faults))
        renewed = 0.0
        while True:
            if time.monotonic() - renewed > SLOT_LEASE / 3:
                self.store.renew_slot(self.client)
                renewed = time.monotonic()
            message = pubsub.get_message(timeout=1.0)
            if message is None or message["type"] != "message":
                continue
            try:
                said = json.loads(message["data"])
            except ValueError:
                continue
            if not isinstance(said, dict):
                continue
            if said.get("kind") == "forget" and isinstance(said.get("value"), str):
                self.store.forget(said["value"])
            elif said.get("kind") == "reset":
                self.store.forget()
            if said.get("kind") in ("reset", "rules"):
                self.changed("rules", None)
            if said.get("from") != self.token and said.get("kind") in ("faults", "reset"):
                value = _faults(json.dumps(said.get("value")).encode()) if said["kind"] == "faults" else None
                self.changed(said["kind"], value)
            if isinstance(said.get("id"), str):  # applied: the instance that announced it may answer now
                acked = f"{PREFIX}ack:{said['id'][:64]}"
                self.client.pipeline().incr(acked).expire(acked, 10).execute()


def _faults(raw: bytes | None) -> dict[str, Any] | None:
    """Faults as stored, if they are what ``PUT /_mock/faults`` accepts; None (the config's) otherwise."""
    try:
        given = json.loads(raw) if raw is not None else None
    except ValueError:
        return None
    if not isinstance(given, dict) or contract.errors("admin-faults", given, settings=True):
        return None
    return given


def _entry(fields: dict[bytes, bytes]) -> dict[str, Any] | None:
    """A journal entry as this mock wrote it; None for one another tool put in the stream."""
    try:
        entry = orjson.loads(fields[b"e"])
    except (KeyError, orjson.JSONDecodeError):
        return None
    return entry if isinstance(entry, dict) else None
