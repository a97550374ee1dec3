"""The packed fields: small facts packed into the integers a record and a signed id carry, each decoded here.

- **outcome** (five bits of a scenario's code): 0 the profile decides, 1 success, ``2 + i`` fails with reason i.
- **behaviour** (``Record.flags``): one bit, ``1 << i`` for ``scenarios.BEHAVIOURS[i]``.
- **shape** (48 bits, the id's and the record's): the mode in bits 0-1 (``MODES``: text, images, videos), width
  and height in pixels in bits 2-14 and 15-27, duration in tenths of a second in bits 28-43
  (``output_shape``), and the lifecycle's index in bits 44-47 (``lifecycle.WALKS``).

The hot paths read the mode and lifecycle with the masks and shifts below rather than through a call.
"""

from __future__ import annotations

from typing import Any

PROFILE_DECIDES, SUCCEEDS, FIRST_REASON = 0, 1, 2
OUTCOME_BITS = 5  # outcomes 0, 1 and 30 reasons


def outcome_of(reason: int | None) -> int:
    """The outcome that fails with reason index ``reason``; None: the one that succeeds."""
    return SUCCEEDS if reason is None else FIRST_REASON + reason


def reason_of(outcome: int) -> int | None:
    """The reason index an outcome fails with; None if it does not choose a failure."""
    return outcome - FIRST_REASON if outcome >= FIRST_REASON else None


def flag_of(behaviour: int) -> int:
    """``Record.flags`` for behaviour index ``behaviour``."""
    return 1 << behaviour


def behaviour_of(flags: int) -> int:
    """The behaviour index ``Record.flags`` holds (0, the default, for none)."""
    return max(flags.bit_length() - 1, 0)


MODES = ("text", "images", "videos")  # the mode's index in a shape; the spec tests images before videos
MODE_MASK = 3
WIDTH_SHIFT, HEIGHT_SHIFT, DURATION_SHIFT, SIDE_MASK, DURATION_MASK = 2, 15, 28, 0x1FFF, 0xFFFF
LIFECYCLE_SHIFT = 44  # the lifecycle's index above the media's 44 bits (ids carry 48)
MEDIA_MASK = (1 << LIFECYCLE_SHIFT) - 1


def mode(payload: dict[str, Any]) -> int:
    """The one mode classifier: a non-empty ``images`` wins over ``videos``, as the spec tests it first."""
    if payload.get("images"):
        return 1
    if payload.get("videos"):
        return 2
    return 0


def mode_of(shape: int) -> int:
    return shape & MODE_MASK


def pack_media(mode: int, width: int, height: int, tenths: int) -> int:
    return mode | width << WIDTH_SHIFT | height << HEIGHT_SHIFT | tenths << DURATION_SHIFT


def unpack_media(shape: int) -> tuple[int, int, int, int]:
    """The mode, width, height and duration in tenths of a second."""
    return (
        shape & MODE_MASK,
        shape >> WIDTH_SHIFT & SIDE_MASK,
        shape >> HEIGHT_SHIFT & SIDE_MASK,
        shape >> DURATION_SHIFT & DURATION_MASK,
    )


def lifecycle_of(shape: int) -> int:
    """The lifecycle's index: 0, the default walk, unless a profile or scenario chose another."""
    return shape >> LIFECYCLE_SHIFT


def with_lifecycle(shape: int, walk: int) -> int:
    return shape & MEDIA_MASK | walk << LIFECYCLE_SHIFT
