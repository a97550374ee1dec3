"""Small, valid media files for each scope, made in code so the package ships no binaries."""

from __future__ import annotations

import io
import struct
import time
import wave
import zlib
from functools import cache

from starlette.responses import Response

from contract_tests import contract

SUBTYPES = {"images": "png", "videos": "mp4", "audio": "wav"}


def filename(scope: str, index: int) -> str:
    return f"{index}.{SUBTYPES[scope]}"


def content_type(scope: str) -> str:
    return f"{contract.media_type(scope)}/{SUBTYPES[scope]}"


@cache
def body(scope: str) -> bytes:
    return {"images": _png, "videos": _mp4, "audio": _wav}[scope]()


def _png(side: int = 64) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    row = b"\x00" + bytes((255, 140, 0)) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(row * side)) + chunk(b"IEND", b"")


def _wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as sound:
        sound.setnchannels(1)
        sound.setsampwidth(2)
        sound.setframerate(rate)
        sound.writeframes(b"\x00\x00" * int(seconds * rate))
    return out.getvalue()


def _mp4() -> bytes:
    """An ISO BMFF file with ftyp and a movie header: a container players and sniffers accept."""

    def box(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", 8 + len(payload)) + kind + payload

    ftyp = box(b"ftyp", b"isom" + struct.pack(">I", 512) + b"isomiso2mp41")
    matrix = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
    mvhd = box(
        b"mvhd",
        struct.pack(">B3xIIII", 0, 0, 0, 1000, 1000)
        + struct.pack(">IH10x", 0x10000, 0x100)
        + matrix
        + bytes(24)
        + struct.pack(">I", 2),
    )
    return ftyp + box(b"moov", mvhd)


def filenames(scope: str, count: int) -> tuple[str, ...]:
    """The names a task's outputs are served under: one for a single ``output``, else ``count``."""
    return tuple(filename(scope, i) for i in range(max(count, 1)))


def expired(expires: float, now: float) -> Response:
    """What an expired signed link answers on S3 (and CDNs in front of it): 403 with an XML error."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message>'
        f"<Expires>{time.strftime(stamp, time.gmtime(expires))}</Expires>"
        f"<ServerTime>{time.strftime(stamp, time.gmtime(now))}</ServerTime></Error>"
    )
    return Response(body, status_code=403, media_type="application/xml")
