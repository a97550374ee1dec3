"""The kit's classes of checks (issue 23), each against fakes broken in different ways within it, and fakes that conform.

A class is a rule derived from ``schemas/`` or from HTTP, not a list of defects: each broken fake below is
broken in a way no earlier test named, and must be failed by the class's named check; each conforming
fake differs from our mock in a way the spec or HTTP leaves open, and must pass (warnings allowed).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.helpers.fakes import MEDIA, PNG, Fake, Task, openai_error, problem
from tests.kit.test_kit_fakes import ONE_SCOPE, run_kit

pytestmark = pytest.mark.slow

Hook = Callable[[Fake, Request], Awaitable[Response | None]]


def _on(test: Callable[[Request], bool], answer: Callable[[Fake, Request], Response]) -> Hook:
    """A request hook that answers ``answer`` to the requests ``test`` picks, and lets the rest through."""

    async def hook(fake: Fake, request: Request) -> Response | None:
        return answer(fake, request) if test(request) else None

    return hook


def _crash(fake: Fake, request: Request) -> Response:
    return Response("Internal Server Error", 500)


async def _body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except (ValueError, RecursionError):
        return None


def _before_validation(crashes: Callable[[dict[str, Any]], bool]) -> Hook:
    """A server that reads a field before it validates the body, and falls over on some values of it."""

    async def hook(fake: Fake, request: Request) -> Response | None:
        body = await _body(request) if request.method == "POST" else None
        return Response("Traceback ...", 500) if isinstance(body, dict) and crashes(body) else None

    return hook


def _after_validation(crashes: Callable[[dict[str, Any]], bool]) -> Callable[[Any], Response | None]:
    """A server that validates first, then falls over on some valid values: only a paid probe can see it."""
    return lambda body: Response("Traceback ...", 500) if problem(body) is None and crashes(body) else None


def _seconds_per_frame(body: dict[str, Any]) -> bool:
    """``24 / duration`` before any check: a ZeroDivisionError on 0."""
    return body.get("duration") == 0


# 1. Every input field at its boundaries and in its real-world forms: ``not_server_error`` on the field classes.
INPUTS_BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "500 on an empty images list, before the prompt check": (
        lambda: Fake(request_hook=_before_validation(lambda b: b.get("images") == [])),
        "not_server_error",
    ),
    "500 on the portrait ratio 9:16, after validation": (
        lambda: Fake(submit_hook=_after_validation(lambda b: b.get("aspect_ratio") == "9:16")),
        "not_server_error",
    ),
    "500 on a duration of zero, dividing by it first": (
        lambda: Fake(request_hook=_before_validation(_seconds_per_frame)),
        "not_server_error",
    ),
    "500 on more than ten images, before validation": (
        lambda: Fake(
            request_hook=_before_validation(lambda b: isinstance(b.get("images"), list) and len(b["images"]) > 10)
        ),
        "not_server_error",
    ),
    "500 on a signed storage URL's escaped query, after validation": (
        lambda: Fake(submit_hook=_after_validation(lambda b: any("%2F" in u for u in b.get("images", [])))),
        "not_server_error",
    ),
}


def _numbers_as_strings(body: Any) -> Any:
    """Takes "5" for 5, as many gateways' loose decoders do."""
    if isinstance(body, dict) and isinstance(body.get("duration"), str):
        try:
            return {**body, "duration": float(body["duration"])}
        except ValueError:
            return body
    return body


INPUTS_CONFORMING: dict[str, Callable[[], Fake]] = {
    "takes numbers as strings": lambda: Fake(normalise=_numbers_as_strings),
    "only 5 or 10 seconds, refusing the rest": lambda: Fake(
        submit_hook=lambda b: (
            openai_error(400, "duration: 5 or 10")
            if isinstance(b, dict) and b.get("duration") not in (None, 5, 10)
            else None
        )
    ),
    "data URIs and URLs, but no raw base64 for images": lambda: Fake(
        submit_hook=lambda b: (
            openai_error(400, "images: URLs or data URIs")
            if isinstance(b, dict)
            and isinstance(b.get("images"), list)
            and any(not str(u).startswith(("http", "data:")) for u in b["images"])
            else None
        )
    ),
    "checks the model before the prompt": lambda: Fake(
        submit_hook=lambda b: (
            openai_error(400, "model is required") if isinstance(b, dict) and not b.get("model") else None
        )
    ),
}


