"""A task's draws are a pure function of the spec and its fate, and have the distributions profiles assume."""

from __future__ import annotations

import statistics

from mockserver.engine.fate_draws import Draws
from mockserver.engine.profiles import Timing


def sequence(seed: int, fate: int | str, n: int = 20) -> list[float]:
    draws = Draws(seed, fate)
    return [draws.random() for _ in range(n)]


def test_the_same_seed_and_fate_draw_the_same_numbers_in_any_process() -> None:
    assert sequence(7, 123) == sequence(7, 123)
    assert sequence(7, "task-1") == sequence(7, "task-1")


def test_another_fate_or_seed_draws_other_numbers() -> None:
    assert sequence(7, 123) != sequence(7, 124)
    assert sequence(7, 123) != sequence(8, 123)
    assert sequence(7, 1) != sequence(7, "1")


def test_long_draws_do_not_repeat_the_first_block() -> None:
    numbers = sequence(0, 5, n=40)
    assert len(set(numbers)) == 40
    assert all(0.0 <= x < 1.0 for x in numbers)


def test_uniform_and_normal_draws_have_their_moments() -> None:
    n = 20_000
    uniforms = [Draws(1, i).uniform(10, 20) for i in range(n)]
    assert min(uniforms) >= 10 and max(uniforms) < 20
    assert abs(statistics.fmean(uniforms) - 15) < 0.1
    normals = [Draws(1, i).normalvariate(50, 5) for i in range(n)]
    assert abs(statistics.fmean(normals) - 50) < 0.15
    assert abs(statistics.stdev(normals) - 5) < 0.15
    logs = [Timing("lognormal", 1.0, 0.5).draw(Draws(1, i)) for i in range(n)]
    assert abs(statistics.median(logs) - 1.0) < 0.03


def test_a_lognormal_too_wide_for_a_double_is_clamped_not_overflowed() -> None:
    """The red team's ``sigma = 1e6``: exp overflowed before ``max`` applied, and every poll was a 500."""
    wide = Timing("lognormal", 75.0, 1e6, 11.0, 360.0)
    draws = [wide.draw(Draws(3, i)) for i in range(200)]
    assert set(draws) == {11.0, 360.0}  # every draw is far in one tail or the other


def test_choice_reaches_every_item_evenly() -> None:
    picks = [Draws(2, i).choice("abc") for i in range(9_000)]
    assert {picks.count(c) for c in "abc"} <= set(range(2_800, 3_200))
