"""The hot routes answered in front of Starlette's router (``http/front.py``) answer as its routing did, to the byte.

Two apps are built from one config on one fake clock: the mock as it ships, and the same mock with ``Front``
taken out of its middleware, so that Starlette's router serves every request. A corpus of requests, good and
bad, goes to both in turn, and each request's ASGI messages (status, headers in order, body chunks), or the
exception that left the app, must be the same; then the journals, the metrics and the access logs.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
from starlette.applications import Starlette
from starlette.types import Message

from mockserver import Config, create_app
from mockserver.engine import lifecycle
from mockserver.engine.faults import Faults
from mockserver.engine.profiles import Timing
from mockserver.http.access_log import AccessLog
from mockserver.http.front import Front
from mockserver.stores import StoreError
from tests.helpers.fakeclock import Clock

KEY, OTHER = "sk-mock-dev", "sk-other"
ORIGIN = "https://app.example"
BODIES = {
    "images": b'{"prompt": "a red fox", "model": "gpt-image-1"}',
    "videos": b'{"prompt": "A cat surfing in sunset, cinematic", "model": "veo3"}',
    "audio": b'{"prompt": "rain on a tin roof", "model": "suno-v4"}',
}
FRONTED: list[Ask] = []  # the requests that did not reach Starlette's router
FAILING = {"boom": RuntimeError("a bug"), "down": StoreError("disk full"), "gone": lifecycle.Gone("no profile")}


@dataclass
class Ask:
    method: str
    path: str
    body: bytes | list[bytes] = b""  # a list: sent in that many messages
    key: str | None = KEY
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    query: bytes = b""
    raw_path: bytes | None = None
    root_path: str = ""
    disconnect: bool = False  # the client goes away instead of sending its body


async def call(app: Starlette, ask: Ask) -> list[Any]:
    """What ``app`` sent for ``ask``, message by message, and the exception that left it, if any."""
    chunks = ask.body if isinstance(ask.body, list) else [ask.body]
    headers = [(b"host", b"127.0.0.1:8000")]
    if ask.key is not None:
        headers.append((b"authorization", f"Bearer {ask.key}".encode()))
    if ask.method == "POST" and not any(name == b"content-type" for name, _ in ask.headers):
        headers.append((b"content-type", b"application/json"))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": ask.method,
        "scheme": "http",
        "path": ask.path,
        "raw_path": ask.raw_path if ask.raw_path is not None else ask.path.encode(),
        "query_string": ask.query,
        "root_path": ask.root_path,
        "headers": headers + ask.headers,
        "client": ("127.0.0.1", 50312),
        "server": ("127.0.0.1", 8000),
    }
    queue: list[dict[str, Any]] = [{"type": "http.disconnect"}] if ask.disconnect else []
    queue += [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1} for i, c in enumerate(chunks)]
    sent: list[Any] = []

    async def receive() -> Message:
        return queue.pop(0) if queue else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    try:
        await app(scope, receive, send)
    except Exception as exc:  # noqa: BLE001 (what left the app is compared too)
        sent.append((type(exc).__name__, str(exc)))
    if "router" not in scope:  # Starlette's router never saw it: Front answered
        FRONTED.append(ask)
    return sent


def pair(config: Config, clock: Clock, logged: bool) -> tuple[Starlette, Starlette]:
    """The shipped mock, and the same mock routed by Starlette alone; each with failing ids, and maybe an access log."""

    async def no_sleep(seconds: float) -> None:  # a fault's latency: the clock both apps share stays put
        return None

    apps = []
    for routed_in_front in (True, False):
        app = create_app(config, clock=clock, sleep=no_sleep)
        if not routed_in_front:
            app.user_middleware = [m for m in app.user_middleware if m.cls is not Front]
        if logged:
            app.add_middleware(AccessLog, stream=io.StringIO())
        store = app.state.service.backend.local
        store.get = failing(store.get)
        apps.append(app)
    assert any(m.cls is Front for m in apps[0].user_middleware)
    assert not any(m.cls is Front for m in apps[1].user_middleware)
    return apps[0], apps[1]


def failing(get: Callable[[str], Any]) -> Callable[[str], Any]:
    """The store's ``get``, raising for the ids of ``FAILING``: a bug, a store down, a record of a lost profile."""

    def get_or_fail(task_id: str) -> Any:
        if task_id in FAILING:
            raise FAILING[task_id]
        return get(task_id)

    return get_or_fail


def both(front: Starlette, plain: Starlette, ask: Ask) -> list[Any]:
    answered = asyncio.run(call(front, ask))
    assert answered == asyncio.run(call(plain, ask)), ask
    return answered


def submitted(answer: list[Any]) -> str:
    found = re.search(rb'"task_id":"([^"]+)"', answer[-1]["body"])
    assert found is not None, answer
    return found.group(1).decode()


def outputs(answer: list[Any]) -> list[str]:
    """The paths of a successful poll's output links."""
    if not answer or not isinstance(answer[0], dict) or answer[0]["status"] != 200:
        return []
    data = json.loads(answer[-1]["body"]).get("data") or {}
    links = data.get("outputs") or ([data["output"]] if data.get("output") else [])
    return [urlsplit(link).path for link in links]


