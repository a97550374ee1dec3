"""Debian's chromium, driven by Playwright, for the dashboard's tests; missing, the tests fail saying so.

And the markers that follow from a fixture: a test that asks for a server process, a redis-server or the
browser, however indirectly, is marked so (``-m "not redis"``), with no mark to forget.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
MARKS = {  # fixture -> what it starts (tests/reliability/conftest.py has all but the browser)
    "browser": ("browser", "processes"),
    "redis_server": ("redis", "processes"),
    "spawn": ("processes",),
    "spawn_once": ("processes",),
    "spawn_under": ("processes",),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture in MARKS.keys() & set(getattr(item, "fixturenames", ())):
            for mark in MARKS[fixture]:
                item.add_marker(mark)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium for the module. Playwright's own browser download is never used."""
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"Debian's chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()
