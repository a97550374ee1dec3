"""Run ``mockserver`` as a real process on a free loopback port, and always stop it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

import pytest

from mockserver.testing import await_url


@contextmanager
def mock_process(*argv: str, log: Path | None = None) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m mockserver`` with ``argv`` until the block ends; yields its URL once it answers.

    It listens on a port the kernel picks (``--port 0``), read back from its log, so no other process
    can take the port first. It runs in a session of its own, so that stopping it also stops any
    worker processes it forked. Everything it prints goes to ``log``, or to a scratch file.
    """
    with tempfile.TemporaryDirectory(prefix="mock-process-") as scratch:
        log = log or Path(scratch) / "server.log"
        command = [sys.executable, "-m", "mockserver", "--port", "0", "--log-level", "info", *argv]
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


@pytest.fixture
def spawn() -> Spawn:
    """``with spawn("--workers", "2") as (url, process):`` serves a real mock process."""
    return mock_process


@pytest.fixture(scope="module")
def spawn_once() -> Spawn:
    """``spawn`` for a server that a whole module shares."""
    return mock_process
