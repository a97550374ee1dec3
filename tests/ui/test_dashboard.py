"""The dashboard in a real headless chromium: log in, watch tasks move, steer the mock, stay inert.

Everything runs at two widths, 1,280 and 1,920 px, each with its own mock on a clock the test moves
and its own logged-in page. Each test makes the tasks it looks at, so any one runs alone (``-k``).
Besides what each test asserts, every view it shows is checked for layout in the page (``layout.js``):
nothing spills out of its box and no two pieces of text overlap. The README's screenshots are taken
on the way.
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
from playwright.sync_api import Page, expect

from mockserver import Config
from mockserver.engine.profiles import Profile, fixed
from mockserver.testing import RunningMock, running_mock
from tests.helpers.fakeclock import Clock

pytestmark = pytest.mark.slow

ADMIN = "adm-dashboard-3c1f"
KEY = {"Authorization": "Bearer sk-mock-dev"}
AS_ADMIN = {"Authorization": f"Bearer {ADMIN}"}
WIDTHS = (1280, 1920)
# The README's screenshots are rewritten only when asked (UPDATE_SCREENSHOTS=1), so a test run leaves the tree clean.
SHOTS = Path(__file__).parent / "screenshots" if os.environ.get("UPDATE_SCREENSHOTS") else Path(tempfile.mkdtemp())
LAYOUT = (Path(__file__).parent / "layout.js").read_text(encoding="utf-8")
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "house-video"}  # plays the videos default set below
# Each scope's default lives a different length of time, so the timelines are seen at three scales.
LIVES = {"images": (0.02, 0.05), "videos": (10.0, 100.0), "audio": (3600.0, 7200.0)}
MODELS = {"images": "house-image", "videos": "house-video", "audio": "house-song"}


@pytest.fixture(scope="module", params=WIDTHS, ids=[f"{w}px" for w in WIDTHS])
def width(request: pytest.FixtureRequest) -> int:
    return request.param


@pytest.fixture(scope="module")
def clock(width: int) -> Clock:
    return Clock(1_767_225_600.0)


@pytest.fixture(scope="module")
def mock(clock: Clock) -> Iterator[RunningMock]:
    profiles = {
        scope: Profile(queue=fixed(queue), run=fixed(run), fail_rate=0.0, progress_step=1)
        for scope, (queue, run) in LIVES.items()
    }
    config = Config(profiles=profiles, admin_key=ADMIN)
    # Behind a CORS setting for another origin, which the page must work under unchanged.
    with running_mock(config, clock=clock, cors_origins=("http://app.example.test",)) as running:
        yield running


def open_page(browser: Any, mock: RunningMock, width: int) -> tuple[Any, Page, list[tuple[str, str]]]:
    """A new tab at the login form, and the console errors it logs (a blocked inline script shows there)."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[tuple[str, str]] = []
    page.on("console", lambda m: m.type == "error" and errors.append((m.text, m.location.get("url", ""))))
    page.goto(f"{mock.url}/_mock/ui")
    return context, page, errors


def log_in(page: Page) -> None:
    page.fill("#login-key", ADMIN)
    page.click("#login-form button")
    expect(page.locator("#tabs")).to_be_visible()


@pytest.fixture
def fresh(browser: Any, mock: RunningMock, width: int) -> Iterator[tuple[Page, list[tuple[str, str]]]]:
    """A tab of its own, not logged in, for the tests of logging in and out."""
    context, page, errors = open_page(browser, mock, width)
    yield page, errors
    context.close()


@pytest.fixture(scope="module")
def page(browser: Any, mock: RunningMock, width: int) -> Iterator[Page]:
    """One logged-in tab the tests share, as a user keeps one open."""
    context, page, _ = open_page(browser, mock, width)
    log_in(page)
    yield page
    context.close()


def submit(mock: RunningMock, body: dict = BODY, scope: str = "videos", headers: dict | None = None) -> str:
    answer = httpx.post(f"{mock.url}/v2/{scope}/generations", json=body, headers={**KEY, **(headers or {})})
    assert answer.status_code == 200, answer.text
    return answer.json()["task_id"]


def poll(mock: RunningMock, task_id: str, scope: str = "videos") -> int:
    return httpx.get(f"{mock.url}/v2/{scope}/generations/{task_id}", headers=KEY).status_code


