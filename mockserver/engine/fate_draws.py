"""Each task's random numbers, read from a keyed hash of the spec and the task's nonce.

A task's fate must be a pure function of the spec and its nonce, so that any worker, or the same
worker after a restart, draws it again alike. Seeding a Mersenne Twister per task did that, but
filling its 2.5 KB state cost more than the rest of a submit's engine work together; one BLAKE2b
digest gives nine independent 53-bit draws in a tenth of the time, and a task needs at most six.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeVar

T = TypeVar("T")
_PER_BLOCK = 9  # 53-bit draws in one 512-bit digest
_MASK = (1 << 53) - 1


@lru_cache(maxsize=64)
def _keyed(seed: int, block: int) -> hashlib.blake2b:
    """The keyed, salted hash of one block, its key already absorbed: a copy of it costs a third of a new one."""
    key = hashlib.sha256(f"mockserver-draws:{seed}".encode()).digest()
    return hashlib.blake2b(key=key, salt=block.to_bytes(16, "big"), digest_size=64)


class Draws:
    """The few methods of ``random.Random`` that profiles use, each a fresh 53 bits of the digest."""

    __slots__ = ("_bits", "_block", "_fate", "_left", "_seed")

    def __init__(self, seed: int, fate: int | str) -> None:
        self._seed = seed
        self._fate = fate.encode() if isinstance(fate, str) else fate.to_bytes(16, "big", signed=True)
        self._block = 0
        self._bits = 0
        self._left = 0

    def random(self) -> float:
        """Uniform in [0, 1), with 53 bits as ``random.random`` has."""
        left = self._left
        if not left:  # a task needs at most six draws; more blocks only for very long draws
            hashed = _keyed(self._seed, self._block).copy()
            hashed.update(self._fate)
            self._bits, self._block = int.from_bytes(hashed.digest(), "big"), self._block + 1
            left = _PER_BLOCK
        bits = self._bits
        self._bits, self._left = bits >> 53, left - 1
        return (bits & _MASK) * 2.0**-53

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.random()

    def normalvariate(self, mu: float, sigma: float) -> float:
        """Box-Muller: two uniforms give one normal deviate."""
        radius = math.sqrt(-2.0 * math.log(1.0 - self.random()))
        return mu + sigma * radius * math.cos(2.0 * math.pi * self.random())

    def choice(self, seq: Sequence[T]) -> T:
        return seq[int(self.random() * len(seq))]
