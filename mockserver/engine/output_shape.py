"""What an output looks like, read from the request once at submit and packed into a few bytes.

Any worker must serve a task's outputs in the shape its request asked for, so the shape travels in
the signed task id (``ids.py``) and in the record, as one integer: the mode (2 bits), width and
height in pixels (13 bits each) and duration in tenths of a second (16 bits), laid out by ``encodings.py``.

The mapping, in order: ``size`` as ``WxH`` (also ``W*H`` or ``W×H``) is taken as it is; else
``resolution`` gives the short side (``480P``, ``720p``, ``1080P``, ``2K`` = 1440, ``4K`` = 2160)
and ``aspect_ratio`` (or the profile's) the other; else the profile's default. Sides are capped at
4096, keeping the aspect ratio. ``duration`` (or the profile's) is clamped to the scope's range.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from . import modes
from .encodings import pack_media, unpack_media
from .profiles import Profile

SUBTYPES = {"images": "png", "videos": "mp4", "audio": "wav"}
MAX_SIDE = 4096
DURATIONS = {"videos": (0.1, 60.0), "audio": (0.1, 600.0), "images": (0.0, 0.0)}
_SIZE = re.compile(r"\s*(\d{1,6})\s*[x×X*]\s*(\d{1,6})\s*")
_RESOLUTION = re.compile(r"\s*(\d{2,5})\s*[pP]\s*|\s*([124])\s*[kK]\s*")
_K = {"1": 1024, "2": 1440, "4": 2160}
_interned: dict[int, int] = {}  # one int object per distinct shape, so a record pays only its pointer


def filename(scope: str, index: int) -> str:
    """An output's file name in its links: its index and its scope's type."""
    return f"{index}.{SUBTYPES[scope]}"


@dataclass(frozen=True, slots=True)
class Shape:
    action: int  # an index into modes.INPUTS
    width: int
    height: int
    duration: float  # seconds; 0 for images

    def pack(self) -> int:
        code = pack_media(self.action, self.width, self.height, round(self.duration * 10))
        if len(_interned) < 4096:
            return _interned.setdefault(code, code)
        return code


def unpack(code: int) -> Shape:
    mode, width, height, tenths = unpack_media(code)
    return Shape(mode, width, height, tenths / 10)


class Shapes:
    """Packed shapes by the fields that decide them: most submits ask alike, and reading one took a tenth
    of a submit. Bounded, since the fields come from clients; past the bound shapes are read afresh.
    """

    def __init__(self, scopes: tuple[str, ...], profiles: tuple[Profile, ...]) -> None:
        self.scopes = scopes  # each profile's scope, by number
        self.profiles = profiles
        self.kept: dict[tuple[Any, ...], int] = {}

    def packed(self, profile: int, payload: dict[str, Any]) -> int:
        get = payload.get  # validated: strings and numbers, so hashable
        key = (profile, modes.read(payload), get("size"), get("resolution"), get("aspect_ratio"), get("duration"))
        found = self.kept.get(key)
        if found is None:
            found = packed(self.scopes[profile], payload, self.profiles[profile])
            if len(self.kept) < 4096:
                self.kept[key] = found
        return found


def packed(scope: str, payload: dict[str, Any], profile: Profile) -> int:
    """What a task's id and record carry of a validated submit body: its mode and shape, as one integer."""
    return requested(scope, payload, profile.aspect_ratio, profile.resolution, profile.duration).pack()


def requested(scope: str, payload: dict[str, Any], aspect: str, short_side: int, duration: float) -> Shape:
    """The shape a validated submit body asks for; ``aspect``, ``short_side`` and ``duration`` are the profile's."""
    if scope == "audio":
        return Shape(modes.read(payload), 0, 0, _seconds(scope, payload, duration))
    width, height = _size(payload.get("size")) or _from_ratio(payload, aspect, short_side)
    scale = min(1.0, MAX_SIDE / max(width, height))
    width, height = max(1, round(width * scale)), max(1, round(height * scale))
    return Shape(modes.read(payload), width, height, _seconds(scope, payload, duration))


def _seconds(scope: str, payload: dict[str, Any], duration: float) -> float:
    low, high = DURATIONS[scope]
    given = payload.get("duration")
    seconds = given if isinstance(given, int | float) and not isinstance(given, bool) else duration
    return min(max(float(seconds), low), high)


def _size(given: Any) -> tuple[int, int] | None:
    found = _SIZE.fullmatch(given) if isinstance(given, str) else None
    if found is None or not int(found[1]) or not int(found[2]):
        return None
    return int(found[1]), int(found[2])


def _from_ratio(payload: dict[str, Any], aspect: str, short_side: int) -> tuple[int, int]:
    given = payload.get("resolution")
    found = _RESOLUTION.fullmatch(given) if isinstance(given, str) else None
    if found is not None:
        short_side = int(found[1]) if found[1] else _K[found[2]]
    ratio = payload.get("aspect_ratio")
    a, _, b = (ratio if isinstance(ratio, str) and ":" in ratio else aspect).partition(":")
    across, down = int(a), int(b)  # the schema has checked the request's; the profile's is checked at start
    if across >= down:
        return round(short_side * across / down), short_side
    return short_side, round(short_side * down / across)
