"""Recognise a media file by its first bytes, for outputs a CDN labels only ``application/octet-stream``."""

from __future__ import annotations

_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image"),
    (0, b"\xff\xd8\xff", "image"),
    (0, b"GIF8", "image"),
    (8, b"WEBP", "image"),
    (4, b"ftyp", "video"),
    (0, b"\x1aE\xdf\xa3", "video"),
    (8, b"WAVE", "audio"),
    (0, b"ID3", "audio"),
    (0, b"\xff\xfb", "audio"),
    (0, b"\xff\xf3", "audio"),
    (0, b"OggS", "audio"),
    (0, b"fLaC", "audio"),
]


def media_kind(head: bytes) -> str | None:
    """``image``, ``video`` or ``audio`` when the bytes start like such a file, else None."""
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    return None
