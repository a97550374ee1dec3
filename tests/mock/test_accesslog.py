"""The access log: uvicorn's line for every request, written in batches rather than one write each."""

from __future__ import annotations

import io

from starlette.testclient import TestClient

from mockserver import Config, create_app
from mockserver.accesslog import BATCH_BYTES, AccessLog

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


def logged_app() -> tuple[TestClient, Writes]:
    app = create_app(Config(), clock=lambda: 1_756_693_797.0)
    stream = Writes()
    app.add_middleware(AccessLog, stream=stream)
    return TestClient(app), stream


def test_each_request_gets_uvicorns_line_written_by_shutdown() -> None:
    client, stream = logged_app()
    with client:
        task_id = client.post("/v2/videos/generations", json=CAT, headers=KEY).json()["task_id"]
        client.get(f"/v2/videos/generations/{task_id}?x=1", headers=KEY)
        client.get(f"/v2/videos/generations/{task_id}")
        assert stream.writes == 0  # waiting for more, or for 50 ms
    assert stream.getvalue().splitlines() == [
        'INFO:     testclient:50000 - "POST /v2/videos/generations HTTP/1.1" 200 OK',
        f'INFO:     testclient:50000 - "GET /v2/videos/generations/{task_id}?x=1 HTTP/1.1" 200 OK',
        f'INFO:     testclient:50000 - "GET /v2/videos/generations/{task_id} HTTP/1.1" 401 Unauthorized',
    ]
    assert stream.writes == 1


def test_a_full_batch_is_written_at_once_in_whole_lines_under_a_pipes_atomic_size() -> None:
    client, stream = logged_app()
    with client:
        for _ in range(200):
            client.get("/v2/videos/generations/nope", headers=KEY)
        during = stream.writes
    assert 1 <= during < 200
    lines = stream.getvalue().splitlines()
    assert len(lines) == 200 and all(line.endswith('HTTP/1.1" 404 Not Found') for line in lines)
    assert stream.largest <= BATCH_BYTES and stream.largest % (len(lines[0]) + 1) == 0
