"""Where accepted tasks live: the seam between the HTTP layer and storage.

The engine needs only a task's record, so a store is a map from task id to record. The
in-memory store is the default; others (a file-backed one, say) keep the same four methods.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from .lifecycle import Record


class Store(Protocol):
    def get(self, task_id: str) -> Record | None: ...

    def put(self, record: Record) -> None: ...

    def records(self) -> Iterator[Record]: ...

    def clear(self) -> None: ...


class MemoryStore:
    """A dict: the cheapest store, lost when the process ends."""

    def __init__(self) -> None:
        self._tasks: dict[str, Record] = {}

    def get(self, task_id: str) -> Record | None:
        return self._tasks.get(task_id)

    def put(self, record: Record) -> None:
        self._tasks[record.task_id] = record

    def records(self) -> Iterator[Record]:
        return iter(list(self._tasks.values()))

    def clear(self) -> None:
        self._tasks.clear()

    def __len__(self) -> int:
        return len(self._tasks)
