"""The docs: generated pages are current, and every code block that can run does, as pasted.

Shell blocks run in bash against a real ``mockserver --time-scale 60`` on a free loopback port, with the
docs' ``127.0.0.1:8000`` pointed at it; Python blocks are executed the same way; TOML blocks are loaded as
configs. A block that cannot run here (it needs a real gateway, Redis on several hosts, or minutes) says
so with ``<!-- test: skip REASON -->`` on the line before it; the receiver example is started and called
back (``<!-- test: receiver -->`` and ``<!-- test: calls-receiver -->``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from mockserver.engine.config import config_from
from mockserver.testing import await_url

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
ADMIN_KEY = "adm-secret"  # what the admin examples start the mock with
MOST_SKIPPED = 11  # blocks that cannot run stay few (3 of them need podman, compose or a cluster)
RUNS = {"sh", "bash", "python", "toml"}
_FENCE = re.compile(r"^( *)```(\w*)[^\n]*\n(.*?)^\1```\s*$", re.MULTILINE | re.DOTALL)
_GENERATED = ("snippets", "reference")  # docs/gen.py writes these directories' pages
_MARK = re.compile(r"<!-- test: ([\w-]+)(?: (.*?))? -->\s*$")


def _gen():  # docs/gen.py is a script beside the pages, not a package
    spec = importlib.util.spec_from_file_location("docs_gen", DOCS / "gen.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class Block:
    where: str  # page:line
    lang: str
    code: str
    mark: str  # "" for none, else skip, receiver or calls-receiver
    reason: str


def blocks() -> list[Block]:
    """Every fenced block of the README and the hand-written pages (generated ones hold no code to run)."""
    pages = [
        ROOT / "README.md",
        *sorted(p for p in DOCS.rglob("*.md") if p.parent.name not in _GENERATED),
    ]
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for match in _FENCE.finditer(text):
            before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
            mark = _MARK.search(before)
            line = text.count("\n", 0, match.start()) + 1
            found.append(
                Block(
                    f"{page.relative_to(ROOT)}:{line}",
                    match[2],
                    textwrap.dedent(match[3]),
                    mark[1] if mark else "",
                    (mark[2] or "") if mark else "",
                )
            )
    return found


def _runnable(lang: str, *marks: str) -> list[Block]:
    return [b for b in blocks() if b.lang == lang and b.mark in marks]


def _ids(found: list[Block]) -> list[str]:
    return [b.where for b in found]


def test_generated_pages_are_current() -> None:
    stale = _gen().stale()
    assert not stale, f"stale generated docs: {stale}; refresh them with: python docs/gen.py"


def test_bench_run_renders_in_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What ``bench/run.py`` appends is what the docs read: a run in its shape becomes the table's last column."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import results
    import run

    load = run.Load(rps=1000.0, p50_ms=1.0, p99_ms=2.0, bad=0, requests=100, cpu_us=50.0)
    paired = run.Load(0.97, float("nan"), float("nan"), 0)
    found = {
        f"{name} {path}": load
        for name in ("mock", "bare", "raw", "metrics", "logged", "twin")
        for path in ("poll", "submit")
    }
    found |= {f"{name} {path} paired": paired for name in ("metrics", "logged", "twin") for path in ("poll", "submit")}
    calling = {1: {"mock": load, "bare": load, "callbacks 20": run.Load(940.0, 1.0, 1.0, 0)}}
    path = tmp_path / "results.json"
    data = json.loads((ROOT / "bench" / "results.json").read_text())
    data["runs"] = data["runs"][:2]  # the first two runs, of 2026-12-03: the one before is their second
    path.write_text(json.dumps(data))
    downloads = {"uvicorn": {"mock download": load, "bare download": run.Load(1250.0, 1.0, 2.0, 0), "bytes": load}}
    results.append_run(run.figures({("uvicorn", 1): found}, downloads, {100_000: 512.0}, 600.0, 7.0, calling), path)
    gen = _gen()
    monkeypatch.setattr(gen, "_runs", lambda: json.loads(path.read_text()))
    page = gen.bench_snippet()
    assert "| poll | 97% · 100% (1,000/s) |" in page
    assert "| poll, callbacks 20/s, points | 2.6 better · 6.0 |" in page
    assert f"| poll, ratio to the raw ASGI app | — · 100% | {run.RAW_TARGETS['poll']:.0%} |" in page
    assert "| memory per task at 100,000 tasks (tracemalloc) | 512 B |" in page
    assert (
        f"| download of a 5 s 16:9 video, ratio to the bare route | 80% (uvicorn) | {run.DOWNLOAD_TARGET:.0%} |" in page
    )
    logged = gen.access_log_snippet()  # the run before measured no access log
    assert "| | uvicorn, 1 worker |" in logged and "| poll | — · 3.0 |" in logged and "| submit | — · 3.0 |" in logged


def test_instruction_counts_render_in_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench/instructions.py`` replaces its counts, dated; an option's row is read against the mock without it."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import results

    path = tmp_path / "results.json"
    path.write_text((ROOT / "bench" / "results.json").read_text())
    counts = {"bare poll": 100_000, "mock poll": 120_000, "mock poll, --metrics": 126_000}
    results.update("instructions", {"cases": counts}, "bench/instructions.py", path)
    gen = _gen()
    monkeypatch.setattr(gen, "_runs", lambda: json.loads(path.read_text()))
    page = gen.instructions_snippet()
    assert "| mock poll, --metrics | 126,000 | +6,000 (+5.0%) |" in page
    assert results.stamp()["date"] in page and "| mock submit |" not in page


def test_thread_counts_keep_their_own_date(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``bench/threads.py`` dates its own section: the instruction counts beside it keep the date they were taken."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import results

    path = tmp_path / "results.json"
    data = json.loads((ROOT / "bench" / "results.json").read_text())
    data["instructions"]["date"] = counted = "2026-01-02"  # counted on another day than the threads
    path.write_text(json.dumps(data))
    results.update("threads", {"counts": {"the Python thread": [150_000, 155_000]}}, "bench/threads.py", path)
    gen = _gen()
    monkeypatch.setattr(gen, "_runs", lambda: json.loads(path.read_text()))
    page = gen.instructions_snippet()
    assert f"`bench/instructions.py`, {counted} (" in page
    assert f"`bench/threads.py`, {results.stamp()['date']} (" in page
    assert "| the Python thread | 150,000 | 155,000 | +5,000 (+3.3%) |" in page


def test_targets_are_read_from_the_bench_scripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The table's targets are the constants the bench judges by: callbacks' own, not metrics' copied over."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import callbackload
    import run

    monkeypatch.setattr(callbackload, "POINTS", 7)
    monkeypatch.setattr(run, "GRANIAN_POLLS", 43_210)
    page = _gen().bench_snippet()
    assert re.search(r"^\| poll, callbacks 20/s, points \|.* \| 7 points \|$", page, re.MULTILINE), page
    assert re.search(r"^\| poll, `--metrics`, points \|.* \| 5 points \|$", page, re.MULTILINE), page
    assert "43,210/s on granian × 2" in page


def test_measured_figures_render_dated_in_the_docs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A script's section replaces its figures, dated, with its machine and command; history rows keep their dates."""
    monkeypatch.syspath_prepend(str(ROOT / "bench"))
    import results

    path = tmp_path / "results.json"
    path.write_text((ROOT / "bench" / "results.json").read_text())
    figures = {"a video, made": (41, "ms"), "its file": (9567, "B"), "a stall": ([5, 21], "ms"), "a share": (2.5, "%")}
    results.measured("media", figures, "bench/media.py", "python bench/media.py 3", path)
    gen = _gen()
    monkeypatch.setattr(gen, "_runs", lambda: json.loads(path.read_text()))
    page = gen.figures_snippet("media")
    stamp = results.stamp()
    assert (
        f"Measured {stamp['date']} on {stamp['machine']}; source: bench/media.py, with `python bench/media.py 3`;"
        in page
    )
    for row in (
        "| a video, made | 41 ms |",
        "| its file | 9,567 B |",
        "| a stall | 5 to 21 ms |",
        "| a share | 2.5% |",
    ):
        assert row in page
    assert "the same, CPU" not in page  # the section's old figures went with the run that replaced them
    history = gen.measured_snippets()["snippets/history-fleets.md"]
    assert "| 2026-12-08 | the dashboard reads the newest tasks" in history and "commit 6a9afa1 |" in history


