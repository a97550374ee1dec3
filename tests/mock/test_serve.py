"""The mock through a real uvicorn on 127.0.0.1, and the CLI's argument checks."""

from __future__ import annotations

import importlib.util
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from mockserver import contract
from mockserver.cli import main
from mockserver.http.servers import SERVERS, Options
from mockserver.testing import await_port, free_port, running_mock
from tests.helpers.fakeclock import Clock

pytestmark = [pytest.mark.slow, pytest.mark.processes]


def test_a_task_lives_its_whole_life_over_a_real_socket() -> None:
    clock = Clock()
    with running_mock(clock=clock, seed=3) as mock:
        assert mock.url.startswith("http://127.0.0.1:")
        headers = {"Authorization": f"Bearer {mock.keys[0]}"}
        with httpx.Client(base_url=mock.url, headers=headers) as http:
            submitted = http.post("/v2/audio/generations", json={"prompt": "rain", "model": "suno-v4"})
            assert submitted.status_code == 200 and submitted.headers["content-type"] == "application/json"
            task_id = submitted.json()["task_id"]
            statuses = []
            for _ in range(100):
                task = http.get(f"/v2/audio/generations/{task_id}").json()
                assert contract.is_valid("task", task), task
                statuses.append(task["status"])
                if task["status"] in contract.lifecycle()["terminal"]:
                    break
                clock.now += 5
    assert statuses[-1] in contract.lifecycle()["terminal"]
    assert "IN_PROGRESS" in statuses
    with pytest.raises(httpx.ConnectError):
        httpx.get(mock.url, timeout=1)


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--time-scale", "0"], "--time-scale: 0.0 is less than or equal to the minimum of 0"),
        (["--port", "eighty"], "invalid int value"),
        # the red team's: each started, or printed a traceback, or served on another port than it said
        (["--time-scale", "nan"], "--time-scale: nan is not a finite number"),
        (["--time-scale", "inf"], "--time-scale: inf is not a finite number"),
        (["--port", "70000"], "--port: 70000 is greater than the maximum of 65535"),
        (["--log-level", "bogus"], "--log-level: 'bogus' is not one of"),
        (["--key", ""], "--key: '' should be non-empty"),
        (["--admin-key", ""], "--admin-key: '' should be non-empty"),
        (["--admin-key", "clé"], "--admin-key: 'clé' holds a space or a character outside printable ASCII"),
        (["--workers", "0"], "--workers: 0 is less than the minimum of 1"),
        (["--store", "redis://h:99999/0"], "--store: 'redis://h:99999/0' has no valid port (1 to 65535)"),
        (["--store", "redis://h:6379/x"], "--store: 'redis://h:6379/x': the database 'x' is not a number"),
        (["--store", "redis://h:6379/0?ttl=0"], "ttl: '0' is not a whole number of seconds"),
        (["--store", "redis://h:6379/0?tll=5"], "('tll' was unexpected) (the parameters are ttl and lease"),
        (["--store", "redis://h:6379/0?lease=3601"], "lease: '3601' is not a whole number of seconds from 1 to 3600"),
        (["--store", "redis://h:6379/0?lease=²"], "lease: '²' is not a whole number of seconds from 1 to 3600"),
        (["--store", "redis:///0"], "--store: 'redis:///0' is not redis://HOST:PORT/DB"),
        # the README says the form is refused; these fell back to port 6379 and database 0
        (["--store", "redis://localhost"], "--store: 'redis://localhost' names no port"),
        (["--store", "redis://localhost:6379"], "--store: 'redis://localhost:6379' names no database"),
        (["--store", "redis://localhost:6379/"], "--store: 'redis://localhost:6379/' names no database"),
        (["--server", "hypercorn"], "--server: 'hypercorn' is not one of ['uvicorn', 'granian']"),
        (["--port", "0", "record"], "record takes options of its own: put it first (mockserver record --help)"),
        (["--store", "redis"], "--store: 'redis' is neither memory, sqlite:PATH nor redis://HOST:PORT/DB"),
        (["--header-timeout", "0"], "--header-timeout: 0.0 is less than the minimum of 0.001"),
        (["--keep-alive", "nan"], "--keep-alive: nan is not a finite number"),
        (["--callback-port", "0"], "--callback-port: 0 is less than the minimum of 1"),
        # Python's $ also matches before a final newline: these started servers no header can reach
        (["--key", "sk-a\n"], "--key: 'sk-a\\n' holds a space or a character outside printable ASCII"),
        (["--admin-key", "sk-b\n"], "--admin-key: 'sk-b\\n' holds a space"),
    ],
)
def test_cli_refuses_bad_options_naming_them(argv: list[str], said: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert said in err and "Traceback" not in err


@pytest.mark.parametrize(("store", "unshared"), [("memory", True), ("sqlite:{tmp}/tasks.db", False)])
def test_cli_says_what_the_admin_api_cannot_share_between_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: object, store: str, unshared: bool
) -> None:
    started: list[Options] = []
    monkeypatch.setenv("MOCKSERVER_ARGV", "")  # main() hands its argv to the workers there; undone after
    monkeypatch.setattr("mockserver.cli.serve", lambda server, app, options, listening: started.append(options))
    main(["--port", "0", "--workers", "2", "--admin-key", "sk-adm", "--store", store.format(tmp=tmp_path)])
    err = capsys.readouterr().err
    assert started and started[0].workers == 2
    assert "resets are that worker's" in err
    assert ("forced states" in err) is unshared
    main(["--port", "0", "--admin-key", "sk-adm"])
    assert capsys.readouterr().err == ""


