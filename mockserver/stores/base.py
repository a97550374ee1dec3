"""What every store is: a map from task id to record, answering at once (``Store``) or awaited (``AsyncStore``),
and how a stored row is checked before it is trusted as a record.

The engine needs only a task's record, so a store is a map from task id to record. The in-memory store is the
default; ``SqliteStore`` keeps the same methods on disk. Both answer at once, so the poll and submit routes
call them as plain functions. A remote store (``redis.RedisStore``) answers after a round trip, so its methods
are coroutines (``AsyncStore``), awaited while the event loop serves other requests.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any, Protocol

from ..engine.catalog import SCOPES
from ..engine.encodings import flag_of
from ..engine.lifecycle import STATES, Record
from ..engine.scenarios import BEHAVIOURS


class StoreError(Exception):
    """The store failed for a moment (a locked or unreadable file); the request is answered 503, not 500."""


class DamagedRecord(StoreError):
    """A stored row that is not a record. Unlike a locked file, looking again will not mend it."""


class Store(Protocol):
    def get(self, task_id: str) -> Record | None: ...

    def put(self, record: Record) -> None: ...

    def records(self) -> Iterator[Record]: ...

    def page(self, offset: int, limit: int) -> list[Record]:
        """``limit`` records from the ``offset``-th, in the order they were first put; reads no others."""
        ...

    def newest(self, limit: int) -> list[Record]:
        """The last ``limit`` records first put, oldest first; reads no others."""
        ...

    def clear(self) -> None: ...

    def __len__(self) -> int: ...


class AsyncStore(Protocol):
    async def get(self, task_id: str) -> Record | None: ...

    async def put(self, record: Record) -> None: ...

    async def page(self, offset: int, limit: int) -> list[Record]: ...

    async def newest(self, limit: int) -> list[Record]: ...

    async def clear(self) -> None: ...

    async def count(self) -> int: ...


_LATEST = 2**48 / 1000  # the last submit time an id's six bytes of milliseconds hold
_FLAGS = frozenset({0, *(flag_of(n) for n in range(len(BEHAVIOURS)))})


def _number(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int | float) and not math.isnan(value) and low <= value <= high


def record_from(row: tuple[Any, ...]) -> Record:
    """The row as a record, if it is one. Any SQLite tool can write the file, and a field of the wrong type
    or out of range (a profile of NULL, a submit time of 1e300) made polls, links and the admin API 500s."""
    task_id, scope, owner, submitted_at, queue_for, run_for, failure, profile, flags, forced, forced_at, shape, take = (
        row
    )
    sound = (
        isinstance(task_id, str)
        and scope in SCOPES
        and isinstance(owner, int)
        and _number(submitted_at, 0, _LATEST)
        and _number(queue_for, 0, math.inf)
        and _number(run_for, 0, math.inf)
        and isinstance(failure, int)
        and failure >= -1
        and isinstance(profile, int)
        and profile >= 0
        and isinstance(flags, int)
        and flags in _FLAGS
        and isinstance(forced, int)
        and -1 <= forced < len(STATES)
        and _number(forced_at, 0, _LATEST)
        and isinstance(shape, int)
        and 0 <= shape < 2**48  # media.shape's packed mode and output shape
        and isinstance(take, int)
        and take >= -1
    )
    if not sound:
        raise DamagedRecord(f"the stored row of task {str(task_id)[:60]!r} is damaged")
    return Record(*row)
