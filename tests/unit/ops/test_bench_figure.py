"""The bench's figure line carries the load and the reference's spread; a moving reference is measured again."""

from __future__ import annotations

import pytest

from bench import figure as figure_module
from bench.figure import Figure, Rounds, figures_steady, window_medians

PREFIX = "bench: relay: 800 events/s | reference bare producer: 1000 | ratio 0.80 | goal >= 0.8x"


def _figure(*rounds: float) -> Figure:
    return Figure("relay", 800, "events/s", "bare producer", 1000, ">= 0.8x", reference_rounds=rounds, load=1.94)


def test_the_line_keeps_the_documented_prefix_and_appends_the_load_and_the_spread() -> None:
    assert _figure(1000, 1100).line() == f"{PREFIX} | load 1.9 | reference spread 1.10 over 2 rounds"
    assert _figure().line() == f"{PREFIX} | load 1.9"


def test_a_figure_takes_the_load_when_it_is_built() -> None:
    figure = Figure("x", 1, "u", "r", 1, "g")

    assert 0 <= figure.load < 1000


def test_rounds_give_the_rate_over_the_run_and_in_each_round() -> None:
    rounds = Rounds()
    rounds.add(100, 1.0)
    rounds.add(300, 1.0)

    assert rounds.rate == 200
    assert rounds.rounds == (100, 300)


def test_window_medians_split_the_run_in_equal_spans_of_time() -> None:
    samples = [(0.0, 10.0), (1.0, 30.0), (2.0, 20.0), (9.0, 50.0), (10.0, 70.0)]

    assert window_medians(samples, 2) == (20.0, 70.0)
    assert window_medians([], 4) == ()


def test_a_steady_reference_is_measured_once() -> None:
    calls: list[int] = []

    def measure() -> list[Figure]:
        calls.append(1)
        return [_figure(1000, 1150)]

    figures = figures_steady(measure)

    assert len(calls) == 1
    assert figures[0].note == ""


def test_a_reference_that_moved_more_than_20_percent_is_measured_again_and_the_steadiest_attempt_is_kept() -> None:
    spreads = iter([(1000, 1500), (1000, 1100), (1000, 1300)])

    figures = figures_steady(lambda: [_figure(*next(spreads))])

    assert figures[0].reference_rounds == (1000, 1100)
    assert figures[0].note == "attempt 2 of 2 kept (steadiest reference; spreads 1.50, 1.10)"


def test_at_most_three_attempts_and_the_line_says_when_every_one_moved() -> None:
    spreads = iter([(1000, 1500), (1000, 1300), (1000, 1400), (1000, 1000)])

    figures = figures_steady(lambda: [_figure(*next(spreads))])

    assert figures[0].reference_rounds == (1000, 1300)
    assert figures[0].note == "attempt 2 of 3 kept (steadiest reference; spreads 1.50, 1.30, 1.40, all > 1.20)"


def test_a_figure_that_cannot_be_measured_twice_says_its_reference_moved() -> None:
    calls: list[int] = []

    def measure() -> list[Figure]:
        calls.append(1)
        return [_figure(1000, 2000)]

    figures = figures_steady(measure, repeat=False, why_not="its group has applied the topic")

    assert len(calls) == 1
    assert figures[0].note == "reference moved > 20%, not measured again (its group has applied the topic)"


def test_with_one_attempt_allowed_a_moving_reference_is_noted_not_measured_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(figure_module, "ATTEMPTS", 1)
    calls: list[int] = []

    def measure() -> list[Figure]:
        calls.append(1)
        return [_figure(1000, 2000)]

    figures = figures_steady(measure)

    assert len(calls) == 1
    assert figures[0].note == "reference moved > 20%, not measured again (BENCH_ATTEMPTS=1)"
