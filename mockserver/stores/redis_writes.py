"""What the requests of one process write to Redis, sent together: one round trip for all that is queued.

A submit's writes (its task, its callback's note, a rule's count) and the journal's entries are queued
here, not sent one by one. One sending task takes everything queued and sends it in one pipeline, then
whatever was queued meanwhile, and so on; each waiter then gets its own reply. So a submit costs one
round trip, shared with the submits that came in the same instant, and a burst costs few. The tasks of a
batch are written by one call of one script: a task written alone costs this process 80 to 95 µs of CPU,
one of sixteen written together about 15.

Commands that need no reply (``later``: journal entries, a rule's played count) wait for the next
round trip a request makes anyway, or ``LATER`` seconds at most, so a poll, which writes nothing
else, costs none of its own. Commands keep their order: a callback noted before its task is written
before it. A script Redis does not know (it restarted and lost its scripts) is sent again in full.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import redis
from redis.commands.core import AsyncScript

from .base import StoreError

LATER = 0.1  # seconds a write nobody waits for may wait for a round trip that a request makes anyway
Run = Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]
Task = tuple[str, str, str, float]  # a task's key, id, stored record and submit time
Queued = tuple[tuple[Any, ...], AsyncScript | None, asyncio.Future[Any] | None]


class Writes:
    """The queue of one process's writes to Redis and the task that sends them (``RedisStore.writes``)."""

    def __init__(self, client: Any, run: Run, put: AsyncScript, tasks: Callable[[list[Task]], tuple[Any, ...]]) -> None:
        self.client, self.run = client, run
        self._put, self._command = put, tasks  # the script that writes tasks, and its one call for a batch's
        self._queued: list[Queued] = []
        self._tasks: list[tuple[Task, asyncio.Future[Any]]] = []
        self._sending: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._awaited = False  # something queued has a waiter: send it now

    def script(self, script: AsyncScript, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """Queue a registered script's run (EVALSHA); its reply, or ``StoreError``."""
        future = asyncio.get_running_loop().create_future()
        self._queued.append((("EVALSHA", script.sha, len(keys), *keys, *args), script, future))
        self._now()
        return future

    def task(self, *task: Any) -> asyncio.Future[Any]:
        """Queue a task's record (``Task``) to be written, with every other task of its batch in one script call,
        after the batch's other commands (a callback's note comes first); None once written, or ``StoreError``."""
        future = asyncio.get_running_loop().create_future()
        self._tasks.append((task, future))
        self._now()
        return future

    def later(self, *command: Any) -> None:
        """Queue ``command`` with no one waiting for it: it goes with the next round trip, within ``LATER``."""
        self._queued.append((command, None, None))
        self._soon()

    async def flush(self) -> None:
        """Send what is queued now, and return once it is written (a journal read first sees its own entries)."""
        while self._queued or self._tasks or self._sending is not None:
            self._now()
            if self._sending is not None:
                await asyncio.shield(self._sending)

    def drop(self) -> None:
        """Forget the writes nobody waits for (a reset: the journal entries not yet written)."""
        self._queued = [queued for queued in self._queued if queued[2] is not None]

    def _soon(self) -> None:
        if self._sending is None and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(LATER, self._now)

    def _now(self) -> None:
        self._awaited = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._sending is None and (self._queued or self._tasks):
            self._sending = asyncio.get_running_loop().create_task(self._send())

    async def _send(self) -> None:
        try:
            while (self._queued or self._tasks) and self._awaited:
                batch, self._queued, self._awaited = self._queued, [], False
                if self._tasks:
                    tasks, self._tasks = self._tasks, []
                    batch.append((self._command([task for task, _ in tasks]), self._put, _together(tasks)))
                try:
                    await self._write(batch)
                finally:  # whatever went wrong, no waiter waits for ever
                    for _, _, future in batch:
                        _fail(future, StoreError("the write was not sent to Redis"))
        finally:
            self._sending = None
            if self._queued:  # only writes nobody waits for came meanwhile
                self._soon()

    async def _write(self, batch: list[Queued]) -> None:
        """One pipeline of ``batch``'s commands; each waiter gets its reply, or ``StoreError``."""
        pipe = self.client.pipeline(transaction=False)
        for command, _, _ in batch:
            pipe.execute_command(*command)
        try:
            replies = await self.run(partial(pipe.execute, raise_on_error=False))
        except StoreError as exc:
            for _, _, future in batch:
                _fail(future, StoreError(str(exc)))
            return
        for (command, script, future), reply in zip(batch, replies, strict=True):
            if isinstance(reply, redis.exceptions.NoScriptError) and script is not None:
                reply = await self._again(script, command)
            if future is None or future.done():  # no one waits, or the waiter went away
                continue
            if isinstance(reply, Exception):
                _fail(future, StoreError(f"Redis refused {command[0]} ({type(reply).__name__}: {reply})"))
            else:
                future.set_result(reply)

    async def _again(self, script: AsyncScript, command: tuple[Any, ...]) -> Any:
        """A script Redis lost, sent in full (EVAL, which also keeps it); its reply, or the error as a value."""
        try:
            return await self.run(lambda: self.client.execute_command("EVAL", script.script, *command[2:]))
        except (StoreError, redis.RedisError) as exc:
            return exc


def _fail(future: asyncio.Future[Any] | None, exc: Exception) -> None:
    if future is not None and not future.done():
        future.set_exception(exc)


def _together(tasks: list[tuple[Task, asyncio.Future[Any]]]) -> asyncio.Future[Any]:
    """One future for the script call that writes ``tasks``, whose outcome is each task's."""
    together = asyncio.get_running_loop().create_future()

    def settle(done: asyncio.Future[Any]) -> None:
        failed = done.exception()
        for _, future in tasks:
            if future.done():
                continue
            if failed is None:
                future.set_result(None)
            else:
                future.set_exception(StoreError(str(failed)))

    together.add_done_callback(settle)
    return together
