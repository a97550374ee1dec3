"""Answer a download as a CDN does: HEAD, single byte ranges (206 / 416), ETag, Cache-Control.

Browsers' ``<video>`` asks for ``bytes=0-`` and then seeks with further ranges; download managers
resume with ``bytes=N-``. A Range header that does not parse, or asks for several ranges, is ignored
and the whole file sent, which RFC 9110 allows; ``If-Range`` with another validator does the same.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.responses import Response


def parse_range(header: str, size: int) -> tuple[int, int] | None | bool:
    """``(first, last)`` inclusive; None to ignore the header; False when no byte of it exists (416)."""
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first, dash, last = spec.strip().partition("-")
    if not dash or not (first.isdigit() or last.isdigit()) or not all(p.isdigit() for p in (first, last) if p):
        return None
    if not first:  # the last N bytes
        return (max(0, size - int(last)), size - 1) if int(last) > 0 and size else False
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if last and int(last) < start:
        return None
    return (start, end) if start < size else False


def answer(method: str, headers: Headers, body: bytes, etag: str, media_type: str, max_age: int) -> Response:
    size = len(body)
    common = {"ETag": etag, "Accept-Ranges": "bytes", "Cache-Control": f"public, max-age={max_age}"}
    if max_age >= 31_536_000:
        common["Cache-Control"] += ", immutable"
    wanted = headers.get("if-none-match")
    if wanted and (wanted.strip() == "*" or etag in (tag.strip().removeprefix("W/") for tag in wanted.split(","))):
        return Response(status_code=304, headers=common)
    status, part = 200, body
    given = headers.get("range")
    if given and headers.get("if-range", etag) == etag:
        chosen = parse_range(given, size)
        if chosen is False:
            return Response(status_code=416, headers={**common, "Content-Range": f"bytes */{size}"})
        if chosen:
            first, last = chosen
            status, part = 206, body[first : last + 1]
            common["Content-Range"] = f"bytes {first}-{last}/{size}"
    common["Content-Length"] = str(len(part))
    return Response(b"" if method == "HEAD" else part, status_code=status, headers=common, media_type=media_type)
