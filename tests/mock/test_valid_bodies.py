"""A submit body already found valid is not parsed and judged again, yet each caller gets a body of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from mockserver.engine.refusals import Refused
from mockserver.http import api

JSON = {b"content-type": b"application/json"}


def read(body: bytes) -> dict[str, Any] | None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    return asyncio.run(api.submit_body(JSON, receive, 1 << 20))


def test_a_body_sent_again_is_the_same_body_but_not_the_same_object() -> None:
    body = b'{"prompt": "a kept cat", "model": "veo3", "duration": "10"}'
    expected = {"prompt": "a kept cat", "model": "veo3", "duration": 10}  # the string read as a number
    for _ in range(3):  # the first read, then the kept body, twice
        got = read(body)
        assert got == expected
        assert got is not None
        got["model"] = "changed by a caller"
        got["extra"] = 1


def test_a_refused_body_is_refused_every_time() -> None:
    body = b'{"prompt": "a refused cat", "model": "veo3", "duration": -1}'
    for _ in range(2):
        with pytest.raises(Refused) as refused:
            read(body)
        assert (refused.value.status, refused.value.param) == (400, "duration")


def test_a_body_with_lists_is_read_afresh_each_time() -> None:
    body = b'{"prompt": "a listed cat", "model": "veo3", "images": ["https://example.com/cat.png"]}'
    first = read(body)
    assert first is not None
    first["images"].append("changed by the first caller")
    assert read(body) == {"prompt": "a listed cat", "model": "veo3", "images": ["https://example.com/cat.png"]}
