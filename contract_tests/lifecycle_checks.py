"""Checks across the successive polls of one task: what no single response can show.

The rules are data in ``schemas/lifecycle.json`` (states, allowed transitions, terminal states,
timestamp order, which timestamps are final, progress rules), read through ``contract.lifecycle()``.
Each check takes a ``Walk`` and yields its findings; a check that finds nothing passed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from itertools import pairwise
from typing import Any, TypeGuard

from mockserver import contract
from mockserver.contract.recording import percent

from . import lenient
from .checks import is_json_type
from .client import is_terminal, output_urls
from .findings import FAIL, WARN, Exchange, Finding, Verdicts
from .runner import Walk, transient_error
from .sniff import media_kind

EARLIEST = 946_684_800  # 2000-01-01: a unix time in seconds is later than this
SKEW = 3_600.0  # a server's clock may run ahead of ours, but not by an hour (a time-zone slip is hours)

WalkCheck = Callable[[Walk], Iterator[Finding]]
WALK_CHECKS: list[WalkCheck] = []


def walk_check(fn: WalkCheck) -> WalkCheck:
    WALK_CHECKS.append(fn)
    return fn


def _rules() -> dict:
    return contract.lifecycle()


def _seen(walk: Walk) -> list[tuple[Exchange, dict]]:
    return [(p.exchange, p.task) for p in walk.polls if p.task is not None]


def _set(value: object) -> TypeGuard[float]:
    """A timestamp counts as set when it is a number other than 0 (0, null and absence mean not yet)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value != 0


@walk_check
def poll_json(walk: Walk) -> Iterator[Finding]:
    """Every 200 answer to a poll is a JSON object with a JSON content type."""
    for poll in walk.polls:
        ex = poll.exchange
        if ex.status == 200 and (poll.task is None or not is_json_type(ex.content_type)):
            yield Finding("poll_json", FAIL, "a poll answered 200 without a JSON object body", (ex,))
            return


@walk_check
def task_schema(walk: Walk) -> Iterator[Finding]:
    """Each poll's task matches ``schemas/task.json``: spec states, progress form, a result at SUCCESS.

    Where only the schema's stricter reading refuses a value the spec leaves open (see ``lenient``),
    the task is warned about once and judged with that value in the accepted form.
    """
    warned = False
    for ex, task in _seen(walk):
        if not contract.errors("task", task):
            continue
        read, notes = lenient.tolerated(task)
        problems = contract.errors("task", read)
        if problems:
            clauses = "; ".join(contract.describe(p) for p in problems[:3])
            yield Finding("task_schema", FAIL, f"task does not match schemas/task.json: {clauses}", (ex,))
            return
        if not warned:
            warned = True
            yield Finding("task_schema", WARN, f"tolerated, as the spec leaves it open: {'; '.join(notes)}", (ex,))


@walk_check
def task_id_echoed(walk: Walk) -> Iterator[Finding]:
    for ex, task in _seen(walk):
        if task.get("task_id") != walk.task_id:
            yield Finding(
                "task_id_echoed", FAIL, f"polled {walk.task_id!r}, got task_id {task.get('task_id')!r}", (ex,)
            )
            return


# Fields of the spec's real answer that say what a task is, not how far it got: once shown, they stay.
_NAMING = ("action", "platform")
_RESULTS = frozenset({"output", "outputs"})


def _echoes(task: dict, sent: dict) -> Iterator[tuple[str, object]]:
    """The fields of the request that the task shows again, at its top level or in ``data``."""
    found = task.get("data")
    data: dict = found if isinstance(found, dict) else {}
    for where in (task, data):
        yield from ((k, v) for k, v in where.items() if k in sent and k not in _RESULTS and v is not None)


