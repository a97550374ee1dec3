"""Real ``mockserver`` processes (the mock standing in for a gateway, the recorder in front) on free loopback ports."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mockserver.testing import await_url

KEY = "sk-mock-dev"
HEADERS = {"Authorization": f"Bearer {KEY}"}


def command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "mockserver", *argv]


@contextmanager
def serving(*argv: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``python -m mockserver ARGV --port 0`` until the block ends (stopped with SIGTERM, as Ctrl-C would).

    The kernel picks the port and the server holds it from the start; its log (a file, so that nothing
    blocks on a full pipe) says which.
    """
    with tempfile.TemporaryDirectory() as logs:
        log = Path(logs) / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(
                command(*argv, "--port", "0", "--log-level", "info"),
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            yield await_url(log, process), process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Stop the process (and its session) with ``sig``, waiting for it; SIGKILL if it will not go."""
    if process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def recording(upstream: str, out: Path, *extra: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    with serving("record", "--upstream", upstream, "--out", str(out), *extra) as running:
        yield running