def corpus(front: Starlette, plain: Starlette, clock: Clock) -> list[list[Any]]:
    """Every request of the corpus sent to both apps; the answers."""
    answers = []
    ids = {}
    for scope, body in BODIES.items():
        answers.append(answer := both(front, plain, Ask("POST", f"/v2/{scope}/generations", body)))
        if answer[0]["status"] == 200:
            ids[scope] = submitted(answer)
    assert set(ids) == set(BODIES) or front.state.service.config.faults.active  # a 429 may refuse a submit
    video = ids.get("videos", "none")
    videos = "/v2/videos/generations"
    asks = [
        Ask("POST", videos, BODIES["videos"], headers=[(b"x-mock-scenario", b"slow,fail-quota")]),
        Ask("POST", videos, [b'{"prompt": "a cat", ', b'"model": "veo3"}']),
        Ask("POST", videos, BODIES["videos"], query=b"debug=1"),
        Ask("POST", videos, BODIES["videos"], headers=[(b"origin", ORIGIN.encode())]),
        Ask("POST", videos, BODIES["videos"], headers=[(b"origin", b"https://elsewhere.example")]),
        Ask("POST", videos, b'{"prompt": "x"'),  # bad JSON
        Ask("POST", videos, b"[1, 2]"),  # JSON, not an object
        Ask("POST", videos, b'{"model": "veo3"}'),  # no prompt
        Ask("POST", videos, b'{"prompt": 7}'),
        Ask("POST", videos, b'{"prompt": "' + b"x" * 3000 + b'"}'),  # over the body limit of one config
        Ask("POST", videos, BODIES["videos"], headers=[(b"content-type", b"text/plain")]),
        Ask("POST", videos, BODIES["videos"], headers=[(b"content-type", b"application/json; charset=utf-8")]),
        Ask("POST", videos, BODIES["videos"], key=None),
        Ask("POST", videos, BODIES["videos"], key="sk-wrong"),
        Ask("POST", videos, BODIES["videos"], disconnect=True),
        Ask("POST", "/v2/text/generations", BODIES["videos"]),
        Ask("POST", "/v2/vid%65os/generations", BODIES["videos"], raw_path=b"/v2/vid%65os/generations"),
        Ask("POST", videos + "/", BODIES["videos"]),
        Ask("POST", "/v2//generations", BODIES["videos"]),
        Ask("POST", videos, BODIES["videos"], root_path="/mock"),
        Ask("POST", f"{videos}/{video}", BODIES["videos"]),  # 405
        Ask("PUT", videos, BODIES["videos"]),
        Ask("GET", videos),  # 405
        Ask("GET", f"{videos}/{video}"),
        Ask("GET", f"{videos}/{video}", query=b"a=1&b=%20"),
        Ask("GET", f"{videos}/{video}", headers=[(b"origin", ORIGIN.encode())]),
        Ask("GET", f"{videos}/{video}", key=None),
        Ask("GET", f"{videos}/{video}", key=OTHER),  # another key's task
        Ask("GET", f"{videos}/{video}", key="sk-wrong"),
        Ask("GET", f"/v2/images/generations/{video}"),  # another scope's id
        Ask("GET", f"/v2/audio/generations/{ids.get('audio', 'none')}"),
        Ask("GET", f"/v2/images/generations/{ids.get('images', 'none')}"),
        Ask("GET", f"/v2/text/generations/{video}"),
        Ask("GET", f"{videos}/no-such-task"),
        Ask("GET", f"{videos}/{video}/"),
        Ask("GET", f"{videos}/"),
        Ask("GET", f"{videos}/{video}/extra"),
        Ask("GET", f"{videos}/{video}\n"),
        Ask("GET", f"{videos}/caf%C3%A9", raw_path=f"{videos}/caf%C3%A9".encode()),
        Ask("GET", f"{videos}/{video}", root_path="/mock"),
        Ask("HEAD", f"{videos}/{video}"),
        Ask(
            "OPTIONS",
            f"{videos}/{video}",
            headers=[(b"origin", ORIGIN.encode()), (b"access-control-request-method", b"GET")],
        ),
        Ask(
            "OPTIONS",
            videos,
            headers=[(b"origin", b"https://evil.example"), (b"access-control-request-method", b"POST")],
        ),
        Ask("GET", f"{videos}/boom"),
        Ask("GET", f"{videos}/down"),
        Ask("GET", f"{videos}/gone"),
        Ask("GET", "/healthz"),
        Ask("GET", "/_mock/health", key="adm"),
        Ask("GET", "/v1/videos/whatever"),
        Ask("GET", "/nowhere"),
    ]
    answers += [both(front, plain, ask) for ask in asks]
    for _ in range(40):  # the task's whole life, and the faults' dice many times over
        clock.now += 7
        answers.append(polled := both(front, plain, Ask("GET", f"{videos}/{video}")))
        for link in outputs(polled):  # the output's link, as a client fetches it: public, whole or a part of it
            for headers in (
                [],
                [(b"range", b"bytes=0-99")],
                [(b"range", b"bytes=99999999-")],
                [(b"if-none-match", b"*")],
            ):
                answers.append(both(front, plain, Ask("GET", link, key=None, headers=headers)))
            answers.append(both(front, plain, Ask("HEAD", link, key=None)))
            answers.append(both(front, plain, Ask("GET", link.replace("/0.", "/7."), key=None)))
        answers.append(both(front, plain, Ask("POST", videos, BODIES["videos"])))
    return answers


