"""One run of the kit: the endpoint, the budget, the paid probes and their walks, the tally.

The valid probes are the expensive part, so they are planned once per run: a plain body and the
spec's template per scope, then the few generated bodies that together show the most varieties. Each accepted probe
is then walked to its end and its outputs fetched, all scopes at once and in the background, while
the free probes of the other tests run; the acceptance, lifecycle and output tests only read those
results.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from contextlib import ExitStack
from dataclasses import dataclass, replace
from typing import Any

import httpx
import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from mockserver.contract.recording import Writer

from . import answer_checks, checks, inputs, lifecycle_checks, recording, runner, strategies
from .client import Policy
from .findings import FAIL, WARN, Exchange, Verdicts
from .options import Options
from .report import Report

_MOCK_KEYS = ("sk-contract-one", "sk-contract-two")
_MOCK_TIME_SCALE = 1000.0
_SHOWN_FINDINGS = 10  # a server that fails every refusal probe would otherwise print them all
_CHARSET = "application/json; charset=utf-8"
# A run gives up on the server this long after it starts: the tasks' timeout twice (the walks, then what
# follows them) and a margin, so that a server that hangs ends the run in bounded time, not in hours.
RUN_SPAN, RUN_MARGIN = 2.0, 10.0


@dataclass
class Probe:
    scope: str
    body: dict[str, Any]
    expect: checks.Expect
    content_type: str = "application/json"
    exchange: Exchange | None = None
    walk: runner.Walk | None = None
    answered: float = 0.0  # when the submit was answered, for --contract-record
    classes: tuple[inputs.Value, ...] = ()  # the value classes the body carries, for the coverage table

    @property
    def task_id(self) -> str | None:
        if self.exchange is None or self.exchange.status is None or not 200 <= self.exchange.status < 300:
            return None
        body = self.exchange.json()
        task_id = body.get("task_id") if isinstance(body, dict) else None
        return task_id if isinstance(task_id, str) and task_id else None


class Kit:
    def __init__(self, options: Options, hypothesis_seed: int | None) -> None:
        self.report = Report()
        self.started = time.time()
        self.seed = hypothesis_seed or 0
        self._stack = ExitStack()
        if options.mock:
            from mockserver.testing import running_mock

            mock = self._stack.enter_context(running_mock(time_scale=_MOCK_TIME_SCALE, keys=_MOCK_KEYS))
            options = replace(options, url=mock.url, key=mock.keys[0], second_key=options.second_key or mock.keys[1])
        self.options = options
        self.portal: BlockingPortal = self._stack.enter_context(start_blocking_portal())
        policy = Policy(poll_initial=options.poll_initial, poll_max=options.poll_max, timeout=options.timeout)
        self.target: runner.Target = self.portal.call(self._target, policy)
        self._probes: dict[str, list[Probe]] | None = None
        self.free: list[tuple[inputs.Value, Exchange]] = []  # the free probes of field classes, as answered
        self._following: Future[None] | None = None
        self.recording = Writer(options.record) if options.record else None

    async def _target(self, policy: Policy) -> runner.Target:
        options = self.options
        http = httpx.AsyncClient(timeout=httpx.Timeout(options.request_timeout, connect=10.0))
        self._stack.callback(self.portal.call, http.aclose)
        assert options.url and options.key
        budget = runner.Budget(options.budget)
        target = runner.Target(options.url, options.key, policy, budget, http, options.second_key, options.hold)
        target.request_timeout = options.request_timeout
        target.ends = self.started + RUN_SPAN * options.timeout + RUN_MARGIN
        target.rand = random.Random(self.seed).random  # never the random module's: Hypothesis draws beside it
        return target

    def token(self, name: str) -> str:
        """A UUID-shaped id fixed by the seed and ``name``: an unknown task, a wrong key, the same on every run."""
        digest = hashlib.sha256(f"{self.seed}:{name}".encode()).digest()
        return str(uuid.UUID(bytes=digest[:16], version=4))

    def close(self) -> None:
        if self._following is not None:
            self._following.cancel()  # a run stopped early need not wait for its tasks to end
        if self.recording is not None:
            self._record_strays()
            self.recording.close()
        self._stack.close()

    def _record_strays(self) -> None:
        """Paid tasks that were never walked (a body that should have been refused, a walk cut short) get a line too."""
        assert self.recording is not None
        walked = {id(p.exchange) for p in self.planned() if p.walk is not None}
        for scope, exchange in self.target.accepted:
            if id(exchange) not in walked:
                self.recording.write(recording.line(scope, exchange, None, self.target.clock()))

    def call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run one of ``runner``'s coroutines on the kit's event loop and return its result."""
        return self.portal.call(lambda: fn(self.target, *args, **kwargs))

    def gather(self, *calls: Callable[[runner.Target], Awaitable[Any]]) -> list[Any]:
        """Run several of ``runner``'s coroutines at once, each given the target; results in the order given."""

        async def all_of() -> list[Any]:
            return list(await asyncio.gather(*(call(self.target) for call in calls)))

        return self.portal.call(all_of)

    def get(self, scope: str, task_id: str, headers: dict[str, str] | None = None) -> Exchange:
        """GET one task, with the kit's key unless ``headers`` says otherwise; transient errors are retried."""
        return self.call(runner.read, scope, task_id, headers)

    def post(self, scope: str, body: Any, **kwargs: Any) -> Exchange | None:
        """Submit a body that must be refused, within the budget (None when it is spent); see ``runner.submit``."""
        return self.call(runner.submit, scope, body, retry_gateway_errors=True, **kwargs)

    def post_many(self, scope: str, bodies: list[Any]) -> list[Exchange | None]:
        """Submit bodies that must be refused, several at once; answers in the order of ``bodies``."""
        return self.call(runner.submit_many, scope, bodies)

    def model(self, scope: str) -> str:
        return self.options.models[scope]

    def probes(self, scope: str) -> list[Probe]:
        """The scope's paid probes, submitted (the first call submits every scope's).

        Their walks go on in the background, so that the free probes of the other tests run while
        the tasks do; ``walked`` waits for them.
        """
        if self._probes is None:
            pairs = inputs.Pairs()
            planned = {s: self._plan(s, pairs) for s in self.options.scopes}
            every = [p for ps in planned.values() for p in ps]
            self.portal.call(self._submit, every)
            self._following = self.portal.start_task_soon(self._follow, every)
            self._probes = planned
        return self._probes[scope]

    def planned(self) -> list[Probe]:
        """Every paid probe of the run so far, in the order planned; none when no test asked for them."""
        return [p for probes in (self._probes or {}).values() for p in probes]

    def walked(self, scope: str) -> list[Probe]:
        """The scope's paid probes once every accepted one has been walked to its end."""
        probes = self.probes(scope)
        assert self._following is not None
        self._following.result()
        return probes

    def _plan(self, scope: str, pairs: inputs.Pairs) -> list[Probe]:
        """Probes per scope, within the budget less a little for inputs a broken server might accept.

        A plain body and the spec's own template must be accepted; bodies chosen pairwise over the fields'
        real forms, most common first, should be (their values are partly our reading). ``pairs`` carries
        the values and pairs already planned for other scopes, so each scope's bodies add new ones.
        """
        share = max(1, (self.options.budget - 2) // len(self.options.scopes))
        model = self.model(scope)
        plain = strategies.plain_request(model)
        # JSON has no charset parameter, and HTTP says a recipient ignores one it does not know (RFC 8259 11).
        template = checks.Expect(checks.ACCEPT, f"the spec's own template, sent as {_CHARSET}")
        must = [
            Probe(scope, plain, checks.Expect(checks.ACCEPT, "a plain valid body")),
            Probe(scope, strategies.spec_template_request(model), template, _CHARSET),
        ][:share]
        for probe in must:
            pairs.add(list(inputs.classify(probe.body, model)))
        rich = inputs.paid_bodies(model, share - len(must), pairs)
        why = "a valid body of common real values, chosen pairwise"
        paid = [Probe(scope, b, checks.Expect(checks.ACCEPT_RICH, why)) for _, b in rich]
        return [replace(p, classes=tuple(inputs.classify(p.body, model))) for p in [*must, *paid]]

    async def _submit(self, probes: list[Probe]) -> None:
        async def one(probe: Probe) -> None:
            probe.exchange = await runner.submit(self.target, probe.scope, probe.body, content_type=probe.content_type)
            probe.answered = self.target.clock()

        await asyncio.gather(*(one(p) for p in probes))

    async def _follow(self, probes: list[Probe]) -> None:
        bodies = [p.body for p in probes]
        await asyncio.gather(*(self._follow_one(p, bodies) for p in probes if p.task_id is not None))

    async def _follow_one(self, probe: Probe, bodies: list[Any]) -> None:
        assert probe.task_id is not None
        probe.walk = await runner.walk(self.target, probe.scope, probe.task_id)
        probe.walk.request, probe.walk.siblings = probe.body, tuple(b for b in bodies if b is not probe.body)
        for url in lifecycle_checks.outputs_of(probe.walk):
            exchange, late = await runner.download(self.target, url)
            probe.walk.downloads.append(exchange)
            probe.walk.late_downloads += [late] if late else []
        if self.recording is not None:
            assert probe.exchange is not None
            self.recording.write(recording.line(probe.scope, probe.exchange, probe.walk, probe.answered))

    def sample(self, strategy: st.SearchStrategy[Any], count: int) -> list[Any]:
        """``count`` values drawn by Hypothesis, the same ones for the same seed."""
        found: list[Any] = []

        @seed(self.seed)
        @settings(
            max_examples=count,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(strategy)
        def collect(value: Any) -> None:
            found.append(value)

        collect()
        return found

    def secrets(self) -> answer_checks.Secrets:
        """What no answer may give back: the run's keys, and the ids and prompts of the first key's tasks.

        Ids shorter than 8 characters and prompts shorter than 12 are left out: they turn up by chance.
        """
        keys = tuple(k for k in (self.target.key, self.target.second_key) if k)
        ids = {p.task_id for p in self.planned() if p.task_id and len(p.task_id) >= 8}
        prompts = {p.body["prompt"] for p in self.planned() if len(str(p.body.get("prompt", ""))) >= 12}
        return answer_checks.Secrets(keys, self.target.key, tuple(sorted(ids)), tuple(sorted(prompts)))

    def judge(self, exchange: Exchange, expect: checks.Expect, verdicts: Verdicts) -> None:
        checks.run(exchange, expect, verdicts)

    def settle(self, verdicts: Verdicts) -> None:
        """Tally a test's findings, then fail it on failures (and warnings, when strict)."""
        self.report.add(verdicts)
        self.raise_for(verdicts)

    def raise_for(self, verdicts: Verdicts) -> None:
        if message := self.failures(verdicts):
            pytest.fail(message, pytrace=False)

    def failures(self, verdicts: Verdicts) -> str:
        """The findings that fail a test, rendered with their requests and responses; "" if none."""
        bad = verdicts.of(FAIL) + (verdicts.of(WARN) if self.options.strict else [])
        shown = "\n\n".join(f.render() for f in bad[:_SHOWN_FINDINGS])
        return shown + (f"\n\n... and {len(bad) - _SHOWN_FINDINGS} more" if len(bad) > _SHOWN_FINDINGS else "")
