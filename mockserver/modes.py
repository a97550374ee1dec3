"""The mode a request is read as (``action``) and who plays it (``platform``), as a task answer shows them.

The spec decides the mode from the inputs a request carries: ``images`` first, then ``videos``,
else text. The names per scope are data in ``task.json`` (``x-actions``), so the mock, the docs and
the kit read one table. A record keeps the mode as a small index (0 text, 1 images, 2 videos).
"""

from __future__ import annotations

from typing import Any

from . import contract

INPUTS = ("text", "images", "videos")
SEEN = "mockserver.action"  # set in the ASGI scope by submits and polls, for the journal to show
ACTIONS: dict[str, tuple[str, ...]] = {
    scope: tuple(names[given] for given in INPUTS)
    for scope, names in contract.schema("task")["properties"]["action"]["x-actions"].items()
}


def read(payload: dict[str, Any]) -> int:
    """The mode's index: a non-empty ``images`` wins over ``videos``, as the spec tests it first."""
    if payload.get("images"):
        return 1
    if payload.get("videos"):
        return 2
    return 0
