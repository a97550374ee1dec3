"""The kit against our own mock (strictly, as our CI runs it), and the plugin's options, budget and report."""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from contract_tests.kit import Kit
from contract_tests.options import Options
from mockserver.testing import running_mock, serving
from tests.helpers.fakes import Fake, bare_error
from tests.helpers.harness import run_pytest

pytestmark = pytest.mark.slow

FAST = [
    "--contract-poll-initial",
    "0.01",
    "--contract-poll-max",
    "0.05",
    "--contract-timeout",
    "20",
    "--contract-hold",
    "0.05",
]
SHORT = [*FAST, "--contract-timeout", "1"]  # where tasks never appear, only the visibility grace is waited
KIT = ["--pyargs", "contract_tests"]


def test_strict_run_against_the_in_process_mock_passes(tmp_path: Path) -> None:
    """As a user's CI runs it: strict, and with every Python warning an error (Hypothesis's among them)."""
    result = run_pytest(tmp_path, *KIT, "--contract-mock", "--contract-strict", "-W", "error")
    assert result.ret == 0, result.out[-4000:]
    created = re.search(r"endpoint: in-process mock; tasks created: (\d+) of a budget of 12", result.out)
    assert created and 6 <= int(created.group(1)) <= 12  # two must-accept probes a scope, within the budget
    assert "warnings, where only our reading" not in result.out
    assert result.count("passed") == 38
    assert (result.count("failed"), result.count("error"), result.count("warning")) == (0, 0, 0), result.out[-2000:]


def test_strict_run_against_the_mock_over_a_real_socket_passes(tmp_path: Path) -> None:
    with running_mock(time_scale=1000, keys=("sk-first", "sk-second")) as mock:
        args = ["--contract-url", mock.url, "--contract-key", "sk-first", "--contract-second-key", "sk-second"]
        result = run_pytest(tmp_path, *KIT, *args, *FAST, "--contract-strict")
    assert result.ret == 0, result.out[-4000:]
    assert result.count("passed") == 38
    assert (result.count("failed"), result.count("error"), result.count("warning")) == (0, 0, 0), result.out[-2000:]


def _requests(tmp_path: Path, seed: str) -> list[tuple[str, str, str, bytes]]:
    """What one kit run sent a fake, bar the polls of its tasks (their count and ids depend on timing), sorted."""
    sent: list[tuple[str, str, str, bytes]] = []

    async def keep(fake: Fake, request: Request) -> None:
        if not any(known in request.url.path for known in fake.tasks):
            sent.append(
                (request.method, request.url.path, request.headers.get("authorization", ""), await request.body())
            )

    fake = Fake(request_hook=keep)
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", "sk-one", "--contract-second-key", "sk-two", *FAST]
        result = run_pytest(tmp_path, *KIT, *args, "--contract-scopes", "images", f"--hypothesis-seed={seed}")
    assert result.ret == 0, result.out[-3000:]
    return sorted(sent)


def test_the_same_seed_sends_the_same_requests(tmp_path: Path) -> None:
    first, again, other = _requests(tmp_path, "7"), _requests(tmp_path, "7"), _requests(tmp_path, "8")
    assert len(first) > 200 and first == again
    assert other != first  # the seed reaches the generated bodies


