"""The kit against servers that are not ours: no false alarm on conforming variants, no miss on broken ones.

Each run is the documented command with default options apart from the URL, keys and a fast poll
schedule, exactly as a gateway team would run it. To keep the suite short, variants are run on one
scope (no check depends on which); the plain fake is run on all three.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response

from mockserver.testing import serving
from tests.helpers.fakes import MEDIA, WALK, Fake, Task, openai_error, problem
from tests.helpers.harness import Outcome, run_pytest

pytestmark = pytest.mark.slow

FAST = ["--contract-poll-initial", "0.01", "--contract-poll-max", "0.02"]
FAST += [
    "--contract-timeout",
    "6",
    "--contract-hold",
    "0.05",
]  # tasks end in well under a second; 6 s rides out a loaded machine


ONE_SCOPE, EVERY_SCOPE = 16, 38  # the kit's tests on one scope and on all three: each must pass, none skip
NO_OUTPUTS = "no task of this scope succeeded, so there were no outputs to fetch"  # the one skip a fake may earn


def run_kit(tmp_path: Path, fake: Fake, *extra: str) -> Outcome:
    """One kit run on ``fake``; ``extra`` defaults to the videos scope only."""
    extra = extra or ("--contract-scopes", "videos")
    with serving(fake.app()) as url:
        args = ["--pyargs", "contract_tests", "-rs", "--contract-url", url, "--contract-key", fake.keys[0]]
        return run_pytest(tmp_path, *args, "--contract-second-key", fake.keys[1], *FAST, *extra)


def replace(task: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**task, **fields}


def every_other(answer: Callable[[], Response]) -> Callable[[Task], Response | None]:
    """A poll hook that answers ``answer()`` on every second poll of a task."""
    return lambda task: answer() if task.polls % 2 == 0 else None


def newapi_not_found() -> Response:
    return JSONResponse({"code": "task_not_exist", "message": "task_not_exist", "data": None}, 400)


def detail_error(status: int, message: str) -> Response:
    return JSONResponse({"detail": message}, 422 if status == 400 else status)


def dated_429() -> Callable[[Any], Response | None]:
    count = itertools.count()
    headers = {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    return lambda body: JSONResponse({"error": "slow down"}, 429, headers) if next(count) % 3 == 0 else None


CONFORMING: dict[str, Callable[[], Fake]] = {
    "spec-style ids": lambda: Fake(make_id=lambda n: f"veo3:1756693796-{n:010d}"),
    "numeric ids": lambda: Fake(make_id=lambda n: str(1000 + n)),
    "skipped states": lambda: Fake(walk=(("NOT_START", "0%"), ("SUCCESS", "100%"))),
    "straight to failure": lambda: Fake(walk=(("QUEUED", "0%"), ("FAILURE", "100%"))),
    "failure resets progress": lambda: Fake(walk=(("IN_PROGRESS", "50%"), ("FAILURE", "0%"))),
    "no progress field": lambda: Fake(task_hook=lambda t, _: {k: v for k, v in t.items() if k != "progress"}),
    "extra fields": lambda: Fake(extra={"platform": "google", "x_cost": 0.12, "meta": {"a": [1]}}),
    "outputs only": lambda: Fake(
        result=lambda base, t: {"outputs": [f"{base}files/{t.task_id}", f"{base}files/{t.task_id}?n=2"]}
    ),
    "null timestamps": lambda: Fake(unset=None),
    "absent timestamps": lambda: Fake(unset="absent"),
    "new-api unknown task": lambda: Fake(not_found=newapi_not_found),
    "other error shape, 422": lambda: Fake(error=detail_error, not_found=lambda: detail_error(404, "nope")),
    "refuses images with videos": lambda: Fake(refuse_images_with_videos=True),
    "202 on submit": lambda: Fake(submit_status=202),
    "429 with a date": lambda: Fake(submit_hook=dated_429()),
    "503 now and then": lambda: Fake(poll_hook=every_other(lambda: JSONResponse({}, 503, {"Retry-After": "0"}))),
    "late visible": lambda: Fake(poll_hook=lambda t: openai_error(404, "not yet") if t.polls == 1 else None),
    "lenient content type": lambda: Fake(check_content_type=False),
    "re-signed output links": lambda: Fake(result=lambda base, t: {"output": f"{base}files/{t.task_id}?sig={t.polls}"}),
    "octet-stream outputs": lambda: Fake(media=lambda scope: (MEDIA[scope][0], "application/octet-stream")),
    "same key reads through any scope's path": lambda: Fake(shows=lambda t, owner, scope: t.key == owner),
}
FAILING_ONLY = {"straight to failure", "failure resets progress"}

# Conforming in a way the spec leaves open and our schema's reading does not: a warning, never a failure.
WARNED: dict[str, tuple[Callable[[], Fake], str]] = {
    "progress null before start": (lambda: Fake(task_hook=_null_progress_before_start), "task_schema"),
    "decimal progress": (lambda: Fake(walk=(("IN_PROGRESS", "12.5%"), ("SUCCESS", "100%"))), "task_schema"),
    "float timestamps": (lambda: Fake(task_hook=_float_times), "task_schema"),
    "a replica that loses a task for two polls": (
        lambda: Fake(poll_hook=lambda t: openai_error(404, "no such task") if t.polls in (2, 3) else None),
        "finishes",
    ),
    "an output missing from the CDN at first": (
        lambda: Fake(file_hook=lambda t: Response("not yet", 404) if t.fetches <= 2 else None),
        "outputs_download",
    ),
}


def _null_progress_before_start(task: dict[str, Any], _: Task) -> dict[str, Any]:
    return replace(task, progress=None) if task["status"] in ("SUBMITTED", "QUEUED") else task


def _float_times(task: dict[str, Any], _: Task) -> dict[str, Any]:
    return {k: v + 0.25 if k.endswith("_time") and v else v for k, v in task.items()}


def test_the_plain_fake_passes_on_every_scope(tmp_path: Path) -> None:
    result = run_kit(tmp_path, Fake(), "--contract-scopes", "images,videos,audio")
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == EVERY_SCOPE, result.out[-4000:]
    created = re.search(r"tasks created: (\d+) of a budget of 12", result.out)
    assert created and 6 <= int(created.group(1)) <= 12, result.out[-2000:]  # two must-accept probes a scope


@pytest.mark.parametrize("name", CONFORMING)
def test_a_conforming_server_passes(tmp_path: Path, name: str) -> None:
    result = run_kit(tmp_path, CONFORMING[name]())
    assert result.ret == 0, result.out[-4000:]
    # no check turned into a skip; where every task fails, only the downloads have nothing to do
    skipped = int(name in FAILING_ONLY)
    assert (result.count("passed"), result.count("skipped")) == (ONE_SCOPE - skipped, skipped), result.out[-4000:]
    assert (NO_OUTPUTS in result.out) == bool(skipped), result.out[-4000:]


@pytest.mark.parametrize("name", WARNED)
def test_a_reading_the_spec_leaves_open_is_only_warned_about(tmp_path: Path, name: str) -> None:
    make, check = WARNED[name]
    result = run_kit(tmp_path, make())
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == ONE_SCOPE, result.out[-4000:]
    assert result.warned(check) and not any(failed for _, _, failed in result.tally().values()), result.out[-3000:]


def _going_back(task: dict[str, Any], t: Task) -> dict[str, Any]:
    return replace(task, status="QUEUED") if t.polls == 4 else task


BROKEN: dict[str, tuple[Callable[[], Fake], str]] = {
    "5xx on a non-object body": (
        lambda: Fake(submit_hook=lambda b: None if isinstance(b, dict) else PlainTextResponse("boom", 500)),
        "not_server_error",
    ),
    "accepts an empty prompt": (
        lambda: Fake(
            submit_hook=lambda b: (
                JSONResponse({"task_id": "x"}) if isinstance(b, dict) and b.get("prompt") == "" else None
            )
        ),
        "status_code",
    ),
    "accepts base64 videos": (lambda: Fake(submit_hook=_inline_videos), "status_code"),
    "any key works": (lambda: Fake(auth_hook=lambda key: "sk-one" if key else None), "status_code"),
    "no key needed": (lambda: Fake(auth_hook=lambda key: key or "sk-one"), "status_code"),
    "403 for no key": (lambda: Fake(error=lambda s, m: openai_error(403 if s == 401 else s, m)), "status_code"),
    "shared tasks": (
        lambda: Fake(auth_hook=lambda key: "sk-one" if key in ("sk-one", "sk-two") else None),
        "status_code",
    ),
    "unknown task is 200": (lambda: Fake(not_found=lambda: JSONResponse({"status": "UNKNOWN"})), "status_code"),
    "goes back a state": (lambda: Fake(task_hook=_going_back), "forward_only"),
    "flips once the client stops looking": (
        lambda: Fake(walk=(*WALK, *[WALK[-1]] * 3, ("FAILURE", "100%"))),
        "terminal_holds",
    ),
    "success then failure": (lambda: Fake(walk=(*WALK, ("FAILURE", "100%"))), "forward_only"),
    "progress falls": (
        lambda: Fake(walk=(("IN_PROGRESS", "60%"), ("IN_PROGRESS", "20%"), ("SUCCESS", "100%"))),
        "progress_monotonic",
    ),
    "success at 99%": (lambda: Fake(walk=(("IN_PROGRESS", "50%"), ("SUCCESS", "99%"))), "task_schema"),
    "progress without %": (lambda: Fake(walk=(("IN_PROGRESS", "50"), ("SUCCESS", "100%"))), "task_schema"),
    "lowercase status": (lambda: Fake(walk=(("in_progress", "50%"), ("SUCCESS", "100%"))), "task_schema"),
    "ends in a status of its own": (lambda: Fake(walk=(("IN_PROGRESS", "50%"), ("COMPLETED", "100%"))), "finishes"),
    "spec template refused": (
        lambda: Fake(
            submit_hook=lambda b: openai_error(400, "no") if isinstance(b, dict) and "resolution" in b else None
        ),
        "status_code",
    ),
    "milliseconds": (
        lambda: Fake(task_hook=lambda t, _: replace(t, submit_time=t["submit_time"] * 1000)),
        "timestamps_plausible",
    ),
    "start before submit": (
        lambda: Fake(
            task_hook=lambda t, _: replace(t, start_time=t["submit_time"] - 100) if t.get("start_time") else t
        ),
        "timestamp_order",
    ),
    "finish time too early": (
        lambda: Fake(task_hook=lambda t, _: replace(t, finish_time=t["submit_time"] + 9)),
        "task_schema",
    ),
    "finish time moves": (
        lambda: Fake(
            task_hook=lambda t, task: (
                replace(t, finish_time=t["finish_time"] + task.polls) if t.get("finish_time") else t
            )
        ),
        "terminal_holds",
    ),
    "poll answered as text": (
        lambda: Fake(poll_hook=lambda t: PlainTextResponse("status=QUEUED") if t.polls == 2 else None),
        "poll_json",
    ),
    "finish time vanishes": (
        lambda: Fake(task_hook=lambda t, task: replace(t, finish_time=0) if task.polls > len(WALK) else t),
        "timestamps_stay",
    ),
    "other task id": (lambda: Fake(task_hook=lambda t, _: replace(t, task_id="someone-else")), "task_id_echoed"),
    "success without output": (lambda: Fake(result=lambda base, t: {}), "task_schema"),
    "failure without reason": (
        lambda: Fake(walk=(("QUEUED", "0%"), ("FAILURE", "100%")), task_hook=lambda t, _: replace(t, fail_reason="")),
        "task_schema",
    ),
    "never finishes": (lambda: Fake(walk=(("QUEUED", "0%"), ("IN_PROGRESS", "10%"))), "finishes"),
    "forgets finished tasks": (
        lambda: Fake(poll_hook=lambda t: openai_error(404, "gone") if t.polls > len(WALK) else None),
        "finishes",
    ),
    "dead output links": (
        lambda: Fake(result=lambda base, t: {"output": f"{base}nowhere/{t.task_id}"}),
        "outputs_download",
    ),
    "html instead of video": (
        lambda: Fake(media=lambda scope: (b"<html>oops</html>", "text/html")),
        "outputs_download",
    ),
    "no task_id on submit": (
        lambda: Fake(submit_hook=lambda b: JSONResponse({"id": "abc"}) if problem_free(b) else None),
        "submit_response_schema",
    ),
    "submit answered as text": (
        lambda: Fake(submit_hook=lambda b: PlainTextResponse('{"task_id": "t1"}') if problem_free(b) else None),
        "json_body",
    ),
    "refuses plain bodies": (
        lambda: Fake(
            submit_hook=lambda b: openai_error(400, "need size") if isinstance(b, dict) and "size" not in b else None
        ),
        "status_code",
    ),
    "text errors on bad bodies": (lambda: Fake(error=lambda s, m: PlainTextResponse(m, s)), "json_body"),
    "accepts a wrong type": (lambda: Fake(submit_hook=_lax_types), "status_code"),
    "accepts a missing model": (
        lambda: Fake(
            submit_hook=lambda b: JSONResponse({"task_id": "x"}) if isinstance(b, dict) and "model" not in b else None
        ),
        "status_code",
    ),
    "serves any scope": (lambda: Fake(scopes=(*MEDIA, "not-a-scope")), "status_code"),
    "shows running tasks to any key": (
        lambda: Fake(shows=lambda t, owner, scope: scope == t.scope and (t.key == owner or t.polls < len(WALK))),
        "status_code",
    ),
    "shows tasks to any key through another scope's path": (
        lambda: Fake(shows=lambda t, owner, scope: t.key == owner if scope == t.scope else True),
        "status_code",
    ),
    "prompt optional when images are given": (lambda: Fake(submit_hook=_prompt_optional_with_images), "status_code"),
    "500 on JSON nested deeper than its parser goes": (
        lambda: Fake(
            body_hook=lambda raw: PlainTextResponse("RecursionError", 500) if raw.count(b"[") > 1000 else None
        ),
        "not_server_error",
    ),
    "500 on a body over 100 KB": (
        lambda: Fake(
            submit_hook=lambda b: PlainTextResponse("too large", 500) if len(json.dumps(b)) > 100_000 else None
        ),
        "not_server_error",
    ),
    "500 on an aspect_ratio that is not W:H": (lambda: Fake(submit_hook=_aspect_ratio_500), "not_server_error"),
    "500 on a lone surrogate": (lambda: Fake(submit_hook=_lone_surrogate_500), "not_server_error"),
    "flips after more polls than the kit used to hold": (
        lambda: Fake(walk=(*WALK, *[WALK[-1]] * 6, ("FAILURE", "100%"))),
        "terminal_holds",
    ),
}


def _prompt_optional_with_images(body: Any) -> Response | None:
    """Takes image-to-video bodies without a prompt, as if the image said enough."""
    bare = isinstance(body, dict) and body.get("images") and not body.get("prompt")
    return JSONResponse({"task_id": "no-prompt"}) if bare and problem({**body, "prompt": "x"}) is None else None


def _aspect_ratio_500(body: Any) -> Response | None:
    """Divides the two sides of aspect_ratio before any validation."""
    ratio = body.get("aspect_ratio") if isinstance(body, dict) else None
    if isinstance(ratio, str):
        width, _, height = ratio.partition(":")
        try:
            int(width) / int(height)
        except (ValueError, ZeroDivisionError):
            return PlainTextResponse("ValueError", 500)
    return None


def _lone_surrogate_500(body: Any) -> Response | None:
    """Encodes the body as UTF-8 for its database before any validation."""
    try:
        json.dumps(body, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return PlainTextResponse("surrogates not allowed", 500)
    return None


def _astral_500(body: Any) -> Response | None:
    """A valid body whose prompt holds a character outside the BMP: a utf8mb3 column refuses it."""
    if problem(body) is None and any(ord(c) > 0xFFFF for c in body["prompt"]):
        return PlainTextResponse("Incorrect string value", 500)
    return None


def test_a_server_that_fails_on_emoji_is_caught_on_a_run_of_every_scope(tmp_path: Path) -> None:
    """With three scopes the budget leaves one generated body each: one of them carries a four-byte character."""
    result = run_kit(tmp_path, Fake(submit_hook=_astral_500), "--contract-scopes", "images,videos,audio")
    assert result.ret == 1, result.out[-3000:]
    assert result.failed("not_server_error"), result.out[-3000:]


def problem_free(body: Any) -> bool:
    return problem(body) is None


def _inline_videos(body: Any) -> Response | None:
    videos = body.get("videos") if isinstance(body, dict) else None
    if isinstance(videos, list) and any(not str(v).startswith("http") for v in videos):
        return JSONResponse({"task_id": "inline"})
    return None


def _lax_types(body: Any) -> Response | None:
    """Lets any type through for every field but the two required ones."""
    if (
        isinstance(body, dict)
        and isinstance(body.get("prompt"), str)
        and body["prompt"]
        and isinstance(body.get("model"), str)
        and body["model"]
    ):
        return JSONResponse({"task_id": "lax"}) if problem(body) else None
    return None


@pytest.mark.parametrize("name", BROKEN)
def test_a_broken_server_is_caught(tmp_path: Path, name: str) -> None:
    make, check = BROKEN[name]
    result = run_kit(tmp_path, make())
    assert result.ret != 0, result.out[-4000:]
    assert result.failed(check), result.out[-4000:]  # that check, not another, nor a warning naming it


def test_a_status_outside_the_spec_ends_the_walk_without_waiting_for_the_timeout(tmp_path: Path) -> None:
    fake = Fake(walk=(("IN_PROGRESS", "50%"), ("COMPLETED", "100%")))
    result = run_kit(tmp_path, fake, "--contract-scopes", "videos", "--contract-timeout", "600")
    assert result.ret == 1
    assert "[finishes] the task kept a status outside the spec's states ('COMPLETED')" in result.out


# Issue 13: nulls, the path fuzzed, task identity, and the clauses found beside them.


def _null_required_is_present(body: Any) -> Response | None:
    """Reads a key that is there as given, so "prompt": null passes as a prompt."""
    if not isinstance(body, dict) or not any(name in body and body[name] is None for name in ("prompt", "model")):
        return None
    filled = {k: "x" if k in ("prompt", "model") and v is None else v for k, v in body.items()}
    return JSONResponse({"task_id": "null-prompt"}) if problem(filled) is None else None


def _null_optional_500(body: Any) -> Response | None:
    """Compares duration and the rest before validation, as ``body["duration"] > 0`` on None does."""
    if isinstance(body, dict) and any(body.get(k, 0) is None for k in ("duration", "aspect_ratio", "watermark")):
        return PlainTextResponse("TypeError: '>' not supported between 'NoneType' and 'int'", 500)
    return None


def _drop_nulls(body: Any) -> Any:
    """pydantic's Optional, Go's pointers: an optional field given null is read as absent."""
    if not isinstance(body, dict):
        return body
    return {k: v for k, v in body.items() if v is not None or k in ("prompt", "model")}


def _prefix_match(tasks: dict[str, Task], task_id: str) -> Task | None:
    """Finds a task whose id starts the one asked for, as ``parseInt`` or a LIKE 'id%' does."""
    return next((t for known, t in tasks.items() if task_id and task_id.startswith(known)), None)


def _latin1_500(task_id: str) -> Response | None:
    try:
        task_id.encode("latin-1")
    except UnicodeEncodeError:
        return PlainTextResponse("UnicodeEncodeError", 500)
    return None


def _model_and_second(body: dict[str, Any], scope: str) -> str:
    return f"{body['model']}-{int(time.time())}"


def _counter_per_scope() -> Callable[[dict[str, Any], str], str]:
    counters: dict[str, itertools.count[int]] = {}
    return lambda body, scope: f"task-{next(counters.setdefault(scope, itertools.count(1)))}"


def _answers_the_latest(fake: Fake) -> Fake:
    """Every poll shows, under the id asked for, what the latest submit was sent."""
    fake.task_hook = lambda t, task: {**t, "prompt": list(fake.tasks.values())[-1].body.get("prompt")}
    return fake


def _echoes(**fixed: Any) -> Callable[[dict[str, Any], Task], dict[str, Any]]:
    """Shows the request's model and prompt again, with the spec's platform and action, and ``fixed`` over them."""
    names = {"platform": "google", "action": "google-videos"}
    return lambda t, task: {**t, "model": task.body["model"], "prompt": task.body["prompt"], **names, **fixed}


def _action_flips(t: dict[str, Any], task: Task) -> dict[str, Any]:
    return {**t, "action": "google-videos" if task.polls % 2 else "kling-videos"}


def _shifted(seconds: int) -> Callable[[dict[str, Any], Task], dict[str, Any]]:
    """Every set timestamp moved by ``seconds``, as a server clock off by that much, or a time zone, shows."""
    return lambda t, task: {k: v + seconds if k.endswith("_time") and v else v for k, v in t.items()}


def _html_414(task_id: str) -> Response | None:
    if len(task_id) > 4096:
        return Response("<html><body><h1>414 Request-URI Too Large</h1></body></html>", 414, media_type="text/html")
    return None


BROKEN_13: dict[str, tuple[Callable[[], Fake], str]] = {
    "a null required field passes as present": (lambda: Fake(submit_hook=_null_required_is_present), "status_code"),
    "500 on a null optional field": (lambda: Fake(submit_hook=_null_optional_500), "not_server_error"),
    "500 on a 10 KB task id": (
        lambda: Fake(lookup_hook=lambda i: PlainTextResponse("boom", 500) if len(i) > 4096 else None),
        "not_server_error",
    ),
    "500 on a task id outside latin-1": (lambda: Fake(lookup_hook=_latin1_500), "not_server_error"),
    "500 on a control character in a task id": (
        lambda: Fake(lookup_hook=lambda i: PlainTextResponse("bad", 500) if any(ord(c) < 32 for c in i) else None),
        "not_server_error",
    ),
    "500 on a percent-encoded slash": (
        lambda: Fake(lookup_hook=lambda i: PlainTextResponse("bad", 500) if "/" in i else None),
        "not_server_error",
    ),
    "a task id with a suffix finds the task": (lambda: Fake(find=_prefix_match), "status_code"),
    "a task id cut at NUL finds the task": (
        lambda: Fake(find=lambda tasks, i: tasks.get(i.split("\0")[0])),
        "status_code",
    ),
    "an empty task id lists tasks": (
        lambda: Fake(lookup_hook=lambda i: JSONResponse({"tasks": []}) if i == "" else None),
        "status_code",
    ),
    "ids made of the model and the second": (lambda: Fake(id_hook=_model_and_second), "task_ids_distinct"),
    "polls answer the latest task": (lambda: _answers_the_latest(Fake()), "task_identity"),
    "action changes between polls": (lambda: Fake(task_hook=_action_flips), "task_identity"),
    "refuses a charset parameter": (lambda: Fake(exact_content_type=True), "status_code"),
    "timestamps eight hours early": (lambda: Fake(task_hook=_shifted(-8 * 3600)), "timestamps_plausible"),
}

CONFORMING_13: dict[str, Callable[[], Fake]] = {
    "echoes the request, as the spec's real answer does": lambda: Fake(task_hook=_echoes()),
    "a proxy's HTML 414 for a long id": lambda: Fake(lookup_hook=_html_414),
    "400 for any id it cannot parse": lambda: Fake(
        lookup_hook=lambda i: openai_error(400, "bad id") if not re.fullmatch(r"[0-9a-f-]{36}", i) else None
    ),
    "same-second ids with a nonce": lambda: Fake(id_hook=lambda b, s: f"{b['model']}:{int(time.time())}-{uuid4()}"),
    "a clock two minutes behind": lambda: Fake(task_hook=_shifted(-120)),
}

WARNED_13: dict[str, tuple[Callable[[], Fake], str]] = {
    "null optional fields read as absent": (lambda: Fake(normalise=_drop_nulls), "status_code"),
    "a canonical model name echoed": (lambda: Fake(task_hook=_echoes(model="veo-3.0-generate-001")), "task_identity"),
    "the scheme only as 'Bearer'": (lambda: Fake(exact_scheme=True), "auth_scheme_case"),
    "an empty task id redirected, as a router drops a trailing slash": (
        lambda: Fake(lookup_hook=lambda i: RedirectResponse("/v2/videos/generations", 307) if i == "" else None),
        "status_code",
    ),
}


@pytest.mark.parametrize("name", BROKEN_13)
def test_a_broken_server_of_issue_13_is_caught(tmp_path: Path, name: str) -> None:
    make, check = BROKEN_13[name]
    result = run_kit(tmp_path, make())
    assert result.ret != 0, result.out[-4000:]
    assert result.failed(check), result.out[-4000:]


def test_a_counter_per_scope_is_caught_across_scopes(tmp_path: Path) -> None:
    result = run_kit(tmp_path, Fake(id_hook=_counter_per_scope()), "--contract-scopes", "images,videos")
    assert result.ret != 0, result.out[-4000:]
    assert "[task_ids_distinct] two accepted submits in images and videos got the same task_id" in result.out


@pytest.mark.parametrize("name", CONFORMING_13)
def test_a_conforming_server_of_issue_13_passes(tmp_path: Path, name: str) -> None:
    result = run_kit(tmp_path, CONFORMING_13[name]())
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == ONE_SCOPE, result.out[-4000:]


@pytest.mark.parametrize("name", WARNED_13)
def test_a_reading_of_issue_13_is_only_warned_about(tmp_path: Path, name: str) -> None:
    make, check = WARNED_13[name]
    result = run_kit(tmp_path, make())
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == ONE_SCOPE, result.out[-4000:]
    assert result.warned(check) and not any(failed for _, _, failed in result.tally().values()), result.out[-3000:]
