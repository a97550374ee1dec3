"""``mockserver fit``: a recording (``schemas/recording.json``) turned into a config that ``--config`` plays.

Per model it estimates the queue and run times (fixed, uniform, normal or lognormal, whichever has
the highest likelihood, clamped to what was seen), the progress step, the failure rate and the
catalogue of reasons, the output shape, the link lifetime and its platform; over the whole recording,
the HTTP fault rates. Each estimate says how many tasks it rests on, and a warning goes out for those
that rest on fewer than ``--min-tasks``.

A status change happens between the last poll that showed the old status and the first that showed
the new one; its time is taken as the middle of the two. A task whose IN_PROGRESS no poll saw gives
no split between queue and run, and is left out of those two estimates.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import sys
import tomllib
from collections import Counter
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from functools import reduce
from pathlib import Path
from typing import Any

from .. import contract
from ..contract import command_line
from ..contract.recording import RecordingError, escaped, judged, read, readable
from ..engine import jsonio, validate
from ..engine.config import FAIL_REASONS, MAX_MODELS, ConfigError, config_from
from ..engine.profiles import MODELS, Timing, table
from ..engine.scenarios import MAX_REASONS

MIN_TASKS = 30
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
TERMINAL = tuple(contract.lifecycle()["terminal"])  # the states a task ends in (schemas/lifecycle.json)
MAX_WEIGHTS = 100  # entries in a weighted fail_reasons list (each name repeated by its share)
_REASONS_LEFT = MAX_REASONS - len(FAIL_REASONS)  # the embedded catalogue stays, so a fitted config adds to it
_FAULTS = contract.schema("mock-config")["$defs"]["faults"]
ONE_DRAW: dict[str, Any] = _FAULTS["x-sum-at-most"]  # the groups of rates one draw decides among, and their most
POLL_FAULTS = tuple(int(name[5:]) for name in _FAULTS["properties"] if name.startswith("poll_"))  # 500, 502, 503
MAX_RETRY_AFTER: int = _FAULTS["properties"]["retry_after"]["maximum"]


@dataclass(frozen=True)
class Fitted:
    """A timing chosen by likelihood, with every family's log-likelihood and how many values it rests on."""

    timing: Timing
    count: int
    likelihoods: dict[str, float]


def fit_timing(values: list[float]) -> Fitted:
    """Each family's maximum-likelihood parameters (closed-form), the likeliest kept, clamped to what was seen.

    A point mass has an infinite likelihood where every value lies and none elsewhere, so ``fixed`` wins
    exactly when all values are equal (to the microsecond a recording keeps).
    """
    low, high, n = min(values), max(values), len(values)
    if high - low <= 1e-6:
        return Fitted(Timing("fixed", _round(statistics.fmean(values))), n, {"fixed": math.inf})
    mean, sd = statistics.fmean(values), statistics.pstdev(values)
    found = {
        "uniform": (-n * math.log(high - low), Timing("uniform", _round(low), _round(high))),
        "normal": (_normal_ll(n, sd), Timing("normal", _round(mean), _round(sd), _round(low), _round(high))),
    }
    if low > 0:
        logs = [math.log(v) for v in values]
        mu, sigma = statistics.fmean(logs), statistics.pstdev(logs)
        if sigma > 0:
            timing = Timing("lognormal", _round(math.exp(mu)), _round(min(sigma, 10.0)), _round(low), _round(high))
            found["lognormal"] = (_normal_ll(n, sigma) - math.fsum(logs), timing)
    best = max(found, key=lambda kind: found[kind][0])
    return Fitted(found[best][1], n, {kind: ll for kind, (ll, _) in found.items()})


def _normal_ll(n: int, sd: float) -> float:
    return -n / 2 * (math.log(2 * math.pi * sd * sd) + 1) if sd > 0 else -math.inf


def _round(value: float) -> float:
    return float(f"{value:.6g}")


