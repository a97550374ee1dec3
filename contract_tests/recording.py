"""``--contract-record FILE``: each paid task of a run as a recording line (``schemas/recording.json``).

The kit walks its paid probes as the recorder watches a client, so the same ``TaskLog`` turns a
probe's submit, polls and output downloads into the same line, and ``mockserver fit`` or
``--replay`` read a kit's run as they read a recording. Lines go out as each walk ends.
"""

from __future__ import annotations

import json
from typing import Any

from mockserver.contract.recording import TaskLog

from .findings import Exchange
from .runner import Walk


def _headers(exchange: Exchange) -> dict[str, str]:
    return {k.lower(): v for k, v in exchange.response_headers}


def _sent(exchange: Exchange) -> Any:
    try:
        return json.loads(exchange.request_body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None


def _size(exchange: Exchange) -> int | None:
    length = _headers(exchange).get("content-length", "")
    return int(length) if exchange.status == 200 and length.isdigit() else None


def line(scope: str, submit: Exchange, walk: Walk | None, at: float) -> dict[str, Any]:
    """The line of one accepted submit, and of its walk when it had one; ``at``: when the submit was answered."""
    log = TaskLog.start(scope, _sent(submit), at - submit.elapsed)
    log.submitted(at, submit.elapsed, submit.status, _headers(submit), submit.json())
    if walk is None:
        return log.line()
    for poll in walk.polls:
        log.polled(poll.at, poll.exchange.elapsed, poll.exchange.status, _headers(poll.exchange), poll.task)
    last = walk.polls[-1].at if walk.polls else at
    for download in walk.downloads:
        status, headers = download.status, _headers(download)
        log.fetched(download.url, last, download.elapsed, status, headers, _size(download))
    return log.line()
