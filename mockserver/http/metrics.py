"""Prometheus metrics (``--metrics``): what the mock served, created, finished and injected, at ``/metrics``.

Off by default, so the plain mock pays nothing. With several workers, ``prometheus_client``'s
multiprocess mode keeps each worker's values in files under ``PROMETHEUS_MULTIPROC_DIR`` (the CLI
makes one) and a scrape, whichever worker answers it, adds them all up.

A task's state is a pure function of its record and the clock, so nothing happens when a task
finishes. It is counted finished when a poll first sees it in a final state: the task a client
watches is counted once the client knows, by the worker that answered that poll.
"""

from __future__ import annotations

import asyncio
import os
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from time import perf_counter
from typing import Any, Literal

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..engine import encodings, modes
from ..engine.encodings import MODE_MASK
from ..engine.lifecycle import SUCCESS, TERMINAL
from ..engine.scenarios import BEHAVIOURS, Choice
from ..stores import StoreError
from .asgi_io import STATUS
from .fault_answers import DROPPED

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WATCHED = 65536  # tasks whose polls are counted at once per worker; the oldest is forgotten past this
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
POLL_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)


def scenario_of(choice: Choice, reasons: tuple[str, ...]) -> str:
    """The scenario as a header would name it: ``default``, ``stuck``, ``slow,fail-quota``, ``success``."""
    reason = encodings.reason_of(choice.outcome)
    outcome = ("", "success")[choice.outcome] if reason is None else f"fail-{reasons[reason]}"
    behaviour = BEHAVIOURS[choice.behaviour] if choice.behaviour or not outcome else ""
    return ",".join(part for part in (behaviour, outcome) if part)


def fault_kinds(status: int, drop: bool, delay: float) -> list[str]:
    """``latency`` for added delay, and the fault that followed it, if any: ``drop``, ``429``, ``503``..."""
    return (["latency"] if delay else []) + (["drop"] if drop else [str(status)] if status else [])


class Batch:
    """What the hot paths count, kept as plain Python values and added to ``prometheus_client`` in batches.

    Counted under callgrind, the metrics' first form cost a poll about 7,700 instructions, 3% of all a
    server spends on one: ``Histogram.observe`` takes two locks, and every call and lookup on the way
    adds up. Here a request appends its duration to its label set's list, and a finished task its polls
    to ``polls``; the buckets are found and the totals added at each scrape and, for the workers a scrape
    does not reach, at most ``FLUSH_AFTER`` seconds after their first unsent count (``add_observations``).
    """

    FLUSH_AFTER = 1.0

    def __init__(self, histogram: Any, polls: Any, then: Callable[[], None]) -> None:
        self.histogram, self.then = histogram, then
        self.polls: list[float] = []  # the polls each task had when first seen finished
        self._durations: list[tuple[Any, list[float], tuple[float, ...]]] = [(polls, self.polls, POLL_BUCKETS)]
        self._by_labels: dict[tuple[str, str, str], list[float]] = {}
        self.counts: dict[Any, int] = {}  # a counter's labelled child -> increments not yet added
        self.due = False

    def durations(self, route: str, method: str, status: int) -> list[float]:
        """The list one label set's durations go to until the next flush."""
        labels = (route, method if method in METHODS else "other", str(status))
        durations = self._by_labels.get(labels)
        if durations is None:
            durations = self._by_labels[labels] = []
            self._durations.append((self.histogram.labels(*labels), durations, LATENCY_BUCKETS))
        return durations

    def count(self, child: Any) -> None:
        """One increment of a counter's labelled child."""
        self.counts[child] = self.counts.get(child, 0) + 1
        if not self.due:
            self.schedule()

    def schedule(self) -> None:
        self.due = True
        asyncio.get_running_loop().call_later(self.FLUSH_AFTER, self.flush)

    def flush(self) -> None:
        self.due = False
        for child, durations, bounds in self._durations:
            if durations:
                # Sorted, the count at or under each bound is one search: no Python step per observation.
                total = sum(durations)  # before sorting: the same float, added in the same order
                durations.sort()
                under = [bisect_right(durations, bound) for bound in bounds] + [len(durations)]  # the last is +Inf
                buckets = [count - below for count, below in zip(under, [0, *under[:-1]])]
                add_observations(child, buckets, total)
                durations.clear()
        counts, self.counts = self.counts, {}
        for child, count in counts.items():
            child.inc(count)
        self.then()


class RouteTimes:
    """One route's duration lists (``Batch.durations``), by method and status, looked up once each."""

    def __init__(self, batch: Batch, label: str) -> None:
        self.batch, self.label = batch, label
        self.lists: dict[tuple[str, int], list[float]] = {}
        self.ok: dict[str, list[float]] = {}  # the 200s by method: the one lookup of a poll's or a submit's timing

    def durations(self, method: str, status: int) -> list[float]:
        found = self.lists.get((method, status))
        if found is None:
            found = self.batch.durations(self.label, method, status)
            if method in METHODS:  # any other method shares the "other" list
                self.lists[(method, status)] = found
                if status == 200:
                    self.ok[method] = found
        return found

    def done(self, scope: Scope, status: int, started: float) -> None:
        dropped = scope.get(DROPPED)  # the 500 "sent" after a drop never left
        self.durations(scope["method"], 0 if dropped else status).append(perf_counter() - started)
        if not self.batch.due:
            self.batch.schedule()