def entered(line: dict[str, Any], names: Iterable[str]) -> float | None:
    """When the task first showed one of ``names``: between the poll before and the first that showed it."""
    wanted = set(names)
    for i, seen in enumerate(line["statuses"]):
        if seen["status"] in wanted:
            before = line["statuses"][i - 1]["last"] if i else 0.0
            return (before + seen["first"]) / 2
    return None


def split(line: dict[str, Any]) -> tuple[float, float] | None:
    """Queue and run time of an ended task whose IN_PROGRESS a poll saw; None otherwise."""
    if not line["ended"]:
        return None
    started, finished = entered(line, ["IN_PROGRESS"]), entered(line, TERMINAL)
    if started is None or finished is None or finished < started:
        return None
    return started, finished - started


def progress_step(tasks: list[Task]) -> tuple[int | None, int]:
    """The step progress moves in (the greatest common divisor of the values shown while running; 100 when
    only 0% was ever shown), and how many tasks showed progress while running; None when none ran under a poll."""
    running = [task for task in tasks if task.running]
    if not running:
        return None, 0
    values = [value for task in running for value in task.steps]
    return (reduce(math.gcd, values) if values else 100), len(running)


@dataclass(frozen=True, slots=True)
class Task:
    """One recording line, as much of it as fitting reads: a few hundred bytes where the line's dict holds
    kilobytes, so that a million lines fit in memory."""

    model: str
    scope: str
    ended: str | None
    split: tuple[float, float] | None  # queue and run time, where a poll saw it running
    done: float | None  # when it entered SUCCESS or FAILURE
    running: bool  # a poll saw IN_PROGRESS
    steps: tuple[int, ...]  # whole percentages shown while running, 1 to 99
    reason: str | None  # a FAILURE's text (reason_of)
    shape: int | None  # a SUCCESS's outputs (shape)
    link_ttl: float | None
    platform: str | None
    polls: int
    errors: tuple[tuple[str, int | None, str | None, bool], ...]  # request, status, Retry-After, came as HTML


def summary(line: dict[str, Any]) -> Task:
    """What fitting reads of a line that the schema took."""
    started = entered(line, ["IN_PROGRESS"])
    steps = () if started is None else _steps(line["progress"], started)
    platform = readable(line.get("platform"))
    return Task(
        sys.intern(line["model"]),  # one string for each model's million lines
        sys.intern(line["scope"]),
        line["ended"],
        split(line),
        entered(line, TERMINAL) if line["ended"] else None,
        started is not None,
        steps,
        reason_of(line) if line["ended"] == "FAILURE" else None,
        shape(line) if line["ended"] == "SUCCESS" else None,
        line.get("link_ttl") if line["ended"] else None,
        None if platform is None else sys.intern(escaped(platform)),
        int(line["polls"]),
        tuple((e["request"], e["status"], e.get("retry_after"), e.get("html", False)) for e in line["errors"]),
    )


def _steps(progress: list[list[float]], started: float) -> tuple[int, ...]:
    return tuple(round(p) for at, p in progress if at >= started and 0 < p < 100 and p == round(p))


def reason_of(line: dict[str, Any]) -> str:
    """The failure's text as a config can hold it: lone surrogates escaped; none, or only white space, said so."""
    return escaped(readable(line.get("fail_reason")) or "(no reason given)")


