"""A TOML file lays settings over the embedded default, and a bad one is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from contract_tests import contract
from mockserver import Config, load_config
from mockserver.cli import main
from mockserver.config import ConfigError

FLAKY = contract.fixtures_dir() / "scenarios" / "fast-and-flaky.toml"


def test_no_file_is_the_embedded_default() -> None:
    assert load_config() == Config()


def test_file_overrides_only_what_it_sets() -> None:
    config = load_config(FLAKY)
    default = Config()
    assert (config.keys, config.time_scale, config.seed) == (("sk-ci-1", "sk-ci-2"), 10, 42)
    assert config.profiles["videos"].queue == (2, 5) and config.profiles["videos"].fail_rate == 0.25
    assert config.profiles["images"].fail_rate == 0.25
    assert config.profiles["images"].run == default.profiles["images"].run
    assert config.profiles["audio"] == default.profiles["audio"]


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("time_scale = 0", "time_scale"),
        ("colour = 'blue'", "colour"),
        ("[profiles.music]\nfail_rate = 0.1", "music"),
        ("[profiles.videos]\nfail_rate = 2", "fail_rate"),
        ("[profiles.videos]\nrun = [1]", "run"),
        ("keys = []", "keys"),
        ("seed = ", "Invalid value"),
    ],
)
def test_bad_file_is_refused_naming_the_problem(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "mock.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=where):
        load_config(path)


def test_cli_refuses_a_bad_config_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "mock.toml"
    path.write_text("time_scale = -1", encoding="utf-8")
    with pytest.raises(SystemExit) as exit_:
        main(["--config", str(path)])
    assert exit_.value.code == 2
    assert "time_scale" in capsys.readouterr().err
