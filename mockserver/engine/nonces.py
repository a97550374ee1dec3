"""Task nonces that no two live processes signing with one secret on this host hand out alike.

An id is its submit time to the millisecond plus a 56-bit nonce, so two tasks share an id only if
they share both. Each process counts its own nonces up from its slot's base: a slot is the top 8
bits, and every ``mockserver`` process, a worker or a server of its own, locks a different one in a
directory named after its signing secret (only processes with one secret mint ids that could be
mistaken for each other's). With ``--store redis://`` a process leases its slot from Redis instead
(``RedisStore.claim_slot``), so servers on different hosts sharing a secret hold different ones too, and
mints only while it can prove it still holds the lease (``stores.redis.SlotLease``).
So ids are unique by construction, and a lone server under a seed still
hands out the same nonces, hence the same fates, in the same order every run.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

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


def slot_directory(secret: bytes) -> Path:
    """This host's directory of slot locks for ``secret``; the name says nothing of the secret itself."""
    name = hashlib.blake2b(secret, digest_size=8, person=b"mock-slots").hexdigest()
    path = Path(tempfile.gettempdir()) / f"mockserver-slots-{name}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def claim_slot(secret: bytes) -> int:
    """The lowest slot no other live process with ``secret`` holds, locked until this process ends.

    A lock (``flock``) dies with its process, so a worker that the server restarts takes a slot back;
    its counter starts again, but at a later millisecond.
    """
    directory = slot_directory(secret)
    for slot in range(1 << SLOT_BITS):
        fd = os.open(directory / f"slot-{slot}", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        _held.append(fd)
        return slot
    raise RuntimeError(f"all {1 << SLOT_BITS} slots in {directory} are held by live processes")
