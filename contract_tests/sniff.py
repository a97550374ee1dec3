"""Recognise a file by its first bytes: media by magic number, and the text a server sends in its place."""

from __future__ import annotations

# (offset, magic, media type): each file format the kit knows, by the bytes it starts with.
_MAGIC: list[tuple[int, bytes, str]] = [
    (0, b"\x89PNG\r\n\x1a\n", "image/png"),
    (0, b"\xff\xd8\xff", "image/jpeg"),
    (0, b"GIF8", "image/gif"),
    (8, b"WEBP", "image/webp"),
    (4, b"ftyp", "video/mp4"),
    (4, b"moov", "video/mp4"),  # QuickTime's older files start with an atom other than ftyp
    (4, b"mdat", "video/mp4"),
    (4, b"wide", "video/mp4"),
    (4, b"free", "video/mp4"),
    (0, b"\x1aE\xdf\xa3", "video/webm"),
    (8, b"WAVE", "audio/wav"),
    (0, b"ID3", "audio/mpeg"),
    (0, b"OggS", "audio/ogg"),
    (0, b"fLaC", "audio/flac"),
]
# Other names the same formats go by: a label of any of these is matched against the format's magic.
ALIASES = {
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "video/quicktime": "video/mp4",
    "video/x-m4v": "video/mp4",
    "audio/mp4": "video/mp4",
    "audio/x-m4a": "video/mp4",
    "audio/x-wav": "audio/wav",
    "audio/wave": "audio/wav",
    "audio/vnd.wave": "audio/wav",
    "audio/mp3": "audio/mpeg",
    "audio/webm": "video/webm",
    "audio/x-flac": "audio/flac",
}


def media_format(head: bytes) -> str | None:
    """The media type whose magic number ``head`` starts with, else None."""
    for offset, magic, kind in _MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return kind
    if head[:2] in (b"\xff\xfb", b"\xff\xfa", b"\xff\xf3", b"\xff\xf2", b"\xff\xe3", b"\xff\xe2"):
        return "audio/mpeg"  # an MPEG audio frame's sync bits, without an ID3 tag before it
    return None


def media_kind(head: bytes) -> str | None:
    """``image``, ``video`` or ``audio`` when the bytes start like such a file, else None."""
    found = media_format(head)
    if found is None:
        return None
    return "audio" if found == "video/mp4" and head[8:12] in (b"M4A ", b"M4B ") else found.partition("/")[0]


def known(content_type: str) -> str | None:
    """The format a label names, when the kit knows its magic number."""
    name = ALIASES.get(content_type, content_type)
    return name if any(kind == name for _, _, kind in _MAGIC) else None


def text_kind(body: bytes) -> str | None:
    """``JSON`` or ``HTML`` when the body is plainly such text (what an error page sends instead of a file)."""
    start = body.lstrip()[:15].lower()
    if start.startswith((b"{", b"[")):
        return "JSON"
    if start.startswith((b"<!doctype", b"<html", b"<?xml", b"<head", b"<body")):
        return "HTML"
    return None