def slug(text: str, taken: set[str]) -> str:
    """A catalogue name for a fail_reason text (``^[a-z0-9][a-z0-9-]*$``), unused so far."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split()
    base = "-".join(words)[:40].strip("-") or "reason"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def weighted(counts: Counter[str]) -> list[str]:
    """Names repeated in proportion to how often each was seen, since a profile draws its list evenly."""
    total = sum(counts.values())
    shares = {name: max(1, round(MAX_WEIGHTS * c / total)) for name, c in counts.most_common()}
    common = reduce(math.gcd, shares.values())
    return [name for name, share in shares.items() for _ in range(share // common)]


@dataclass
class Result:
    """The fitted config as data, and what to say about it."""

    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    fail_reasons: dict[str, str] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)
    fault_notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)  # each recorded fail_reason text's catalogue name
    left_out: list[str] = field(default_factory=list)  # what the config could not hold, said


def fit(lines: Iterable[dict[str, Any] | Task], min_tasks: int = MIN_TASKS, beside: Collection[str] = MODELS) -> Result:
    """The config a recording's lines (or their ``summary``) fit, in time linear in their number. A config holds
    ``MAX_MODELS`` models, ``beside`` (the embedded ones) among them: past that, the most recorded are kept."""
    tasks = [line if isinstance(line, Task) else summary(line) for line in lines]
    result = Result()
    catalogue = result.names = _catalogue(tasks, result)
    by_model: dict[str, list[Task]] = {}
    for task in tasks:
        by_model.setdefault(task.model, []).append(task)
    new = sorted((m for m in by_model if m not in beside), key=lambda m: (-len(by_model[m]), m))
    room = MAX_MODELS - len(beside)
    if len(new) > room:
        left = new[room:]
        result.left_out.append(
            f"models: {len(new)} seen, a config holds {room} besides the embedded ones; "
            f"the {len(left)} least recorded ({sum(len(by_model[m]) for m in left)} lines) are left out"
        )
        for model in left:
            del by_model[model]
    for model, mine in sorted(by_model.items()):
        _model(model, mine, catalogue, min_tasks, result)
    _faults(tasks, min_tasks, result)
    return result


def _catalogue(tasks: list[Task], result: Result) -> dict[str, str]:
    """A name per recorded fail_reason text: the embedded one for its own texts, the rare rest as one "other"."""
    texts = Counter(task.reason for task in tasks if task.reason is not None)
    known = {text: name for name, text in FAIL_REASONS.items()}
    taken, names = set(FAIL_REASONS), {}
    kept = texts.most_common(_REASONS_LEFT - 1 if len(texts) > _REASONS_LEFT else _REASONS_LEFT)
    for text, _ in kept:
        names[text] = known.get(text) or slug(text, taken)
        taken.add(names[text])
        if names[text] not in FAIL_REASONS:
            result.fail_reasons[names[text]] = text
    if len(texts) > len(kept):
        other = slug("other", taken)
        result.fail_reasons[other] = f"one of {len(texts) - len(kept)} rarer failure reasons of the recording"
        names.update({text: other for text in texts if text not in names})
        result.warnings.append(f"fail_reasons: {len(texts)} kinds seen, {len(kept)} kept; the rest are {other!r}")
    return names


def _model(model: str, lines: list[Task], catalogue: dict[str, str], least: int, result: Result) -> None:
    scopes = Counter(line.scope for line in lines)
    scope = scopes.most_common(1)[0][0]
    lines = [line for line in lines if line.scope == scope]
    notes: list[str] = []
    few: list[str] = []
    if len(scopes) > 1:
        result.warnings.append(f"models.{model}: seen under {sorted(scopes)}; fitted for {scope} only")

    def rests(what: str, count: int, said: str) -> None:
        notes.append(f"{what}: {said} (from {count} task{'s' * (count != 1)})")
        if count < least:
            few.append(f"{what} on {count}")

    profile: dict[str, Any] = {"scope": scope}
    ended = [line for line in lines if line.ended]
    notes.append(f"{model}: {len(lines)} task{'s' * (len(lines) != 1)} recorded, {len(ended)} seen to end")
    splits = [line.split for line in ended if line.split is not None]
    if not splits:  # too fast for the polls to catch it running: all of the time is run time
        splits = [(0.0, line.done) for line in ended if line.done is not None]
        if splits:
            notes.append("no poll saw IN_PROGRESS: the whole time is fitted as run, with no queue")
    for name, values in (("queue", [q for q, _ in splits]), ("run", [r for _, r in splits])):
        if not values:
            result.warnings.append(f"models.{model}.{name}: no task ran under a poll; the default is kept")
            continue
        fitted = fit_timing(values)
        profile[name] = table(fitted.timing)
        tried = ", ".join(f"{kind} {ll:.1f}" for kind, ll in fitted.likelihoods.items())
        rests(name, fitted.count, f"{fitted.timing.kind} by log-likelihood ({tried})")
    step, running = progress_step(ended)
    if step is not None:
        profile["progress_step"] = step
        rests("progress_step", running, "none shown" if step == 100 else f"steps of {step}%")
    if ended:
        failed = [line.reason for line in ended if line.reason is not None]
        profile["fail_rate"] = _round(len(failed) / len(ended))
        rests("fail_rate", len(ended), f"{len(failed)} of {len(ended)} failed")
        if failed:
            counts = Counter(catalogue[reason] for reason in failed)
            profile["fail_reasons"] = weighted(counts)
            rests("fail_reasons", len(failed), ", ".join(f"{name} x{c}" for name, c in counts.most_common()))
    shapes = Counter(line.shape for line in ended if line.shape is not None)
    if shapes:
        ((outputs, seen),) = shapes.most_common(1)
        profile["outputs"] = outputs
        rests("outputs", sum(shapes.values()), f"{'a list of ' + str(outputs) if outputs else 'one output'}, {seen}x")
    ttls = [line.link_ttl for line in ended if line.link_ttl is not None]
    if ttls:
        profile["link_ttl"] = _round(statistics.median(ttls))
        rests("link_ttl", len(ttls), "for ever" if not profile["link_ttl"] else f"median {profile['link_ttl']} s")
    platforms = Counter(line.platform for line in lines if line.platform is not None)
    if platforms:
        profile["platform"] = platforms.most_common(1)[0][0]
    result.models[model] = profile
    result.notes[model] = notes
    if few:
        result.warnings.append(f"models.{model}: fewer than {least} tasks behind {', '.join(few)}")


def shape(line: dict[str, Any]) -> int:
    """The profile's ``outputs``: 0 for one URL in ``data.output``, else the length of ``data.outputs``."""
    shown = line.get("outputs", {"form": "output", "count": 1})
    return int(min(100, shown["count"])) if shown["form"] == "outputs" else 0


