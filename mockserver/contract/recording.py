"""The recording format (``schemas/recording.json``): one task's line built from what was seen, and lines read back.

Both the recorder (``mockserver record``) and the kit (``--contract-record``) see the same exchanges, a
submit, polls and output fetches, so both feed one ``TaskLog``; ``fit`` and ``--replay`` read lines back
through ``read``, which checks each against the schema and says which line is wrong and why.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

from . import describe, errors, lifecycle, quote, schema

SCHEMA = "recording"
VERSION = 1
FOREVER = 31_536_000  # a max-age of a year or more: the link never expires
_TERMINAL = tuple(lifecycle()["terminal"])
MOST_KEPT = 5_000  # progress samples, status changes and errors a task keeps: one polled for ever stays bounded
_MAX_AGE = re.compile(r"max-age\s*=\s*([0-9]+)", re.IGNORECASE)
_SURROGATE = re.compile("[\ud800-\udfff]")


def readable(value: Any) -> str | None:
    """``value`` if it is text the schema's ``nonEmptyString`` takes (not only white space), else None."""
    if isinstance(value, str) and _pattern(schema("common")["$defs"]["nonEmptyString"]["pattern"]).search(value):
        return value
    return None


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def escaped(value: str) -> str:
    """``value`` with each lone surrogate (which no UTF-8 file, TOML included, can hold) written as ``\\udxxx``."""
    return _SURROGATE.sub(lambda found: f"\\u{ord(found[0]):04x}", value)


def mode(scope: str, body: Any) -> str:
    """The action a submit reads as: non-empty ``images`` first, then ``videos``, else text (the seed's rule)."""
    actions = schema("task")["properties"]["action"]["x-actions"].get(scope, {})
    given = body if isinstance(body, dict) else {}
    kind = "images" if given.get("images") else "videos" if given.get("videos") else "text"
    return actions.get(kind, kind)


def percent(value: Any) -> float | None:
    """``"37%"`` or a number from 0 to 100 as a number; None for anything else."""
    if isinstance(value, str) and value.endswith("%"):
        value = value[:-1]
    try:
        number = float(value) if isinstance(value, str | int | float) and not isinstance(value, bool) else math.nan
    except ValueError:
        return None
    return number if 0 <= number <= 100 else None


def output_urls(task: dict[str, Any]) -> tuple[str, list[str]]:
    """The field outputs came in and their URLs, ``output`` first, without repeats."""
    found = task.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    outputs = data.get("outputs")
    listed: list[Any] = outputs if isinstance(outputs, list) else []
    urls = [u for u in [data.get("output"), *listed] if isinstance(u, str) and u]
    form = "outputs" if any(isinstance(u, str) and u for u in listed) else "output" if urls else "none"
    return form, list(dict.fromkeys(urls))


def max_age(headers: dict[str, str], now: float) -> float | None:
    """Seconds a link's answer says it stays valid (Cache-Control max-age, else Expires); None if it says not."""
    found = _MAX_AGE.search(headers.get("cache-control", ""))
    if found:
        return float(found.group(1))
    try:
        return max(0.0, parsedate_to_datetime(headers["expires"]).timestamp() - now)
    except (KeyError, TypeError, ValueError, IndexError):
        return None


@dataclass
class _Summary:
    count: int = 0
    total: float = 0.0
    most: float = 0.0

    def add(self, seconds: float) -> None:
        self.count, self.total, self.most = self.count + 1, self.total + seconds, max(self.most, seconds)

    def table(self) -> dict[str, Any]:
        return {"count": self.count, "mean": _seconds(self.total / self.count), "max": _seconds(self.most)}


