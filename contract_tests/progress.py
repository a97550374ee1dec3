"""How ``generations`` shows a task while it runs: a bar on a terminal, a plain line per change otherwise.

Both write to stderr, so that stdout carries only what scripts read (the saved paths, or ``--json``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, Self, TextIO

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

from .lifecycle_checks import progress_value


class Display(Protocol):
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def update(self, task: dict[str, Any]) -> None: ...


def percent(task: dict[str, Any]) -> float | None:
    """The task's progress as a number from 0 to 100, or None where it shows none we can read."""
    value = progress_value(task)
    return None if value is None else max(0.0, min(100.0, value))


class Bar:
    """rich's progress bar: the state, the bar and its percent, and the time since the submit."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            console=Console(file=stream, force_terminal=True),
            transient=False,
        )
        # The id is printed whole when submitted; on the bar's line a long one (a 64-digit id) would leave
        # an 80-column terminal no room for the bar, so it is shortened there.
        self.label = label if len(label) <= 24 else f"{label[:10]}…{label[-6:]}"
        self.bar = self.progress.add_task(f"{self.label} polling", total=100)

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def update(self, task: dict[str, Any]) -> None:
        done = percent(task)
        status = task.get("status")
        self.progress.update(self.bar, description=f"{self.label} {status}", completed=done or 0)
        self.progress.refresh()


class Lines:
    """One line per change of state or progress, with the seconds since the submit: for logs and pipes."""

    def __init__(self, stream: TextIO, label: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream, self.label, self.clock = stream, label, clock
        self.start = clock()
        self.last: tuple[Any, Any] | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, task: dict[str, Any]) -> None:
        seen = (task.get("status"), task.get("progress"))
        if seen == self.last:
            return
        self.last = seen
        shown = "" if seen[1] in (None, "") else f" {seen[1]}"
        print(f"{self.label} {seen[0]}{shown} after {self.clock() - self.start:.0f} s", file=self.stream, flush=True)


def display(stream: TextIO, label: str) -> Display:
    return Bar(stream, label) if stream.isatty() else Lines(stream, label)
