"""Checks on every answer of the run, whatever it answered: its bytes, its headers, its secrets, its time.

Run once, at the end, over every exchange the kit made (``Target.seen``): submits, polls, reads with other
keys, odd paths and output downloads alike. Each check is named for its rule:

- ``json_strict``: a body labelled JSON is JSON text as RFC 8259 asks of a sender. Python's parser hides
  what others refuse: ``NaN`` and ``Infinity``, a byte order mark, UTF-16, repeated names, lone surrogates.
- ``headers_match_body``: the headers say what the body is: its length (RFC 9112 6.3), its content coding
  (RFC 9110 8.4) and its type (a media label on a JSON or HTML page, or the other way round).
- ``media_bytes``: an output is the file its label names: the format's magic number, the whole file (no
  206 to a request without ``Range``), and decodable by PyAV where the format is one it knows.
- ``no_leaks``: no answer carries a key the kit sent, nor another key's task (its id or its prompt).
- ``answers_in_time``: every request was answered within its bound (``Target.bound``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

from mockserver import contract

from . import options, sniff
from .checks import is_json_type
from .findings import FAIL, WARN, Exchange, Finding, Verdicts


@dataclass(frozen=True)
class Secrets:
    """What the run sent that no answer may give back: the keys, and the first key's tasks."""

    keys: tuple[str, ...]
    owner: str  # the key the paid tasks were created with
    task_ids: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()


AnswerCheck = Callable[[Exchange, Secrets], Iterator[Finding]]
ANSWER_CHECKS: list[AnswerCheck] = []


def answer_check(fn: AnswerCheck) -> AnswerCheck:
    ANSWER_CHECKS.append(fn)
    return fn


def _finding(check: str, severity: str, message: str, exchange: Exchange) -> Finding:
    return Finding(check, severity, f"{exchange.method} {_path(exchange.url)}: {message}", (exchange,))


def _path(url: str) -> str:
    shown = url.split("://", 1)[-1].partition("/")[2]
    return "/" + (shown if len(shown) <= 80 else shown[:77] + "...")


def _surrogates(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(c) <= 0xDFFF for c in value)
    if isinstance(value, dict):
        return any(_surrogates(k) or _surrogates(v) for k, v in value.items())
    return isinstance(value, list) and any(_surrogates(v) for v in value)


def strict_json(raw: bytes) -> tuple[str, str] | None:
    """``(severity, problem)`` for a body that is not strict JSON text, None for one that is."""
    if raw.startswith(b"\xef\xbb\xbf"):
        return FAIL, "starts with a byte order mark, which RFC 8259 (8.1) says a sender MUST NOT add"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return FAIL, f"is not UTF-8, which RFC 8259 (8.1) requires: {exc.reason} at byte {exc.start}"
    repeated: list[str] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        names = [k for k, _ in items]
        repeated.extend(k for k in dict.fromkeys(names) if names.count(k) > 1)
        return dict(items)

    def constant(name: str) -> Any:
        raise ValueError(f"{name} is no JSON value")

    try:
        parsed = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except RecursionError:
        return None  # nested deeper than Python goes: not wrong, only deep
    except ValueError as exc:
        return FAIL, f"is not JSON text (RFC 8259): {exc}"
    if repeated:
        return WARN, f"repeats the name {repeated[0]!r} in an object; RFC 8259 (4) says names SHOULD be unique"
    if _surrogates(parsed):
        return WARN, "holds a lone surrogate (\\ud800-\\udfff); RFC 8259 (8.2) says such text is unpredictable"
    return None


@answer_check
def json_strict(exchange: Exchange, secrets: Secrets) -> Iterator[Finding]:
    """A body labelled JSON is strict JSON text (RFC 8259), as every other parser reads it."""
    if exchange.status is None or exchange.method == "HEAD" or not exchange.response_body.strip():
        return
    if not is_json_type(exchange.content_type):
        return
    if found := strict_json(exchange.response_body):
        yield _finding("json_strict", found[0], f"a body labelled {exchange.content_type} {found[1]}", exchange)


