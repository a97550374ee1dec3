"""The memoised link base is always Starlette's own, and the memo cannot grow without bound."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.requests import Request

from mockserver.http import link_base


def request(
    host: bytes | None, scheme: str = "http", root_path: str = "", server: Any = ("127.0.0.1", 8000)
) -> Request:
    headers = [(b"host", host)] if host is not None else []
    return Request(
        {
            "type": "http",
            "scheme": scheme,
            "server": server,
            "root_path": root_path,
            "path": "/v2/x",
            "query_string": b"a=1",
            "headers": [(b"accept", b"*/*"), *headers],
        }
    )


@pytest.mark.parametrize(
    "req",
    [
        request(b"127.0.0.1:8000"),
        request(b"mock.example:9"),
        request(b"mock.example:9", scheme="https"),
        request(b"mock.example", root_path="/api"),
        request(None),
        request(None, server=("::1", 8080)),
        request(None, server=["testserver", 80]),  # as starlette.testclient sends it
    ],
)
def test_the_same_as_starlette_twice_over(req: Request) -> None:
    expected = f"{req.base_url}_media"
    assert link_base.media_base(req.scope) == expected
    assert link_base.media_base(req.scope) == expected  # from the memo this time


def test_many_hosts_do_not_grow_the_memo_past_its_size() -> None:
    for n in range(3 * link_base._MEMO_SIZE):
        assert link_base.media_base(request(f"h{n}.example".encode()).scope) == f"http://h{n}.example/_media"
    assert len(link_base._memo) <= link_base._MEMO_SIZE
