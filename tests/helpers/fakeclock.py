"""The one fake clock of the suite: the mock, the client and the kit read it, and sleeping only moves it.

``Clock()`` is called for the time; ``sleep`` (or ``asleep`` where a coroutine is wanted) records the
delay and moves the clock by it, so no test waits for real.
"""

from __future__ import annotations

START = 1_756_693_797.0  # the spec's example submit_time


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += max(0.0, seconds)

    async def asleep(self, seconds: float) -> None:
        self.sleep(seconds)
