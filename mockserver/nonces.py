"""Task nonces that no two live workers of one server hand out alike.

An id is its submit time to the millisecond plus a 56-bit nonce, so two tasks share an id only if
they share both. Each process counts its own nonces up from its slot's base: a slot is the top 8
bits, and workers of one ``mockserver --workers N`` each hold a different one, claimed with a lock
file in a directory their parent made. So ids are unique by construction, and a lone process under
a seed still hands out the same nonces, hence the same fates, in the same order every run.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

SLOTS_ENV = "MOCKSERVER_SLOTS"  # the directory of slot locks, set by the parent of worker processes
SLOT_BITS = 8
COUNT_BITS = 48
_held: list[int] = []  # descriptors of the locks this process holds, open until it exits


class Nonces:
    """Counts up from ``slot``'s base; 2**48 nonces a slot, a thousand years at ten thousand a second."""

    __slots__ = ("_next",)

    def __init__(self, slot: int = 0) -> None:
        if not 0 <= slot < 1 << SLOT_BITS:
            raise ValueError(f"slot {slot} is not in 0..{(1 << SLOT_BITS) - 1}")
        self._next = slot << COUNT_BITS

    def __call__(self) -> int:
        nonce = self._next
        self._next = nonce + 1
        return nonce


def claim_slot(directory: str | os.PathLike[str]) -> int:
    """The lowest slot no other live process holds, locked until this process ends.

    A lock (``flock``) dies with its process, so a worker that the server restarts takes a slot back;
    its counter starts again, but at a later millisecond.
    """
    for slot in range(1 << SLOT_BITS):
        fd = os.open(Path(directory) / f"slot-{slot}", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held.append(fd)
        return slot
    raise RuntimeError(f"all {1 << SLOT_BITS} worker slots in {directory} are taken")


def this_workers_slot() -> int:
    """0 for a lone process; a claimed slot for a worker whose parent set ``SLOTS_ENV``."""
    directory = os.environ.get(SLOTS_ENV)
    return claim_slot(directory) if directory else 0
