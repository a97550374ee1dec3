"""A polling client for the unified generations API, sync and async.

Submitting creates a task; the task walks its lifecycle on the server and the client polls it,
backing off 2 s, 4 s, then 8 s as the seed advises, until a terminal state. Everything that decides
*what* to do (the schedule, ``Retry-After``, which states are terminal, which failures are worth
retrying, where outputs go) lives in plain functions and the small ``Poller`` below, shared by
``Client`` and ``AsyncClient``; the two classes only do the I/O.

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
    "Policy",
    "Poller",
    "WaitTimeout",
    "backoff",
    "is_terminal",
    "output_urls",
    "retry_after",
]

RETRYABLE = frozenset({429, 502, 503, 504})
HONOURS_RETRY_AFTER = frozenset({429, 503})


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


class DownloadError(Exception):
    """An output could not be fetched or is not of the scope's media kind; nothing was written."""


@dataclass(frozen=True)
class Policy:
    """The polling schedule. Defaults are the seed's: start at 2 s, double, cap at 8 s, give up after 30 min."""

    poll_initial: float = 2.0
    poll_max: float = 8.0
    timeout: float = 1800.0
    jitter: float = 0.1
    retries: int = 5
    retry_after_max: float = 120.0


def backoff(attempt: int, policy: Policy, rand: Callable[[], float] = _random.random) -> float:
    """The delay before poll ``attempt + 1``: doubling, capped, then spread by ±``jitter``.

    The spread keeps many clients started together from polling in lockstep.
    """
    base = min(policy.poll_initial * 2**attempt, policy.poll_max)
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


def is_terminal(task: dict[str, Any]) -> bool:
    """Terminal states come from the contract, never from a list written here."""
    return task.get("status") in contract.lifecycle()["terminal"]


@dataclass
class Poller:
    """What to do after each poll of one task: return it, wait some seconds, or raise.

    Pure: it sees outcomes and times and never does I/O, so sync and async share every decision.
    """

    task_id: str
    policy: Policy
    start: float
    rand: Callable[[], float] = _random.random
    on_poll: Callable[[dict[str, Any]], None] | None = None
    attempt: int = 0
    failures: int = 0
    last: dict[str, Any] | None = field(default=None)

    def step(self, outcome: httpx.Response | httpx.TransportError, now: float) -> dict[str, Any] | float:
        """The finished task, or the seconds to sleep before the next poll."""
        hint = None
        if isinstance(outcome, httpx.TransportError) or outcome.status_code in RETRYABLE:
            self.failures += 1
            if self.failures > self.policy.retries:
                if isinstance(outcome, httpx.Response):
                    raise ApiError(outcome)
                raise outcome
            if isinstance(outcome, httpx.Response) and outcome.status_code in HONOURS_RETRY_AFTER:
                hint = retry_after(outcome.headers.get("retry-after"), now, self.policy.retry_after_max)
        elif outcome.is_error:
            raise ApiError(outcome)
        else:
            self.failures = 0
            self.last = outcome.json()
            if self.on_poll:
                self.on_poll(self.last)
            if is_terminal(self.last):
                return self.last
        deadline = self.start + self.policy.timeout
        if now >= deadline:
            raise WaitTimeout(self.task_id, self.policy.timeout, self.last)
        delay = hint if hint is not None else backoff(self.attempt, self.policy, self.rand)
        self.attempt += 1
        # One last poll exactly at the deadline rather than giving up early.
        return min(delay, deadline - now)


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


def target(directory: Path, task: dict[str, Any], index: int, response: httpx.Response) -> Path:
    """``<task_id>-<n><ext>``: stable across runs and safe whatever characters a server puts in its ids."""
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", str(task.get("task_id", "task")))
    content_type = response.headers.get("content-type", "").split(";")[0].strip()
    return directory / f"{stem}-{index}{mimetypes.guess_extension(content_type) or ''}"


def temp_file(directory: Path) -> tuple[Any, Path]:
    """A hidden file beside the target, so the final ``os.replace`` never crosses file systems.

    Opened with the umask's permissions, as any saved file is, not ``tempfile``'s owner-only 0600.
    """
    path = directory / f".{secrets.token_hex(12)}.part"
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "wb"), path


def commit(staged: list[tuple[Path, Path]]) -> list[Path]:
    """Rename every staged temp file to its name; only called once all downloads succeeded."""
    for temp, final in staged:
        os.replace(temp, final)
    return [final for _, final in staged]


def discard(staged: list[tuple[Path, Path]], pending: Path | None) -> None:
    for temp in [t for t, _ in staged] + ([pending] if pending else []):
        temp.unlink(missing_ok=True)


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


@dataclass
class _Base:
    base_url: str
    key: str
    policy: Policy = field(default_factory=Policy)
    clock: Callable[[], float] = time.time
    random: Callable[[], float] = _random.random

    def _poller(self, task_id: str, on_poll: Callable[[dict[str, Any]], None] | None) -> Poller:
        return Poller(task_id, self.policy, self.clock(), self.random, on_poll)


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

    def wait(
        self, scope: str, task_id: str, *, on_poll: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Poll until SUCCESS or FAILURE (as the contract lists them) and return that last task."""
        poller = self._poller(task_id, on_poll)
        url = self.base_url + _path(scope, task_id)
        while True:
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = self.http.get(url, headers=_headers(self.key))
            except httpx.TransportError as exc:
                outcome = exc
            step = poller.step(outcome, self.clock())
            if isinstance(step, dict):
                return step
            self.sleep(step)

    def download(self, task: dict[str, Any], scope: str, directory: str | os.PathLike[str]) -> list[Path]:
        """Fetch every output into ``directory``; all files appear together, or none and no temp file."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        pending: Path | None = None
        try:
            for index, url in enumerate(output_urls(task)):
                with self.http.stream("GET", url) as response:
                    check_media(response, scope)
                    handle, pending = temp_file(directory)
                    with handle:
                        for chunk in response.iter_bytes():
                            handle.write(chunk)
                    staged.append((pending, target(directory, task, index, response)))
                    pending = None
            return commit(staged)
        except BaseException:
            discard(staged, pending)
            raise


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

    async def wait(
        self, scope: str, task_id: str, *, on_poll: Callable[[dict[str, Any]], None] | None = None
    ) -> dict[str, Any]:
        """Poll until SUCCESS or FAILURE (as the contract lists them) and return that last task."""
        poller = self._poller(task_id, on_poll)
        url = self.base_url + _path(scope, task_id)
        while True:
            outcome: httpx.Response | httpx.TransportError
            try:
                outcome = await self.http.get(url, headers=_headers(self.key))
            except httpx.TransportError as exc:
                outcome = exc
            step = poller.step(outcome, self.clock())
            if isinstance(step, dict):
                return step
            await self.sleep(step)

    async def download(self, task: dict[str, Any], scope: str, directory: str | os.PathLike[str]) -> list[Path]:
        """Fetch every output into ``directory``; all files appear together, or none and no temp file."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        staged: list[tuple[Path, Path]] = []
        pending: Path | None = None
        try:
            for index, url in enumerate(output_urls(task)):
                async with self.http.stream("GET", url) as response:
                    check_media(response, scope)
                    handle, pending = temp_file(directory)
                    with handle:
                        async for chunk in response.aiter_bytes():
                            handle.write(chunk)
                    staged.append((pending, target(directory, task, index, response)))
                    pending = None
            return commit(staged)
        except BaseException:
            discard(staged, pending)
            raise