def set_faults(mock: RunningMock, **faults: Any) -> None:
    assert httpx.put(f"{mock.url}/_mock/faults", json=faults, headers=AS_ADMIN).status_code == 200


def row(page: Page, task_id: str) -> Any:
    return page.locator(f'#tasks-table tbody tr[data-task-id="{task_id}"]')


def view(page: Page, name: str) -> None:
    page.click(f"nav button[data-view={name}]")


def open_timeline(page: Page, task_id: str) -> None:
    view(page, "tasks")
    row(page, task_id).locator("button.open").click()
    expect(page.locator("#detail-id")).to_have_text(task_id)


def assert_laid_out(page: Page) -> None:
    """Nothing outside its box and no text over other text, computed from the boxes in the page."""
    assert page.evaluate(LAYOUT) == []


def shot(page: Page, name: str, width: int, full_page: bool = False) -> None:
    """A screenshot once the layout passes: ``tasks.png`` at 1,280 px (the README's), ``tasks-1920.png`` wider."""
    assert_laid_out(page)
    suffix = "" if width == WIDTHS[0] else f"-{width}"
    page.screenshot(path=SHOTS / f"{name}{suffix}.png", full_page=full_page)


@pytest.fixture(scope="module")
def watched(mock: RunningMock, clock: Clock) -> str:
    """A task polled three times while it ran and once finished, for the timeline in the README."""
    task_id = submit(mock)
    clock.now += 10 + 40
    for _ in range(3):
        assert poll(mock, task_id) == 200
    clock.now += 61
    assert poll(mock, task_id) == 200
    return task_id


def test_a_wrong_key_is_refused_with_the_apis_words(fresh: tuple[Page, list]) -> None:
    page, _ = fresh
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


def test_logging_in_keeps_the_key_in_the_tab_only(fresh: tuple[Page, list]) -> None:
    page, _ = fresh
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    log_in(page)
    expect(page.locator("#worker")).to_contain_text("the only worker")
    assert page.evaluate("sessionStorage.getItem('mockserver.admin-key')") == ADMIN
    assert page.context.cookies() == []
    page.wait_for_timeout(0)
    assert requests and not any(ADMIN in url for url in requests + [page.url])


def test_a_submitted_task_appears_and_moves_with_the_clock(page: Page, mock: RunningMock, clock: Clock) -> None:
    view(page, "tasks")
    task_id = submit(mock)
    task = row(page, task_id)
    expect(task.locator(".status")).to_have_text("SUBMITTED")
    clock.now += 10 + 40  # queued for 10 s, then 40 of its 100 s run
    expect(task.locator(".status")).to_have_text("IN_PROGRESS")
    expect(task.locator(".progress")).to_contain_text("40%")
    assert task.locator("progress").get_attribute("value") == "40"
    expect(task.locator(".key")).to_have_text("sk-m…ev")
    for _ in range(3):
        poll(mock, task_id)
    clock.now += 60
    poll(mock, task_id)
    expect(task.locator(".status")).to_have_text("SUCCESS")
    open_timeline(page, task_id)
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(4)
    expect(page.locator("#detail-json")).to_contain_text('"status": "SUCCESS"')
    expect(page.locator("#detail-outputs video")).to_have_count(1)


# The widths of the elements each selector finds, or null where it finds none.
WIDTHS = (
    "sels => sels.map(sel => { const e = document.querySelector(sel); return e && e.getBoundingClientRect().width; })"
)


@pytest.mark.parametrize("scope", list(LIVES), ids=["70ms", "110s", "3h"])
def test_a_timeline_reads_at_any_duration(page: Page, mock: RunningMock, clock: Clock, scope: str) -> None:
    """Forty polls through the task's life, three more refused 503, one just after: every label apart,
    each status code named once with its count, and the task's life across the chart's width."""
    task_id = submit(mock, {**BODY, "model": MODELS[scope]}, scope)
    life = sum(LIVES[scope])
    for _ in range(40):
        clock.now += life / 40
        poll(mock, task_id, scope)
    set_faults(mock, poll_503=1)
    assert [poll(mock, task_id, scope) for _ in range(3)] == [503, 503, 503]
    set_faults(mock, poll_503=0)
    clock.now += life / 100
    poll(mock, task_id, scope)
    open_timeline(page, task_id)
    chart = page.locator("#timeline-chart")
    expect(chart.locator("circle.poll")).to_have_count(44)
    lanes = chart.locator("text.poll-label")
    expect(lanes).to_have_text(["200 ×41", "503 ×3"])
    expect(chart.locator("text.mark-label")).to_have_text(["submitted · queued", "started", "finished"])
    assert_laid_out(page)
    # The chart fills its panel's width, and the task's life most of the chart.
    # Measured in one turn of the page's own thread: the chart is redrawn each second, and an element
    # measured between two calls may have been replaced.
    parts = ["#task-detail .timeline", "#timeline-chart", "#timeline-chart rect.queued", "#timeline-chart rect.running"]
    widths = page.evaluate(WIDTHS, parts)
    panel, drawn, queued, running = widths
    assert None not in widths and abs(drawn - panel) <= 1, widths
    assert queued + running >= 0.75 * drawn, widths


