"""Where the request journal's entries are kept: this process's memory (``MemoryJournal``), or the fleet's
Redis stream (``stores.redis_shared.RedisJournal``); both read a page at a time from the newest end. One
task's entries are looked for among the newest ``SCANNED`` only, so a dashboard open on a task's timeline
costs a bounded time however long the journal is. The middleware that writes them is ``http/journal.py``'s.
"""

from __future__ import annotations

from collections import deque
from itertools import islice
from typing import Any, Protocol

SCANNED = 5000  # the newest entries looked through for one task's


class Entries(Protocol):
    def append(self, entry: dict[str, Any]) -> None: ...

    async def newest(self, limit: int, task_id: str | None = None) -> list[dict[str, Any]]:
        """The last ``limit`` entries (of ``task_id`` only, among the newest ``SCANNED``, if given), oldest first."""
        ...

    async def clear(self) -> None: ...


class MemoryJournal:
    """This process's last ``size`` entries, in a deque; ``append`` is the deque's own, so a request pays no more."""

    def __init__(self, size: int) -> None:
        self._entries: deque[dict[str, Any]] = deque(maxlen=size)
        self.append = self._entries.append

    async def newest(self, limit: int, task_id: str | None = None) -> list[dict[str, Any]]:
        if task_id is None:
            return list(islice(reversed(self._entries), limit))[::-1]
        found = (entry for entry in islice(reversed(self._entries), SCANNED) if entry.get("task_id") == task_id)
        return list(islice(found, limit))[::-1]

    async def clear(self) -> None:
        self._entries.clear()
