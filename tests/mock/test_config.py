"""A TOML file lays settings over the embedded default, and a bad one is refused with its reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from mockserver import Config, contract, load_config
from mockserver.cli import main
from mockserver.engine.config import ConfigError, check_references
from mockserver.engine.profiles import Profile, Timing, fixed, uniform

FLAKY = contract.fixtures_dir() / "scenarios" / "fast-and-flaky.toml"


def test_no_file_is_the_embedded_default() -> None:
    assert load_config() == Config()


def test_new_api_errors_hard_timeouts_and_proxy_faults_are_read_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "mock.toml"
    text = "unknown_task = 'new-api'\n[scenarios]\nhard_timeout = 600\n[faults]\nproxy_html = true\nretry_after_date = true\n"
    path.write_text(text)
    config = load_config(path)
    assert (config.unknown_task, config.scenarios.hard_timeout) == ("new-api", 600)
    assert config.faults.proxy_html and config.faults.retry_after_date


def test_file_overrides_only_what_it_sets() -> None:
    config = load_config(FLAKY)
    default = Config()
    assert (config.keys, config.time_scale, config.seed) == (("sk-ci-1", "sk-ci-2"), 10, 42)
    assert (config.admin_key, config.strict_models) == ("sk-ci-admin", True)
    assert config.profiles["videos"].queue == uniform(2, 5) and config.profiles["videos"].fail_rate == 0.25
    assert config.profiles["videos"].run == Timing("lognormal", 30, 0.4, 0, 120)
    assert config.profiles["images"].fail_rate == 0.25
    assert config.profiles["images"].run == default.profiles["images"].run
    assert config.profiles["audio"] == default.profiles["audio"]
    mine = config.models["my-video-model"]
    assert (mine.scope, mine.run, mine.outputs, mine.fail_rate) == ("videos", fixed(12), 3, 0.25)
    assert config.models["veo3"] == default.models["veo3"]
    assert config.aliases["my-video-model-fast"] == "my-video-model" and config.aliases["veo3-fast"] == "veo3"
    assert config.fail_reasons == {**default.fail_reasons, "moderation": config.fail_reasons["moderation"]}
    assert config.scenarios.late_visible_for == 3 and config.scenarios.expire_after == default.scenarios.expire_after
    assert (config.faults.submit_429, config.faults.retry_after, config.faults.poll_500) == (0.05, 2, 0)
    assert config.faults.active and not default.faults.active


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
        ("[models.x]\nrun = 3", "scope"),
        ("[models.x]\nscope = 'videos'\nspeed = 3", "speed"),
        ("[profiles.videos]\nrun = {dist = 'normal', mean = 3}", "run.sd: 'sd' is a required property"),
        ("[profiles.videos]\nrun = {dist = 'gamma', k = 3}", "run"),
        ("[profiles.videos]\nprogress_step = 0", "progress_step"),
        ("[profiles.videos]\nfail_reasons = ['meteor']", "meteor"),
        ("[aliases]\nfast = 'no-such-model'", "aliases.fast"),
        ("[faults]\npoll_503 = 1.5", "poll_503"),
        ("[faults]\nsubmit_500 = 0.1", "submit_500"),
        ("[scenarios]\noutputs = 0", "outputs"),
        ("strict_models = 'yes'", "strict_models"),
        ("unknown_task = '410'", "unknown_task"),
        ("[faults]\nproxy_html = 1", "proxy_html"),
        ("[scenarios]\nhard_timeout = -1", "hard_timeout"),
        # the red team's: each passed the schema, then broke a poll, a start or the output
        ("[profiles.videos]\nrun = nan", "run: nan is not a finite number"),
        ("[profiles.videos]\nrun = inf", "run: inf is not a finite number"),
        ("[profiles.videos]\nrun = [5, 1]", r"run: item 0 \(5\) is above item 1 \(1\)"),
        ("[profiles.videos]\nrun = {dist = 'uniform', low = 9, high = 2}", r"run: low \(9\) is above high \(2\)"),
        ("[profiles.videos]\nrun = {dist = 'normal', mean = 9, sd = 1, min = 8, max = 2}", r"min \(8\) is above max"),
        ("[profiles.videos]\nrun = {dist = 'lognormal', median = 75, sigma = 1e6}", "run.sigma: 1000000.0 is greater"),
        ("[profiles.videos]\nprogress_step = 5.0", "progress_step: 5.0 is not of type 'integer'"),
        ("[profiles.videos]\noutputs = 2.0", "outputs: 2.0 is not of type 'integer'"),
        ("journal_size = 10.0", "journal_size: 10.0 is not of type 'integer'"),
        ("time_scale = inf", "time_scale: inf is not a finite number"),
        ("[faults]\nlatency = 1e308", "latency: 1e.308 is above 300"),
        ("[faults]\nretry_after = 1e15", "retry_after"),
        ("[faults]\nretry_after = 2.0", "retry_after: 2.0 is not of type 'integer'"),
        ("admin_key = 'clé'", "admin_key: 'clé' holds a space or a character outside printable ASCII"),
        ("keys = ['sk a']", "keys.0"),
        ("fail_reasons = " + "[" * 5000 + "]" * 5000, "nested too deeply"),  # was a RecursionError's traceback
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


def test_a_byte_order_mark_is_read_past(tmp_path: Path) -> None:
    """Editors on Windows write one; tomllib alone refused the file without a word about it."""
    path = tmp_path / "mock.toml"
    path.write_bytes(b"\xef\xbb\xbfseed = 7\n")
    assert load_config(path).seed == 7


@pytest.mark.slow
def test_more_models_than_a_task_id_can_name_are_refused() -> None:
    """A task id holds its profile in two bytes: with 70,000 models, submits to the last ones were 500s."""
    models = Config().models
    many = {
        **models,
        **{f"m{i}": Profile(queue=fixed(1), run=fixed(1), scope="videos") for i in range(65534 - len(models))},
    }
    with pytest.raises(ConfigError, match="models: at most 65533"):
        check_references(Config(models=many))
    check_references(Config(models=dict(list(many.items())[:65533])))