def test_forcing_a_state_shows_in_the_table(page: Page, mock: RunningMock, watched: str, width: int) -> None:
    task_id = submit(mock)
    open_timeline(page, task_id)
    form = page.locator("#task-detail form.force-state")
    form.locator("select[name=status]").select_option("FAILURE")
    form.locator("select[name=fail_reason]").select_option("quota")
    form.locator("button[type=submit]").click()
    expect(page.locator("#task-detail pre.answer")).to_contain_text('"status": "FAILURE"')
    task = row(page, task_id)
    expect(task.locator(".status")).to_have_text("FAILURE")
    page.select_option("#filter-status", "FAILURE")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(1)
    page.select_option("#filter-status", "")
    # A fuller table for the README: a stuck image and a queued song beside them, and a finished task's timeline.
    submit(mock, {**BODY, "model": MODELS["images"]}, "images", {"X-Mock-Scenario": "stuck"})
    submit(mock, {**BODY, "model": "suno-v4"}, "audio")
    open_timeline(page, watched)
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(4)
    shot(page, "tasks", width)


def test_a_fault_set_in_the_page_shows_in_the_next_answers(page: Page, mock: RunningMock, width: int) -> None:
    task_id = submit(mock)
    view(page, "control")
    form = page.locator("#faults-form")
    # Refused as the admin API refuses it, and in its words.
    form.locator("input[name=latency]").fill('{"dist": "bogus"}')
    form.locator("button[type=submit]").click()
    refusal = httpx.put(f"{mock.url}/_mock/faults", json={"latency": {"dist": "bogus"}}, headers=AS_ADMIN)
    assert refusal.status_code == 400
    expect(form.locator("pre.answer")).to_have_text(refusal.text)
    form.locator("input[name=latency]").fill("")
    form.locator("input[name=poll_503]").fill("1")
    form.locator("button[type=submit]").click()
    expect(form.locator("pre.answer")).to_contain_text('"poll_503": 1')
    assert [poll(mock, task_id) for _ in range(3)] == [503, 503, 503]
    # A rule in play for the screenshot, for a model no other test sends.
    rule = {"scenario": "late-visible, fail-quota", "next": 3, "scope": "videos", "model": "sora-2-pro"}
    added = httpx.post(f"{mock.url}/_mock/rules", json=rule, headers=AS_ADMIN).json()
    expect(page.locator("#rules-table tbody tr[data-rule]")).to_have_count(1)
    shot(page, "control", width, full_page=True)
    assert httpx.delete(f"{mock.url}/_mock/rules/{added['id']}", headers=AS_ADMIN).is_success
    form.locator("input[name=poll_503]").fill("0")
    form.locator("button[type=submit]").click()
    expect(form.locator("pre.answer")).to_contain_text('"poll_503": 0')
    assert poll(mock, task_id) == 200


