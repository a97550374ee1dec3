"""Made media kept in memory under a byte budget, least recently used first out.

A file depends only on its scope, shape and hue, so a thousand tasks asking for the same shape share
a few dozen files, each made once (off the event loop) and then served from memory.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from . import render
from .shape import unpack

BUDGET = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Made:
    body: bytes
    etag: bytes  # strong: the bytes for a key never change


class MediaCache:
    def __init__(self, budget: int = BUDGET) -> None:
        self.budget = budget
        self.size = 0
        self._kept: OrderedDict[tuple[str, int, int], Made] = OrderedDict()

    async def get(self, scope: str, shape: int, hue: int) -> Made:
        """The file of ``scope`` in the packed ``shape`` and colour ``hue``, made now if it is not kept."""
        key = (scope, shape & ~3, hue)  # the mode does not change the file
        found = self._kept.get(key)
        if found is not None:
            self._kept.move_to_end(key)
            return found
        body = await run_in_threadpool(render.MAKERS[scope], unpack(shape), hue)
        made = Made(body, b'"' + hashlib.blake2b(body, digest_size=12).hexdigest().encode() + b'"')
        if len(body) <= self.budget and key not in self._kept:
            self._kept[key] = made
            self.size += len(body)
            while self.size > self.budget:
                _, dropped = self._kept.popitem(last=False)
                self.size -= len(dropped.body)
        return made

    def __len__(self) -> int:
        return len(self._kept)
