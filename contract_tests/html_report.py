"""``--contract-report PATH.html``: one self-contained page a person can read after a run.

Per paid task, a timeline of its polls (progress against seconds since the submit, coloured by
status, 429s and 5xx marked), its outputs (images previewed inline), then every finding with its
request and response (keys masked as in the terminal), the budget and the check table. No script,
font, style sheet or image is fetched from anywhere: CI artefacts are opened offline.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

from .findings import FAIL, WARN, Exchange, Finding
from .inputs import Coverage
from .lifecycle_checks import progress_value
from .report import Report
from .runner import Walk, transient_error

_COLOURS = {
    "NOT_START": "#9e9e9e",
    "SUBMITTED": "#607d8b",
    "QUEUED": "#ffb300",
    "IN_PROGRESS": "#1e88e5",
    "SUCCESS": "#43a047",
    "FAILURE": "#e53935",
}
_OTHER = "#8e24aa"  # a status outside the spec's, or none
_W, _H, _PAD = 760, 170, 36
_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;max-width:100%}td,th{border:1px solid #ddd;padding:3px 8px;text-align:right}
th:first-child,td:first-child,.facts td,.coverage td{text-align:left}
.facts td{overflow-wrap:anywhere}
.task{border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:14px 0}
.task h3{overflow-wrap:anywhere}
.task svg{max-width:100%;height:auto}
table.outputs{width:100%;table-layout:fixed}
.outputs td:first-child{overflow-wrap:anywhere;word-break:break-all}
.outputs .narrow{width:4em}.outputs .type{width:10em}.outputs .size{width:8em}.outputs .shown{width:176px}
.outputs td,.coverage td{white-space:normal}.nowrap{white-space:nowrap}
.fail{color:#c62828;font-weight:600}.warn{color:#ef6c00;font-weight:600}.pass{color:#2e7d32}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:12px}
.legend span{display:inline-block;margin-right:12px}.dot{width:10px;height:10px;border-radius:5px;margin-right:4px}
img.preview{max-width:160px;max-height:120px;border:1px solid #ccc;vertical-align:middle}
"""


def write(
    path: str | Path,
    report: Report,
    tasks: Iterable[tuple[str, Any, Walk | None]],
    stray: Iterable[Exchange] = (),
    coverage: Iterable[Coverage] = (),
    **run: Any,
) -> None:
    """Write the page.

    ``tasks`` holds (why the body was sent, the body, its walk or None) for each paid probe; ``stray``
    the other submits the server accepted (paid for, never followed); ``coverage`` each field's classes
    and how they were answered; ``run`` the facts at the top.
    """
    shown, others = list(tasks), list(stray)
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Contract kit report</title>",
        f"<style>{_STYLE}</style></head><body>",
        "<h1>Contract kit report</h1>",
        _facts(run),
        _verdict(report),
        f"<h2>Paid tasks ({len(shown)})</h2>",
        _legend(),
        *(_task(why, body, walk) for why, body, walk in shown),
        *_stray(others),
        f"<h2>Findings ({len(report.findings)})</h2>",
        *(_finding(f) for f in report.findings),
        "<h2>Checks</h2>",
        _checks(report),
        *_coverage(list(coverage)),
        "</body></html>",
    ]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")