def test_a_rule_added_in_the_page_plays_and_its_refusals_are_the_apis(page: Page, mock: RunningMock) -> None:
    view(page, "control")
    form = page.locator("#rules-form")
    answer = form.locator("pre.answer")
    # What the page sends, refused by the admin API in its own words: nothing is checked in the page.
    for scenario, amount, body in [("", "", {}), ("no-such-fate", "2", {"scenario": "no-such-fate", "next": 2})]:
        form.locator("input[name=scenario]").fill(scenario)
        form.locator("input[name=amount]").fill(amount)
        form.locator("button[type=submit]").click()
        refusal = httpx.post(f"{mock.url}/_mock/rules", json=body, headers=AS_ADMIN)
        assert refusal.status_code == 400
        expect(answer).to_have_text(refusal.text)
    form.locator("input[name=scenario]").fill("fail-quota")
    form.locator("select[name=kind]").select_option("next")
    form.locator("input[name=amount]").fill("1")
    form.locator("select[name=scope]").select_option("videos")
    form.locator("button[type=submit]").click()
    expect(answer).to_contain_text('"scenario": "fail-quota"')
    listed = page.locator("#rules-table tbody tr[data-rule]")
    expect(listed).to_have_count(1)
    expect(listed).to_contain_text("next 1")
    expect(listed).to_contain_text("scope videos")
    assert_laid_out(page)
    failing = submit(mock)  # spends the rule
    tasks = httpx.get(f"{mock.url}/_mock/tasks", headers=AS_ADMIN).json()["tasks"]
    assert next(t for t in tasks if t["task_id"] == failing)["outcome"] == "fail-quota"
    expect(listed).to_have_count(0)  # the listing follows the mock: a spent rule is gone
    form.locator("select[name=kind]").select_option("fraction")
    form.locator("input[name=amount]").fill("0.5")
    form.locator("input[name=model]").fill("veo3")
    form.locator("button[type=submit]").click()
    expect(listed).to_contain_text("fraction 0.5")
    listed.locator("button.remove").click()
    expect(listed).to_have_count(0)
    for _ in range(2):
        form.locator("button[type=submit]").click()
    expect(listed).to_have_count(2)
    page.click("#control-rules button.danger")  # every rule at once
    expect(listed).to_have_count(0)
    assert httpx.get(f"{mock.url}/_mock/rules", headers=AS_ADMIN).json()["rules"] == []


def test_a_hostile_prompt_stays_inert_text(page: Page, mock: RunningMock, width: int) -> None:
    submit(mock, {"prompt": HOSTILE, "model": "flux"}, "images")
    hostile_id = "<img src=x onerror=window.__pwned=3>"  # a task id in a poll's path reaches the journal too
    assert httpx.get(f"{mock.url}/v2/images/generations/{quote(hostile_id)}", headers=KEY).status_code == 404
    view(page, "journal")
    body = page.locator("#journal-table td.body pre", has_text="onerror")
    expect(body.first).to_contain_text(json.dumps(HOSTILE))
    expect(page.locator("#journal-table td.path", has_text=hostile_id)).to_have_count(1)
    page.locator("#journal-table tr", has_text=hostile_id).locator("button.open").click()
    expect(page.locator("#detail-id")).to_have_text(hostile_id)
    expect(page.locator("#task-detail pre.error")).to_contain_text("task_not_found")
    view(page, "journal")
    shot(page, "journal", width)
    page.fill("#journal-status", "404")
    expect(page.locator("#journal-table tbody tr").first.locator(".status")).to_have_text("404")
    page.fill("#journal-status", "")
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#journal-table img, #journal-table script").count() == 0


def test_the_overview_draws_its_charts(page: Page, mock: RunningMock, clock: Clock, width: int) -> None:
    """A minute of traffic: a task submitted every 5 s and each polled as it goes, some polls refused 503."""
    tasks: list[str] = []
    for second in range(0, 60, 5):
        clock.now += 5
        tasks.append(submit(mock))
        set_faults(mock, poll_503=1 if second % 20 == 0 else 0)
        for task_id in tasks[-4:]:
            poll(mock, task_id)
    set_faults(mock, poll_503=0)
    view(page, "overview")
    expect(page.locator("#view-overview figure.chart")).to_have_count(4)
    expect(page.locator("#view-overview figure", has_text="Faults injected")).to_contain_text("503")
    assert page.locator("#view-overview path.line").count() >= 3
    shot(page, "overview", width, full_page=True)