# A figure: a number with a unit of time, size, rate or share, or a count of instructions or points.
_FIGURE = re.compile(
    r"(?<![\w.,/-])\d[\d,.]*(?:(?: to |-|–)\d[\d,.]*)?(?:%|\s(?:µs|ms|s|seconds?|minutes?|hours?|req/s|B|KiB|MiB"
    r"|GiB|KB|MB|GB|instructions|points|(?:\w+ )?a second)(?![\w/]))"
)
# Numbers with units that are no measurement: what the code, the spec or a test sets, and inputs' sizes.
# Each must still be on its page, so that the list shrinks with the pages.
NOT_FIGURES = {
    "README.md": ("2 s, 4 s, then 8 s",),  # the client's polling schedule, the spec's
    "docs/getting-started.md": ("2 s, 4 s, then 8 s",),
    "docs/client.md": ("2 s, 4 s, then every 8 s", "15 s grace", "(1800 s)"),
    "docs/benchmarks.md": (
        "90% or more",
        "70% or more",
        "55% or more",
        "42,000 polls a second",
        "1 KiB or less",
        "well under 1%",
    ),
    "docs/fleets.md": (
        "30 seconds",  # the lease
        "64 KiB",
        "4 MB of text",
        "within 10 s",
        "in flight 5 s",
    ),
    "docs/kit.md": ("5, 10 and 8 s", "portrait, 5 s", "and 10 s", "150 KB prompt", "10 KB long", "15 s"),
    "docs/mock/admin.md": ("2 KiB", "64 KiB", "300 s at most"),
    "docs/mock/callbacks.md": ("64 KiB",),
    "docs/mock/dashboard.md": ("2 KiB at most",),
    "docs/mock/dialects.md": ("10.0 s",),  # the length of the video the gateway's client saved
    "docs/mock/index.md": ("4 KiB", "50 ms", "(10 s)", "(5 s)", "5 seconds", "10 MiB", "4 MB body"),
    "docs/mock/media.md": ("24 frames a second", "0.1 to 60 s", "0.1 to 600 s", "64 MiB"),
    "docs/mock/profiles.md": ("0% until done",),
    "docs/mock/scenarios.md": ("0%",),
    "docs/recording.md": (
        "10 MiB",
        "64 MB download",
        "within 10%",
        "within 15%",
        "within 3%",
        "within 2%",
        "150 s, from 60 s",  # sora-2's embedded run, and at a time scale of 10 its one-day links
        "8,640 s",
    ),
}