def _faults(lines: list[Task], least: int, result: Result) -> None:
    """The rates of the mock's faults, as often as the recording met them."""
    errors = [e for line in lines for e in line.errors]
    submits, polls = len(lines), sum(line.polls for line in lines)
    counts = Counter((request, status) for request, status, _, _ in errors)
    rates = {"submit_429": counts["submit", 429] / submits}
    if polls:
        rates |= {f"poll_{s}": counts["poll", s] / polls for s in POLL_FAULTS}
    rates["drop"] = (counts["submit", None] + counts["poll", None]) / (submits + polls)
    rates = {name: _round(rate) for name, rate in rates.items() if rate}
    others = sorted({str(s) for (r, s) in counts if r == "poll" and s and s >= 500 and s not in POLL_FAULTS})
    if others:
        result.fault_notes.append(f"poll answers {', '.join(others)} were seen; the mock has no fault for them")
    most = ONE_DRAW["most"]
    for group in ONE_DRAW["groups"]:
        total = sum(rates.get(name, 0.0) for name in group)
        if total > most:  # one draw decides among a group, so its rates may not add up past its most
            rates |= {name: math.floor(rates[name] / total * most * 1e6) / 1e6 for name in group if name in rates}
    if not rates:
        return
    waits = [wait for _, status, wait, _ in errors if status in (429, 503) and wait is not None]
    seconds = [int(w) for w in (w.strip() for w in waits) if w.isascii() and w.isdigit() and len(w) < 20]
    if seconds:
        rates["retry_after"] = min(MAX_RETRY_AFTER, round(statistics.median(seconds)))
    if len(waits) > 2 * len(seconds):
        rates["retry_after_date"] = True
    pages = [html for _, status, _, html in errors if status in (502, 503)]
    if pages and sum(pages) * 2 > len(pages):
        rates["proxy_html"] = True
    result.faults = rates
    result.fault_notes.append(f"rates from {submits} submits and {polls} polls")
    if submits < least:
        result.warnings.append(f"faults rest on {submits} submits, fewer than {least}")