def test_the_banner_names_every_key_and_the_port_it_serves_on_once_bound(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The banner came before the bind, so with port 0 it could only say that a port would be chosen."""
    said: list[tuple[int, str]] = []

    def serve(server: str, app: object, options: Options, listening: socket.socket) -> None:
        said.append((listening.getsockname()[1], capsys.readouterr().out))

    monkeypatch.setattr("mockserver.cli.serve", serve)
    main(["--key", "sk-a", "--key", "sk-b", "--port", "0"])
    [(port, banner)] = said
    assert port != 0 and banner.startswith(f"mock serving on http://127.0.0.1:{port} ")
    assert "keys: Authorization: Bearer sk-a or sk-b" in banner


def test_the_banner_says_how_to_turn_the_access_log_off_for_a_load_test(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("mockserver.cli.serve", lambda server, app, options, listening: None)
    main(["--port", "0"])
    assert "pass --no-access-log for load tests" in capsys.readouterr().out
    main(["--port", "0", "--no-access-log"])
    assert "access log" not in capsys.readouterr().out


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_prints_url_and_keys_serves_the_admin_api_and_stops_cleanly(
    tmp_path: Path, server: str, stop: signal.Signals
) -> None:
    """On ``--port 0`` the kernel picks the port and the server holds it; the server's log line names it."""
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--admin-key", "sk-adm", "--no-access-log"]
    command += ["--server", server]
    log = tmp_path / "server.log"
    with open(log, "wb") as err:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=err, text=True)
    try:
        first, second = process.stdout.readline(), process.stdout.readline()  # type: ignore[union-attr]
        url = first.split()[3]
        assert first.startswith("mock serving on http://127.0.0.1:") and "Bearer sk-mock-dev" in first
        assert f"{url}/_mock/" in second and "Bearer sk-adm" in second
        await_port(int(url.rpartition(":")[2]), process)
        health = httpx.get(f"{url}/_mock/health", headers={"Authorization": "Bearer sk-adm"})
        assert health.json()["status"] == "ok"
        process.send_signal(stop)
        assert process.wait(timeout=15) == 0
        assert "Traceback" not in log.read_text()
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/_mock/health", timeout=1)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_server_that_is_not_installed_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    found = importlib.util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec", lambda name, *rest: None if name == "granian" else found(name, *rest)
    )
    monkeypatch.setattr("mockserver.cli.serve", lambda *given: pytest.fail("started without its server"))
    with pytest.raises(SystemExit) as exit_:
        main(["--server", "granian"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err
    assert '--server: granian is not installed; pip install "unified-generations[fast]"' in err


def _started(argv: list[str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mockserver", "--no-access-log", *argv]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("server", SERVERS)
@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_port_in_use_is_said_plainly_and_exits_3_with_no_banner(server: str, workers: str) -> None:
    """The banner said "mock serving on" the port, then uvicorn failed to bind it and exited 3, undocumented."""
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        done = _started(["--port", str(port), "--server", server, "--workers", workers])
    assert done.returncode == 3, done.stderr
    assert "mock serving" not in done.stdout
    assert f"mockserver: port {port} on 127.0.0.1 is in use by another program" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_an_unreachable_redis_is_said_plainly_and_exits_3_with_no_banner(workers: str) -> None:
    """An unreachable Redis exited 2, as a mistyped option does, after the banner had said the mock serves."""
    where = f"redis://127.0.0.1:{free_port()}/0"
    done = _started(["--port", "0", "--store", where, "--workers", workers])
    assert done.returncode == 3, done.stderr
    assert "mock serving" not in done.stdout
    assert f"mockserver: --store: cannot reach Redis at {where}" in done.stderr
    assert "Traceback" not in done.stderr
