from __future__ import annotations

import pytest
from fakeclock import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()