@dataclass
class TaskLog:
    """One task as a client of the gateway saw it; ``line()`` is its recording line at any moment."""

    scope: str
    model: str
    mode: str
    submitted_at: float
    prompt: str | None = None
    task_id: str | None = None
    submit_status: int | None = None
    submit_latency: float | None = None
    statuses: list[dict[str, Any]] = field(default_factory=list)
    progress: list[list[float]] = field(default_factory=list)
    ended: str | None = None
    fail_reason: str | None = None
    platform: str | None = None
    reported: dict[str, float] = field(default_factory=dict)
    form: str = "none"
    urls: list[str] = field(default_factory=list)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)
    link_ttl: float | None = None
    polls: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    poll_latency: _Summary = field(default_factory=_Summary)
    download_latency: _Summary = field(default_factory=_Summary)

    @classmethod
    def start(cls, scope: str, body: Any, at: float, keep_prompt: bool = False) -> TaskLog:
        """A log for a submit of ``body`` sent at unix time ``at``; the prompt is kept only if asked."""
        given = body if isinstance(body, dict) else {}
        model = readable(given.get("model")) or "unknown"
        prompt = given.get("prompt") if keep_prompt and isinstance(given.get("prompt"), str) else None
        return cls(scope, model, mode(scope, body), at, prompt)

    def _at(self, when: float) -> float:
        return _seconds(when - self.submitted_at)

    def error(self, request: str, when: float, status: int | None, headers: dict[str, str]) -> None:
        entry: dict[str, Any] = {"request": request, "at": self._at(when), "status": status}
        if "retry-after" in headers:
            entry["retry_after"] = headers["retry-after"][:200]
        if "text/html" in headers.get("content-type", ""):
            entry["html"] = True
        if len(self.errors) < MOST_KEPT:
            self.errors.append(entry)

    def submitted(self, when: float, latency: float, status: int | None, headers: dict[str, str], body: Any) -> None:
        """The submit's answer, at unix time ``when``; a 2xx with a ``task_id`` starts the task."""
        self.submit_status, self.submit_latency = status, _seconds(latency)
        if status is None or status >= 400:
            self.error("submit", when, status, headers)
            return
        self.task_id = readable(body.get("task_id")) if isinstance(body, dict) else None

    def polled(self, when: float, latency: float, status: int | None, headers: dict[str, str], task: Any) -> None:
        """One poll's answer; a terminal status ends the task (later polls are still counted)."""
        self.polls += 1
        if status is not None:
            self.poll_latency.add(max(0.0, latency))
        if status is None or status >= 400:
            self.error("poll", when, status, headers)
            return
        if not isinstance(task, dict) or self.ended:
            return
        at = self._at(when)
        shown = task.get("status")
        seen = readable(shown[:200]) if isinstance(shown, str) else None  # cut first: 200 spaces and a word is none
        if seen is not None:
            if self.statuses and self.statuses[-1]["status"] == seen:
                self.statuses[-1]["last"] = at
            else:
                if len(self.statuses) >= MOST_KEPT:  # a status that flips for ever: the latest takes the last place
                    self.statuses.pop()
                self.statuses.append({"status": seen, "first": at, "last": at})
        value = percent(task.get("progress"))
        if value is not None and seen not in _TERMINAL and len(self.progress) < MOST_KEPT:
            self.progress.append([at, value])
        if isinstance(task.get("platform"), str):
            self.platform = task["platform"][:200]
        for name in ("submit_time", "start_time", "finish_time"):
            stamp = task.get(name)
            if isinstance(stamp, int | float) and not isinstance(stamp, bool) and math.isfinite(stamp) and stamp > 0:
                self.reported[name] = stamp
        if seen in _TERMINAL:
            self.ended = seen
            if seen == "FAILURE":
                reason = task.get("fail_reason")
                self.fail_reason = (reason if isinstance(reason, str) else "")[:4096]
            else:
                self.form, self.urls = output_urls(task)

    def fetched(
        self, url: str, when: float, latency: float, status: int | None, headers: dict[str, str], size: int | None
    ) -> None:
        """An output's answer (``headers`` by lower-case name); ``size`` is the whole file's, where known."""
        self.download_latency.add(max(0.0, latency))
        if status is None or status >= 400:
            self.error("download", when, status, headers)
        entry: dict[str, Any] = {"status": status}
        if status is not None and status < 300:
            if headers.get("content-type"):
                entry["type"] = headers["content-type"].split(";")[0].strip()[:200]
            if size is not None:
                entry["size"] = size
            lasts = max_age(headers, when)
            finished = self._finished()
            if lasts is not None and finished is not None:
                self.link_ttl = 0.0 if lasts >= FOREVER else _seconds(when - finished + lasts)
        self.media.setdefault(url, entry)

    def _finished(self) -> float | None:
        """Unix time the task was last seen unfinished or first seen finished: the middle of the two."""
        if not self.ended:
            return None
        before = self.statuses[-2]["last"] if len(self.statuses) > 1 else 0.0
        return self.submitted_at + (before + self.statuses[-1]["first"]) / 2

    def line(self) -> dict[str, Any]:
        line: dict[str, Any] = {"version": VERSION, "scope": self.scope, "model": self.model, "mode": self.mode}
        if self.task_id:
            line["task_id"] = self.task_id
        if self.prompt is not None:
            line["prompt"] = self.prompt
        line.update(
            submitted_at=self.submitted_at,
            submit={"status": self.submit_status},
            statuses=self.statuses,
            progress=self.progress,
            ended=self.ended,
        )
        if self.fail_reason is not None:
            line["fail_reason"] = self.fail_reason
        if self.platform is not None:
            line["platform"] = self.platform
        if self.reported:
            line["reported"] = self.reported
        if self.ended == "SUCCESS":
            media = [self.media[url] for url in self.urls if url in self.media]
            line["outputs"] = {"form": self.form, "count": len(self.urls), "media": media}
        if self.link_ttl is not None:
            line["link_ttl"] = self.link_ttl
        line.update(polls=self.polls, errors=self.errors, latency=self._latency())
        return line

    def _latency(self) -> dict[str, Any]:
        latency: dict[str, Any] = {} if self.submit_latency is None else {"submit": self.submit_latency}
        if self.poll_latency.count:
            latency["poll"] = self.poll_latency.table()
        if self.download_latency.count:
            latency["download"] = self.download_latency.table()
        return latency


