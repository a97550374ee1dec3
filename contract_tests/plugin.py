"""The pytest plugin (entry point ``pytest11``): options, the session's kit, and the closing tally.

It is inert unless ``--contract-url`` or ``--contract-mock`` is given (or their environment
variables), so installing the package changes no other test run.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from . import html_report, inputs, options
from .kit import Kit

_OPTIONS = pytest.StashKey[options.Options]()
_KIT = pytest.StashKey[Kit]()
_STOPPED = pytest.ExitCode.USAGE_ERROR  # the run could not start, as with a bad option
IDLE = "the contract kit is idle: give --contract-url URL --contract-key KEY, or --contract-mock"


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    config.stash[_OPTIONS] = options.read(config)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "contract_scope" in metafunc.fixturenames:
        chosen = metafunc.config.stash[_OPTIONS].scopes or tuple(options.all_scopes())
        metafunc.parametrize("contract_scope", chosen)


@pytest.fixture(scope="session")
def contract_kit(request: pytest.FixtureRequest) -> Iterator[Kit]:
    """The run against the endpoint under test; skips every contract test when none is given."""
    given = request.config.stash[_OPTIONS]
    if not given.active:
        pytest.skip(IDLE)
    if given.url:
        _preflight(given)
    kit = Kit(given, request.config.getoption("hypothesis_seed", None))
    request.config.stash[_KIT] = kit
    try:
        yield kit
    finally:
        kit.close()


def _preflight(given: options.Options) -> None:
    """Stop at once, saying why, when no check could mean anything: nothing answers, or the key is refused.

    One GET of a task that cannot exist costs nothing, and a conforming server answers it 4xx with
    the key accepted; without this, an unreachable URL or a wrong key reads as dozens of failed checks.
    """
    scope = given.scopes[0] if given.scopes else options.all_scopes()[0]
    url = f"{given.url}/v2/{scope}/generations/contract-kit-preflight"
    try:
        bound = min(30.0, given.timeout, given.request_timeout)  # a server that hangs stops the run within it
        answer = httpx.get(url, headers={"Authorization": f"Bearer {given.key}"}, timeout=bound)
    except httpx.HTTPError as exc:
        pytest.exit(f"contract kit: cannot reach {given.url}: {type(exc).__name__}: {exc}", returncode=_STOPPED)
    if answer.status_code == 401:  # not 403: some servers answer it for any task not the caller's
        said = answer.text[:200].strip()
        pytest.exit(f"contract kit: {given.url} refused --contract-key with HTTP 401: {said}", returncode=_STOPPED)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    kit = config.stash.get(_KIT, None)
    if kit is None:
        _say_idle(terminalreporter)
        return
    terminalreporter.write_sep("=", "contract kit")
    mode = "in-process mock" if kit.options.mock else kit.options.url
    budget = kit.target.budget
    terminalreporter.write_line(f"endpoint: {mode}; tasks created: {budget.spent} of a budget of {budget.limit}")
    took, most = time.time() - kit.started, kit.target.ends - kit.started
    terminalreporter.write_line(f"run time: {took:.1f} s (the run gives up on the server after {most:.0f} s)")
    for line in kit.report.lines(kit.options.strict):
        terminalreporter.write_line(line)
    if kit.options.report:
        try:
            _write_report(kit, str(mode), kit.options.report)
        except OSError as exc:
            terminalreporter.write_line(f"report: could not write {kit.options.report}: {exc}", red=True)
        else:
            terminalreporter.write_line(f"report: {kit.options.report}")


def _say_idle(terminalreporter: pytest.TerminalReporter) -> None:
    """Once, plainly, why the kit's tests skipped: otherwise only ``-rs`` says so, and a run looks done."""
    idle = [r for r in terminalreporter.stats.get("skipped", []) if IDLE in str(getattr(r, "longrepr", ""))]
    if idle:
        terminalreporter.write_sep("=", "contract kit")
        terminalreporter.write_line(f"{len(idle)} tests skipped: {IDLE}", yellow=True)


def _write_report(kit: Kit, endpoint: str, report: str) -> None:
    budget = kit.target.budget
    sent = [(p, p.exchange) for p in kit.planned() if p.exchange is not None]
    tasks = [(p.expect.why, p.body, p.walk) for p, _ in sent]
    stray = [ex for _, ex in kit.target.accepted if all(ex is not exchange for _, exchange in sent)]
    facts = {
        "endpoint": endpoint,
        "tasks created": f"{budget.spent} of a budget of {budget.limit}",
        "scopes": ", ".join(kit.options.scopes),
        "strict": "yes" if kit.options.strict else "no (warnings do not fail the run)",
    }
    free = [(value, exchange.status) for value, exchange in kit.free]
    paid = [(p.classes, exchange.status) for p, exchange in sent]
    html_report.write(report, kit.report, tasks, stray, inputs.coverage(free, paid), **facts)
