"""Values the spec leaves open that our schema's stricter reading refuses: warned about, not failed.

The spec shows ``"progress": "100%"`` and integer unix seconds, but says nothing against ``null``
before a task starts, ``"12.5%"``, or a float from ``time.time()``. Such a value is rewritten to the
nearest form ``schemas/task.json`` accepts, but only when both whole numbers around it are accepted
there too: so the schema's own bounds decide, and ``"100.5%"``, ``"-0.5%"`` or ``-1.5`` stay failures.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mockserver import contract

_DECIMAL_PERCENT = re.compile(r"^(-?\d+\.\d+)%$")


def tolerated(task: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """The task with every value only our reading refuses put in the form it accepts, and what was put."""
    task = dict(task)
    notes: list[str] = []
    if "progress" in task and task["progress"] is None:
        del task["progress"]
        notes.append('progress is null (read as absent; the spec shows a string like "100%")')
    elif match := _DECIMAL_PERCENT.match(str(task.get("progress"))):
        whole = _whole("progress", float(match.group(1)), lambda n: f"{n}%")
        if whole is not None:
            notes.append(f'progress {task["progress"]} is not a whole percent (the spec shows "100%")')
            task["progress"] = whole
    for name in contract.lifecycle()["timestamp_order"]:
        value = task.get(name)
        if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
            whole = _whole(name, value, lambda n: n)
            if whole is not None:
                notes.append(f"{name}={value!r} is not whole seconds (the spec shows integers)")
                task[name] = whole
    return task, notes


def _whole(prop: str, value: float, form: Any) -> Any:
    """``form(floor(value))`` when the schema accepts it and ``form(ceil(value))`` alike, else None."""
    low, high = form(math.floor(value)), form(math.ceil(value))
    if contract.property_valid("task", prop, low) and contract.property_valid("task", prop, high):
        return low
    return None
