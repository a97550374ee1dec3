"""``mockserver``'s settings from the environment (``MOCKSERVER_<NAME>``), its ``--help`` and ``--version``."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from mockserver import cli
from mockserver.http.access_log import AccessLog
from mockserver.http.servers import Options
from mockserver.stores.local import SqliteStore
from mockserver.stores.redis import RedisStore
from mockserver.testing import free_port

pytestmark = pytest.mark.processes


@dataclass
class Started:
    server: str
    app: Any
    options: Options

    @property
    def config(self) -> Any:
        return self.app.state.service.config


def start(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str], *argv: str) -> Started:
    """``mockserver`` as the command line and the environment ask, up to the point where it would serve."""
    started: list[Started] = []
    monkeypatch.setenv("MOCKSERVER_ARGV", "")  # main() hands its argv to the workers there; undone after
    monkeypatch.setenv("MOCKSERVER_PORT", "0")
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(
        "mockserver.cli.serve", lambda server, app, options, _: started.append(Started(server, app, options))
    )
    cli.main(list(argv))
    return started[0]


RECORDING = {
    "version": 1, "scope": "videos", "model": "gw-video", "mode": "text-to-video", "submitted_at": 1.7e9,
    "submit": {"status": 200}, "statuses": [{"status": "SUCCESS", "first": 10.5, "last": 10.5}], "progress": [],
    "ended": "SUCCESS", "polls": 9, "errors": [], "latency": {}, "outputs": {"media": [], "form": "output", "count": 1},
}  # fmt: skip
Check = Callable[[Started, Path], bool]
# Each variable, a value it takes and what that value does, and a value it refuses with what the refusal says.
SETTINGS: dict[str, tuple[str, Check, str, str]] = {
    "MOCKSERVER_HOST": ("localhost", lambda s, _: s.options.host == "localhost", "", "should be non-empty"),
    "MOCKSERVER_PORT": ("{free}", lambda s, _: s.options.port != 0, "eighty", "'eighty' is not a whole number"),
    "MOCKSERVER_CONFIG": (
        "{tmp}/mock.toml",
        lambda s, _: s.config.seed == 41,
        "{tmp}/none.toml",
        "none.toml: [Errno 2] No such file",
    ),
    "MOCKSERVER_KEY": (
        "sk-a sk-b=slow",
        lambda s, _: s.config.keys == ("sk-a", "sk-b") and s.config.key_scenarios == {"sk-b": "slow"},
        " ",
        "is empty; give one or more, separated by spaces",
    ),
    "MOCKSERVER_ADMIN_KEY": ("sk-adm", lambda s, _: s.config.admin_key == "sk-adm", "clé", "'clé' holds a space"),
    "MOCKSERVER_CORS_ORIGIN": (
        "http://a.example http://b.example",
        lambda s, _: s.config.cors_origins == ("http://a.example", "http://b.example"),
        "",
        "is empty",
    ),
    "MOCKSERVER_CALLBACK_HOST": (
        "hooks.example.com *.example.org",
        lambda s, _: s.config.callbacks.allow_hosts == ("hooks.example.com", "*.example.org"),
        "a/b",
        "'a/b'",
    ),
    "MOCKSERVER_CALLBACK_PORT": (
        "8080 9000",
        lambda s, _: s.config.callbacks.local_ports == (8080, 9000),
        "8080 http",
        "'http' is not a whole number",
    ),
    "MOCKSERVER_HEADER_TIMEOUT": ("2.5", lambda s, _: s.options.header_timeout == 2.5, "0", "0 is less than"),
    "MOCKSERVER_KEEP_ALIVE": ("30", lambda s, _: s.options.keep_alive == 30, "inf", "inf is not a finite number"),
    "MOCKSERVER_CALLBACK_SECRET": (
        "whsec_" + "A" * 32,
        lambda s, _: s.config.callbacks.secret == "whsec_" + "A" * 32,
        "nope",
        "'nope'",
    ),
    "MOCKSERVER_REPLAY": (
        "{tmp}/rec.jsonl",
        lambda s, _: "gw-video" in s.config.takes,
        "{tmp}/none.jsonl",
        "none.jsonl: No such file",
    ),
    "MOCKSERVER_TIME_SCALE": ("60", lambda s, _: s.config.time_scale == 60, "nan", "nan is not a finite number"),
    "MOCKSERVER_SEED": ("7", lambda s, _: s.config.seed == 7, "seven", "'seven' is not a whole number"),
    "MOCKSERVER_WORKERS": (
        "2",
        lambda s, _: s.options.workers == 2 and s.app is None,
        "0",
        "0 is less than the minimum",
    ),
    "MOCKSERVER_SERVER": ("granian", lambda s, _: s.server == "granian", "hypercorn", "'hypercorn' is not one of"),
    "MOCKSERVER_STORE": (
        "sqlite:{tmp}/tasks.db",
        lambda s, _: isinstance(s.app.state.service.backend.local, SqliteStore),
        "redis://localhost",
        "'redis://localhost' names no port",
    ),
    "MOCKSERVER_SECRET": (
        "one fleet",
        lambda s, _: s.app.state.service.secret == b"one fleet",
        "",
        "should be non-empty",
    ),
    "MOCKSERVER_METRICS": ("yes", lambda s, _: s.config.metrics is True, "maybe", "'maybe' is neither of 1/true"),
    "MOCKSERVER_LOG_LEVEL": ("warning", lambda s, _: s.options.log_level == "warning", "loud", "'loud' is not one of"),
    "MOCKSERVER_NO_ACCESS_LOG": (
        "true",
        lambda s, _: not any(m.cls is AccessLog for m in s.app.user_middleware),
        "sometimes",
        "'sometimes' is neither of",
    ),
}


@pytest.fixture
def files(tmp_path: Path) -> Path:
    (tmp_path / "mock.toml").write_text("seed = 41\n")
    (tmp_path / "rec.jsonl").write_text(json.dumps(RECORDING) + "\n")
    return tmp_path


def test_every_option_has_a_variable_and_each_is_tested_here() -> None:
    actions = [a for a in cli._parser()._actions if a.option_strings and a.dest not in ("help", "version")]
    assert sorted(cli.env_name(action) for action in actions) == sorted(SETTINGS)


@pytest.mark.parametrize("variable", sorted(SETTINGS))
def test_each_variable_sets_its_option(variable: str, files: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    value, works, _, _ = SETTINGS[variable]
    before = start(monkeypatch, {})
    assert not works(before, files), "the default already does what the variable should"
    assert works(start(monkeypatch, {variable: value.format(tmp=files, free=free_port())}), files)


@pytest.mark.parametrize("variable", sorted(SETTINGS))
def test_a_bad_variable_exits_2_naming_it(
    variable: str, files: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _, _, bad, said = SETTINGS[variable]
    with pytest.raises(SystemExit) as exit_:
        start(monkeypatch, {variable: bad.format(tmp=files)})
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert f"mockserver: error: {variable}: " in err and said in err, err
    assert "Traceback" not in err


def test_the_command_line_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    given = {"MOCKSERVER_KEY": "sk-env", "MOCKSERVER_SEED": "1", "MOCKSERVER_HOST": "localhost"}
    started = start(monkeypatch, given, "--key", "sk-flag", "--seed", "2", "--host", "127.0.0.1")
    assert (started.config.keys, started.config.seed, started.options.host) == (("sk-flag",), 2, "127.0.0.1")


def test_an_unreachable_redis_from_the_environment_is_named_as_such(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(RedisStore, "__init__", lambda self, spec: (_ for _ in ()).throw(ValueError("cannot reach")))
    with pytest.raises(SystemExit) as exit_:
        start(monkeypatch, {"MOCKSERVER_STORE": "redis://127.0.0.1:1/0"})
    assert exit_.value.code == 3
    assert "mockserver: MOCKSERVER_STORE: cannot reach" in capsys.readouterr().err


def _help(*command: str) -> str:
    done = subprocess.run([*command, "--help"], check=True, capture_output=True, text=True, timeout=60)
    return done.stdout


def test_help_describes_every_option_with_its_default_its_variable_and_the_exit_codes() -> None:
    """--host, --port and --seed had no description, no default was shown, record and fit were a closing line."""
    text = _help(sys.executable, "-m", "mockserver")
    for action in cli._parser()._actions:
        if action.option_strings and action.dest not in ("help", "version"):
            assert action.help, f"{action.option_strings[0]} has no description"
            assert f"[{cli.env_name(action)}]" in text
    for default in ("(default: 127.0.0.1)", "(default: 8000)", "(default: memory)", "(default: uvicorn)"):
        assert default in text
    commands = text.partition("\ncommands:\n")[2]
    assert "    record " in commands and "    fit " in commands
    assert (
        "exit codes:" in text and "2  a bad option or MOCKSERVER_ variable" in text and "3  cannot start here" in text
    )


@pytest.mark.parametrize("command", [["mockserver", "record"], ["mockserver", "fit"], ["generations"]])
@pytest.mark.slow
def test_every_command_documents_its_exit_codes(command: list[str]) -> None:
    module = "contract_tests.generations" if command == ["generations"] else "mockserver"
    assert "exit codes:" in _help(sys.executable, "-m", module, *command[1:])


@pytest.mark.parametrize("module", ["mockserver", "contract_tests.generations"])
def test_version_comes_from_the_package_metadata(module: str) -> None:
    done = subprocess.run([sys.executable, "-m", module, "--version"], check=True, capture_output=True, text=True)
    assert done.stdout.split()[-1] == metadata.version("unified-generations")