_MEDIA_TYPES = {contract.media_type(scope) for scope in options.all_scopes()}  # image, video, audio: common.json
_CUT_SHORT = ("incomplete", "complete message body", "content-length", "Content-Length")


@answer_check
def headers_match_body(exchange: Exchange, secrets: Secrets) -> Iterator[Finding]:
    """Length, content coding and type in the headers are those of the body that came."""
    if exchange.status is None:
        if exchange.error.startswith("DecodingError"):
            msg = f"the body does not decode as its Content-Encoding says (RFC 9110 8.4): {exchange.error}"
            yield _finding("headers_match_body", FAIL, msg, exchange)
        elif exchange.error.startswith("RemoteProtocolError") and any(s in exchange.error for s in _CUT_SHORT):
            msg = f"the answer broke off before the length its headers declared (RFC 9112 6.3): {exchange.error}"
            yield _finding("headers_match_body", FAIL, msg, exchange)
        return
    if exchange.method == "HEAD" or exchange.status in (204, 304) or exchange.status < 200:
        return
    received = exchange.size if exchange.size is not None else len(exchange.response_body)
    lengths = {v.strip() for k, v in exchange.response_headers if k.lower() == "content-length"}
    encoded = any(
        k.lower() == "content-encoding" and v.strip().lower() != "identity" for k, v in exchange.response_headers
    )
    if len(lengths) > 1:
        msg = f"Content-Length given twice, as {sorted(lengths)} (RFC 9110 8.6: an error)"
        yield _finding("headers_match_body", FAIL, msg, exchange)
    elif lengths and not encoded and lengths != {str(received)}:
        msg = f"Content-Length says {lengths.pop()} bytes, and {received} came (RFC 9112 6.3)"
        yield _finding("headers_match_body", FAIL, msg, exchange)
    if not 200 <= exchange.status < 300:
        return
    label, text = exchange.content_type, sniff.text_kind(exchange.response_body)
    media = sniff.media_kind(exchange.response_body)
    if label.partition("/")[0] in _MEDIA_TYPES and text and not media:
        msg = f"labelled {label}, and the body is {text}"
        yield _finding("headers_match_body", FAIL, msg, exchange)
    elif (is_json_type(label) or label.startswith("text/")) and media:
        msg = f"labelled {label}, and the body is {media} ({sniff.media_format(exchange.response_body)})"
        yield _finding("headers_match_body", FAIL, msg, exchange)
    charset = _charset(exchange)
    if is_json_type(label) and charset not in (None, "utf-8", "utf8"):
        msg = f"JSON labelled charset={charset}: RFC 8259 defines none, and a client that honours it misreads UTF-8"
        yield _finding("headers_match_body", WARN, msg, exchange)


def _charset(exchange: Exchange) -> str | None:
    params = (exchange.header("content-type") or "").split(";")[1:]
    found = [p.partition("=")[2].strip().strip('"').lower() for p in params if p.strip().lower().startswith("charset=")]
    return found[0] if found else None


@answer_check
def media_bytes(exchange: Exchange, secrets: Secrets) -> Iterator[Finding]:
    """An output download is the whole file its label names, and decodes where PyAV knows the format."""
    if exchange.size is None or exchange.status is None or not 200 <= exchange.status < 300:
        return
    if exchange.status == 206 and not any(k.lower() == "range" for k, _ in exchange.request_headers):
        msg = "answered 206, a part of the file, to a request without Range (RFC 9110 15.3.7)"
        yield _finding("media_bytes", FAIL, msg, exchange)
        return
    body, label = exchange.response_body, exchange.content_type
    found, named = sniff.media_format(body), sniff.known(label)
    if named and found and named != found and named.partition("/")[0] == found.partition("/")[0]:
        yield _finding("media_bytes", WARN, f"labelled {label}, and the bytes are {found}", exchange)
    elif named and not found and body:
        yield _finding(
            "media_bytes", FAIL, f"labelled {label}, and the bytes do not start as that format does", exchange
        )
    elif named and found and named.partition("/")[0] != found.partition("/")[0]:
        yield _finding("media_bytes", FAIL, f"labelled {label}, and the bytes are {found}", exchange)
    if found and exchange.size == len(body) and (problem := undecodable(body)):
        yield _finding("media_bytes", FAIL, f"the {found} file does not decode: {problem}", exchange)


