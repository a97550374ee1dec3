"""A polling client for the unified generations API, sync and async.

Submitting creates a task; the task walks its lifecycle on the server and the client polls it,
backing off 2 s, 4 s, then 8 s as the spec advises, until a terminal state. Everything that decides
*what* to do (the schedule, ``Retry-After``, waiting out 429s, the grace for a task not yet
visible, which states are terminal) lives in plain functions and the small ``Poller`` below, which
the kit's walk drives too; ``Client`` and ``AsyncClient`` only do the I/O, and share ``Staging``
for downloads.

Usage::

    from contract_tests.client import Client

    with Client("http://127.0.0.1:8000", "sk-mock-dev") as client:
        task_id = client.submit("images", {"model": "m", "prompt": "a red fox"})
        task = client.wait("images", task_id, on_poll=lambda t: print(t["status"]))
        paths = client.download(task, "images", "out/")

``sleep`` and ``clock`` are injectable so tests can run the whole schedule on a fake clock.
"""

from __future__ import annotations

import asyncio
import math
import mimetypes
import os
import random as _random
import re
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, Self

import httpx

from mockserver import contract

__all__ = [
    "ApiError",
    "AsyncClient",
    "Client",
    "DownloadError",
    "OffContract",
    "Policy",
    "Poller",
    "Retries",
    "WaitTimeout",
    "backoff",
    "is_terminal",
    "output_urls",
    "retry_after",
]

RETRY_AFTER = frozenset({429, 503})  # the statuses whose Retry-After replaces the schedule
NOT_VISIBLE = frozenset({400, 404, 410})  # "no such task": also what a lagging replica says of a new one
STRANGE_POLLS = 3  # polls in a row with a status outside the contract's before a wait gives up
GRACE = 15.0  # seconds a task may answer "not found" (replica or CDN lag) before that counts

# How a wait ends (``Poller.step``); only FINISHED has a task to show for it.
FINISHED, TIMEOUT, GONE, UNREADABLE, OFF_CONTRACT = "finished", "timeout", "gone", "unreadable", "off-contract"


class ApiError(Exception):
    """The server answered with an error status; ``body`` is its JSON if it sent any, else text."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = response.text
        super().__init__(f"{response.request.method} {response.request.url} -> {self.status}: {self.body!r}")


class WaitTimeout(Exception):
    """The task did not reach a terminal state within the overall timeout."""

    def __init__(self, task_id: str, timeout: float, last: dict[str, Any] | None) -> None:
        self.task_id = task_id
        self.last = last
        status = last.get("status") if last else None
        super().__init__(f"task {task_id} not finished after {timeout:g} s (last status: {status})")


class OffContract(Exception):
    """The task kept a status the contract does not know, so no terminal state can be recognised."""

    def __init__(self, task_id: str, last: dict[str, Any]) -> None:
        self.task_id = task_id
        self.last = last
        super().__init__(f"task {task_id} has the status {last.get('status')!r}, which is none of the contract's")


class DownloadError(Exception):
    """An output could not be fetched or is not of the scope's media kind; nothing was written."""


@dataclass(frozen=True)
class Policy:
    """The polling schedule. Defaults are the spec's: start at 2 s, double, cap at 8 s, give up after 30 min.

    ``retries`` bounds 5xx answers and dropped connections in a row; a 429 never uses one up.
    """

    poll_initial: float = 2.0
    poll_max: float = 8.0
    timeout: float = 1800.0
    jitter: float = 0.1
    retries: int = 5
    retry_after_max: float = 120.0
    grace: float = GRACE


def doubled(first: float, attempt: int, cap: float = math.inf) -> float:
    """``first`` doubled ``attempt`` times, capped: the one doubling schedule, of polls and of output fetches."""
    return min(first * 2**attempt, cap)


def backoff(attempt: int, policy: Policy, rand: Callable[[], float] = _random.random) -> float:
    """The delay before poll ``attempt + 1``: doubling, capped, then spread by ±``jitter``.

    The spread keeps many clients started together from polling in lockstep.
    """
    base = doubled(policy.poll_initial, attempt, policy.poll_max)
    if not policy.jitter:
        return base
    return max(0.0, base * (1 + policy.jitter * (2 * rand() - 1)))


