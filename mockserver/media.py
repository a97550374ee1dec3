"""Small, valid media files for each scope, made in code so the package ships no binaries."""

from __future__ import annotations

import io
import struct
import wave
import zlib
from functools import cache

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