def _watched(
    times: RouteTimes, app: ASGIApp, methods: set[str] | None, refuse: ASGIApp, status_of: Callable[[Exception], int]
) -> ASGIApp:
    """``app`` (or ``refuse``, for a method it does not serve) timed, its status read from what it sends."""
    clock, done = perf_counter, times.done

    async def watched(scope: Scope, receive: Receive, send: Send) -> None:
        status, started = 0, clock()

        def seen(message: Message) -> Awaitable[None]:
            # A plain function handing back send's own awaitable: no extra coroutine per message.
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            return send(message)

        try:
            await (app if methods is None or scope["method"] in methods else refuse)(scope, receive, seen)
        except Exception as exc:
            status = status_of(exc)
            raise
        finally:
            done(scope, status, started)

    return watched


class Reported:
    """``app``, an endpoint that reports a status other than 200 in the scope (``asgi_io.endpoint``), timed
    without watching what it sends: a third of the cost on a poll. Other methods go to ``other``.

    ``Front`` times such a route itself, with ``answered`` and ``failed``, rather than through a coroutine of
    this layer's per request; it adds a 200's time to ``ok`` and schedules ``batch`` as ``answered`` does.
    """

    __slots__ = ("app", "batch", "ok", "other", "served", "status_of", "times")

    def __init__(
        self, times: RouteTimes, app: ASGIApp, served: set[str], other: ASGIApp, status_of: Callable[[Exception], int]
    ) -> None:
        self.app, self.times, self.served, self.other, self.status_of = app, times, served, other, status_of
        self.ok, self.batch = times.ok, times.batch  # a 200's list by method, and its batch: one lookup each

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["method"] not in self.served:
            return await self.other(scope, receive, send)
        started = perf_counter()
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.failed(scope, exc, started)
            raise
        self.answered(scope, started)

    def answered(self, scope: Scope, started: float) -> None:
        """The endpoint, started at ``started`` (``time.perf_counter``), answered without raising."""
        if STATUS in scope:
            return self.times.done(scope, scope[STATUS], started)
        ok = self.ok.get(scope["method"])
        if ok is None:
            return self.times.done(scope, 200, started)
        ok.append(perf_counter() - started)
        if not self.batch.due:
            self.batch.schedule()

    def failed(self, scope: Scope, exc: Exception, started: float) -> None:
        """The endpoint raised ``exc``, which the app's handlers answer outside."""
        self.times.done(scope, self.status_of(exc), started)


def add_observations(child: Any, buckets: list[int], total: float) -> None:
    """Add many observations to a histogram's labelled child at once: ``buckets`` counts per bucket (+Inf last)
    and ``total`` their sum.

    ``prometheus_client`` has no public call for this: ``observe`` takes two locks for each value, which cost a
    poll 3% of its instructions. Every release since 0.4 keeps a child's ``_buckets`` and ``_sum``; the
    version is bounded in ``pyproject.toml``, and ``tests/mock/test_metrics.py`` fails if they change.
    """
    for bucket, count in enumerate(buckets):
        if count:
            child._buckets[bucket].inc(count)
    child._sum.inc(total)


def replace_handle(route: Route, handle: ASGIApp) -> None:
    """Have ``route`` dispatch through ``handle``: Starlette's router calls ``route.handle`` for a matched
    route, and taking its place times a request with no middleware layer (a middleware cost a poll about a
    third of what the metrics do). ``handle`` is not a documented hook; Starlette is bounded in
    ``pyproject.toml``, and ``tests/mock/test_metrics.py`` fails if the router stops calling it."""
    route.handle = handle  # type: ignore[method-assign, assignment]