# 2. Every byte of every answer: ``json_strict``, ``headers_match_body``, ``media_bytes``.
def _encoded_polls(encode: Callable[[dict[str, Any]], bytes], **headers: str) -> Fake:
    fake = Fake()

    async def hook(fake: Fake, request: Request) -> Response | None:
        if request.method != "GET" or not request.url.path.startswith("/v2/"):
            return None
        task = fake.tasks.get(request.path_params.get("task_id", ""))
        if task is None or fake.owner(request) != task.key or task.scope != request.path_params["scope"]:
            return None
        task.polls += 1
        return Response(encode(fake.view(task, str(request.base_url))), media_type="application/json", headers=headers)

    fake.request_hook = hook
    return fake


def _short_body(content: bytes, kind: str) -> Response:
    """Declares the whole file's length and sends half of it."""
    return Response(content[: len(content) // 2], media_type=kind, headers={"content-length": str(len(content))})


def _cut_video(task: Task) -> Response:
    content, kind = MEDIA[task.scope]
    return Response(content[: len(content) * 2 // 3], media_type=kind)


BYTES_BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "NaN in a task": (
        lambda: _encoded_polls(lambda t: json.dumps({**t, "x_cost": float("nan")}).encode()),
        "json_strict",
    ),
    "a byte order mark before the JSON": (
        lambda: _encoded_polls(lambda t: b"\xef\xbb\xbf" + json.dumps(t).encode()),
        "json_strict",
    ),
    "JSON in UTF-16": (lambda: _encoded_polls(lambda t: json.dumps(t).encode("utf-16-le")), "json_strict"),
    "a second object after the first": (
        lambda: _encoded_polls(lambda t: json.dumps(t).encode() + b"\n{}"),
        "json_strict",
    ),
    "gzip in the headers, plain bytes in the body": (
        lambda: _encoded_polls(lambda t: json.dumps(t).encode(), **{"content-encoding": "gzip"}),
        "headers_match_body",
    ),
    "an output shorter than its Content-Length": (
        lambda: Fake(file_hook=lambda t: _short_body(*MEDIA[t.scope])),
        "headers_match_body",
    ),
    "an error page labelled video/mp4": (
        lambda: Fake(file_hook=lambda t: Response("<html><body>Bad gateway</body></html>", media_type="video/mp4")),
        "headers_match_body",
    ),
    "a video cut short, its length declared as sent": (lambda: Fake(file_hook=_cut_video), "media_bytes"),
    "a PNG label on bytes that are a video": (
        lambda: Fake(media=lambda scope: (MEDIA["videos"][0], "video/mp4" if scope != "videos" else "image/png")),
        "media_bytes",
    ),
    "206 to a request without Range": (
        lambda: Fake(file_hook=lambda t: Response(MEDIA[t.scope][0], 206, media_type=MEDIA[t.scope][1])),
        "media_bytes",
    ),
    "PNG magic and nothing else": (
        lambda: Fake(
            media=lambda scope: (PNG[:16] + b"\x00" * 64, "image/png" if scope == "images" else MEDIA[scope][1])
        ),
        "media_bytes",
    ),
}


def _gzipped(task: Task) -> Response:
    content, kind = MEDIA[task.scope]
    return Response(gzip.compress(content), media_type=kind, headers={"content-encoding": "gzip"})


BYTES_CONFORMING: dict[str, Callable[[], Fake]] = {
    "charset=utf-8 on every JSON answer": lambda: _encoded_polls(
        lambda t: json.dumps(t, ensure_ascii=False).encode(), **{"content-type": "application/json; charset=utf-8"}
    ),
    "gzip-encoded outputs": lambda: Fake(file_hook=_gzipped),
    "JSON with non-ASCII text as is": lambda: _encoded_polls(
        lambda t: json.dumps({**t, "x_note": "完成 ✓ 🎬"}, ensure_ascii=False).encode()
    ),
    "a problem+json error": lambda: Fake(
        not_found=lambda: JSONResponse({"title": "not found"}, 404, media_type="application/problem+json")
    ),
}


# 3. Equivalent requests answer alike: ``equivalent_requests``.
def _no_auth_on(test: Callable[[Request], bool]) -> Hook:
    """Routes some spelling of a request past the key check, as a second route or a framework's HEAD does."""

    async def hook(fake: Fake, request: Request) -> Response | None:
        if not test(request) or request.method == "POST":
            return None
        task_id = request.path_params.get("task_id", "").split(";")[0].rstrip("/")
        task = fake.tasks.get(task_id)
        return JSONResponse(fake.view(task, str(request.base_url))) if task else None

    return hook


async def _free_task(request: Request) -> Response:
    """A second submit route, for the path with a slash after it, added without the key check."""
    return JSONResponse({"task_id": f"free-{time.monotonic_ns()}"})


async def _traceback(request: Request) -> Response:
    return Response("Traceback ...", 500)


EQUIVALENTS_BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "a trailing slash skips the key check": (
        lambda: Fake(request_hook=_no_auth_on(lambda r: r.url.path.endswith("/"))),
        "equivalent_requests",
    ),
    "HEAD skips the key check": (
        lambda: Fake(request_hook=_no_auth_on(lambda r: r.method == "HEAD")),
        "equivalent_requests",
    ),
    "a matrix parameter is cut off after the key check": (
        lambda: Fake(request_hook=_no_auth_on(lambda r: ";" in r.url.path)),
        "equivalent_requests",
    ),
    "the scope in capitals reaches an internal route": (
        lambda: Fake(request_hook=_no_auth_on(lambda r: r.path_params.get("scope", "").isupper())),
        "equivalent_requests",
    ),
    "500 on a doubled slash, routed to a handler of its own": (
        lambda: Fake(routes=(Route("/v2/{scope}//generations/{task_id:path}", _traceback),)),
        "equivalent_requests",
    ),
    "500 on HEAD": (lambda: Fake(request_hook=_on(lambda r: r.method == "HEAD", _crash)), "equivalent_requests"),
    "a submit with a trailing slash needs no key": (
        lambda: Fake(routes=(Route("/v2/{scope}/generations/", _free_task, methods=["POST"]),)),
        "equivalent_requests",
    ),
}


def _redirect_slash(fake: Fake, request: Request) -> Response:
    return RedirectResponse(str(request.url).rstrip("/"), 307)


EQUIVALENTS_CONFORMING: dict[str, Callable[[], Fake]] = {
    "a trailing slash redirected": lambda: Fake(request_hook=_on(lambda r: r.url.path.endswith("/"), _redirect_slash)),
    "HEAD not allowed": lambda: Fake(
        request_hook=_on(lambda r: r.method == "HEAD", lambda f, r: JSONResponse({"error": "use GET"}, 405))
    ),
    "every spelling refused with 400": lambda: Fake(
        request_hook=_on(
            lambda r: any(c in r.url.path for c in (";", "//")) or r.url.path.endswith("/"),
            lambda f, r: openai_error(400, "bad path"),
        )
    ),
}


# 4. Nothing leaks: ``no_leaks``.
def _echo_key(fake: Fake, request: Request) -> Response:
    return openai_error(400, f"request by {request.headers.get('authorization', '')} refused")


async def _echo_key_on_bad_bodies(fake: Fake, request: Request) -> Response | None:
    body = await _body(request) if request.method == "POST" else None
    return _echo_key(fake, request) if request.method == "POST" and problem(body) and fake.owner(request) else None


def _prompt_in_404(fake: Fake) -> Fake:
    def not_found() -> Response:
        prompts = [t.body.get("prompt") for t in fake.tasks.values()]
        return openai_error(404, f"no such task of yours; latest task: {prompts[-1] if prompts else None}")

    fake.not_found = not_found
    return fake


LEAKS_BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "the caller's key in the output URLs": (
        lambda: Fake(result=lambda base, t: {"output": f"{base}files/{t.task_id}?api_key={t.key}"}),
        "no_leaks",
    ),
    "the caller's key echoed in an error body": (lambda: Fake(request_hook=_echo_key_on_bad_bodies), "no_leaks"),
    "the caller's key in a response header": (
        lambda: _encoded_polls(lambda t: json.dumps(t).encode(), **{"x-upstream-authorization": "Bearer sk-one"}),
        "no_leaks",
    ),
    "another key's prompt in a 404": (lambda: _prompt_in_404(Fake()), "no_leaks"),
    "another key's task id in a 401": (
        lambda: _ids_in_401(Fake()),
        "no_leaks",
    ),
}


def _ids_in_401(fake: Fake) -> Fake:
    fake.error = lambda status, message: openai_error(status, f"{message}; recent tasks: {sorted(fake.tasks)[-3:]}")
    return fake


def _mask(key: str) -> str:
    return f"{key[:3]}***{key[-2:]}" if len(key) > 6 else "***"


async def _echo_refused_key(fake: Fake, request: Request) -> Response | None:
    """Refuses a wrong key naming it, as OpenAI's "Incorrect API key provided: ..." does."""
    if fake.owner(request) is None:
        return openai_error(401, f"Incorrect API key provided: {request.headers.get('authorization', '')[7:]}")
    return None


def _echo_asked_id(fake: Fake) -> Fake:
    fake.lookup_hook = lambda i: openai_error(404, f"task {i!r} not found") if i not in fake.tasks else None
    return fake


LEAKS_CONFORMING: dict[str, Callable[[], Fake]] = {
    "echoes the wrong key it refuses": lambda: Fake(request_hook=_echo_refused_key),
    "echoes the id asked for in its 404": lambda: _echo_asked_id(Fake()),
    "a masked key in its errors": lambda: Fake(
        error=lambda status, message: openai_error(status, f"{message} ({_mask('sk-one')})")
    ),
}


# 5. Time is bounded: ``answers_in_time``, and the run ends within twice its timeout and a margin.
async def _until_gone(request: Request) -> None:
    while not await request.is_disconnected():
        await asyncio.sleep(0.05)


def _hang(test: Callable[[Fake, Request], bool]) -> Hook:
    async def hook(fake: Fake, request: Request) -> Response | None:
        if test(fake, request):
            await _until_gone(request)
            return Response("too late", 504)
        return None

    return hook


def _third_poll(fake: Fake, request: Request) -> bool:
    task = fake.tasks.get(request.path_params.get("task_id", ""))
    return request.method == "GET" and task is not None and task.polls == 2


async def _drip(request: Request) -> AsyncIterator[bytes]:
    yield MEDIA["videos"][0][:8]
    while True:
        await asyncio.sleep(0.1)
        yield b"\x00"


TIME_BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "a poll that never answers": (lambda: Fake(request_hook=_hang(_third_poll)), "answers_in_time"),
    "a refusal that never answers": (
        lambda: Fake(request_hook=_hang(lambda f, r: r.method == "POST" and r.headers.get("authorization") is None)),
        "answers_in_time",
    ),
    "an output that drips forever": (
        lambda: Fake(
            request_hook=_on(
                lambda r: r.url.path.startswith("/files/"),
                lambda f, r: StreamingResponse(_drip(r), media_type="video/mp4"),
            )
        ),
        "answers_in_time",
    ),
}

