from __future__ import annotations

import pytest

from tests.helpers.fakeclock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()
