"""Benchmark the mock against a bare Starlette route and a raw ASGI app on the same machine, and print one table.

Usage: ``python bench/run.py [--duration SECONDS]``. Needs ``wrk`` (Debian: ``apt-get install -y wrk``).
It also appends the run, dated and with the machine it ran on, to ``bench/results.json``, from which
``python docs/gen.py`` writes the docs' figures.

The mock and two yardsticks run under each HTTP server the CLI offers (uvicorn with uvloop and httptools,
and granian), with 1 and 2 workers, and wrk drives them from this machine: a bare Starlette route
(``bare.py``), what the mock adds to a framework, and a raw ASGI app with no framework (``raw.py``), what the
server allows any Python app. Only ratios to a yardstick on the same server mean much on a shared machine,
so every throughput is also given as a fraction of each one's.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
import results
from rss import bytes_per_task as resident_bytes_per_task

from mockserver.http.servers import SERVERS
from mockserver.testing import await_port, free_port

HERE = Path(__file__).resolve().parent
KEY = "sk-mock-dev"
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}
UVICORN = ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
TARGETS = {"poll": 0.90, "submit": 0.70}  # of the bare route on the same server
DOWNLOAD_TARGET = 0.90  # a cached download, of the bare route serving the same bytes on the same server
RAW_TARGETS = {"poll": 0.70, "submit": 0.55}  # of the raw ASGI app on the same server
YARDSTICKS = ("bare", "raw")  # bench/bare.py, bench/raw.py
GRANIAN_POLLS = 42_000  # polls a second with 2 granian workers on the 2-core machine: 1.5x WireMock's 27,000
MAX_BYTES_PER_TASK = 1024
METRICS_POINTS = 5  # --metrics may cost at most this many points of the ratio to the bare route
KIT_SECONDS = 10  # one contract-kit run against the mock
RESIDENT_TASKS = 100_000  # submitted to a real server, whose VmRSS growth is weighed (rss.py)


@dataclass(frozen=True)
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    bad: int  # answers that were not 2xx, plus socket errors
    requests: int = 0
    cpu_us: float = math.nan  # the server's CPU time (all its processes) per request


@contextmanager
def serving(argv: list[str], port: int, env: dict[str, str] | None = None) -> Iterator[tuple[str, int]]:
    """Run a server process until the block ends; yield its URL and pid once it accepts connections."""
    process = subprocess.Popen(argv, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        await_port(port, process)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process and its descendants so far (Linux ``/proc``).

    wrk shares the cores with the server, so throughput depends on how the scheduler splits them;
    the server's own CPU time per request does not, and says what each request costs.
    """
    parents: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue  # the process ended meanwhile
        child = int(stat.parent.name)
        parents[child], ticks[child] = int(fields[1]), int(fields[11]) + int(fields[12])
    family, grew = {pid}, True
    while grew:
        grew = False
        for child, parent in parents.items():
            if parent in family and child not in family:
                family.add(child)
                grew = True
    return sum(ticks.get(member, 0) for member in family) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, pid: int, duration: float, connections: int, script: Path | None = None) -> Load:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-H", f"Authorization: Bearer {KEY}"]
    if script is not None:
        argv += ["-s", str(script)]
    before = cpu_seconds(pid)
    load = parse_wrk(subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout)
    used = cpu_seconds(pid) - before
    return replace(load, cpu_us=1e6 * used / load.requests) if load.requests else load


def parse_wrk(out: str) -> Load:
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)", out, re.MULTILINE))
    bad = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    bad += sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    return Load(rps, _ms(latency["50"]), _ms(latency["99"]), bad, requests)


def first_task(url: str) -> tuple[str, dict]:
    """Submit one task and read it back: the poll target, and the JSON the bare route answers."""
    headers = {"Authorization": f"Bearer {KEY}"}
    task_id = httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=headers).json()["task_id"]
    return task_id, httpx.get(f"{url}/v2/videos/generations/{task_id}", headers=headers).json()