class Metrics:
    """One worker's metrics; ``size`` counts the store's tasks (awaited: Redis counts them in a round trip)."""

    def __init__(self, size: Callable[[], Awaitable[int]], reasons: tuple[str, ...], shared_store: bool) -> None:
        from prometheus_client import (  # after the CLI set the env
            CollectorRegistry,
            Counter,
            Gauge,
            Histogram,
            disable_created_metrics,
        )

        # Each counter's and histogram's start time, as a `_created` series, reads as a metric of its own
        # (`mock_tasks_created_created`); Prometheus has the process start for that.
        disable_created_metrics()
        self.multiprocess = MULTIPROC_ENV in os.environ
        self.registry = None if self.multiprocess else CollectorRegistry()
        registry = self.registry
        requests = Histogram(
            "mock_http_request_duration_seconds",
            "Requests answered, by route, method and status (0: dropped), and how long each took.",
            ["route", "method", "status"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.created_total = Counter(
            "mock_tasks_created",
            "Tasks accepted, by scope, model profile, mode and scenario.",
            ["scope", "model", "mode", "scenario"],
            registry=registry,
        )
        self.finished_total = Counter(
            "mock_tasks_finished", "Tasks a poll first saw finished, by outcome.", ["outcome"], registry=registry
        )
        self.polls = Histogram(
            "mock_task_polls",
            "Polls a task had when a poll first saw it finished.",
            buckets=POLL_BUCKETS,
            registry=registry,
        )
        self.faults_total = Counter("mock_faults_injected", "Simulated faults, by kind.", ["kind"], registry=registry)
        # A shared store's size is the same seen from any worker: the latest reading wins. Memory stores add up.
        mode: Literal["livemostrecent", "livesum"] = "livemostrecent" if shared_store else "livesum"
        self.stored = Gauge("mock_store_tasks", "Tasks in the store.", multiprocess_mode=mode, registry=registry)
        self.size, self.reasons, self.shared_store = size, reasons, shared_store
        self.batch = Batch(requests, self.polls, self._flushed)
        self._measuring: asyncio.Task[None] | None = None
        self._created: dict[tuple[str, str, int, int, int], Any] = {}  # by scope, model, mode index, behaviour, outcome
        self._finished: dict[tuple[str, int], Any] = {}
        self._watched: dict[str, int] = {}  # task id -> polls so far, or -1 once counted finished

    def instrument(self, router: Router, status_of: Callable[[Exception], int]) -> None:
        """Time every request inside its route's own dispatch, and unmatched ones in the router's default.

        A middleware would add a layer to every request, which measured about a third of what
        metrics cost a poll; taking the place of ``Route.handle`` adds none. Labels are the routes'
        own templates, so a million task ids make one label. An exception is answered outside, by the
        app's handlers; ``status_of`` says with which status. An endpoint that reports its status
        (``asgi_io.endpoint``) is timed without watching what it sends, a third of the cost on a poll.
        """
        for route in router.routes:
            if isinstance(route, Route):
                replace_handle(route, self._timed(route.path, route.app, route.methods, route.handle, status_of))
        router.default = self._timed("other", router.default, None, router.default, status_of)

    def _timed(
        self,
        label: str,
        app: ASGIApp,
        methods: set[str] | None,
        refuse: ASGIApp,
        status_of: Callable[[Exception], int],
    ) -> ASGIApp:
        """``app`` timed; a method the route does not serve goes to ``refuse`` (Starlette's 405)."""
        times = RouteTimes(self.batch, label)
        watched = _watched(times, app, methods, refuse, status_of)
        if methods is not None and getattr(app, "reports_status", False):
            return Reported(times, app, methods, watched, status_of)
        return watched

    def created(self, scope: str, model: str, shape: int, choice: Choice) -> None:
        """One task accepted, its mode read from the record's ``shape``; its labelled child is cached, as there
        are few combinations of labels. The count is ``Batch.count``'s, written out: a call less a submit."""
        key = (scope, model, shape & MODE_MASK, choice.behaviour, choice.outcome)  # the scenario as its parts
        child = self._created.get(key)
        if child is None:
            child = self._created[key] = self.created_total.labels(
                scope, model, modes.LABELS[key[2]], scenario_of(choice, self.reasons)
            )
        batch = self.batch
        batch.counts[child] = batch.counts.get(child, 0) + 1
        if not batch.due:
            batch.schedule()

    def polled(self, task_id: str, status: str, failure: int) -> None:
        """A poll answered 200: one more for its task, whose total is counted when a poll first sees it finished.

        Counted here, in a dict, rather than noted for the flush: a poll costs fewer instructions so.
        """
        watched = self._watched
        count = watched.get(task_id, 0)
        if status not in TERMINAL:
            if count >= 0:
                if not count and len(watched) >= WATCHED:
                    del watched[next(iter(watched))]
                watched[task_id] = count + 1
        elif count >= 0:
            self._finish(task_id, status, failure, count + 1)

    def _finish(self, task_id: str, status: str, failure: int, polls: int) -> None:
        watched = self._watched
        watched.pop(task_id, None)
        if len(watched) >= WATCHED:
            del watched[next(iter(watched))]
        watched[task_id] = -1
        key = (status, failure)
        child = self._finished.get(key)
        if child is None:
            outcome = "success" if status == SUCCESS else f"fail-{self.reasons[failure]}"
            child = self._finished[key] = self.finished_total.labels(outcome)
        self.batch.count(child)
        self.batch.polls.append(polls)

    def fault(self, kind: str) -> None:
        self.faults_total.labels(kind).inc()

    async def reset(self) -> None:
        self._watched.clear()
        await self._measure_store()

    def _flushed(self) -> None:
        """After each flush of a batch (a scrape's, or the timer's for the workers no scrape reaches): the store's
        size measured, in a task of its own."""
        if self._measuring is None or self._measuring.done():
            self._measuring = asyncio.get_running_loop().create_task(self._measure_store())

    async def _measure_store(self) -> None:
        try:
            self.stored.set(await self.size())
        except StoreError:  # a scrape during a store outage keeps the last size, and still answers
            pass

    async def endpoint(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        self.batch.flush()  # which starts measuring the store's size
        if self._measuring is not None:
            await self._measuring
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
