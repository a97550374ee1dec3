"""Answer a download as a CDN does: HEAD, single byte ranges (206 / 416), ETag, Cache-Control.

Written at the ASGI level, as submits and polls are (``asgi_io.py``): a download is the one other route
a client repeats, and Starlette's request and response objects were a third of its cost.

Browsers' ``<video>`` asks for ``bytes=0-`` and then seeks with further ranges; download managers
resume with ``bytes=N-``. A Range header that does not parse, or asks for several ranges, is ignored
and the whole file sent, which RFC 9110 allows; ``If-Range`` with another validator does the same.
Positions are ASCII digits (``str.isdigit`` also takes ``²``, which ``int`` refuses), and one longer than
any file is read as past the end, never converted (Python refuses to convert over 4,300 digits).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from starlette.types import Receive, Scope, Send

_RANGE = re.compile(r"[ \t]*bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*", re.ASCII | re.IGNORECASE)
FOREVER = 31_536_000  # a year: the max-age of a link that never expires, which caches may keep as immutable
DIGITS = 18  # a position with more is past the end of any file served


def parse_range(header: str, size: int) -> tuple[int, int] | None | Literal[False]:
    """``(first, last)`` inclusive; None to ignore the header; False when no byte of it exists (416)."""
    found = _RANGE.fullmatch(header)
    if found is None or not (found[1] or found[2]):
        return None
    if not found[1]:  # the last N bytes
        count = _position(found[2])
        return (max(0, size - count), size - 1) if count > 0 and size else False
    start = _position(found[1])
    last = _position(found[2]) if found[2] else size - 1
    if found[2] and last < start:
        return None
    return (start, min(last, size - 1)) if start < size else False


def _position(digits: str) -> int:
    return int(digits) if len(digits) <= DIGITS else 10**DIGITS


def answer(
    method: str, headers: dict[bytes, bytes], body: bytes, etag: bytes, media_type: bytes, max_age: int
) -> Answer:
    """Status, headers and body for a download; ``headers`` are the request's, by lower-case name."""
    size = len(body)
    common = [(b"etag", etag), (b"accept-ranges", b"bytes"), (b"cache-control", cache_control(max_age))]
    wanted = headers.get(b"if-none-match")
    if wanted and (wanted.strip() == b"*" or etag in (tag.strip().removeprefix(b"W/") for tag in wanted.split(b","))):
        return Answer(304, common, b"")
    status, part = 200, body
    given = headers.get(b"range")
    if given and headers.get(b"if-range", etag) == etag:
        chosen = parse_range(given.decode("latin-1"), size)
        if chosen is False:
            return Answer(416, [*common, (b"content-range", b"bytes */%d" % size), (b"content-length", b"0")], b"")
        if chosen:
            first, last = chosen
            status, part = 206, body[first : last + 1]
            common.append((b"content-range", b"bytes %d-%d/%d" % (first, last, size)))
    common += [(b"content-length", b"%d" % len(part)), (b"content-type", media_type)]
    return Answer(status, common, b"" if method == "HEAD" else part)


def cache_control(max_age: int) -> bytes:
    return b"public, max-age=%d" % max_age + (b", immutable" if max_age >= FOREVER else b"")


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: list[tuple[bytes, bytes]]
    body: bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})
