"""What the kit saw and what it concluded: exchanges, and findings about them.

An ``Exchange`` is one HTTP request and its answer, kept so that every failure can show both.
A ``Finding`` is one check's verdict. ``FAIL`` is for what the spec or HTTP itself decides;
``WARN`` is for what only our reading of the spec decides, and fails a run only under
``--contract-strict``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

import httpx

FAIL = "fail"
WARN = "warn"

_SHOWN = 600
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "cookie"})
NOT_JSON: Any = object()


def elapsed(response: httpx.Response) -> float:
    """Seconds the answer took; 0 for one no transport timed (a test's handler, a response built by hand)."""
    try:
        return response.elapsed.total_seconds()
    except RuntimeError:
        return 0.0


def _sent(request: httpx.Request) -> tuple[str, str, tuple[tuple[str, str], ...], bytes]:
    """An exchange's request side: method, URL, headers and body."""
    return request.method, str(request.url), tuple(request.headers.multi_items()), request.content


@dataclass(frozen=True)
class Exchange:
    """One request and its response (or the transport error that stood for it)."""

    method: str
    url: str
    request_headers: tuple[tuple[str, str], ...]
    request_body: bytes
    status: int | None
    response_headers: tuple[tuple[str, str], ...] = ()
    response_body: bytes = b""
    error: str = ""
    elapsed: float = 0.0  # seconds from sending the request to the end of its answer (--contract-record)
    overdue: float | None = None  # the bound in seconds its answer did not come within, if it did not
    size: int | None = None  # bytes of content received, where more came than ``response_body`` keeps

    @classmethod
    def of(cls, response: httpx.Response) -> Exchange:
        answer = (response.status_code, tuple(response.headers.multi_items()), response.content)
        return cls(*_sent(response.request), *answer, elapsed=elapsed(response))

    @classmethod
    def failed(cls, request: httpx.Request, exc: Exception) -> Exchange:
        return cls(*_sent(request), None, error=f"{type(exc).__name__}: {exc}")

    @classmethod
    def overdue_after(cls, request: httpx.Request, bound: float) -> Exchange:
        """A request whose whole answer did not come within ``bound`` seconds (0 or less: the run had ended)."""
        said = f"no complete answer within {bound:.3g} s" if bound > 0 else "not sent: the run's time was up"
        return replace(cls.failed(request, TimeoutError(said)), overdue=max(bound, 0.0))

    def header(self, name: str) -> str | None:
        name = name.lower()
        return next((v for k, v in self.response_headers if k.lower() == name), None)

    @property
    def content_type(self) -> str:
        return (self.header("content-type") or "").split(";")[0].strip().lower()

    def json(self) -> Any:
        """The parsed body, or ``NOT_JSON``."""
        try:
            return json.loads(self.response_body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return NOT_JSON

    def render(self) -> str:
        """The request and response as a person would want to see them, keys masked, bodies cut short."""
        lines = [f"> {self.method} {self.url}"]
        lines += [f"> {k}: {_mask(k, v)}" for k, v in self.request_headers if k.lower() in _SHOWN_REQUEST]
        if self.request_body:
            lines.append(f"> {_cut(self.request_body)}")
        if self.status is None:
            lines.append(f"< no response: {self.error}")
            return "\n".join(lines)
        lines.append(f"< {self.status}")
        lines += [f"< {k}: {v}" for k, v in self.response_headers if k.lower() in _SHOWN_RESPONSE]
        if self.response_body:
            lines.append(f"< {_cut(self.response_body)}")
        return "\n".join(lines)


_SHOWN_REQUEST = frozenset({"authorization", "content-type", "x-api-key"})
_SHOWN_RESPONSE = frozenset({"content-type", "retry-after", "location"})


def _mask(name: str, value: str) -> str:
    if name.lower() not in _SECRET_HEADERS:
        return value
    scheme, _, secret = value.partition(" ")
    if not secret:
        return "***" if scheme else ""
    return f"{scheme} {secret[:3]}***" if len(secret) > 8 else f"{scheme} ***"


def _cut(body: bytes) -> str:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        text = body[:_SHOWN].decode("utf-8", "replace")
    if "\x00" in text or "\ufffd" in text:
        return f"({len(body)} bytes, not text, starting {body[:16]!r})"
    return text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(body)} bytes)"


@dataclass(frozen=True)
class Finding:
    check: str
    severity: str
    message: str
    exchanges: tuple[Exchange, ...] = ()

    def render(self) -> str:
        head = f"[{self.check}] {self.message}"
        return "\n".join([head, *(e.render() for e in self.exchanges)])


@dataclass
class Verdicts:
    """Findings of one test, plus a count of every check that ran, for the run's summary."""

    findings: list[Finding] = field(default_factory=list)
    ran: dict[str, int] = field(default_factory=dict)

    def passed(self, check: str) -> None:
        self.ran[check] = self.ran.get(check, 0) + 1

    def add(self, finding: Finding | None) -> None:
        if finding is not None:
            self.findings.append(finding)
            self.ran[finding.check] = self.ran.get(finding.check, 0) + 1

    def of(self, severity: str) -> list[Finding]:
        return [f for f in self.findings if f.severity == severity]
