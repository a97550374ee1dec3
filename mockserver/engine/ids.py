"""Task ids that carry their own record, signed, so that any worker can answer any poll.

A task's state is a pure function of its record and the clock, and the record is a pure function
of what ``plan()`` is given. So an id that says when the task was submitted, which profile and
scenario it plays, a nonce, and the mode and output shape its request asked for is enough for any worker process, or the same process after a
restart, to rebuild the record without shared storage. The tag is a keyed MAC over those fields and
over the scope and owner, which the id does not show: a forged or altered id, or an id polled by
another key or under another scope, reads as no task at all.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache
from typing import NamedTuple

_TAG_BYTES = 10
_PAYLOAD_BYTES = 22  # 6 submit time (ms), 2 profile, 1 scenario, 7 nonce, 6 mode and output shape
_ID_CHARS = 2 * (_PAYLOAD_BYTES + _TAG_BYTES)  # lowercase hex
MAX_PROFILES = 1 << 16  # the profile's two bytes


class Ticket(NamedTuple):
    """What an id says about its task; the indices are into the server's own tables."""

    submitted_ms: int
    profile: int
    scenario: int
    nonce: int
    shape: int = 0  # media.shape's packed mode, frame size and duration


def derive_secret(*parts: object) -> bytes:
    """A signing secret that every worker started with the same settings computes alike."""
    return hashlib.sha256(repr(("mockserver-ids", *parts)).encode()).digest()


@lru_cache(maxsize=16)
def _keyed(secret: bytes) -> hashlib.blake2b:
    """BLAKE2b with the secret absorbed; a copy of it costs a third of keying a new one."""
    return hashlib.blake2b(key=secret, digest_size=_TAG_BYTES)


def _tag(secret: bytes, payload: bytes, scope: str, owner: int) -> bytes:
    """Keyed BLAKE2b is a MAC on its own (no HMAC construction needed), at a third of HMAC-SHA256's cost."""
    hashed = _keyed(secret).copy()
    hashed.update(payload + scope.encode() + owner.to_bytes(8, "big", signed=True))
    return hashed.digest()


def mint(secret: bytes, ticket: tuple[int, int, int, int, int], scope: str, owner: int) -> str:
    """The id of a ``Ticket``'s fields (a plain tuple of them will do: no named tuple built on every submit)."""
    submitted_ms, profile, scenario, nonce, shape = ticket
    # Each field fits its width where it is made: nonces.py, output_shape.py, MAX_PROFILES and the scenario codes.
    packed = submitted_ms << 128 | profile << 112 | scenario << 104 | nonce << 48 | shape
    payload = packed.to_bytes(_PAYLOAD_BYTES, "big")
    return (payload + _tag(secret, payload, scope, owner)).hex()


def nonce(task_id: str) -> int | None:
    """The seeded nonce an id minted here carries, unchecked: what a task's own draws are keyed by."""
    if len(task_id) != _ID_CHARS:
        return None
    try:
        return int(task_id[18:32], 16)  # bytes 9 to 16 of the payload
    except ValueError:
        return None


def read(secret: bytes, task_id: str, scope: str, owner: int) -> Ticket | None:
    """The ticket inside ``task_id`` if this server signed it for this scope and owner, else None."""
    if len(task_id) != _ID_CHARS:
        return None
    try:
        raw = bytes.fromhex(task_id)
    except ValueError:
        return None
    if raw.hex() != task_id:  # one spelling per task: no upper case, no spaces
        return None
    payload, tag = raw[:_PAYLOAD_BYTES], raw[_PAYLOAD_BYTES:]
    if not hmac.compare_digest(tag, _tag(secret, payload, scope, owner)):
        return None
    return Ticket(
        submitted_ms=int.from_bytes(payload[:6], "big"),
        profile=int.from_bytes(payload[6:8], "big"),
        scenario=payload[8],
        nonce=int.from_bytes(payload[9:16], "big"),
        shape=int.from_bytes(payload[16:], "big"),
    )
