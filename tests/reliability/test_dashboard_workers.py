"""With several workers the dashboard says whose view it shows, and with a shared store it lists every task."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.slow

ADMIN = "adm-workers-90ad"
AUTH = {"Authorization": "Bearer sk-mock-dev"}
BODY = {"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}


def log_in(browser: Any, url: str) -> Any:
    page = browser.new_page()
    page.goto(f"{url}/_mock/ui")
    page.fill("#login-key", ADMIN)
    page.click("#login-form button")
    return page


def test_one_worker_of_two_says_so(browser: Any, spawn: Any) -> None:
    with spawn("--workers", "2", "--admin-key", ADMIN) as (url, _):
        page = log_in(browser, url)
        note = page.locator("#worker")
        expect(note).to_contain_text("one of 2, without a shared store")
        pid = note.get_attribute("data-pid")
        assert pid and f"pid {pid}" in note.inner_text()
        page.close()


def test_a_shared_store_lists_every_workers_tasks(browser: Any, spawn: Any, tmp_path: Path) -> None:
    with spawn("--workers", "2", "--admin-key", ADMIN, "--store", f"sqlite:{tmp_path / 'tasks.db'}") as (url, _):
        # a fresh connection each, so the kernel hands them to either worker
        ids = [httpx.post(f"{url}/v2/videos/generations", json=BODY, headers=AUTH).json()["task_id"] for _ in range(6)]
        page = log_in(browser, url)
        expect(page.locator("#worker")).to_contain_text("Tasks: every worker's (shared store)")
        expect(page.locator("#tasks-table tbody tr")).to_have_count(len(ids))
        for task_id in ids:
            expect(page.locator(f'#tasks-table tr[data-task-id="{task_id}"]')).to_have_count(1)
        page.close()