def test_every_figure_comes_from_a_dated_results_file() -> None:
    """Outside generated snippets and code, a page holds no measured figure: those live in bench/results.json."""
    typed = []
    for page in [ROOT / "README.md", *sorted(p for p in DOCS.rglob("*.md") if p.parent.name not in _GENERATED)]:
        name = str(page.relative_to(ROOT))
        text = _FENCE.sub(lambda block: "\n" * block[0].count("\n"), page.read_text(encoding="utf-8"))
        text = re.sub(r"<!--.*?-->|`[^`\n]*`", "", text, flags=re.DOTALL)
        for phrase in NOT_FIGURES.get(name, ()):
            assert phrase in text, f"{name} no longer says {phrase!r}: take it off NOT_FIGURES"
            text = text.replace(phrase, " " * len(phrase))
        for found in _FIGURE.finditer(text):
            typed.append(f"{name}:{text.count(chr(10), 0, found.start()) + 1}: {found[0]}")
    assert not typed, f"figures typed into pages; put them in bench/results.json and a snippet: {typed}"


def test_the_figure_rule_finds_figures() -> None:
    text = "took 41 s of CPU (40 µs a line, 0.6 GB), 29,600 polls a second, 62% to 88%, 179,000 instructions, 9 points"
    assert [m[0] for m in _FIGURE.finditer(text)] == [
        "41 s",
        "40 µs",
        "0.6 GB",
        "29,600 polls a second",
        "62%",
        "88%",
        "179,000 instructions",
        "9 points",
    ]
    assert not _FIGURE.search("429s, 5xx, a 64-bit id, veo3, 16:9, 1080p, v1.2 s3://bucket, 2 workers")


def test_the_readmes_links_lead_somewhere() -> None:
    """mkdocs checks the site's links; the README, a landing page outside it, is checked here."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    targets = re.findall(r"\]\((?!https?://|#)([^)#\s]+)", readme)
    assert len(targets) > 10 and all((ROOT / target).is_file() for target in targets), [
        t for t in targets if not (ROOT / t).is_file()
    ]
    assert len(readme.splitlines()) <= 300, "the README is a landing page: 300 lines at most"


def test_blocks_that_cannot_run_say_why_and_stay_few() -> None:
    skipped = [b for b in blocks() if b.mark == "skip"]
    assert all(b.reason for b in skipped), [b.where for b in skipped if not b.reason]
    assert len(skipped) <= MOST_SKIPPED, [b.where for b in skipped]
    unknown = [b.where for b in blocks() if b.mark not in ("", "skip", "receiver", "calls-receiver")]
    assert not unknown, f"unknown test marks: {unknown}"


@pytest.fixture(scope="module")
def mock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``mockserver --time-scale 60 --admin-key adm-secret``, as the docs start it, on a free port.

    The development key plays ``success``: the profiles fail 2% of tasks, and an example whose task drew a
    failure would exit 1 (``generations run``) through no fault of its own.
    """
    log = tmp_path_factory.mktemp("mock") / "mock.log"
    command = [sys.executable, "-m", "mockserver", "--port", "0", "--time-scale", "60", "--admin-key", ADMIN_KEY]
    command += ["--key", "sk-mock-dev=success"]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield await_url(log, process).removeprefix("http://")
    finally:
        process.terminate()
        process.wait(timeout=15)