TIME_BROKEN["every poll of a task hangs"] = (
    lambda: Fake(request_hook=_hang(lambda f, r: r.method == "GET" and r.path_params.get("task_id") in f.tasks)),
    "answers_in_time",
)

TIME_CONFORMING: dict[str, Callable[[], Fake]] = {
    "slow polls, well within the bound": lambda: Fake(request_hook=_slow(0.2)),
}


def _slow(seconds: float) -> Hook:
    async def hook(fake: Fake, request: Request) -> Response | None:
        if request.method == "GET" and request.path_params.get("task_id") in fake.tasks:
            await asyncio.sleep(seconds)
        return None

    return hook


CLASSES = ("inputs", "bytes", "equivalents", "leaks", "time")
BROKEN = {
    f"{kind}: {name}": case
    for kind, cases in zip(CLASSES, (INPUTS_BROKEN, BYTES_BROKEN, EQUIVALENTS_BROKEN, LEAKS_BROKEN, TIME_BROKEN))
    for name, case in cases.items()
}
CONFORMING = {
    f"{kind}: {name}": make
    for kind, makes in zip(
        CLASSES, (INPUTS_CONFORMING, BYTES_CONFORMING, EQUIVALENTS_CONFORMING, LEAKS_CONFORMING, TIME_CONFORMING)
    )
    for name, make in makes.items()
}


