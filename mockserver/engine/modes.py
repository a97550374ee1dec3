"""The mode a request is read as (``action``) and who plays it (``platform``), as a task answer shows them.

The spec decides the mode from the inputs a request carries: ``images`` first, then ``videos``,
else text. The names per scope are data in ``task.json`` (``x-actions``), so the mock, the docs and
the kit read one table. A record keeps the mode as a small index in its shape (``encodings.py``).
"""

from __future__ import annotations

from .. import contract
from . import encodings

INPUTS = encodings.MODES
SEEN = "mockserver.action"  # set in the ASGI scope by submits and polls, for the journal to show
ACTIONS: dict[str, tuple[str, ...]] = {
    scope: tuple(names[given] for given in INPUTS)
    for scope, names in contract.schema("task")["properties"]["action"]["x-actions"].items()
}


read = encodings.mode  # the mode's index: a non-empty ``images`` wins over ``videos``, as the spec tests it first
LABELS = ("text-to", "image-to", "video-to")  # the metrics' ``mode`` label, by the mode's index in a shape
