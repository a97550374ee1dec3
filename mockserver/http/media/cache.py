"""Made media kept in memory under a byte budget, least recently used first out.

A file depends only on its scope, shape and hue, so a thousand tasks asking for the same shape share
a few dozen files, each made once (off the event loop) and then served from memory. Downloads of a file
still being made wait for that one render instead of starting their own (forty players opening a new
video at once cost forty renders), and at most ``RENDERS`` files are made at once, so a burst of new
shapes queues instead of taking every core from the polls.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import OrderedDict
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from ...engine.output_shape import unpack
from . import render

BUDGET = 64 * 1024 * 1024
RENDERS = min(4, os.cpu_count() or 1)  # files made at once per worker

Key = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class Made:
    body: bytes
    etag: bytes  # strong: the bytes for a key never change


def key_of(scope: str, shape: int, hue: int) -> Key:
    return (scope, shape & ~3, hue)  # the mode does not change the file


class MediaCache:
    def __init__(self, budget: int = BUDGET, renders: int = RENDERS) -> None:
        self.budget = budget
        self.size = 0
        self._kept: OrderedDict[Key, Made] = OrderedDict()
        self._making: dict[Key, asyncio.Task[Made]] = {}
        self._renders = asyncio.Semaphore(renders)

    async def get(self, scope: str, shape: int, hue: int) -> Made:
        """The file of ``scope`` in the packed ``shape`` and colour ``hue``, made now if it is not kept."""
        key = key_of(scope, shape, hue)
        found = self.kept(key)
        if found is not None:
            return found
        making = self._making.get(key)
        if making is None:
            making = self._making[key] = asyncio.get_running_loop().create_task(self._make(key))
            making.add_done_callback(lambda _: self._making.pop(key, None))
        return await asyncio.shield(making)  # a download that gives up leaves the render to the others

    def kept(self, key: Key) -> Made | None:
        """The file under ``key`` (``key_of``) if it is in memory: a download that knows its key asks this first."""
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
        return found

    async def _make(self, key: Key) -> Made:
        scope, shape, hue = key
        async with self._renders:
            body = await run_in_threadpool(render.MAKERS[scope], unpack(shape), hue)
        made = Made(body, b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"')
        if len(body) <= self.budget:
            self._kept[key] = made
            self.size += len(body)
            while self.size > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self.size -= len(dropped.body)
        return made

    def __len__(self) -> int:
        return len(self._kept)
