"""The access log: uvicorn's line for every request, written in batches rather than one write each."""

from __future__ import annotations

import asyncio
import io

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.http import access_log as accesslog
from mockserver.http.access_log import BATCH_BYTES, BATCH_LINES, AccessLog, line

KEY = {"Authorization": "Bearer sk-mock-dev"}
CAT = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


class Writes(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = self.largest = 0

    def write(self, text: str) -> int:
        self.writes += 1
        self.largest = max(self.largest, len(text))
        return super().write(text)


@pytest.fixture
def no_timer(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines wait an hour rather than 50 ms, so a slow machine cannot write a batch early."""
    monkeypatch.setattr(accesslog, "FLUSH_AFTER", 3600.0)


def logged_app() -> tuple[TestClient, Writes]:
    app = create_app(Config(), clock=lambda: 1_756_693_797.0)
    stream = Writes()
    app.add_middleware(AccessLog, stream=stream)
    return TestClient(app), stream


def test_each_request_gets_uvicorns_line_written_by_shutdown(no_timer: None) -> None:
    client, stream = logged_app()
    with client:
        task_id = client.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        client.get(f"/v2/videos/generations/{task_id}?x=1", headers=KEY)
        client.get(f"/v2/videos/generations/{task_id}")
        assert stream.writes == 0  # waiting for more, or for the timer
    assert stream.getvalue().splitlines() == [
        'INFO:     testclient:50000 - "POST /v2/videos/generations HTTP/1.1" 200 OK',
        f'INFO:     testclient:50000 - "GET /v2/videos/generations/{task_id}?x=1 HTTP/1.1" 200 OK',
        f'INFO:     testclient:50000 - "GET /v2/videos/generations/{task_id} HTTP/1.1" 401 Unauthorized',
    ]
    assert stream.writes == 1


def test_a_full_batch_is_written_at_once_in_whole_lines_under_a_pipes_atomic_size(no_timer: None) -> None:
    client, stream = logged_app()
    with client:
        for _ in range(200):
            client.get("/v2/videos/generations/nope", headers=KEY)
        during = len(stream.getvalue().splitlines())
    assert during == 200 // BATCH_LINES * BATCH_LINES  # every full batch, and nothing of the last
    lines = stream.getvalue().splitlines()
    assert len(lines) == 200 and all(line.endswith('HTTP/1.1" 404 Not Found') for line in lines)
    assert stream.largest <= BATCH_BYTES and stream.largest % (len(lines[0]) + 1) == 0


def test_a_lone_line_is_written_when_its_timer_fires(monkeypatch: pytest.MonkeyPatch) -> None:
    """No shutdown and no full batch: the timer alone writes it (at once here, so nothing waits on the clock)."""
    monkeypatch.setattr(accesslog, "FLUSH_AFTER", 0.0)
    client, stream = logged_app()
    with client:
        client.get("/v2/videos/generations/nope", headers=KEY)
        client.portal.call(asyncio.sleep, 0)  # the loop turns once: a timer due now runs
        assert stream.getvalue().endswith('HTTP/1.1" 404 Not Found\n')


def test_an_encoded_newline_or_escape_in_the_path_cannot_forge_a_line_or_reach_the_terminal() -> None:
    """The decoded path was logged: ``%0a`` began a forged line and ``%1b`` a terminal escape."""
    client, stream = logged_app()
    forged = "/x%0aINFO:%20%20%20%20%201.2.3.4:1%20-%20%22GET%20/admin%22%20200%20OK%1b[2J"
    with client:
        client.get(forged, headers=KEY)
        client.get("/v2/videos/generations/a%22b?q=%0a%1b", headers=KEY)
    lines = stream.getvalue().splitlines()
    assert lines == [
        f'INFO:     testclient:50000 - "GET {forged} HTTP/1.1" 404 Not Found',
        'INFO:     testclient:50000 - "GET /v2/videos/generations/a%22b?q=%0a%1b HTTP/1.1" 404 Not Found',
    ]
    assert "\x1b" not in stream.getvalue()


def test_any_byte_a_server_lets_through_is_percent_encoded() -> None:
    scope = {
        "method": "GET",
        "path": "/\n\x1b",
        "raw_path": b'/a b"c\n\x1b\x9b\xff',
        "query_string": b"q=\r",
        "http_version": "1.1",
        "client": ("127.0.0.1", 5),
    }
    shown = line(scope, 200)
    assert shown == 'INFO:     127.0.0.1:5 - "GET /a%20b%22c%0A%1B%9B%FF?q=%0D HTTP/1.1" 200 OK\n'
    del scope["raw_path"]  # a server that gives no raw path: the decoded one, encoded again
    assert line(scope, 200) == 'INFO:     127.0.0.1:5 - "GET /%0A%1B?q=%0D HTTP/1.1" 200 OK\n'