def retry_after(value: str | None, now: float, cap: float) -> float | None:
    """Seconds to wait from ``Retry-After`` (delta seconds or an HTTP date), capped; None if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = parsedate_to_datetime(value).timestamp() - now
        except (TypeError, ValueError, IndexError):
            return None
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), cap)


def grace(policy: Policy) -> float:
    """How long a task or an output may be missing before that counts: ``policy.grace``, less for short timeouts."""
    return min(policy.grace, policy.timeout / 4)


def transient(status: int | None) -> bool:
    """An answer worth asking again: none at all (a dropped connection), a 429 or a 5xx."""
    return status is None or status == 429 or status >= 500


def is_terminal(task: dict[str, Any]) -> bool:
    """Terminal states come from the contract, never from a list written here."""
    return task.get("status") in contract.lifecycle()["terminal"]


def as_task(status: int | None, body: Any) -> dict[str, Any] | None:
    """The task a poll answered, or None: only a 200 with a JSON object shows one."""
    return body if status == 200 and isinstance(body, dict) else None


@dataclass
class Retries:
    """When to ask again after a transient answer, for every request the client or the kit repeats.

    A 429 says "slow down", not "broken": it is waited out (its ``Retry-After`` honoured) until the
    deadline and never uses a retry up. 5xx answers and dropped connections use up ``policy.retries``.
    The schedule carries on across waits, so a ``Retry-After`` does not restart the backoff.
    """

    policy: Policy
    deadline: float
    rand: Callable[[], float] = _random.random
    attempt: int = 0
    failures: int = 0

    def spent(self, status: int | None) -> bool:
        """Count one transient answer; True once those that were not a 429 outnumber the retries."""
        self.failures += status != 429
        return self.failures > self.policy.retries

    def pause(self, now: float, status: int | None = None, hint: str | None = None) -> float:
        """Seconds before the next try: the ``Retry-After`` ``hint`` where ``status`` carries one, else the
        backoff; never past the deadline, so the last try comes exactly at it rather than early."""
        wait = retry_after(hint, now, self.policy.retry_after_max) if status in RETRY_AFTER else None
        if wait is None:
            wait = backoff(self.attempt, self.policy, self.rand)
        self.attempt += 1
        return max(0.0, min(wait, self.deadline - now))


@dataclass
class Poller:
    """What to do after each poll of one task: wait some seconds, or stop with an outcome.

    Pure: it sees statuses, tasks and times and never does I/O, so the client (sync and async) and
    the kit's walk make every decision alike. A task that was found and then is not, as a lagging
    replica answers, and one not yet found, as some gateways answer just after the submit, are
    polled on through the grace. With ``hold`` (the kit) a finished task is polled on for that many
    seconds and ``hold_polls`` polls, to see that it holds.
    """

    task_id: str
    policy: Policy
    start: float
    rand: Callable[[], float] = _random.random
    hold: float = 0.0
    hold_polls: int = 0
    last: dict[str, Any] | None = None  # the last task a poll showed
    finished: float | None = None  # when a terminal state was first seen
    held: int = 0  # polls since then, that one included
    strange: int = 0  # polls in a row showing a status outside the contract
    missing: float | None = None  # since when a task already found answers "not found"
    retries: Retries = field(init=False)

    def __post_init__(self) -> None:
        self.retries = Retries(self.policy, self.start + self.policy.timeout, self.rand)

    def step(self, status: int | None, task: dict[str, Any] | None, now: float, hint: str | None = None) -> float | str:
        """The seconds to wait before the next poll, or how the wait ended (``FINISHED``, ``TIMEOUT``, ...).

        ``status`` is None for no answer; ``task`` is what the answer showed (``as_task``); ``hint`` is
        its ``Retry-After``.
        """
        if task is not None:
            self.last, self.missing, self.retries.failures = task, None, 0
            self.finished = now if self.finished is None and is_terminal(task) else self.finished
            self.held += self.finished is not None
            self.strange = 0 if task.get("status") in contract.lifecycle()["states"] else self.strange + 1
            if self.finished is not None and self.held > self.hold_polls and now - self.finished >= self.hold:
                return FINISHED
            if self.strange >= STRANGE_POLLS:
                return OFF_CONTRACT  # it may never reach a state known to be the end
        elif transient(status):
            if self.retries.spent(status):
                return UNREADABLE
        else:
            if self.last is not None and self.missing is None:
                self.missing = now
            lost = self.start if self.missing is None else self.missing
            if status not in NOT_VISIBLE or now - lost >= grace(self.policy):
                return GONE if self.last is not None else UNREADABLE
        if self.finished is not None:
            return self.policy.poll_initial
        if now >= self.retries.deadline:
            return TIMEOUT
        return self.retries.pause(now, status, hint)


def output_urls(task: dict[str, Any]) -> list[str]:
    """Every result URL of a task, ``data.output`` first, then ``data.outputs``, without repeats."""
    data = task.get("data") or {}
    found: Iterable[Any] = [data.get("output"), *(data.get("outputs") or [])]
    return list(dict.fromkeys(url for url in found if isinstance(url, str) and url))


def check_media(response: httpx.Response, scope: str) -> None:
    """Raise unless the response is a success carrying the scope's media kind (``images`` -> ``image/*``)."""
    if response.is_error:
        raise DownloadError(f"GET {response.request.url} -> {response.status_code}")
    kind = contract.media_type(scope)
    content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type.partition("/")[0] != kind:
        raise DownloadError(f"GET {response.request.url}: content type {content_type!r} is not {kind}/*")


