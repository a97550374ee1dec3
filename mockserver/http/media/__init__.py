"""Output files: their names and types, their looks, and the answer of an expired link.

The files themselves are made in code (``render``), so the package ships no binaries, in the shape
the request asked for (``shape``), kept in memory (``cache``) and served as a CDN serves (``serve``).
"""

from __future__ import annotations

import time
from functools import cache

from starlette.responses import Response

from ... import contract
from ...engine.output_shape import SUBTYPES, filename
from . import render


def content_type(scope: str) -> str:
    return f"{contract.media_type(scope)}/{SUBTYPES[scope]}"


def hue(task_id: str, index: int) -> int:
    """The colour (and pitch) of one output: from the task id, and a step on for each further output.

    The mock's ids end in their MAC tag, hex as good as random, so its last digits are the colour.
    """
    return (int(task_id[-4:], 16) + 7 * index) % render.HUES  # 7 is prime to HUES: 32 outputs, 32 colours


@cache
def filenames(scope: str, count: int) -> tuple[str, ...]:
    """The names a task's outputs are served under: one for a single ``output``, else ``count``."""
    return tuple(filename(scope, i) for i in range(max(count, 1)))


def expired(expires: float, now: float) -> Response:
    """What an expired signed link answers on S3 (and CDNs in front of it): 403 with an XML error."""
    stamp = "%Y-%m-%dT%H:%M:%SZ"
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message>'
        f"<Expires>{time.strftime(stamp, time.gmtime(expires))}</Expires>"
        f"<ServerTime>{time.strftime(stamp, time.gmtime(now))}</ServerTime></Error>"
    )
    return Response(body, status_code=403, media_type="application/xml")