def bare_argv(server: str, port: int, workers: int, module: str = "bare") -> list[str]:
    """A yardstick (``module``: ``bare`` or ``raw``) under ``server``, with the settings ``mockserver --server`` uses."""
    if server == "granian":
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--log-level", "warning"]
        return [*granian, "--port", str(port), "--workers", str(workers), f"{module}:app"]
    return [sys.executable, "-m", "uvicorn", f"{module}:app", "--port", str(port), "--workers", str(workers), *UVICORN]


def measure(server: str, workers: int, duration: float, connections: int, rounds: int) -> dict[str, Load]:
    """poll and submit on the mock and on the yardsticks answering the mock's own JSON, under one server.

    The mock runs three ways: quiet (``--no-access-log``), with ``--metrics``, and as the README starts it
    (its access log on, at ``info``). All are up together and take turns with the bare route, round after
    round, and each keeps its best round: load from elsewhere on a shared machine then hits them alike
    instead of whichever ran last. The cost of an option is judged by pairs instead: in each round, the
    mock with it against the quiet mock just before it, and the median of those ratios (``... paired``,
    in ``rps``). A best round of each moved by ten points between runs here; the paired median by a few.
    A second quiet mock (``twin``) is paired the same way: what two identical servers differ by is the
    noise an option's cost is read against.
    """
    ports = {name: free_port() for name in ("mock", "metrics", "logged", "twin", *YARDSTICKS)}
    base = [sys.executable, "-m", "mockserver", "--server", server, "--workers", str(workers)]
    quiet = ["--no-access-log", "--log-level", "warning"]
    argv = {
        "mock": [*base, "--port", str(ports["mock"]), *quiet],
        "metrics": [*base, "--port", str(ports["metrics"]), "--metrics", *quiet],
        "logged": [*base, "--port", str(ports["logged"])],
        "twin": [*base, "--port", str(ports["twin"]), *quiet],
    }
    with ExitStack() as stack:
        servers = []
        for name, command in argv.items():
            url, pid = stack.enter_context(serving(command, ports[name]))
            task_id, task = first_task(url)
            servers.append((name, url, pid, task_id))
        env = {"BENCH_TASK_JSON": json.dumps(task), "PYTHONPATH": str(HERE)}
        for name in YARDSTICKS:
            argv_of = bare_argv(server, ports[name], workers, name)
            url, pid = stack.enter_context(serving(argv_of, ports[name], env))
            servers.append((name, url, pid, task_id))
        found: dict[str, Load] = {}
        for path, script in (("poll", None), ("submit", HERE / "submit.lua")):
            for name, url, pid, polled in servers:
                wrk(url + path_of(path, polled), pid, 1, connections, script)  # warm up
            pairs: dict[str, list[float]] = {"metrics": [], "logged": [], "twin": []}
            for _ in range(rounds):
                this_round: dict[str, Load] = {}
                for name, url, pid, polled in servers:
                    load = this_round[name] = wrk(url + path_of(path, polled), pid, duration, connections, script)
                    best = found.get(f"{name} {path}")
                    if best is None or load.rps > best.rps:
                        found[f"{name} {path}"] = load
                for name, ratios in pairs.items():
                    ratios.append(this_round[name].rps / this_round["mock"].rps)
            for name, ratios in pairs.items():
                found[f"{name} {path} paired"] = Load(statistics.median(ratios), math.nan, math.nan, 0)
    return found