def test_environment_variables_stand_for_options(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACT_MOCK", "1")
    monkeypatch.setenv("CONTRACT_SCOPES", "audio")
    monkeypatch.setenv("CONTRACT_BUDGET", "3")
    result = run_pytest(tmp_path, *KIT)
    assert result.ret == 0, result.out[-4000:]
    assert "tasks created: 1 of a budget of 3" in result.out
    assert result.count("passed") == 16


def test_idle_without_options_and_harmless_to_other_suites(tmp_path: Path) -> None:
    (tmp_path / "test_other.py").write_text("def test_plain():\n    assert 1 + 1 == 2\n")
    other = run_pytest(tmp_path, "test_other.py")
    assert other.ret == 0 and other.count("passed") == 1
    assert "contract kit" not in other.out
    idle = run_pytest(tmp_path, *KIT)  # no -rs: the run itself says, once, why its tests skipped
    assert idle.ret == 0
    assert idle.out.count("the contract kit is idle: give --contract-url URL --contract-key KEY") == 1
    assert "38 tests skipped: the contract kit is idle" in idle.out
    assert idle.count("skipped") == 38


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--contract-url", "http://127.0.0.1:9"], "--contract-url needs --contract-key"),
        (["--contract-mock", "--contract-model", "videos"], "--contract-model wants SCOPE=MODEL"),
        (["--contract-mock", "--contract-scopes", "films"], "--contract-scopes takes some of"),
        (["--contract-mock", "--contract-budget", "0"], "--contract-budget must be positive"),
        (["--contract-mock", "--contract-request-timeout", "0"], "--contract-request-timeout must be positive"),
        (["--contract-mock", "--contract-hold", "-1"], "--contract-hold must be positive"),
        (["--contract-mock", "--contract-url", "http://x", "--contract-key", "k"], "not both"),
        (["--contract-url", "127.0.0.1:8000", "--contract-key", "k"], "wants an http:// or https:// URL"),
        (["--contract-url", "ftp://files.example", "--contract-key", "k"], "wants an http:// or https:// URL"),
    ],
)
def test_bad_options_are_usage_errors(tmp_path: Path, argv: list[str], complaint: str) -> None:
    result = run_pytest(tmp_path, *KIT, *argv)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert complaint in result.err


def test_an_unreachable_url_or_a_refused_key_stops_the_run_saying_so(tmp_path: Path) -> None:
    with running_mock() as mock:
        refused = run_pytest(tmp_path, *KIT, "--contract-url", mock.url, "--contract-key", "sk-wrong", *FAST)
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    assert "refused --contract-key with HTTP 401" in refused.out + refused.err
    assert "not_server_error" not in refused.out
    gone = run_pytest(tmp_path, *KIT, "--contract-url", mock.url, "--contract-key", mock.keys[0], *FAST)
    assert gone.ret == pytest.ExitCode.USAGE_ERROR  # the mock above has stopped
    assert f"cannot reach {mock.url}: ConnectError" in gone.out + gone.err


def _accepts_everything() -> tuple[Fake, list[Any]]:
    """A server that takes any POST as a paid task: the worst case for the budget."""
    accepted: list[Any] = []
    counter = itertools.count()

    def hook(body: Any) -> Response:
        accepted.append(body)
        return JSONResponse({"task_id": f"paid-{next(counter)}"})

    fake = Fake(submit_hook=hook, auth_hook=lambda key: "sk-one")
    return fake, accepted


def test_the_budget_holds_even_when_a_server_accepts_everything(tmp_path: Path) -> None:
    fake, accepted = _accepts_everything()
    with serving(fake.app()) as url:
        result = run_pytest(
            tmp_path, *KIT, "--contract-url", url, "--contract-key", "sk-one", "--contract-budget", "5", *SHORT
        )
    assert result.ret == 1
    assert len(accepted) == 5
    assert "tasks created: 5 of a budget of 5" in result.out


def test_a_failure_shows_the_request_and_response_with_the_key_masked(tmp_path: Path) -> None:
    fake, _ = _accepts_everything()
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", "sk-one-secret-value", "--contract-scopes", "images", *SHORT]
        out = run_pytest(tmp_path, *KIT, *args).out
    assert "[status_code] no prompt: accepted a request the spec forbids" in out
    assert "> POST http://127.0.0.1:" in out and "< 200" in out and '< {"task_id":"paid-' in out
    assert "sk-one-secret-value" not in out
    assert "Bearer sk-***" in out


def test_warnings_fail_only_under_strict(tmp_path: Path) -> None:
    fake = Fake(error=bare_error)
    with serving(fake.app()) as url:
        args = [*KIT, "--contract-url", url, "--contract-key", "sk-one", "--contract-scopes", "images", *FAST]
        lenient = run_pytest(tmp_path, *args)
        strict = run_pytest(tmp_path, *args, "--contract-strict")
    assert lenient.ret == 0, lenient.out[-3000:]
    assert "[error_schema]" in lenient.out
    assert strict.ret == 1
    assert "[error_schema]" in strict.out


def test_the_request_timeout_reaches_the_http_client() -> None:
    """Gateways whose submit blocks until upstream answers need more than httpx's usual few seconds."""
    given = Options(url="http://127.0.0.1:9", key="sk-one", scopes=("images",), request_timeout=420.0)
    kit = Kit(given, None)
    try:
        assert kit.target.http.timeout.read == 420.0
        assert Options().request_timeout == 300.0
    finally:
        kit.close()