CONFIGS = {
    "default": Config(keys=(KEY, OTHER)),
    "admin, CORS, metrics, small bodies, new-api's not-found": Config(
        keys=(KEY, OTHER),
        admin_key="adm",
        cors_origins=(ORIGIN,),
        metrics=True,
        max_body_bytes=2048,
        unknown_task="new-api",
    ),
    "faults, metrics": Config(
        keys=(KEY, OTHER),
        metrics=True,
        faults=Faults(
            submit_429=0.2,
            poll_500=0.1,
            poll_502=0.1,
            poll_503=0.1,
            drop=0.1,
            latency=Timing("lognormal", 0.2, 1.0, 0.05, 2.0),
            proxy_html=True,
        ),
    ),
}


@pytest.mark.parametrize("logged", [False, True], ids=["", "access log"])
@pytest.mark.parametrize("config", CONFIGS.values(), ids=CONFIGS.keys())
def test_both_routings_answer_the_same_and_record_the_same(config: Config, clock: Clock, logged: bool) -> None:
    front, plain = pair(config, clock, logged)
    FRONTED.clear()
    answers = corpus(front, plain, clock)
    if not config.admin_key:  # (the journal hands the layers below a copy of the scope)
        fronted = {(ask.method, ask.path.split("/")[-1]) for ask in FRONTED}
        assert {("POST", "generations"), ("GET", "no-such-task"), ("GET", "boom"), ("GET", "0.mp4")} <= fronted
        assert not any(ask.method == "HEAD" or ask.root_path or ask.path.endswith("/") for ask in FRONTED)
    # With no other middleware but the access log, Front takes the place of Starlette's outermost layer
    # (FrontedStarlette), inside the access log if there is one.
    outer = front.middleware_stack
    under_log = outer.app if logged and isinstance(outer, AccessLog) else outer
    assert isinstance(under_log, Front) == (not config.admin_key and not config.cors_origins)
    statuses = {a[0]["status"] for a in answers if a and isinstance(a[0], dict)}
    assert {200, 400, 401, 404, 405} <= statuses  # the corpus reaches refusals as well as answers
    assert any(a and isinstance(a[-1], tuple) and a[-1][0] == "RuntimeError" for a in answers)  # and a bug
    if config.faults.active:
        assert {429, 500, 502, 503} <= statuses
    if config.admin_key:
        entries = [asyncio.run(app.state.service.backend.journal.newest(10_000)) for app in (front, plain)]
        assert len(entries[0]) > 100
        assert [without_ms(e) for e in entries[0]] == [without_ms(e) for e in entries[1]]
    if config.metrics:
        scraped = [asyncio.run(call(app, Ask("GET", "/metrics"))) for app in (front, plain)]
        assert counted(scraped[0]) == counted(scraped[1])
        assert 'route="/v2/{scope}/generations/{task_id}",status="200"' in counted(scraped[0])
    if logged:
        logs = [access_log(app) for app in (front, plain)]
        assert logs[0] == logs[1]
        assert logs[0].count("\n") >= len(answers)


def without_ms(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry but for how long its request took, which no two runs share."""
    return {name: value for name, value in entry.items() if name != "ms"}


def counted(scraped: list[Any]) -> str:
    """The metrics but for the request durations' sums and buckets, which no two runs share; counts stay."""
    text = b"".join(m.get("body", b"") for m in scraped if m["type"] == "http.response.body").decode()
    timed = re.compile(r"^mock_http_request_duration_seconds_(bucket|sum)")
    return "\n".join(line for line in text.splitlines() if not timed.match(line))


def access_log(app: Starlette) -> str:
    """What the access log wrote: the outermost user middleware, under Starlette's ``ServerErrorMiddleware``
    or, in front of ``Front``, outermost of all."""
    logged = app.middleware_stack
    if not isinstance(logged, AccessLog):
        logged = logged.app  # type: ignore[union-attr]
    assert isinstance(logged, AccessLog)
    logged.lines.flush()
    stream = logged.lines.stream
    assert isinstance(stream, io.StringIO)
    return stream.getvalue()


def test_a_hot_route_needs_plain_parameters() -> None:
    from starlette.routing import Route

    async def endpoint(scope: Any, receive: Any, send: Any) -> None: ...

    for path in ("/files/{rest:path}", "/items/{number:int}"):
        with pytest.raises(ValueError, match="a hot route"):
            Front(endpoint, [Route(path, endpoint, methods=["GET"])], {})