def judge_line_fast(text: str) -> tuple[str | None, dict[str, Any]]:
    """``recording.judge_line``, about ten times faster: orjson parses (NaN and 1e999 refused), and the schema compiled
    to Python (``validate.py``) judges a good line, as plain JSON Schema does (``2.0`` is an integer); a bad one
    is worded by ``contract.errors``."""
    try:
        line = jsonio.loads(text.encode())
    except ValueError as exc:
        return f"not JSON ({exc})", {}
    return judged(line, validate.problems)


def to_toml(result: Result, source: str) -> str:
    out = [f"# Fitted by mockserver fit from {shown(source)}. Play it with: mockserver --config FILE", ""]
    if result.fail_reasons:
        out += ["[fail_reasons]", *(f"{_key(k)} = {_value(v)}" for k, v in result.fail_reasons.items()), ""]
    for model, profile in result.models.items():
        out += [f"# {shown(note)}" for note in result.notes[model]]
        out += [f"[models.{_key(model)}]", *(f"{_key(k)} = {_value(v)}" for k, v in profile.items()), ""]
    if result.faults:
        out += [f"# faults: {shown(note)}" for note in result.fault_notes]
        out += ["[faults]", *(f"{k} = {_value(v)}" for k, v in result.faults.items()), ""]
    return "\n".join(out).rstrip("\n") + "\n"


def shown(text: str) -> str:
    """``text`` fit for a comment line and a terminal: control characters (a newline would end the comment) and
    lone surrogates escaped, as a model name may hold them."""
    return escaped(_CONTROL.sub(lambda found: f"\\x{ord(found[0]):02x}", text))


def _key(name: str) -> str:
    return name if name.replace("-", "").replace("_", "").isalnum() and name.isascii() else _value(name)


def _value(value: Any) -> str:
    """TOML for the values a config holds: strings (basic, escaped as JSON, which TOML reads alike), numbers,
    booleans, lists and inline tables."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mockserver fit",
        description="Fit a recording into a mock config.",
        epilog="exit codes:\n  0  the config was written\n  2  a bad option or recording, or --out cannot be written",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("recording", metavar="FILE.jsonl", help="written by mockserver record or --contract-record")
    parser.add_argument("--out", metavar="FILE.toml", help="where the config goes (default: standard output)")
    parser.add_argument("--min-tasks", type=int, default=MIN_TASKS, help=f"warn below this (default {MIN_TASKS})")
    parser.add_argument("--skip-bad-lines", action="store_true", help="leave out bad lines with a warning")
    return parser


def main(argv: list[str]) -> None:
    parser = _parser()
    args = parser.parse_args(argv)
    command_line.refuse_invalid(parser, "mock-cli", command_line.given_options(args, ("recording", "out", "min_tasks")))
    try:
        recording = read(args.recording, args.skip_bad_lines, judge_line_fast, summary)
    except RecordingError as exc:
        parser.error(str(exc))
    for warning in recording.skipped:
        print(f"warning: skipped {shown(warning)}", file=sys.stderr)
    result = fit(recording.lines, args.min_tasks)
    text = to_toml(result, Path(args.recording).name)
    try:
        config_from(tomllib.loads(text))  # what is written is what --config plays
    except ConfigError as exc:
        raise AssertionError(f"fit wrote a config --config refuses: {exc}") from exc
    for warning in [*result.left_out, *result.warnings]:
        print(f"warning: {shown(warning)}", file=sys.stderr)
    if args.out is None:
        sys.stdout.write(text)
        return
    try:
        Path(args.out).write_text(text, encoding="utf-8")
    except OSError as exc:
        parser.error(f"--out: cannot write {args.out}: {exc.strerror or exc}")
    print(f"wrote {args.out}: {len(result.models)} models from {len(recording.lines)} lines", file=sys.stderr)
