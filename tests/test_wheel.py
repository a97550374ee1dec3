"""A built wheel, installed in a fresh venv, carries the whole contract and works from elsewhere."""

from __future__ import annotations

import re
import subprocess
import sys
import venv
from pathlib import Path

import httpx
import pytest

from mockserver.testing import await_url

pytestmark = [pytest.mark.slow, pytest.mark.processes]

ROOT = Path(__file__).resolve().parents[1]

CHECK_CONTRACT = """
from pathlib import Path
from mockserver import contract
from mockserver.contract import golden
assert "site-packages" in str(contract.schemas_dir()), contract.schemas_dir()
names = contract.schema_names()
assert {"submit-request", "submit-response", "task", "error", "lifecycle"} <= set(names), names
for name in names:
    contract.validator(name).check_schema(contract.schema(name))
examples = golden.examples()
wrong = [m for m in map(golden.mismatch, examples) if m]
assert not wrong, wrong
assert any(e.breaks for e in examples) and any(e.valid for e in examples)
spec = contract.fixtures_dir() / "spec"
assert "task_id" in (spec / "unified-interface.zh.md").read_text(encoding="utf-8")
assert "task_id" in (spec / "unified-interface.en.md").read_text(encoding="utf-8")
print(len(names), "schemas;", len(examples), "examples")
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv holding only the wheel built from this checkout and its dependencies."""
    where = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(where / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next((where / "dist").glob("*.whl"))
    venv.create(where / "venv", with_pip=True)
    python = where / "venv" / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "-q", str(wheel)], check=True, capture_output=True)
    return python


def test_wheel_carries_every_schema_and_fixture(installed: Path, tmp_path: Path) -> None:
    run = subprocess.run([installed, "-c", CHECK_CONTRACT], check=False, cwd=tmp_path, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "schemas;" in run.stdout


def test_the_documented_kit_command_works_from_another_directory(installed: Path, tmp_path: Path) -> None:
    """`pytest --pyargs contract_tests --contract-url URL --contract-key KEY` against the wheel's own mockserver."""
    bin_dir = installed.parent
    log = (tmp_path / "server.log").open("w")  # not a pipe: a full pipe nobody reads would stall the server
    server = subprocess.Popen(
        [bin_dir / "mockserver", "--port", "0", "--time-scale", "1000", "--key", "sk-a", "--key", "sk-b"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = await_url(tmp_path / "server.log", server)
        command = [
            bin_dir / "pytest",
            "--pyargs",
            "contract_tests",
            "--contract-url",
            url,
            "--contract-key",
            "sk-a",
            "--contract-second-key",
            "sk-b",
            "--contract-poll-initial",
            "0.05",
            "--contract-poll-max",
            "0.2",
            "--contract-timeout",
            "60",
            "-p",
            "no:cacheprovider",
        ]
        run = subprocess.run(command, check=False, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "38 passed" in run.stdout and "contract kit" in run.stdout


def test_the_wheel_serves_the_dashboard_with_every_file_it_loads_and_metrics(installed: Path, tmp_path: Path) -> None:
    """The dashboard's files are package data: the page, and every file it or its modules load, are served."""
    log = (tmp_path / "server.log").open("w")
    argv = [installed.parent / "mockserver", "--port", "0", "--admin-key", "adm-wheel", "--metrics"]
    server = subprocess.Popen(argv, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT)
    try:
        base = await_url(tmp_path / "server.log", server)
        page = httpx.get(f"{base}/_mock/ui")
        assert page.status_code == 200 and "script-src 'self'" in page.headers["content-security-policy"]
        wanted = re.findall(r'(?:href|src)="(/_mock/ui/static/[^"]+)"', page.text)
        seen: set[str] = set()
        while wanted:
            path = wanted.pop()
            if path in seen:
                continue
            seen.add(path)
            answer = httpx.get(base + path)
            assert answer.status_code == 200, path
            if path.endswith(".js"):
                folder = path.rsplit("/", 1)[0]
                wanted += [f"{folder}/{name}" for name in re.findall(r'from "\./([\w.]+\.js)"', answer.text)]
        assert {"/_mock/ui/static/js/main.js", "/_mock/ui/static/js/charts.js", "/_mock/ui/static/style.css"} <= seen
        assert "mock_http_request_duration_seconds" in httpx.get(f"{base}/metrics").text
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


def test_the_documented_in_process_snippet_runs_without_a_warning_on_a_plain_install(
    installed: Path, tmp_path: Path
) -> None:
    """docs/mock/index.md's "In your own tests" block, in a venv holding only the wheel and its dependencies, under
    ``-W error``: a user who pip-installs the package and pastes it gets no warning (Starlette's test client warns
    when it runs on httpx rather than httpx2)."""
    page = (ROOT / "docs" / "mock" / "index.md").read_text(encoding="utf-8")
    section = page.split("## In your own tests", 1)[1]
    snippet = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert snippet is not None, "docs/mock/index.md has no python block under 'In your own tests'"
    run = subprocess.run(
        [installed, "-W", "error", "-c", snippet.group(1)], check=False, cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
