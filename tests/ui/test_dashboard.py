"""The dashboard in a real headless chromium: log in, watch tasks move, steer the mock, stay inert.

One mock on a clock the test moves, and one page that logs in once, walk through the whole
dashboard in order; the screenshots in the README are taken on the way.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fakeclock import Clock
from playwright.sync_api import Page, expect

from mockserver import Config
from mockserver.profiles import Profile, fixed
from mockserver.testing import RunningMock, running_mock

ADMIN = "adm-dashboard-3c1f"
KEY = {"Authorization": "Bearer sk-mock-dev"}
# The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
SHOTS = Path(__file__).parent / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else Path(tempfile.mkdtemp())
WATCHED: list[str] = []  # the task whose polls the first test made, shown again for the screenshot
CONSOLE_ERRORS: list[tuple[str, str]] = []  # chromium's error lines: a blocked inline style or script shows here
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "house-video"}  # plays the videos default set below


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(1_767_225_600.0)


@pytest.fixture(scope="module")
def mock(clock: Clock) -> Iterator[RunningMock]:
    profile = Profile(queue=fixed(10), run=fixed(100), fail_rate=0.0, progress_step=1)
    config = Config(profiles={"videos": profile, "images": profile}, admin_key=ADMIN)
    # Behind a CORS setting for another origin, which the page must work under unchanged.
    with running_mock(config, clock=clock, cors_origins=("http://app.example.test",)) as running:
        yield running


@pytest.fixture(scope="module")
def page(browser: Any, mock: RunningMock) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and CONSOLE_ERRORS.append((m.text, m.location.get("url", ""))))
    page.goto(f"{mock.url}/_mock/ui")
    yield page
    context.close()


def submit(mock: RunningMock, body: dict = BODY, scope: str = "videos") -> str:
    answer = httpx.post(f"{mock.url}/v2/{scope}/generations", json=body, headers=KEY)
    assert answer.status_code == 200, answer.text
    return answer.json()["task_id"]


def row(page: Page, task_id: str) -> Any:
    return page.locator(f'#tasks-table tbody tr[data-task-id="{task_id}"]')


def test_a_wrong_key_is_refused_with_the_apis_words(page: Page) -> None:
    page.fill("#login-key", "not-the-admin-key")
    page.click("#login-form button")
    expect(page.locator("#login-error")).to_contain_text('"code":"invalid_api_key"')
    expect(page.locator("#tabs")).to_be_hidden()
    assert page.evaluate("sessionStorage.length") == 0


def test_the_page_and_its_api_are_locked_down(mock: RunningMock) -> None:
    page = httpx.get(f"{mock.url}/_mock/ui")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "default-src 'none'" in policy and "unsafe" not in policy
    for path in ("/_mock/ui/api/tasks", "/_mock/ui/api/overview", "/_mock/ui/api/forms", "/_mock/journal"):
        assert httpx.get(f"{mock.url}{path}").status_code == 401
        assert httpx.get(f"{mock.url}{path}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert httpx.get(f"{mock.url}/_mock/ui/static/../../app.py").status_code == 404
    # The page needs nothing of CORS: a cross-origin PUT of faults is still refused its preflight.
    preflight = {"Origin": "http://app.example.test", "Access-Control-Request-Method": "PUT"}
    assert httpx.options(f"{mock.url}/_mock/faults", headers=preflight).status_code == 400


def test_logging_in_keeps_the_key_in_the_tab_only(page: Page, mock: RunningMock) -> None:
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    page.fill("#login-key", ADMIN)
    page.click("#login-form button")
    expect(page.locator("#tabs")).to_be_visible()
    expect(page.locator("#worker")).to_contain_text("the only worker")
    assert page.evaluate("sessionStorage.getItem('mockserver.admin-key')") == ADMIN
    assert page.context.cookies() == []
    page.wait_for_timeout(0)
    assert requests and not any(ADMIN in url for url in requests + [page.url])


def test_a_submitted_task_appears_and_moves_with_the_clock(page: Page, mock: RunningMock, clock: Clock) -> None:
    task_id = submit(mock)
    task = row(page, task_id)
    expect(task.locator(".status")).to_have_text("SUBMITTED")
    clock.now += 10 + 40  # queued for 10 s, then 40 of its 100 s run
    expect(task.locator(".status")).to_have_text("IN_PROGRESS")
    expect(task.locator(".progress")).to_contain_text("40%")
    assert task.locator("progress").get_attribute("value") == "40"
    expect(task.locator(".key")).to_have_text("sk-m…ev")
    for _ in range(3):
        httpx.get(f"{mock.url}/v2/videos/generations/{task_id}", headers=KEY)
    clock.now += 60
    httpx.get(f"{mock.url}/v2/videos/generations/{task_id}", headers=KEY)
    expect(task.locator(".status")).to_have_text("SUCCESS")
    task.locator("button.open").click()
    expect(page.locator("#detail-id")).to_have_text(task_id)
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(4)
    expect(page.locator("#detail-json")).to_contain_text('"status": "SUCCESS"')
    expect(page.locator("#detail-outputs video")).to_have_count(1)
    WATCHED.append(task_id)


def test_forcing_a_state_shows_in_the_table(page: Page, mock: RunningMock) -> None:
    task_id = submit(mock)
    task = row(page, task_id)
    task.locator("button.open").click()
    expect(page.locator("#detail-id")).to_have_text(task_id)
    form = page.locator("#task-detail form.force-state")
    form.locator("select[name=status]").select_option("FAILURE")
    form.locator("select[name=fail_reason]").select_option("quota")
    form.locator("button[type=submit]").click()
    expect(page.locator("#task-detail pre.answer")).to_contain_text('"status": "FAILURE"')
    expect(task.locator(".status")).to_have_text("FAILURE")
    page.select_option("#filter-status", "FAILURE")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    page.select_option("#filter-status", "")
    # A fuller table for the README: a stuck image and a queued song beside them, and the first task's timeline.
    httpx.post(f"{mock.url}/v2/images/generations", json=BODY, headers={**KEY, "X-Mock-Scenario": "stuck"})
    submit(mock, {**BODY, "model": "suno-v4"}, scope="audio")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(4)
    row(page, WATCHED[0]).locator("button.open").click()
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(4)
    page.screenshot(path=SHOTS / "tasks.png")


def test_a_fault_set_in_the_page_shows_in_the_next_answers(page: Page, mock: RunningMock) -> None:
    task_id = submit(mock)
    page.click("nav button[data-view=control]")
    form = page.locator("#faults-form")
    # Refused as the admin API refuses it, and in its words.
    form.locator("input[name=latency]").fill('{"dist": "bogus"}')
    form.locator("button[type=submit]").click()
    refusal = httpx.put(
        f"{mock.url}/_mock/faults", json={"latency": {"dist": "bogus"}}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert refusal.status_code == 400
    expect(form.locator("pre.answer")).to_have_text(refusal.text)
    form.locator("input[name=latency]").fill("")
    form.locator("input[name=poll_503]").fill("1")
    form.locator("button[type=submit]").click()
    expect(form.locator("pre.answer")).to_contain_text('"poll_503": 1')
    answers = [httpx.get(f"{mock.url}/v2/videos/generations/{task_id}", headers=KEY) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 503]
    page.screenshot(path=SHOTS / "control.png", full_page=True)
    form.locator("input[name=poll_503]").fill("0")
    form.locator("button[type=submit]").click()
    expect(form.locator("pre.answer")).to_contain_text('"poll_503": 0')
    assert httpx.get(f"{mock.url}/v2/videos/generations/{task_id}", headers=KEY).status_code == 200


def test_a_hostile_prompt_stays_inert_text(page: Page, mock: RunningMock) -> None:
    submit(mock, {"prompt": HOSTILE, "model": "flux"}, scope="images")
    hostile_id = "<img src=x onerror=window.__pwned=3>"  # a task id in a poll's path reaches the journal too
    assert httpx.get(f"{mock.url}/v2/images/generations/{quote(hostile_id)}", headers=KEY).status_code == 404
    page.click("nav button[data-view=journal]")
    body = page.locator("#journal-table td.body pre", has_text="onerror")
    expect(body.first).to_contain_text(json.dumps(HOSTILE))
    expect(page.locator("#journal-table td.path", has_text=hostile_id)).to_have_count(1)
    page.locator("#journal-table tr", has_text=hostile_id).locator("button.open").click()
    expect(page.locator("#detail-id")).to_have_text(hostile_id)
    expect(page.locator("#task-detail pre.error")).to_contain_text("task_not_found")
    page.click("nav button[data-view=journal]")
    page.screenshot(path=SHOTS / "journal.png")
    page.fill("#journal-status", "503")
    expect(page.locator("#journal-table tbody tr").first.locator(".status")).to_have_text("503")
    page.fill("#journal-status", "")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#journal-table img, #journal-table script").count() == 0


def test_the_overview_draws_its_charts(page: Page) -> None:
    page.click("nav button[data-view=overview]")
    expect(page.locator("#view-overview figure.chart")).to_have_count(4)
    expect(page.locator("#view-overview figure", has_text="Faults injected")).to_contain_text("503")
    assert page.locator("#view-overview path.line").count() >= 3
    page.screenshot(path=SHOTS / "overview.png", full_page=True)


def test_a_reset_asks_first(page: Page, mock: RunningMock) -> None:
    page.click("nav button[data-view=control]")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.click("#reset-form button")
    assert len(httpx.get(f"{mock.url}/_mock/tasks", headers={"Authorization": f"Bearer {ADMIN}"}).json()["tasks"]) > 0
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset-form button")
    expect(page.locator("#reset-form pre.answer")).to_contain_text('"status": "reset"')
    page.click("nav button[data-view=tasks]")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(0)


def test_a_refused_key_logs_the_page_out(page: Page) -> None:
    page.evaluate("sessionStorage.setItem('mockserver.admin-key', 'stale')")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("invalid_api_key")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/_mock/ui", page.url)


def test_nothing_the_page_did_broke_its_policy() -> None:
    """Only the refusals the tests asked for may be logged: wrong keys, the unknown task, the bogus latency.

    Anything else, a Content-Security-Policy violation first of all, is a fault of the page.
    """
    asked = {"401": "/_mock/", "404": "/_mock/ui/api/tasks/", "400": "/_mock/faults"}
    assert CONSOLE_ERRORS, "the wrong-key test should have logged its 401"
    unexpected = [
        (text, url)
        for text, url in CONSOLE_ERRORS
        if not any(f"status of {code}" in text and path in url for code, path in asked.items())
    ]
    assert unexpected == []