def _short(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."


@walk_check
def task_identity(walk: Walk) -> Iterator[Finding]:
    """Each poll answers its own task: what it echoes of the request is that request's, and what names it stays.

    An echo holding another task's value of the run (its prompt, its model) is a poll answered with the
    wrong task. One matching no request is only warned about: gateways rewrite model names and prompts.
    """
    sent = walk.request if isinstance(walk.request, dict) else {}
    warned = False
    for ex, task in _seen(walk):
        for name, value in _echoes(task, sent):
            if value == sent[name]:
                continue
            if any(isinstance(other, dict) and other.get(name) == value for other in walk.siblings):
                msg = f"shows {name}={_short(value)}, which another task of the run was sent, not {_short(sent[name])}"
                yield Finding("task_identity", FAIL, msg, (ex,))
                return
            if not warned:
                warned = True
                msg = f"shows {name}={_short(value)}, not the {_short(sent[name])} it was sent (rewritten by the gateway?)"
                yield Finding("task_identity", WARN, msg, (ex,))
    first: dict[str, tuple[Exchange, object]] = {}
    for ex, task in _seen(walk):
        for name in (*sent, *_NAMING):
            value = task.get(name)
            if value in (None, ""):
                continue
            if name in first and first[name][1] != value:
                was = _short(first[name][1])
                msg = f"{name} changed from {was} to {_short(value)} between polls: one answered another task"
                yield Finding("task_identity", FAIL, msg, (first[name][0], ex))
                return
            first.setdefault(name, (ex, value))


@walk_check
def forward_only(walk: Walk) -> Iterator[Finding]:
    """States only move along ``transitions`` (skips allowed, never back)."""
    allowed = _rules()["transitions"]
    before: tuple[Exchange, Any] | None = None
    for ex, task in _seen(walk):
        status = task.get("status")
        if status not in allowed:
            continue
        if before and status != before[1] and status not in allowed[before[1]]:
            msg = f"moved from {before[1]} to {status}"
            yield Finding("forward_only", FAIL, msg, (before[0], ex))
            return
        before = (ex, status)


@walk_check
def terminal_holds(walk: Walk) -> Iterator[Finding]:
    """Once SUCCESS or FAILURE, every later poll says the same, with the same final timestamps."""
    final = _rules()["final_timestamps"]
    first: tuple[Exchange, dict] | None = None
    for ex, task in _seen(walk):
        if first is None:
            first = (ex, task) if is_terminal(task) else None
            continue
        changed = [k for k in ("status", *final) if task.get(k) != first[1].get(k)]
        if changed:
            yield Finding("terminal_holds", FAIL, f"a finished task changed {', '.join(changed)}", (first[0], ex))
            return


def progress_value(task: dict) -> float | None:
    """The task's progress as a number from 0 to 100, read as a recording reads it; None where it shows none."""
    return percent(task.get("progress"))


@walk_check
def progress_monotonic(walk: Walk) -> Iterator[Finding]:
    """Progress never falls. FAILURE is exempt: gateways show 0%, 100% or where it stopped."""
    if not _rules()["progress"]["monotonic"]:
        return
    failure = [s for s in _rules()["terminal"] if s != _rules()["success"]]
    best: tuple[Exchange, float] | None = None
    for ex, task in _seen(walk):
        value = progress_value(task)
        if value is None or task.get("status") in failure:
            continue
        if best and value < best[1]:
            yield Finding("progress_monotonic", FAIL, f"progress fell from {best[1]:g}% to {value:g}%", (best[0], ex))
            return
        best = (ex, value)


@walk_check
def timestamps_plausible(walk: Walk) -> Iterator[Finding]:
    """Set timestamps are unix seconds in UTC: after 2000, and not ahead of our clock by an hour.

    Nor is the first of them (``submit_time``) an hour or more before the kit submitted the task: a
    local time read as UTC west of Greenwich, or UTC read as local time east of it, slips by hours.
    """
    first = _rules()["timestamp_order"][0]
    for poll in walk.polls:
        if poll.task is None:
            continue
        for name in _rules()["timestamp_order"]:
            value = poll.task.get(name)
            if _set(value) and not EARLIEST <= value <= poll.at + SKEW:
                msg = f"{name}={value!r} is not a plausible unix time in seconds (now is about {int(poll.at)})"
                yield Finding("timestamps_plausible", FAIL, msg, (poll.exchange,))
                return
            if name == first and _set(value) and value < walk.started - SKEW:
                hours = (walk.started - value) / 3600
                msg = f"{name}={value!r} is {hours:.1f} h before the kit submitted the task (a time-zone slip?)"
                yield Finding("timestamps_plausible", FAIL, msg, (poll.exchange,))
                return


@walk_check
def timestamp_order(walk: Walk) -> Iterator[Finding]:
    """Within one answer, set timestamps keep the spec's order: submit <= start <= finish."""
    order = _rules()["timestamp_order"]
    for ex, task in _seen(walk):
        values = [(n, value) for n in order if _set(value := task.get(n))]
        for (a, x), (b, y) in pairwise(values):
            if x > y:
                yield Finding("timestamp_order", FAIL, f"{a}={x} is after {b}={y}", (ex,))
                return


@walk_check
def timestamps_stay(walk: Walk) -> Iterator[Finding]:
    """A set timestamp keeps its value: a failure for the final ones, a warning (our reading) for the rest."""
    final = set(_rules()["final_timestamps"])
    for name in _rules()["timestamp_order"]:
        first: tuple[Exchange, object] | None = None
        for ex, task in _seen(walk):
            value = task.get(name)
            if not _set(value):
                if first is not None and name in final:
                    msg = f"{name} was {first[1]} and then unset ({value!r})"
                    yield Finding("timestamps_stay", FAIL, msg, (first[0], ex))
                    break
                continue
            if first is None:
                first = (ex, value)
            elif value != first[1]:
                severity = FAIL if name in final else WARN
                yield Finding("timestamps_stay", severity, f"{name} changed from {first[1]} to {value}", (first[0], ex))
                break


@walk_check
def finishes(walk: Walk) -> Iterator[Finding]:
    """The task reaches SUCCESS or FAILURE within the timeout, and stays readable all the while."""
    last = walk.polls[-1].exchange if walk.polls else None
    shown = (last,) if last else ()
    if walk.outcome == "timeout":
        status = (walk.last or {}).get("status")
        yield Finding("finishes", FAIL, f"not finished after the {walk.outcome} (last status {status})", shown)
    elif walk.outcome == "gone":
        yield Finding("finishes", FAIL, "a task that was readable stopped being found", shown)
    elif walk.outcome == "unreadable":
        yield Finding("finishes", FAIL, "the task could not be read", shown)
    elif walk.outcome == "off-contract":
        status = (walk.last or {}).get("status")
        yield Finding("finishes", FAIL, f"the task kept a status outside the spec's states ({status!r})", shown)
    else:
        if first_miss := _missed_at_first(walk):
            yield Finding("finishes", WARN, "a new task was not found at first; it appeared later", (first_miss,))
        if lapse := _lapse(walk):
            msg = "a task already found answered not found for a while (a lagging replica?), then was found again"
            yield Finding("finishes", WARN, msg, (lapse,))


def _missed_at_first(walk: Walk) -> Exchange | None:
    """A "not found" before the task was first seen; a 429 or 5xx there is ``transient_errors``' business."""
    for poll in walk.polls:
        if poll.task is not None:
            return None
        if not transient_error(poll.exchange):
            return poll.exchange
    return None


def _lapse(walk: Walk) -> Exchange | None:
    """The first poll that found nothing between two that found the task."""
    found = [i for i, p in enumerate(walk.polls) if p.task is not None]
    if not found:
        return None
    between = walk.polls[found[0] : found[-1]]
    return next((p.exchange for p in between if p.task is None and not transient_error(p.exchange)), None)


@walk_check
def transient_errors(walk: Walk) -> Iterator[Finding]:
    """429 and 5xx while polling are survivable (the client retries), but worth knowing about."""
    hiccups = [p.exchange for p in walk.polls if transient_error(p.exchange)]
    if hiccups and walk.outcome == "finished":
        yield Finding(
            "transient_errors", WARN, f"{len(hiccups)} poll(s) answered an error and were retried", (hiccups[0],)
        )


_UNLABELLED = frozenset({"", "application/octet-stream", "binary/octet-stream"})


@walk_check
def outputs_download(walk: Walk) -> Iterator[Finding]:
    """Every output URL downloads as media of the scope's kind (``videos``: ``video/*``).

    A CDN that labels the file only octet-stream is warned about when the bytes are right.
    """
    kind = contract.media_type(walk.scope)
    for ex in walk.late_downloads:
        yield Finding("outputs_download", WARN, "an output URL failed at first and downloaded on a retry", (ex,))
    for ex in walk.downloads:
        if ex.status is None or not 200 <= ex.status < 300:
            yield Finding("outputs_download", FAIL, "an output URL did not download", (ex,))
            continue
        if not ex.response_body:
            yield Finding("outputs_download", FAIL, "an output URL downloaded nothing", (ex,))
        elif ex.content_type.partition("/")[0] != kind:
            unlabelled = ex.content_type in _UNLABELLED and media_kind(ex.response_body) == kind
            severity = WARN if unlabelled else FAIL
            msg = f"an output of {walk.scope} came as {ex.content_type or 'no content type'}, not {kind}/*"
            yield Finding("outputs_download", severity, msg, (ex,))


def run(
    walk: Walk, verdicts: Verdicts, *, only: set[str] | None = None, skip: frozenset[str] | set[str] = frozenset()
) -> None:
    for fn in WALK_CHECKS:
        if fn.__name__ in skip or (only is not None and fn.__name__ not in only):
            continue
        findings = list(fn(walk))
        if not findings:
            verdicts.passed(fn.__name__)
        for finding in findings:
            verdicts.add(finding)


def outputs_of(walk: Walk) -> list[str]:
    last = walk.last
    return output_urls(last) if last and last.get("status") == _rules()["success"] else []