def _facts(run: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{escape(str(k))}</th><td>{escape(str(v))}</td></tr>" for k, v in run.items())
    return f"<table class='facts'>{rows}</table>"


def _verdict(report: Report) -> str:
    failed = sum(c[FAIL] for c in report.counts.values())
    warned = sum(c[WARN] for c in report.counts.values())
    kind = "fail" if failed else "warn" if warned else "pass"
    return f"<p class='{kind}' id='verdict'>{failed} failed, {warned} warned</p>"


def _legend() -> str:
    spans = [
        f"<span><i class='dot' style='display:inline-block;background:{c}'></i>{s}</span>" for s, c in _COLOURS.items()
    ]
    spans += ["<span>▲ 429</span>", "<span style='color:#c62828'>✕ 5xx or no answer</span>"]
    return f"<p class='legend'>{''.join(spans)}</p>"


def _task(why: str, body: Any, walk: Walk | None) -> str:
    sent = escape(json.dumps(body, ensure_ascii=False)[:400])
    if walk is None:
        return f"<div class='task refused'><h3>not accepted: {escape(why)}</h3><pre>{sent}</pre></div>"
    last = walk.last or {}
    head = f"{escape(walk.scope)} <code>{escape(walk.task_id)}</code>: {escape(str(last.get('status')))}"
    return "".join(
        [
            f"<div class='task' data-task-id='{escape(walk.task_id, quote=True)}'>",
            f"<h3>{head}</h3><p>{escape(why)}; walk {escape(walk.outcome)}, {len(walk.polls)} polls</p>",
            f"<pre>{sent}</pre>",
            _timeline(walk),
            _outputs(walk),
            "</div>",
        ]
    )


def _stray(accepted: list[Exchange]) -> list[str]:
    """Submits meant to be refused that the server took: each a paid task on a real gateway."""
    if not accepted:
        return []
    items = [f"<pre class='stray'>{escape(ex.render())}</pre>" for ex in accepted]
    return [f"<h2>Other submits accepted, and paid for ({len(accepted)})</h2>", *items]


def _timeline(walk: Walk) -> str:
    """An inline SVG: progress (0-100%) against seconds since the submit, one mark per poll."""
    if not walk.polls:
        return "<p>no polls</p>"
    span = max(walk.polls[-1].at - walk.started, 1e-3)

    def x(at: float) -> float:
        return _PAD + (at - walk.started) / span * (_W - 2 * _PAD)

    def y(percent: float) -> float:
        return _H - _PAD / 2 - percent / 100 * (_H - _PAD)

    marks, line = [], []
    for poll in walk.polls:
        px = x(poll.at)
        if poll.task is not None:
            status = str(poll.task.get("status"))
            py = y(max(0.0, min(100.0, progress_value(poll.task) or 0.0)))
            line.append(f"{px:.1f},{py:.1f}")
            title = escape(f"{poll.at - walk.started:.3f} s: {status} {poll.task.get('progress', '')}")
            fill = _COLOURS.get(status, _OTHER)
            marks.append(
                f"<circle class='poll' cx='{px:.1f}' cy='{py:.1f}' r='4' fill='{fill}'><title>{title}</title></circle>"
            )
        elif poll.exchange.status == 429:
            marks.append(f"<text class='limited' x='{px:.1f}' y='{_PAD / 2}' fill='#ef6c00'>▲<title>429</title></text>")
        elif transient_error(poll.exchange):
            said = escape(str(poll.exchange.status or poll.exchange.error))
            marks.append(
                f"<text class='error' x='{px:.1f}' y='{_PAD / 2}' fill='#c62828'>✕<title>{said}</title></text>"
            )
        else:
            said = escape(str(poll.exchange.status))
            marks.append(
                f"<text class='missing' x='{px:.1f}' y='{_H - 4}' fill='#757575'>?<title>{said}</title></text>"
            )
    axes = (
        f"<line x1='{_PAD}' y1='{y(0)}' x2='{_W - _PAD}' y2='{y(0)}' stroke='#bbb'/>"
        f"<line x1='{_PAD}' y1='{y(100)}' x2='{_W - _PAD}' y2='{y(100)}' stroke='#eee'/>"
        f"<text x='2' y='{y(100) + 4}' font-size='10'>100%</text><text x='10' y='{y(0) + 4}' font-size='10'>0%</text>"
        f"<text x='{_W - _PAD}' y='{_H - 2}' font-size='10' text-anchor='end'>{span:.2f} s</text>"
    )
    path = f"<polyline points='{' '.join(line)}' fill='none' stroke='#90a4ae'/>" if len(line) > 1 else ""
    return (
        f"<svg class='timeline' width='{_W}' height='{_H}' viewBox='0 0 {_W} {_H}'>{axes}{path}{''.join(marks)}</svg>"
    )


def _outputs(walk: Walk) -> str:
    if not walk.downloads:
        return ""
    rows = []
    for ex in walk.downloads:
        size = ex.header("content-length") or str(len(ex.response_body))
        rows.append(
            f"<tr><td>{escape(ex.url)}</td><td>{ex.status}</td><td>{escape(ex.content_type)}</td>"
            f"<td class='nowrap'>{escape(size)}&nbsp;B</td><td>{_preview(ex)}</td></tr>"
        )
    widths = "<colgroup><col><col class='narrow'><col class='type'><col class='size'><col class='shown'></colgroup>"
    head = "<tr><th>output</th><th>HTTP</th><th>media type</th><th>size</th><th>preview</th></tr>"
    return f"<table class='outputs'>{widths}{head}{''.join(rows)}</table>"


def _preview(ex: Exchange) -> str:
    """An image inline as a data URI, when the kit kept all of it."""
    whole = ex.header("content-length") in (None, str(len(ex.response_body)))
    if ex.status != 200 or not ex.content_type.startswith("image/") or not whole or not ex.response_body:
        return ""
    data = base64.b64encode(ex.response_body).decode()
    return f"<img class='preview' alt='output' src='data:{escape(ex.content_type, quote=True)};base64,{data}'>"


def _finding(finding: Finding) -> str:
    shown = "\n\n".join(e.render() for e in finding.exchanges)  # render() masks keys
    return (
        f"<div class='finding'><p><span class='{finding.severity}'>{finding.severity}</span> "
        f"<code>{escape(finding.check)}</code> {escape(finding.message)}</p><pre>{escape(shown)}</pre></div>"
    )


def _answers(seen: dict[str, int]) -> str:
    return ", ".join(f"{kind} ×{count}" if count > 1 else kind for kind, count in sorted(seen.items())) or "–"


def _coverage(rows: list[Coverage]) -> list[str]:
    """Field × class: whether the schema takes the value, and how the answers to it fell, free and paid."""
    if not rows:
        return []
    head = "<tr><th>field</th><th>class</th><th>schema</th><th>sent free: answers</th><th>sent paid: answers</th></tr>"
    body = [
        f"<tr><td>{escape(r.field)}</td><td>{escape(r.kind)}</td><td>{'valid' if r.valid else 'invalid'}</td>"
        f"<td>{escape(_answers(r.free))}</td><td>{escape(_answers(r.paid))}</td></tr>"
        for r in rows
    ]
    return ["<h2>Coverage: each field's classes</h2>", f"<table class='coverage'>{head}{''.join(body)}</table>"]


def _checks(report: Report) -> str:
    rows = [
        f"<tr><td>{escape(name)}</td><td>{c['ran']}</td><td>{c[WARN]}</td><td>{c[FAIL]}</td></tr>"
        for name, c in sorted(report.counts.items())
    ]
    return f"<table class='checks'><tr><th>check</th><th>ran</th><th>warned</th><th>failed</th></tr>{''.join(rows)}</table>"
