"""``--contract-report``: the page is written beside ``--junitxml``, holds the run, and renders in Chromium.

Debian's ``chromium`` opens it headless, as a person would open a CI artefact: the DOM it builds must
show every paid task of the run with its timeline, and a screenshot must come out. A missing
chromium fails these tests, saying how to install it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from starlette.responses import JSONResponse

from contract_tests import html_report
from contract_tests.findings import Exchange
from contract_tests.runner import Poll, Walk
from mockserver.testing import serving
from tests.helpers.fakes import Fake
from tests.helpers.harness import run_pytest

pytestmark = [pytest.mark.slow, pytest.mark.browser, pytest.mark.processes]

KIT = ["--pyargs", "contract_tests"]
FAST = ["--contract-poll-initial", "0.01", "--contract-poll-max", "0.02", "--contract-timeout", "6"]
FAST += ["--contract-hold", "0.05"]
_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    found = shutil.which("chromium")
    if found is None:
        pytest.fail("Debian's chromium is missing: apt-get update && apt-get install -y chromium", pytrace=False)
    profile = tmp_path / "chromium-profile"
    command = [found, *_CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, check=False, capture_output=True, text=True, timeout=120)


def test_the_report_of_a_mock_run_renders_every_task_in_chromium(tmp_path: Path) -> None:
    page, junit = tmp_path / "artefacts" / "report.html", tmp_path / "junit.xml"  # a directory made for it
    result = run_pytest(
        tmp_path, *KIT, "--contract-mock", "--contract-strict", f"--contract-report={page}", f"--junitxml={junit}"
    )
    assert result.ret == 0, result.out[-3000:]
    created = int(re.search(r"tasks created: (\d+) of a budget of 12", result.out).group(1))
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and int(suite.get("tests")) == 38 and suite.get("failures") == "0"  # junitxml still works

    html = page.read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)\s*=\s*['"]?(https?:)?//|url\(|@import""", html)  # nothing fetched

    dom = chromium(tmp_path, "--dump-dom", page.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    tasks = re.findall(r'<div class="task" data-task-id="([^"]+)">(.*?)</svg>', dom.stdout, re.DOTALL)
    assert len(tasks) == created  # every paid task of the run, each drawn
    assert all(body.count('class="poll"') >= 9 for _, body in tasks)  # its polls, the hold among them
    assert dom.stdout.count('<img class="preview"') >= 3  # the images scope's outputs, shown
    assert '<p class="pass" id="verdict">0 failed, 0 warned</p>' in dom.stdout
    assert "<td>task_ids_distinct</td>" in dom.stdout and f"{created} of a budget of 12" in dom.stdout

    shot = tmp_path / "report.png"
    drawn = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1200,1600", page.as_uri())
    assert drawn.returncode == 0 and shot.read_bytes().startswith(b"\x89PNG"), drawn.stderr[-2000:]
    assert shot.stat().st_size > 20_000  # a page of text and charts, not a blank one


def test_the_report_shows_each_finding_with_its_exchange_and_the_key_masked(tmp_path: Path) -> None:
    key = "sk-report-secret-one"
    fake = Fake(
        keys=(key, "sk-report-secret-two"),
        submit_hook=lambda b: (
            JSONResponse({"task_id": "paid"}) if isinstance(b, dict) and b.get("prompt") == "" else None
        ),
    )
    page = tmp_path / "report.html"
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", key, "--contract-scopes", "images", *FAST]
        result = run_pytest(tmp_path, *KIT, *args, "--contract-report", str(page))
    assert result.ret == 1
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert "empty prompt: accepted a request the spec forbids" in dom
    assert "&gt; authorization: Bearer sk-***" in dom and "&lt; 200" in dom
    assert re.search(r"Other submits accepted, and paid for \([1-9]\d*\)", dom)  # the empty prompts, taken
    assert key not in page.read_text(encoding="utf-8")
    assert re.search(r'<p class="fail" id="verdict">[1-9]\d* failed', dom)


def test_a_timeline_marks_429s_and_5xx_and_places_polls_by_progress() -> None:
    url = "https://gateway.example/v2/images/generations/t1"
    answers = [(0.0, 200, "QUEUED", "0%"), (1.0, 429, None, None), (2.0, 503, None, None), (3.0, None, None, None)]
    answers += [(4.0, 200, "IN_PROGRESS", "50%"), (6.0, 200, "SUCCESS", "100%")]
    polls = []
    for at, status, state, progress in answers:
        exchange = Exchange("GET", url, (), b"", status, error="" if status else "ReadError: dropped")
        task = {"task_id": "t1", "status": state, "progress": progress} if state else None
        polls.append(Poll(1000.0 + at, exchange, task))
    svg = html_report._timeline(Walk("images", "t1", 1000.0, polls))
    assert svg.count("class='poll'") == 3 and svg.count("class='limited'") == 1 and svg.count("class='error'") == 2
    heights = [float(y) for y in re.findall(r"class='poll' cx='[\d.]+' cy='([\d.]+)'", svg)]
    assert heights[0] > heights[1] > heights[2]  # 0%, 50%, 100%, drawn upwards
    assert "6.00 s" in svg


_LAYOUT = """() => {
  const spilled = [];
  for (const table of document.querySelectorAll('table')) {
    const card = table.closest('.task') || document.body;
    const room = card.getBoundingClientRect().right - parseFloat(getComputedStyle(card).paddingRight);
    if (table.getBoundingClientRect().right > room + 0.5) spilled.push(table.className || 'table');
  }
  const wrapped = [];
  for (const cell of document.querySelectorAll('table.outputs td.nowrap')) {
    const range = document.createRange();
    range.selectNodeContents(cell);
    if (range.getClientRects().length !== 1) wrapped.push(cell.textContent);
  }
  return {spilled, wrapped, sizes: document.querySelectorAll('table.outputs td.nowrap').length};
}"""


@pytest.mark.parametrize("width", [1280, 1920])
def test_the_report_s_tables_stay_inside_their_cards(tmp_path: Path, browser: Any, width: int) -> None:
    """Long output URLs break inside their column, and a size such as "80044 B" stays on one line."""
    page = tmp_path / "report.html"
    result = run_pytest(tmp_path, *KIT, "--contract-mock", f"--contract-report={page}")
    assert result.ret == 0, result.out[-3000:]
    view = browser.new_page(viewport={"width": width, "height": 900})
    try:
        view.goto(page.as_uri())
        found = view.evaluate(_LAYOUT)
    finally:
        view.close()
    assert found["sizes"] >= 9 and found["spilled"] == [] and found["wrapped"] == [], found


def test_the_report_shows_each_field_s_classes_and_how_they_were_answered(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    result = run_pytest(tmp_path, *KIT, "--contract-mock", "--contract-scopes", "images", f"--contract-report={page}")
    assert result.ret == 0, result.out[-3000:]
    html = page.read_text(encoding="utf-8")
    rows = re.findall(
        r"<tr><td>(\w+)</td><td>([^<]+)</td><td>(valid|invalid)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", html
    )
    table = {(field, kind): (free, paid) for field, kind, _, free, paid in rows}
    assert table[("images", "empty")] == ("4xx", "–")  # free: beside a missing prompt
    free, paid = table[("aspect_ratio", "portrait")]
    assert free == "4xx" and paid.startswith("2xx")  # free, and in the first paid body too
    assert {field for field, _ in table} >= {"prompt", "model", "duration", "aspect_ratio", "images", "videos"}
