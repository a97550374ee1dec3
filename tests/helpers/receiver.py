"""A real callback receiver on 127.0.0.1: a thread serving HTTP, recording each POST, answering as told."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    path: str

    @property
    def task(self) -> dict[str, Any]:
        return json.loads(self.body)


class Receiver:
    """``answers`` are the statuses of the first POSTs (then 200); ``redirect`` answers 302 to that URL;
    ``before_answer`` runs on each POST once it is recorded, before the answer goes out; with ``hold``, no
    POST is answered until ``release()``, as a receiver that hangs."""

    def __init__(
        self,
        answers: list[int] | None = None,
        port: int = 0,
        redirect: str | None = None,
        before_answer: Callable[[], None] | None = None,
        hold: bool = False,
    ) -> None:
        self.received: list[Received] = []
        self.answered = 0  # answers sent in full
        self.answers = deque(answers or [])
        self._changed = threading.Condition()
        self._released = threading.Event()
        if not hold:
            self._released.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._changed:
                    receiver.received.append(Received(dict(self.headers.items()), body, self.path))
                    status = receiver.answers.popleft() if receiver.answers else 200
                    receiver._changed.notify_all()
                if before_answer is not None:
                    before_answer()
                receiver._released.wait()
                self.send_response(302 if redirect else status)
                if redirect:
                    self.send_header("Location", redirect)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
                with receiver._changed:
                    receiver.answered += 1
                    receiver._changed.notify_all()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.request_queue_size = 256  # the sender opens up to 16 connections at once
        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def wait_answered(self, count: int, limit: float = 30.0) -> bool:
        """Block until ``count`` answers have gone out in full: what the sender has read, not just sent."""
        with self._changed:
            return self._changed.wait_for(lambda: self.answered >= count, timeout=limit)

    def wait_for(self, done: Any, limit: float = 30.0) -> bool:
        """Block until ``done(received)`` holds or ``limit`` seconds pass; for servers in other processes."""
        with self._changed:
            return self._changed.wait_for(lambda: done(self.received), timeout=limit)

    def release(self) -> None:
        """Answer the POSTs held, and every later one at once."""
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
