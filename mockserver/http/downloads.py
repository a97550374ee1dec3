"""The output links' route: a finished task's files, answered from memory as a CDN answers them.

Players and download managers fetch one link again and again, and the checks that decide whether it
serves (the task's outputs, visibility, state and link expiry) cost more than sending the bytes. So each
link keeps what its checks decided (``Link``): the record they read, and the time from which it holds
until when. A finished task stays finished, so a link that serves at one moment serves until the earlier
of its own expiry and the task's (``lifecycle.hidden_at``). While the store holds the same record and the
clock is in that window, a download is a lookup and two messages; anything else goes the whole way.

The handler reads ``task_id`` and ``name`` from the end of the path, not from Starlette's ``path_params``,
so a router in front of Starlette can call it as it is; a route whose path does not end in them (a
dialect's) puts them in the scope under ``OUTPUT``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from ..engine import lifecycle
from ..engine.catalog import SCOPES
from ..engine.encodings import MEDIA_MASK
from ..engine.refusals import Refused
from ..engine.service import Service
from . import asgi_io, media
from .media import serve
from .media.cache import Key, MediaCache, key_of

OUTPUT = "mockserver.output"  # (task_id, name) of a download whose path does not end in them
LINKS = 4096  # links whose checks are kept; past it the oldest goes
ACCEPT_RANGES = (b"accept-ranges", b"bytes")


@dataclass(slots=True)
class Link:
    """What one link's checks decided, and the parts of its answer that do not change."""

    record: lifecycle.Record  # as the store held it when checked
    start: float  # the link serves from here (the check's time) ...
    until: float  # ... to here: its expiry, or the task's if sooner
    expires: float  # the link's own expiry: Cache-Control counts down to it
    key: Key  # the file's, in the media cache
    etag: bytes
    media_type: bytes
    length: tuple[bytes, bytes]  # the whole file's content-length header
    content_type: tuple[bytes, bytes]
    age: int = -1  # the max-age that ``control`` says
    control: bytes = b""


def downloads(service: Service) -> asgi_io.Handler:
    """The handler of ``/_media/{task_id}/{name}``, with its own caches of files and of links."""
    catalog, now = service.catalog, service.clock
    local, remote = service.backend.local, service.backend.tasks
    made = MediaCache()
    types = {name: media.content_type(name).encode() for name in SCOPES}
    links: dict[tuple[str, str], Link] = {}

    async def opened(task_id: str, name: str) -> tuple[Link, bytes] | Response:
        """The whole way: every check, and the file made if it is not in memory."""
        record = await service.find_public(task_id)
        at = now()
        if (
            record is None
            or name not in media.filenames(record.scope, lifecycle.output_count(catalog, record))
            or not lifecycle.visible(catalog, record, at)
            or lifecycle.status_at(record, at) != lifecycle.SUCCESS
        ):
            raise Refused(404, "not_found", "No such output.")
        expires = lifecycle.link_expires(catalog, record)
        if at >= expires:
            return media.expired(expires, at)
        # the lifecycle's bits above the shape change nothing in the file
        key = key_of(record.scope, record.shape & MEDIA_MASK, media.hue(record.task_id, int(name.partition(".")[0])))
        file = await made.get(*key)
        until = min(expires, lifecycle.hidden_at(catalog, record))
        length = (b"content-length", b"%d" % len(file.body))
        media_type = types[record.scope]
        link = Link(record, at, until, expires, key, file.etag, media_type, length, (b"content-type", media_type))
        if len(links) >= LINKS and (task_id, name) not in links:
            del links[next(iter(links))]
        links[task_id, name] = link
        return link, file.body

    async def download(scope: Scope, receive: Receive, send: Send) -> None:
        """Output files are public links, as on a CDN: no key, only for a visible, successful task."""
        task_id, name = scope[OUTPUT] if OUTPUT in scope else scope["path"].rsplit("/", 2)[1:]
        record = local.get(task_id) if local is not None else await remote.get(task_id)
        if record is None:  # another worker's task, which ``find_public`` rebuilt here from its id
            record = service.rebuilt(task_id)
        at = now()
        link = links.get((task_id, name))
        if (
            link is None
            or link.record != record
            or not link.start <= at < link.until
            or (file := made.kept(link.key)) is None
        ):
            found = await opened(task_id, name)
            if isinstance(found, Response):
                return await found(scope, receive, send)
            link, body = found
            at = link.start  # the time of its checks
        else:
            body = file.body
        age = serve.FOREVER if link.expires == math.inf else int(link.expires - at)
        if age != link.age:
            link.age, link.control = age, serve.cache_control(age)
        headers = asgi_io.headers(scope)
        if headers.get(b"if-none-match") or headers.get(b"range"):
            answer = serve.answer(scope["method"], headers, body, link.etag, link.media_type, age)
            return await answer(scope, receive, send)
        whole = [(b"etag", link.etag), ACCEPT_RANGES, (b"cache-control", link.control), link.length, link.content_type]
        await send({"type": "http.response.start", "status": 200, "headers": whole})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})

    return download