def test_each_class_has_three_broken_fakes_and_a_conforming_one() -> None:
    for kind in CLASSES:
        assert sum(name.startswith(f"{kind}:") for name in BROKEN) >= 3, kind
        assert any(name.startswith(f"{kind}:") for name in CONFORMING), kind


@pytest.mark.parametrize("name", BROKEN)
def test_a_server_broken_within_a_class_is_failed_by_its_check(tmp_path: Path, name: str) -> None:
    make, check = BROKEN[name]
    result = run_kit(tmp_path, make())
    assert result.ret != 0, result.out[-4000:]
    assert result.failed(check), result.out[-4000:]
    if name.startswith("time:"):  # and the run gives up at twice --contract-timeout and a margin, never later
        took, most = re.search(
            r"run time: ([\d.]+) s \(the run gives up on the server after (\d+) s\)", result.out
        ).groups()
        assert float(most) == 2 * 6 + 10 and float(took) <= float(most) + 5, result.out[-2000:]


@pytest.mark.parametrize("name", CONFORMING)
def test_a_server_conforming_within_a_class_passes(tmp_path: Path, name: str) -> None:
    result = run_kit(tmp_path, CONFORMING[name]())
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == ONE_SCOPE, result.out[-4000:]
    assert not any(failed for _, _, failed in result.tally().values()), result.out[-3000:]
