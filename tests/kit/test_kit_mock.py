"""The kit against our own mock (strictly, as our CI runs it), and the plugin's options, budget and report."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fakes import Fake, bare_error
from starlette.responses import JSONResponse, Response

from mockserver.testing import running_mock, serving

FAST = ["--contract-poll-initial", "0.01", "--contract-poll-max", "0.05", "--contract-timeout", "20"]
QUIET = ["-p", "no:cacheprovider"]


def test_strict_run_against_the_in_process_mock_passes(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--pyargs", "contract_tests", "--contract-mock", "--contract-strict", *QUIET)
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.stdout.fnmatch_lines(["*contract kit*", "endpoint: in-process mock; tasks created: * of a budget of 12"])
    assert "warnings, where only our reading" not in result.stdout.str()
    result.assert_outcomes(passed=23)


def test_strict_run_against_the_mock_over_a_real_socket_passes(pytester: pytest.Pytester) -> None:
    with running_mock(time_scale=1000, keys=("sk-first", "sk-second")) as mock:
        args = ["--contract-url", mock.url, "--contract-key", "sk-first", "--contract-second-key", "sk-second"]
        result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *args, *FAST, "--contract-strict", *QUIET)
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.assert_outcomes(passed=23)


def test_environment_variables_stand_for_options(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CONTRACT_MOCK", "1")
    monkeypatch.setenv("CONTRACT_SCOPES", "audio")
    monkeypatch.setenv("CONTRACT_BUDGET", "3")
    result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *QUIET)
    assert result.ret == 0, result.stdout.str()[-4000:]
    result.stdout.fnmatch_lines(["*tasks created: * of a budget of 3"])
    assert "[audio]" in result.stdout.str() or result.parseoutcomes()["passed"] == 9


def test_idle_without_options_and_harmless_to_other_suites(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_other="def test_plain():\n    assert 1 + 1 == 2\n")
    other = pytester.runpytest_inprocess(*QUIET)
    other.assert_outcomes(passed=1)
    assert "contract kit" not in other.stdout.str()
    idle = pytester.runpytest_inprocess("--pyargs", "contract_tests", "-rs", *QUIET)
    assert idle.ret == 0
    idle.stdout.fnmatch_lines(["*the contract kit is idle: give --contract-url URL --contract-key KEY*"])
    assert idle.parseoutcomes()["skipped"] == 23


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--contract-url", "http://127.0.0.1:9"], "--contract-url needs --contract-key"),
        (["--contract-mock", "--contract-model", "videos"], "--contract-model wants SCOPE=MODEL"),
        (["--contract-mock", "--contract-scopes", "films"], "--contract-scopes takes some of"),
        (["--contract-mock", "--contract-budget", "0"], "--contract-budget must be positive"),
        (["--contract-mock", "--contract-url", "http://x", "--contract-key", "k"], "not both"),
    ],
)
def test_bad_options_are_usage_errors(pytester: pytest.Pytester, argv: list[str], complaint: str) -> None:
    result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *argv, *QUIET)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert complaint in result.stderr.str()


def _accepts_everything() -> tuple[Fake, list[Any]]:
    """A server that takes any POST as a paid task: the worst case for the budget."""
    accepted: list[Any] = []
    counter = itertools.count()

    def hook(body: Any) -> Response:
        accepted.append(body)
        return JSONResponse({"task_id": f"paid-{next(counter)}"})

    fake = Fake(submit_hook=hook, auth_hook=lambda key: "sk-one")
    return fake, accepted


def test_the_budget_holds_even_when_a_server_accepts_everything(pytester: pytest.Pytester) -> None:
    fake, accepted = _accepts_everything()
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", "sk-one", "--contract-budget", "5", *FAST]
        result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *args, *QUIET)
    assert result.ret == 1
    assert 0 < len(accepted) <= 5
    result.stdout.fnmatch_lines([f"*tasks created: {len(accepted)} of a budget of 5"])


def test_a_failure_shows_the_request_and_response_with_the_key_masked(pytester: pytest.Pytester) -> None:
    fake, _ = _accepts_everything()
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", "sk-one-secret-value", "--contract-scopes", "images", *FAST]
        result = pytester.runpytest_inprocess("--pyargs", "contract_tests", *args, *QUIET)
    out = result.stdout.str()
    assert "[status_code] no prompt: accepted a request the seed forbids" in out
    assert "> POST http://127.0.0.1:" in out and "< 200" in out and '< {"task_id":"paid-' in out
    assert "sk-one-secret-value" not in out
    assert "Bearer sk-***" in out


def test_warnings_fail_only_under_strict(pytester: pytest.Pytester) -> None:
    fake = Fake(error=bare_error)
    with serving(fake.app()) as url:
        args = ["--contract-url", url, "--contract-key", "sk-one", "--contract-scopes", "images", *FAST, *QUIET]
        lenient = pytester.runpytest_inprocess("--pyargs", "contract_tests", *args)
        strict = pytester.runpytest_inprocess("--pyargs", "contract_tests", *args, "--contract-strict")
    assert lenient.ret == 0, lenient.stdout.str()[-3000:]
    assert "[error_schema]" in lenient.stdout.str()
    assert strict.ret == 1
    assert "[error_schema]" in strict.stdout.str()
