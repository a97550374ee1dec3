"""Many submits, fast: plain HTTP/1.1 keep-alive on asyncio streams, from one process.

httpx spends more CPU per request than the mock does, which on a 2-core machine slows the server it
measures; this sends a fixed request and reads each answer by its Content-Length, no more.
"""

from __future__ import annotations

import asyncio
import re

import orjson

BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
_LENGTH = re.compile(rb"(?i)content-length: *(\d+)")


def submit_request(key: str = "sk-mock-dev", scope: str = "videos") -> bytes:
    body = orjson.dumps(BODY)
    return (
        f"POST /v2/{scope}/generations HTTP/1.1\r\nHost: mock\r\nAuthorization: Bearer {key}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _submit_many(url: str, count: int, connections: int) -> list[str]:
    host, _, port = url.removeprefix("http://").partition(":")
    request, left = submit_request(), iter(range(count))

    async def one_connection() -> list[str]:
        reader, writer = await asyncio.open_connection(host, int(port))
        got = []
        try:
            for _ in left:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = _LENGTH.search(head)
                if not head.startswith(b"HTTP/1.1 200") or length is None:
                    raise AssertionError(f"a submit was refused: {head!r}")
                got.append(orjson.loads(await reader.readexactly(int(length[1])))["task_id"])
        finally:
            writer.close()
        return got

    found = await asyncio.gather(*(one_connection() for _ in range(connections)))
    return [task_id for ids in found for task_id in ids]


def submit_many(url: str, count: int, connections: int = 50) -> list[str]:
    """The ids of ``count`` submits of the spec's video request, over ``connections`` connections at once."""
    return asyncio.run(_submit_many(url, count, connections))