class Staging:
    """The files of one download, kept hidden until every output has arrived.

    Each output goes to a temp file beside its target (so the final ``os.replace`` never crosses file
    systems); leaving the block renames them all, or, on any error, deletes them all.
    """

    def __init__(self, directory: str | os.PathLike[str], task: dict[str, Any], scope: str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.task, self.scope = task, scope
        self.staged: list[tuple[Path, Path]] = []
        self.pending: Path | None = None
        self.paths: list[Path] = []

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, *exc: object) -> None:
        if kind is None:
            for temp, final in self.staged:
                os.replace(temp, final)
            self.paths = [final for _, final in self.staged]
            return
        for temp in [t for t, _ in self.staged] + ([self.pending] if self.pending else []):
            temp.unlink(missing_ok=True)

    def open(self, response: httpx.Response) -> Any:
        """A file for the next output, once its response shows the scope's media kind.

        Opened with the umask's permissions, as any saved file is, not ``tempfile``'s owner-only 0600.
        """
        check_media(response, self.scope)
        self.pending = self.directory / f".{secrets.token_hex(12)}.part"
        return os.fdopen(os.open(self.pending, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb")

    def done(self, response: httpx.Response) -> None:
        """The output written to the last file opened is whole: give it its name."""
        assert self.pending is not None
        self.staged.append((self.pending, target(self.directory, self.task, len(self.staged), response)))
        self.pending = None


def target(directory: Path, task: dict[str, Any], index: int, response: httpx.Response) -> Path:
    """``<task_id>-<n><ext>``: stable across runs and safe whatever characters a server puts in its ids."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", str(task.get("task_id", "task")))
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    return directory / f"{stem}-{index}{mimetypes.guess_extension(content_type) or ''}"


def _headers(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _path(scope: str, task_id: str | None = None) -> str:
    return f"/v2/{scope}/generations" + (f"/{task_id}" if task_id is not None else "")


def _task_id(response: httpx.Response) -> str:
    if response.is_error:
        raise ApiError(response)
    return response.json()["task_id"]


def _task(response: httpx.Response) -> dict[str, Any]:
    if response.is_error:
        raise ApiError(response)
    return response.json()


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


Outcome = httpx.Response | httpx.TransportError
OnPoll = Callable[[dict[str, Any]], None] | None


@dataclass
class _Base:
    base_url: str
    key: str
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random

    def _poller(self, task_id: str) -> Poller:
        return Poller(task_id, self.policy, self.clock(), self.random)

    def _next(self, poller: Poller, outcome: Outcome, on_poll: OnPoll) -> float | dict[str, Any]:
        """The ``Poller``'s verdict on one poll: seconds to sleep, the finished task, or the error it ends in."""
        if isinstance(outcome, httpx.TransportError):
            verdict = poller.step(None, None, self.clock())
        else:
            task = as_task(outcome.status_code, _body(outcome))
            verdict = poller.step(outcome.status_code, task, self.clock(), outcome.headers.get("retry-after"))
            if task is not None and on_poll:
                on_poll(task)
        if not isinstance(verdict, str):
            return verdict
        if verdict == FINISHED and poller.last is not None:
            return poller.last
        if verdict == TIMEOUT:
            raise WaitTimeout(poller.task_id, self.policy.timeout, poller.last)
        if verdict == OFF_CONTRACT and poller.last is not None:
            raise OffContract(poller.task_id, poller.last)
        if isinstance(outcome, httpx.TransportError):
            raise outcome
        raise ApiError(outcome)


class Client(_Base):
    """Blocking client. Pass ``http`` to reuse an ``httpx.Client`` (or Starlette's ``TestClient``)."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        http: httpx.Client | None = None,
        policy: Policy | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__(base_url.rstrip("/"), key, policy or Policy(), clock, random)
        self.sleep = sleep
        self._owns_http = http is None
        self.http = http or httpx.Client(timeout=60)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._owns_http:
            self.http.close()

    def submit(self, scope: str, body: Any) -> str:
        """POST once and return the ``task_id``; never retried, since a repeated POST may be a second paid task."""
        return _task_id(self.http.post(self.base_url + _path(scope), json=body, headers=_headers(self.key)))

    def get(self, scope: str, task_id: str) -> dict[str, Any]:
        return _task(self.http.get(self.base_url + _path(scope, task_id), headers=_headers(self.key)))

    def wait(self, scope: str, task_id: str, *, on_poll: OnPoll = None) -> dict[str, Any]:
        """Poll until SUCCESS or FAILURE (as the contract lists them) and return that last task."""
        poller, url = self._poller(task_id), self.base_url + _path(scope, task_id)
        while not isinstance(verdict := self._next(poller, self._poll(url), on_poll), dict):
            self.sleep(verdict)
        return verdict

    def _poll(self, url: str) -> Outcome:
        try:
            return self.http.get(url, headers=_headers(self.key))
        except httpx.TransportError as exc:
            return exc

    def download(self, task: dict[str, Any], scope: str, directory: str | os.PathLike[str]) -> list[Path]:
        """Fetch every output into ``directory``; all files appear together, or none and no temp file."""
        with Staging(directory, task, scope) as staging:
            for url in output_urls(task):
                with self.http.stream("GET", url) as response, staging.open(response) as handle:
                    for chunk in response.iter_bytes():
                        handle.write(chunk)
                staging.done(response)
        return staging.paths


class AsyncClient(_Base):
    """The same client for asyncio. Pass ``http`` to reuse an ``httpx.AsyncClient``."""

    def __init__(
        self,
        base_url: str,
        key: str,
        *,
        http: httpx.AsyncClient | None = None,
        policy: Policy | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        clock: Callable[[], float] = time.time,
        random: Callable[[], float] = _random.random,
    ) -> None:
        super().__init__(base_url.rstrip("/"), key, policy or Policy(), clock, random)
        self.sleep = sleep
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=60)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self.http.aclose()

    async def submit(self, scope: str, body: Any) -> str:
        """POST once and return the ``task_id``; never retried, since a repeated POST may be a second paid task."""
        return _task_id(await self.http.post(self.base_url + _path(scope), json=body, headers=_headers(self.key)))

    async def get(self, scope: str, task_id: str) -> dict[str, Any]:
        return _task(await self.http.get(self.base_url + _path(scope, task_id), headers=_headers(self.key)))

    async def wait(self, scope: str, task_id: str, *, on_poll: OnPoll = None) -> dict[str, Any]:
        """Poll until SUCCESS or FAILURE (as the contract lists them) and return that last task."""
        poller, url = self._poller(task_id), self.base_url + _path(scope, task_id)
        while not isinstance(verdict := self._next(poller, await self._poll(url), on_poll), dict):
            await self.sleep(verdict)
        return verdict

    async def _poll(self, url: str) -> Outcome:
        try:
            return await self.http.get(url, headers=_headers(self.key))
        except httpx.TransportError as exc:
            return exc

    async def download(self, task: dict[str, Any], scope: str, directory: str | os.PathLike[str]) -> list[Path]:
        """Fetch every output into ``directory``; all files appear together, or none and no temp file."""
        with Staging(directory, task, scope) as staging:
            for url in output_urls(task):
                async with self.http.stream("GET", url) as response:
                    with staging.open(response) as handle:
                        async for chunk in response.aiter_bytes():
                            handle.write(chunk)
                staging.done(response)
        return staging.paths
