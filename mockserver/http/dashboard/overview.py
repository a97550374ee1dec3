"""The overview's series: tasks by state, requests per second, latency percentiles and faults, over a window.

Tasks by state at a past moment need no history: a task's state is a pure function of its record and
the clock, so each sample asks the engine what every listed record showed then. Requests, latencies
and faults come from the journal, so they cover its last ``journal_size`` entries.
"""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from ...engine import lifecycle

WINDOW = 60.0  # seconds of the mock's clock the charts cover
BUCKETS = 30
PERCENTILES = (50, 90, 99)


def percentile(values: list[float], p: int) -> float:
    """The nearest-rank percentile of sorted ``values``."""
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)]


def series(journal: list[dict[str, Any]], records: list[lifecycle.Record], now: float) -> dict[str, Any]:
    step = WINDOW / BUCKETS
    start = now - WINDOW
    ends = [start + step * (n + 1) for n in range(BUCKETS)]
    states: dict[str, list[int]] = {state: [0] * BUCKETS for state in lifecycle.STATES}
    for record in records:
        for n, at in enumerate(ends):
            if record.submitted_at <= at:
                states[lifecycle.status_at(record, at)][n] += 1
    latencies: list[list[float]] = [[] for _ in range(BUCKETS)]
    faults: Counter[str] = Counter()
    for entry in journal:
        for kind in (entry.get("fault") or "").split(","):
            if kind:
                faults[kind] += 1
        n = math.floor((entry["at"] - start) / step)
        if 0 <= n < BUCKETS:
            latencies[n].append(entry["ms"])
    for bucket in latencies:
        bucket.sort()
    return {
        "times": ends,
        "states": states,
        "rps": [len(bucket) / step for bucket in latencies],
        "latency_ms": {f"p{p}": [percentile(b, p) if b else None for b in latencies] for p in PERCENTILES},
        "faults": dict(sorted(faults.items())),
    }
