"""Run ``mockserver`` as a real process on a free loopback port, and always stop it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

import pytest
import redis

from mockserver.http.servers import SERVERS
from mockserver.testing import await_port, await_url, free_port


@contextmanager
def mock_process(
    *argv: str, log: Path | None = None, server: str = "uvicorn"
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m mockserver`` with ``argv`` under ``server`` until the block ends; yields its URL once it answers.

    It listens on a port the kernel picks (``--port 0``), read back from its log, so no other process
    can take the port first. It runs in a session of its own, so that stopping it also stops any
    worker processes it forked. Everything it prints goes to ``log``, or to a scratch file.
    """
    with tempfile.TemporaryDirectory(prefix="mock-process-") as scratch:
        log = log or Path(scratch) / "server.log"
        command = [sys.executable, "-m", "mockserver", "--port", "0", "--log-level", "info", "--server", server]
        command += argv
        with open(log, "wb") as out:
            process = subprocess.Popen(command, stdout=out, stderr=out, start_new_session=True)
        try:
            yield await_url(log, process), process
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    try:  # workers left behind by a parent that was killed outright
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


Spawn = Callable[..., AbstractContextManager[tuple[str, subprocess.Popen[bytes]]]]


@pytest.fixture(params=SERVERS)
def spawn(request: pytest.FixtureRequest) -> Spawn:
    """``with spawn("--workers", "2") as (url, process):`` serves a real mock process, under each server."""
    return partial(mock_process, server=request.param)


@pytest.fixture(scope="module", params=SERVERS)
def spawn_once(request: pytest.FixtureRequest) -> Spawn:
    """``spawn`` for a server that a whole module shares."""
    return partial(mock_process, server=request.param)


@pytest.fixture
def spawn_under() -> Spawn:
    """``mock_process`` for a test that picks each process's server itself (``server="granian"``)."""
    return mock_process


class RedisServer:
    """Debian's ``redis-server`` on a free loopback port, appending every write to a file in ``where``,
    so that a restart on the same port finds what was written before (``stop`` and ``start``).

    The port is picked, then bound by redis-server: another worker's process may take it in between. So a
    server counts as up only once the one answering there says it has our pid; at its first start it tries
    another port then, and a restart, which must keep its port, fails saying so."""

    def __init__(self, where: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is missing: these tests need it (Debian: apt-get install -y redis-server)")
        self.binary, self.where = binary, where
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.started = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def argv(self) -> list[str]:
        argv = [self.binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.where), "--save", ""]
        # SIGTERM flushes the file, so a restart finds every write; fsync on each one, or a rewrite of the
        # file, could stall a command past the mock's timeout on a busy disk and fail a test for no fault.
        return argv + ["--appendonly", "yes", "--appendfsync", "everysec", "--auto-aof-rewrite-percentage", "0"]

    def start(self) -> None:
        for _ in range(3):
            self.process = subprocess.Popen(self.argv(), stdout=subprocess.DEVNULL, start_new_session=True)
            if self._answering():
                self.started = True
                return
            self.stop()
            if self.started:
                break
            self.port = free_port()
        pytest.fail(f"redis-server did not come up as ours on port {self.port}")

    def _answering(self) -> bool:
        assert self.process is not None
        try:
            await_port(self.port, self.process)
            with redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=10) as client:
                return client.info("server")["process_id"] == self.process.pid
        except (RuntimeError, redis.RedisError):
            return False

    def stop(self) -> None:
        if self.process is not None:
            _stop(self.process)
            self.process = None


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, stopped afterwards."""
    server = RedisServer(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop()