_DECODED_FRAMES = 8  # frames decoded to show the codec's data is sound; the rest is only read through


def undecodable(data: bytes) -> str | None:
    """Why PyAV cannot read ``data`` (None when it can): its first frames decoded, every packet read to the end."""
    import av  # imported here: a run with no outputs to check never pays for loading FFmpeg

    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            streams = [s for s in container.streams if s.type in ("video", "audio")]
            if not streams:
                return "no video or audio stream in it"
            if streams[0].codec_context is None:
                return "its header names no codec (a file cut before its index, as an MP4 whose moov never came)"
            frames = 0
            for packet in container.demux(streams[0]):
                if frames < _DECODED_FRAMES:
                    frames += len(packet.decode())
    except av.DecoderNotFoundError:
        return None  # a codec this FFmpeg lacks: no decoder at hand, so no verdict
    except (av.FFmpegError, ValueError, EOFError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if frames else "no frame decodes"


def _forms(secret: str) -> set[str]:
    """A secret as an answer may carry it: as sent, percent-encoded, or escaped in JSON."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def _credential(exchange: Exchange) -> str:
    given = next((v for k, v in exchange.request_headers if k.lower() == "authorization"), "")
    return given.partition(" ")[2].strip()


_SHORTEST_KEY = 6  # a shorter key turns up in answers by chance


@answer_check
def no_leaks(exchange: Exchange, secrets: Secrets) -> Iterator[Finding]:
    """No answer gives back a key the kit sent, nor, to anyone but its owner, a task's id or prompt.

    An answer may repeat what its own request carried (an unknown id, a wrong key it refuses), so a
    near miss of a key, and any id or prompt in the request itself, is left out of the search.
    """
    if exchange.status is None:
        return
    answer = " ".join(f"{k}: {v}" for k, v in exchange.response_headers) + "\n"
    answer += exchange.response_body.decode("utf-8", "replace") if exchange.size is None else ""
    sent = unquote(exchange.url) + "\n" + exchange.request_body.decode("utf-8", "replace")
    given = _credential(exchange)
    for key in (k for k in secrets.keys if len(k) >= _SHORTEST_KEY):
        near_miss = given != key and (key in given or given[:-1] == key[:-1])
        if not near_miss and any(form in answer for form in _forms(key)):
            yield _finding("no_leaks", FAIL, "the answer carries an API key the kit sent", exchange)
            return
    if given == secrets.owner:
        return
    for kind, values in (("task id", secrets.task_ids), ("prompt", secrets.prompts)):
        for value in values:
            if value not in sent and any(form in answer for form in _forms(value)):
                msg = f"an answer to a request without the owner's key carries the {kind} of the owner's task {value!r}"
                yield _finding("no_leaks", FAIL, msg, exchange)
                return


@answer_check
def answers_in_time(exchange: Exchange, secrets: Secrets) -> Iterator[Finding]:
    """Every request is answered whole within its bound: the least of the options' timeouts and the run's end."""
    if exchange.overdue is not None:
        yield _finding("answers_in_time", FAIL, exchange.error.partition(": ")[2] or exchange.error, exchange)


def run(exchanges: list[Exchange], secrets: Secrets, verdicts: Verdicts, limit: int = 20) -> None:
    """Every answer check on every exchange; at most ``limit`` findings a check, so a broken server stays readable."""
    for fn in ANSWER_CHECKS:
        found = [f for ex in exchanges for f in fn(ex, secrets)]
        for finding in found[:limit]:
            verdicts.add(finding)
        verdicts.ran[fn.__name__] = verdicts.ran.get(fn.__name__, 0) + max(0, len(exchanges) - len(found))