# Line charts of values from 4 µs to 98 million, and timelines from a millisecond to three days with
# one to a thousand polls, drawn by the page's own modules into boxes of three widths.
DRAW_EVERY_SCALE = """async () => {
  const { lineChart, timelineChart } = await import("/_mock/ui/static/js/charts.js");
  const shelf = document.createElement("div");
  shelf.id = "chart-shelf";
  document.body.append(shelf);
  const start = 1767225600;
  const times = Array.from({ length: 30 }, (_, n) => start + 2 * n);
  const tops = [];
  const fills = [];
  const place = (width) => {
    const box = document.createElement("div");
    box.style.width = `${width}px`;
    shelf.append(box);
    return box;
  };
  for (const width of [300, 460, 900]) {
    for (const peak of [0.004, 0.3, 7, 92.81, 1234.5, 98765432]) {
      const values = times.map((_, n) => (n % 7 === 3 ? null : (peak * (n + 1)) / 30));
      const svg = lineChart(width, "latency", times, [{ name: "p50", values }]);
      place(width).append(svg);
      const ticks = [...svg.querySelectorAll('text[text-anchor="end"]')].map((t) => Number(t.textContent));
      tops.push([peak, Math.max(...ticks)]);
    }
    for (const life of [0.001, 0.07, 110, 10800, 259200]) {
      for (const count of [1, 40, 1000]) {
        const polls = Array.from({ length: count }, (_, n) => ({
          at: start + (life * (n + 1)) / count, status: n % 10 === 9 ? 503 : 200, method: "GET",
        }));
        const times = { submitted: start, started: start + life * 0.2, finished: start + life };
        const svg = timelineChart(width, times, polls, start + life);
        place(width).append(svg);
        const bars = [...svg.querySelectorAll("rect")].reduce((sum, bar) => sum + Number(bar.getAttribute("width")), 0);
        fills.push(bars / width);
      }
    }
  }
  return { tops, fills };
}"""


def test_charts_fit_their_values_and_durations_at_any_scale(page: Page) -> None:
    drawn = page.evaluate(DRAW_EVERY_SCALE)
    try:
        assert_laid_out(page)
    finally:
        page.evaluate("document.getElementById('chart-shelf').remove()")
    # Each value axis ends on the first round value at or above its peak: 92.81 ms on an axis to 100.
    assert [top for peak, top in drawn["tops"] if peak == 92.81] == [100, 100, 100]
    assert all(peak <= top < 2.5 * peak for peak, top in drawn["tops"])
    # A task's life spans most of its chart, whether it lasted a millisecond or three days.
    assert len(drawn["fills"]) == 45 and min(drawn["fills"]) >= 0.7


def test_a_reset_says_what_it_clears_and_asks_first(page: Page, mock: RunningMock) -> None:
    submit(mock)
    assert httpx.post(f"{mock.url}/_mock/rules", json={"scenario": "stuck", "fraction": 1}, headers=AS_ADMIN).is_success
    view(page, "control")
    said = page.locator("#reset-form p")
    for cleared in (
        "every task",
        "the journal",
        "the scenario rules",
        "the callbacks still due",
        "faults set at run time",
    ):
        expect(said).to_contain_text(cleared)
    asked: list[str] = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("#reset-form button")
    assert httpx.get(f"{mock.url}/_mock/tasks", headers=AS_ADMIN).json()["tasks"]
    assert asked and "the scenario rules" in asked[0]
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#reset-form button")
    expect(page.locator("#reset-form pre.answer")).to_contain_text('"status": "reset"')
    expect(page.locator("#rules-table tbody tr[data-rule]")).to_have_count(0)
    view(page, "tasks")
    expect(page.locator("#tasks-table tbody tr")).to_have_count(0)


def test_a_refused_key_logs_the_page_out(fresh: tuple[Page, list]) -> None:
    page, _ = fresh
    log_in(page)
    page.evaluate("sessionStorage.setItem('mockserver.admin-key', 'stale')")
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#login-error")).to_contain_text("invalid_api_key")
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/_mock/ui", page.url)


def test_nothing_the_page_does_breaks_its_policy(fresh: tuple[Page, list], mock: RunningMock) -> None:
    """Every view, a timeline and every form shown, with nothing refused: any console error, a
    Content-Security-Policy violation first of all, is a fault of the page."""
    page, errors = fresh
    log_in(page)
    task_id = submit(mock)
    poll(mock, task_id)
    open_timeline(page, task_id)
    expect(page.locator("#timeline-chart circle.poll")).to_have_count(1)
    for name in ("overview", "journal", "control"):
        view(page, name)
        expect(page.locator(f"#view-{name}")).to_be_visible()
    expect(page.locator("#rules-table")).to_be_visible()
    expect(page.locator("#faults-form input[name=poll_503]")).to_be_visible()
    assert errors == []