def _seconds(value: float) -> float:
    """Within the schema's range, to the microsecond: a recording is read by people too."""
    return round(min(max(value, 0.0), 31_536_000.0), 6)


class Writer:
    """Appends whole lines: each is one ``write`` of its bytes and a newline, so a stop leaves no half line."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, line: dict[str, Any]) -> None:
        """One line; raises OSError as ``os.write`` does. A lone surrogate (a model sent as ``"\\ud800"``), which
        UTF-8 cannot encode, is written as the JSON escape it came as: it can only lie inside a string."""
        text = json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n"
        data = memoryview(text.encode("utf-8", "backslashreplace"))
        while data:
            data = data[os.write(self._fd, data) :]

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class RecordingError(ValueError):
    """A line that is not a recording line; the message names the file, the line and the reason."""


@dataclass(frozen=True)
class Recording:
    lines: list[Any]  # each line, or what ``keep`` made of it
    skipped: list[str]  # a warning per line skipped


Check = Callable[[str], tuple[str | None, Any]]  # a line's text to its problem (None if none) and its value


def read(
    path: str | os.PathLike[str],
    skip_bad: bool = False,
    parse: Check | None = None,
    keep: Callable[[dict[str, Any]], Any] | None = None,
) -> Recording:
    """Every line of a recording, each checked against ``schemas/recording.json`` (by ``parse``, if given), as
    ``keep`` makes it (a summary of what the reader needs holds a million lines where their dicts would not).

    A truncated or hand-edited line is refused (``RecordingError``, naming it and why), or with
    ``skip_bad`` left out with a warning; a stray line (``stray``) is always left out with a warning. A
    recording with no line left is refused either way. One pass, a line at a time.
    """
    lines, skipped = [], []
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below; read lazily, a recording may be long
    except OSError as exc:
        raise RecordingError(f"{path}: {exc.strerror or exc}") from exc
    with handle:
        for number, problem, line in _lines(handle, parse or judge_line):
            if problem is None:
                problem = stray(line)
                if problem is None:
                    lines.append(line if keep is None else keep(line))
                else:
                    skipped.append(f"{path}:{number}: {problem}")
                continue
            message = f"{path}:{number}: {problem}"
            if not skip_bad:
                raise RecordingError(message)
            skipped.append(message)
    if not lines:
        raise RecordingError(f"{path}: no recording lines" + (f" ({len(skipped)} skipped)" if skipped else ""))
    return Recording(lines, skipped)


def stray(line: dict[str, Any]) -> str | None:
    """Why a line the schema takes cannot be played, or None: a request to a scope the contract lacks, or a
    model name no config can hold (a lone surrogate, which TOML cannot write)."""
    scopes = schema("common")["$defs"]["scope"]["enum"]
    if line["scope"] not in scopes:
        return f"scope {quote(line['scope'])} is not one of {scopes}: a stray request, left out"
    if _SURROGATE.search(line["model"]):
        return f"model {quote(line['model'])} holds a lone surrogate, which no config can name: left out"
    return None


def _lines(handle: Any, parse: Check) -> Iterator[tuple[int, str | None, dict[str, Any]]]:
    number = 0
    try:
        for number, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            if not text.endswith("\n"):
                yield number, "the line is cut short (no newline at its end): the recording was truncated", {}
                continue
            yield number, *parse(text)
    except UnicodeDecodeError as exc:
        yield number + 1, f"not UTF-8 text ({exc.reason})", {}


def judge_line(text: str) -> tuple[str | None, dict[str, Any]]:
    """A line's problem (None if it has none) and the line, judged as the mock's settings are: numbers finite
    (``NaN``, ``Infinity`` and ``1e999`` refused), integers written as such."""
    try:
        line = json.loads(text)
    except (ValueError, RecursionError) as exc:
        return f"not JSON ({exc})", {}
    return judged(line, _settings)


def _settings(name: str, line: Any) -> list[Any]:
    return errors(name, line, settings=True)


def judged(line: Any, judge: Callable[[str, Any], list[Any]]) -> tuple[str | None, dict[str, Any]]:
    """``line`` judged against the schema by ``judge`` (``contract.errors``, or as fast and as exact)."""
    try:
        problems = judge(SCHEMA, line)
    except RecursionError:
        return "nested too deeply", {}
    if problems:
        return describe(problems[0]), {}
    return None, line