def _pointed(code: str, mock: str) -> str:
    return re.sub(r"(?:127\.0\.0\.1|localhost):8000", mock, code)


def _workdir(tmp_path: Path) -> Path:
    """A folder holding ``.venv`` as the docs' commands name it: this interpreter's environment."""
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    return tmp_path


def _bash(code: str, cwd: Path, mock: str) -> subprocess.CompletedProcess[str]:
    """``code`` run as pasted, with ``generations``' default URL, the docs' mock, pointed at ``mock`` too."""
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "GENERATIONS_URL": f"http://{mock}",
    }
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", code],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("block", _runnable("toml", ""), ids=_ids(_runnable("toml", "")))
def test_toml_block_is_a_config_the_mock_takes(block: Block) -> None:
    config_from(tomllib.loads(block.code))


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("block", _runnable("python", ""), ids=_ids(_runnable("python", "")))
def test_python_block_runs(block: Block, mock: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(_workdir(tmp_path))
    code = compile(_pointed(block.code, mock), block.where, "exec")
    exec(code, {"__name__": "__docs__"})  # noqa: S102 - the docs' own example, as a reader pastes it


@pytest.mark.slow
@pytest.mark.processes
@pytest.mark.parametrize("block", _runnable("sh", ""), ids=_ids(_runnable("sh", "")))
def test_shell_block_runs(block: Block, mock: str, tmp_path: Path) -> None:
    done = _bash(_pointed(block.code, mock), _workdir(tmp_path), mock)
    assert done.returncode == 0, f"{block.where} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    assert '"error"' not in done.stdout, f"{block.where} met an error answer:\n{done.stdout}"


@pytest.mark.slow
@pytest.mark.processes
def test_the_receiver_example_is_called_back(tmp_path: Path) -> None:
    """The webhook receiver, as pasted into receiver.py, verifies and prints the callback the next block asks for.

    The mock is started as the page says (``mockserver --time-scale 60 --callback-port 9000``), with the
    receiver's port for 9000: callbacks reach only the local ports named.
    """
    (receiver,) = _runnable("python", "receiver")
    (calls,) = _runnable("sh", "calls-receiver")
    page = (ROOT / receiver.where.split(":")[0]).read_text(encoding="utf-8")
    started = re.search(r"started as `mockserver ([^`]*--callback-port 9000[^`]*)`", page)
    assert started, "the receiver's page says how the mock is started for it, naming the receiver's port"
    (tmp_path / "receiver.py").write_text(receiver.code)
    processes = []
    try:
        log = tmp_path / "receiver.log"
        command = [sys.executable, "-m", "uvicorn", "receiver:app", "--port", "0"]
        processes.append(_started(command, log, cwd=tmp_path, env={**os.environ, "PYTHONUNBUFFERED": "1"}))
        url = await_url(log, processes[-1]).removeprefix("http://")
        mock_log = tmp_path / "mock.log"
        options = started[1].replace("9000", url.rsplit(":", 1)[1]).split()
        command = [sys.executable, "-m", "mockserver", *options, "--port", "0", "--key", "sk-mock-dev=success"]
        processes.append(_started(command, mock_log))
        mock = await_url(mock_log, processes[-1]).removeprefix("http://")
        done = _bash(_pointed(calls.code, mock).replace("127.0.0.1:9000", url), _workdir(tmp_path), mock)
        assert done.returncode == 0, done.stderr
        task_id = re.search(r'"task_id":"(\w+)"', done.stdout)[1]
        deadline = time.monotonic() + 60  # veo3 at --time-scale 60: at most six seconds
        while not re.search(rf"^{task_id} (SUCCESS|FAILURE) ", said := log.read_text(), re.MULTILINE):
            refused = re.search(r'"POST /hook HTTP/1.1" [45]\d\d', said)  # the example broke on a callback
            assert not refused and time.monotonic() < deadline and processes[0].poll() is None, said
            time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=15)


def _started(command: list[str], log: Path, **options: object) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, **options)
