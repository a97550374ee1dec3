"""The ASGI-level helpers of the two hot routes answer as Starlette's objects would."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from mockserver.http import asgi_io


def messages(*chunks: bytes, end: str = "http.request") -> Any:
    """A ``receive`` that hands out ``chunks`` as one request body, then ``end``."""
    queue = [{"type": "http.request", "body": c, "more_body": True} for c in chunks[:-1]]
    queue.append({"type": end, "body": chunks[-1], "more_body": False} if end == "http.request" else {"type": end})

    async def receive() -> dict[str, Any]:
        return queue.pop(0)

    return receive


def read(receive: Any, limit: int = 100) -> bytes | None:
    return asyncio.run(asgi_io.read_body(receive, limit))


def test_a_body_in_one_message_or_many_is_read_whole() -> None:
    assert read(messages(b'{"a": 1}')) == b'{"a": 1}'
    assert read(messages(b'{"a"', b": ", b"1}")) == b'{"a": 1}'


@pytest.mark.parametrize("chunks", [(b"x" * 101,), (b"x" * 60, b"x" * 41), (b"x" * 50, b"", b"x" * 51)])
def test_a_body_past_the_limit_is_refused_however_it_arrives(chunks: tuple[bytes, ...]) -> None:
    with pytest.raises(asgi_io.BodyTooLarge):
        read(messages(*chunks))
    assert read(messages(b"x" * 100)) == b"x" * 100


def test_a_client_gone_mid_body_reads_as_none() -> None:
    assert read(messages(b"{", b"", end="http.disconnect")) is None
    assert read(messages(b"", end="http.disconnect")) is None


def test_send_json_sends_what_starlettes_json_response_sends() -> None:
    content = {"task_id": "abc", "progress": "50%", "fail_reason": "内容违规 ✓", "data": {"outputs": ["u"]}, "n": None}

    def collect(answer: Any) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        asyncio.run(answer(send))
        return sent

    ours = collect(lambda send: asgi_io.send_json(send, content))
    theirs = collect(lambda send: JSONResponse(content)({"type": "http"}, messages(b""), send))
    assert ours[1]["body"] == theirs[1]["body"]
    assert ours[0]["status"] == theirs[0]["status"] == 200
    assert sorted(ours[0]["headers"]) == sorted(theirs[0]["headers"])


def test_repeated_headers_give_the_first_as_starlette_does() -> None:
    scope = {"headers": [(b"authorization", b"Bearer one"), (b"host", b"h"), (b"authorization", b"Bearer two")]}
    assert asgi_io.headers(scope)[b"authorization"] == b"Bearer one"
    assert asgi_io.header(scope, b"authorization") == b"Bearer one"
    assert asgi_io.header(scope, b"x-mock-scenario") is None


def test_an_endpoint_is_called_as_an_asgi_app_not_wrapped_as_a_request_handler() -> None:
    async def handler(scope: Any, receive: Any, send: Any) -> None:
        await asgi_io.send_json(send, {"scope": scope["path_params"]["scope"]})

    app = Starlette(routes=[Route("/v2/{scope}", asgi_io.endpoint(handler))])
    with TestClient(app) as client:
        assert client.get("/v2/videos").json() == {"scope": "videos"}