def measure_download(duration: float, connections: int, rounds: int, under: str = "uvicorn") -> dict[str, Load]:
    """Downloads of one finished 5-second 16:9 video, from the mock and from a bare route sending its bytes,
    both under the server ``under``.

    A mock of its own, at a time scale that finishes the task at once, so the poll and submit rows
    above keep measuring the task they always have.
    """
    mock_port, bare_port = free_port(), free_port()
    mock = [sys.executable, "-m", "mockserver", "--server", under, "--port", str(mock_port), "--time-scale", "1000"]
    bare = bare_argv(under, bare_port, 1)
    with serving([*mock, "--no-access-log", "--log-level", "warning"], mock_port) as (mock_url, mock_pid):
        headers = {"Authorization": f"Bearer {KEY}", "X-Mock-Scenario": "success"}
        body = {**BODY, "duration": 5, "aspect_ratio": "16:9"}
        task_id = httpx.post(f"{mock_url}/v2/videos/generations", json=body, headers=headers).json()["task_id"]
        for _ in range(200):  # veo3 at this time scale ends within 0.4 s, and its links live 170 s
            task = httpx.get(f"{mock_url}/v2/videos/generations/{task_id}", headers=headers).json()
            if task["status"] == "SUCCESS":
                break
            time.sleep(0.01)
        link = task["data"]["output"]
        video = httpx.get(link).content
        with tempfile.NamedTemporaryFile(suffix=".mp4") as file:
            file.write(video)
            file.flush()
            env = {"BENCH_MEDIA_FILE": file.name, "PYTHONPATH": str(HERE)}
            with serving(bare, bare_port, env) as (bare_url, bare_pid):
                servers = (("mock", link, mock_pid), ("bare", f"{bare_url}/media", bare_pid))
                found: dict[str, Load] = {}
                for server, url, pid in servers:
                    wrk(url, pid, 1, connections)  # warm up
                for _ in range(rounds):
                    for server, url, pid in servers:
                        load = wrk(url, pid, duration, connections)
                        if f"{server} download" not in found or load.rps > found[f"{server} download"].rps:
                            found[f"{server} download"] = load
    found["bytes"] = Load(len(video), 0, 0, 0)
    return found


def path_of(path: str, task_id: str) -> str:
    return f"/v2/videos/generations/{task_id}" if path == "poll" else "/v2/videos/generations"


def memory(count: int) -> float:
    out = subprocess.run(
        [sys.executable, str(HERE / "memory.py"), str(count)], check=False, capture_output=True, text=True
    )
    return float(out.stdout) if out.returncode == 0 else float("nan")


def kit_seconds() -> float | None:
    """Wall time of one contract-kit run against the mock, or None while the kit has no mock mode."""
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pyargs", "contract_tests"]
    with tempfile.TemporaryDirectory() as empty:
        helped = subprocess.run([*command, "--help"], check=False, cwd=empty, capture_output=True, text=True)
        if "--contract-mock" not in helped.stdout:
            return None
        started = time.monotonic()
        subprocess.run([*command, "--contract-mock"], cwd=empty, capture_output=True, check=False)
        return time.monotonic() - started


