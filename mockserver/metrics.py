"""Prometheus metrics (``--metrics``): what the mock served, created, finished and injected, at ``/metrics``.

Off by default, so the plain mock pays nothing. With several workers, ``prometheus_client``'s
multiprocess mode keeps each worker's values in files under ``PROMETHEUS_MULTIPROC_DIR`` (the CLI
makes one) and a scrape, whichever worker answers it, adds them all up.

A task's state is a pure function of its record and the clock, so nothing happens when a task
finishes. It is counted finished when a poll first sees it in a final state: the task a client
watches is counted once the client knows, by the worker that answered that poll.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .lifecycle import SUCCESS, TERMINAL
from .scenarios import BEHAVIOURS, Choice

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
WATCHED = 65536  # tasks whose polls are counted at once per worker; the oldest is forgotten past this
METHODS = frozenset({"GET", "POST", "PUT", "DELETE", "OPTIONS", "HEAD", "PATCH"})
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
POLL_BUCKETS = (1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233)


def route_of(path: str) -> str:
    """The route template a path falls under, so labels stay few whatever paths clients send."""
    parts = path.split("/")
    if len(parts) > 1 and parts[1] == "v2":
        if len(parts) == 4 and parts[3] == "generations":
            return "/v2/{scope}/generations"
        if len(parts) == 5 and parts[3] == "generations":
            return "/v2/{scope}/generations/{task_id}"
    elif len(parts) == 4 and parts[1] == "_media":
        return "/_media/{task_id}/{name}"
    elif path == "/metrics":
        return path
    elif path.startswith("/_mock/"):
        return "/_mock/ui" if path.startswith("/_mock/ui") else "/_mock/*"
    return "other"


def mode_of(payload: dict[str, Any]) -> str:
    """The seed's three ways to ask: with ``videos``, with ``images``, or from the prompt alone."""
    if payload.get("videos"):
        return "video-to"
    if payload.get("images"):
        return "image-to"
    return "text-to"


def scenario_of(choice: Choice, reasons: tuple[str, ...]) -> str:
    """The scenario as a header would name it: ``default``, ``stuck``, ``slow,fail-quota``, ``success``."""
    outcome = ("", "success")[choice.outcome] if choice.outcome < 2 else f"fail-{reasons[choice.outcome - 2]}"
    behaviour = BEHAVIOURS[choice.behaviour] if choice.behaviour or not outcome else ""
    return ",".join(part for part in (behaviour, outcome) if part)


def fault_kinds(status: int, drop: bool, delay: float) -> list[str]:
    """``latency`` for added delay, and the fault that followed it, if any: ``drop``, ``429``, ``503``..."""
    return (["latency"] if delay else []) + (["drop"] if drop else [str(status)] if status else [])


class Metrics:
    """One worker's metrics; ``size`` tells the store's task count when it is cheap to ask (memory)."""

    def __init__(self, size: Callable[[], int], reasons: tuple[str, ...], shared_store: bool) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram  # after the CLI set the env

        self.multiprocess = MULTIPROC_ENV in os.environ
        self.registry = None if self.multiprocess else CollectorRegistry()
        on = {"registry": self.registry}
        self.requests = Histogram(
            "mock_http_request_duration_seconds", "Requests answered, by route, method and status (0: dropped), "
            "and how long each took.", ["route", "method", "status"], buckets=LATENCY_BUCKETS, **on,
        )
        self.created_total = Counter(
            "mock_tasks_created", "Tasks accepted, by scope, model profile, mode and scenario.",
            ["scope", "model", "mode", "scenario"], **on,
        )
        self.finished_total = Counter(
            "mock_tasks_finished", "Tasks a poll first saw finished, by outcome.", ["outcome"], **on
        )
        self.polls = Histogram(
            "mock_task_polls", "Polls a task had when a poll first saw it finished.", buckets=POLL_BUCKETS, **on
        )
        self.faults_total = Counter("mock_faults_injected", "Simulated faults, by kind.", ["kind"], **on)
        # A shared store's size is the same seen from any worker: the latest reading wins. Memory stores add up.
        mode = "livemostrecent" if shared_store else "livesum"
        self.stored = Gauge("mock_store_tasks", "Tasks in the store.", multiprocess_mode=mode, **on)
        self.size, self.reasons, self.shared_store = size, reasons, shared_store
        self._children: dict[tuple[Any, str, int], Any] = {}
        self._watched: dict[str, int] = {}  # task id -> polls so far, or -1 once counted finished

    def middleware(self, app: ASGIApp) -> ASGIApp:
        """Times every request; labelled children are cached, since ``labels()`` costs more than ``observe``."""
        children, requests = self._children, self.requests

        async def timed(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            status, started = 0, time.perf_counter()

            async def seen(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                await send(message)

            try:
                await app(scope, receive, seen)
            finally:
                # The router writes the matched endpoint into this scope (this middleware is innermost):
                # one object per route, so polls of a million task ids share one cached child.
                endpoint = scope.get("endpoint")
                child = children.get((endpoint, scope["method"], status)) if endpoint is not None else None
                if child is None:
                    method = scope["method"] if scope["method"] in METHODS else "other"
                    child = requests.labels(route_of(scope["path"]), method, str(status))
                    if endpoint is not None and method == scope["method"]:
                        children[(endpoint, scope["method"], status)] = child
                child.observe(time.perf_counter() - started)

        return timed

    def created(self, scope: str, model: str, mode: str, scenario: str) -> None:
        self.created_total.labels(scope, model, mode, scenario).inc()
        if not self.shared_store:
            self.stored.set(self.size())

    def polled(self, task_id: str, status: str, failure: int) -> None:
        """One poll answered 200 with ``status``; ``failure`` indexes the reasons, as in the record."""
        watched = self._watched
        count = watched.get(task_id, 0)
        if count < 0:
            return
        if status not in TERMINAL:
            if count == 0 and len(watched) >= WATCHED:
                del watched[next(iter(watched))]
            watched[task_id] = count + 1
            return
        watched.pop(task_id, None)
        if len(watched) >= WATCHED:
            del watched[next(iter(watched))]
        watched[task_id] = -1
        self.finished_total.labels("success" if status == SUCCESS else f"fail-{self.reasons[failure]}").inc()
        self.polls.observe(count + 1)

    def fault(self, kind: str) -> None:
        self.faults_total.labels(kind).inc()

    def reset(self) -> None:
        self._watched.clear()
        self.stored.set(0 if not self.shared_store else self.size())

    async def endpoint(self, request: Request) -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

        if self.shared_store:
            self.stored.set(self.size())
        registry = self.registry
        if registry is None:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
