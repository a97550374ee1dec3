"""The benchmark measures the real thing: its store is filled as the app's submits fill one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from starlette.testclient import TestClient

from mockserver import Config, create_app
from tests.helpers.benchload import load_bench
from tests.helpers.fakeclock import Clock

pytestmark = pytest.mark.processes


def test_memory_fill_stores_what_submits_store() -> None:
    memory = load_bench("memory")
    clock = Clock(memory.START_MS / 1000)
    app = create_app(Config(), clock=clock)
    with TestClient(app) as client:
        for n in range(3):
            answer = client.post(
                "/v2/videos/generations",
                json={"prompt": "A cat", "model": "veo3"},
                headers={"Authorization": "Bearer sk-mock-dev"},
            )
            assert answer.status_code == 200, answer.text
            clock.now = (memory.START_MS + n + 1) / 1000
    owner = next(iter(app.state.service.backend.local.records())).owner
    assert list(app.state.service.backend.local.records()) == list(memory.records(3, owner=owner))


def test_wrk_output_is_read_into_figures() -> None:
    run = load_bench("run")
    out = """Running 8s test @ http://127.0.0.1:1/
  Latency Distribution
     50%  812.00us
     75%    1.20ms
     90%    2.00ms
     99%    4.51ms
  160000 requests in 8.00s, 30.00MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:  20000.50
"""
    assert run.parse_wrk(out) == run.Load(rps=20000.5, p50_ms=0.812, p99_ms=4.51, bad=8, requests=160000)


def test_cpu_time_counts_the_server_and_its_worker_processes() -> None:
    """uvicorn's workers are children of the process the bench starts; their CPU time must count."""
    run = load_bench("run")
    child = "import time; t = time.process_time(); sum(range(20_000_000)); print(time.process_time() - t, flush=True); time.sleep(60)"
    parent = f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(60)"
    process = subprocess.Popen(
        [sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        burnt = float(process.stdout.readline())  # the child has spent this much CPU and is still alive
        assert run.cpu_seconds(process.pid) >= burnt * 0.9
        assert run.cpu_seconds(process.pid) < burnt + 5
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