def table(
    loads: dict[tuple[str, int], dict[str, Load]],
    downloads: dict[str, dict[str, Load]],
    per_task: dict[int, float],
    resident: float,
    kit: float | None,
) -> str:
    rows = [
        (
            "| row | req/s | p50 ms | p99 ms | non-2xx | CPU µs/req | req/s vs raw | req/s vs bare |"
            " bare's CPU/req vs this | target |"
        ),
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for (server, workers), found in loads.items():
        for path in ("poll", "submit"):
            bare, mock, metered, logged = (found[f"{name} {path}"] for name in ("bare", "mock", "metrics", "logged"))
            raw = found[f"raw {path}"]
            ratio, with_metrics = mock.rps / bare.rps, metered.rps / bare.rps
            verdict = "met" if ratio >= TARGETS[path] else "MISSED"
            to_raw = mock.rps / raw.rps
            verdict += f"; ≥{RAW_TARGETS[path]:.0%} of raw {'met' if to_raw >= RAW_TARGETS[path] else 'MISSED'}"
            if (server, workers, path) == ("granian", 2, "poll"):
                verdict += f"; ≥{GRANIAN_POLLS:,} req/s {'met' if mock.rps >= GRANIAN_POLLS else 'MISSED'}"
            points = 100 * ratio * (1 - found[f"metrics {path} paired"].rps)  # the option's cost, in the ratio's points
            cost = "met" if points <= METRICS_POINTS else "MISSED"
            noise = 100 * ratio * (1 - found[f"twin {path} paired"].rps)  # two identical mocks, paired alike
            metered_tail = (
                f"{with_metrics:.0%} | {bare.cpu_us / metered.cpu_us:.0%} |"
                f" {points:+.1f} points off metrics-off (paired); ≤{METRICS_POINTS} {cost};"
                f" two identical mocks: {noise:+.1f}"
            )
            logged_tail = (
                f"{logged.rps / bare.rps:.0%} | {bare.cpu_us / logged.cpu_us:.0%} |"
                f" {100 * ratio * (1 - found[f'logged {path} paired'].rps):+.1f} points off --no-access-log"
            )
            for name, load, tail in (
                (
                    f"mock {path}",
                    mock,
                    f"{ratio:.0%} | {bare.cpu_us / mock.cpu_us:.0%} | ≥{TARGETS[path]:.0%} {verdict}",
                ),
                (f"mock {path} --metrics", metered, metered_tail),
                (f"mock {path} with its access log (the default)", logged, logged_tail),
                (f"bare {path}", bare, "100% | 100% | "),
                (f"raw {path}", raw, f"{raw.rps / bare.rps:.0%} | {bare.cpu_us / raw.cpu_us:.0%} | "),
            ):
                rows.append(
                    f"| {name}, {server}, {workers} worker{'s' if workers > 1 else ''} | {load.rps:,.0f} |"
                    f" {load.p50_ms:.2f} | {load.p99_ms:.2f} | {load.bad} | {load.cpu_us:.0f} |"
                    f" {load.rps / raw.rps:.0%} | {tail} |"
                )
    for server, found in downloads.items():
        bare, mock, size = found["bare download"], found["mock download"], int(found["bytes"].rps)
        ratio = mock.rps / bare.rps
        verdict = f"≥{DOWNLOAD_TARGET:.0%} {'met' if ratio >= DOWNLOAD_TARGET else 'MISSED'}"
        for name, load, tail in (
            ("mock download", mock, f"{ratio:.0%} | {bare.cpu_us / mock.cpu_us:.0%} | {verdict}"),
            ("bare download", bare, "100% | 100% | "),
        ):
            rows.append(
                f"| {name} of a 5 s 16:9 video ({size:,} B), {server}, 1 worker | {load.rps:,.0f} | {load.p50_ms:.2f} |"
                f" {load.p99_ms:.2f} | {load.bad} | {load.cpu_us:.0f} | | {tail} |"
            )
    for count, size in per_task.items():
        verdict = "met" if size <= MAX_BYTES_PER_TASK else "MISSED"
        rows.append(f"| memory per task at {count:,} tasks | {size:,.0f} B | | | | | | | | ≤1 KiB {verdict} |")
    verdict = "met" if resident <= MAX_BYTES_PER_TASK else "MISSED"
    rows.append(
        f"| resident memory per task, server process, {RESIDENT_TASKS:,} tasks | {resident:,.0f} B | | | | | | | |"
        f" ≤1 KiB {verdict} |"
    )
    kit_cell = "n/a (kit not installed)" if kit is None else f"{kit:.1f} s"
    rows.append(f"| one kit run against the mock | {kit_cell} | | | | | | | | ≤{KIT_SECONDS} s |")
    return "\n".join(rows)


def _whole(value: float) -> int | None:
    """A figure for the results file; a measurement that failed (nan) is written as missing."""
    return round(value) if math.isfinite(value) else None


def figures(
    loads: dict[tuple[str, int], dict[str, Load]],
    downloads: dict[str, dict[str, Load]],
    per_task: dict[int, float],
    resident: float,
    kit: float | None,
    calling: dict[int, dict[str, Load]],
) -> dict[str, object]:
    """The run in ``bench/results.json``'s shape: ratios to the bare route (and ``..._raw``, to the raw app), and an
    option's cost in points."""
    servers: dict[str, dict[str, float]] = {}
    for (server, workers), found in loads.items():
        row = servers[f"{server}-{workers}"] = {}
        for path in ("poll", "submit"):
            ratio = found[f"mock {path}"].rps / found[f"bare {path}"].rps
            row[path] = round(ratio, 3)
            row[f"{path}_raw"] = round(found[f"mock {path}"].rps / found[f"raw {path}"].rps, 3)
            row[f"{path}_metrics_points"] = round(100 * ratio * (1 - found[f"metrics {path} paired"].rps), 1)
            row[f"{path}_twin_points"] = round(100 * ratio * (1 - found[f"twin {path} paired"].rps), 1)
            row[f"{path}_log_points"] = round(100 * ratio * (1 - found[f"logged {path} paired"].rps), 1)
        row["poll_rps"] = round(found["mock poll"].rps)
    for workers, found in calling.items():
        ratio = found["mock"].rps / found["bare"].rps
        for name, load in found.items():
            if name.startswith("callbacks"):
                rate = name.split()[1]  # "callbacks 20"
                servers[f"uvicorn-{workers}"][f"poll_callbacks_{rate}_points"] = round(
                    100 * (ratio - load.rps / found["bare"].rps), 1
                )
    return {
        **results.stamp(),
        "command": " ".join(["python bench/run.py", *sys.argv[1:]]),
        "source": "bench/run.py",
        "servers": servers,
        "downloads": {
            server: round(found["mock download"].rps / found["bare download"].rps, 3)
            for server, found in downloads.items()
        },
        "memory_bytes_per_task": _whole(per_task.get(100_000, math.nan)),
        "resident_bytes_per_task": _whole(resident),
        "kit_seconds": None if kit is None else round(kit, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=5, help="seconds of load per round (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="turns each server takes; its best counts (default 2)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--tasks", type=int, nargs="*", default=[100_000, 1_000_000], help="store sizes to weigh")
    parser.add_argument("--results", type=Path, default=results.PATH, help="the run is appended here")
    parser.add_argument("--only", choices=["download"], help="measure only this, print its ratio, write nothing")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("bench: wrk is missing; on Debian or Ubuntu: apt-get install -y wrk")
    if importlib.util.find_spec("granian") is None:
        sys.exit('bench: granian is missing; pip install -e ".[fast]"')
    if args.only == "download":
        for server in SERVERS:
            found = measure_download(args.duration, args.connections, args.rounds, server)
            mock, bare = found["mock download"], found["bare download"]
            print(f"{server} downloads/s: mock {mock.rps:,.0f}, bare route {bare.rps:,.0f}: {mock.rps / bare.rps:.0%}")
        return
    loads = {
        (server, workers): measure(server, workers, args.duration, args.connections, args.rounds)
        for server in SERVERS
        for workers in (1, 2)
    }
    downloads = {server: measure_download(args.duration, args.connections, args.rounds, server) for server in SERVERS}
    per_task = {count: memory(count) for count in args.tasks}
    import callbackload  # it builds on this module's helpers

    rates = callbackload.RATES
    calling = {w: callbackload.measure(w, args.duration, args.connections, args.rounds, rates) for w in (1, 2)}
    resident, kit = resident_bytes_per_task(RESIDENT_TASKS), kit_seconds()
    print(table(loads, downloads, per_task, resident, kit))
    print("\n".join(callbackload.rows(calling)))
    results.append_run(figures(loads, downloads, per_task, resident, kit, calling), args.results)
    print(f"appended to {args.results}; python docs/gen.py puts it in the docs")


if __name__ == "__main__":
    main()
