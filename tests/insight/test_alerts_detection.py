"""The alert detector (insight.foresight.alerts) on synthetic daily series with weekly and yearly seasonality."""

import numpy as np
import pytest

from insight.foresight import alerts

DAYS = 3 * 365


def revenue(seed: int = 0, days: int = DAYS) -> np.ndarray:
    """A boutique's daily revenue: a weekly pattern, a yearly swing of ±30%, and noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return 100 + 20 * np.sin(2 * np.pi * t / 7) + 30 * np.sin(2 * np.pi * t / 365) + rng.normal(0, 5, days)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_ordinary_day_raises_nothing_whatever_the_season(seed):
    assert alerts.evaluate(revenue(seed)) == []


def test_an_injected_drop_is_an_alert_with_the_expected_range_and_the_value():
    series = revenue()
    series[-1] *= 0.3

    (finding,) = alerts.evaluate(series)

    assert finding.kind == "drop"
    assert finding.value == pytest.approx(series[-1])
    assert finding.low < finding.expected < finding.high
    assert finding.value < finding.low
    assert finding.score <= -alerts.SCORE_THRESHOLD


def test_a_spike_on_a_known_sales_day_raises_no_alert_but_the_same_spike_unannounced_does():
    series = revenue()
    series[-1] *= 2.5
    sales_day = np.zeros(DAYS, bool)
    sales_day[-1] = True

    assert alerts.evaluate(series, marked=sales_day) == []
    assert [finding.kind for finding in alerts.evaluate(series)] == ["spike"]


def test_an_open_rate_sliding_from_42_to_31_percent_over_six_weeks_is_a_drift():
    rng = np.random.default_rng(4)
    rate = 0.42 + rng.normal(0, 0.02, 400)
    rate[-42:] = np.linspace(0.42, 0.31, 42) + rng.normal(0, 0.02, 42)

    findings = alerts.evaluate(rate, directions=("down",), floor=0.001)

    assert [finding.kind for finding in findings] == ["drift"]
    assert findings[0].value == pytest.approx(0.31, abs=0.02)
    assert findings[0].expected == pytest.approx(0.42, abs=0.02)
    # No single day was far enough from the last to score as a drop
    assert alerts.evaluate(rate[:-41], directions=("down",), floor=0.001) == []


def test_a_broken_sync_s_rejections_are_an_alert_and_a_few_usual_ones_are_not():
    rejections = np.random.default_rng(5).poisson(0.3, 300).astype(float)
    assert alerts.evaluate(rejections, directions=("up",), floor=1.0) == []

    rejections[-1] = 40

    assert [finding.kind for finding in alerts.evaluate(rejections, directions=("up",), floor=1.0)] == ["spike"]


def test_a_rise_in_a_figure_whose_bad_direction_is_down_only_is_not_an_alert():
    series = revenue()
    series[-1] *= 2.5

    assert alerts.evaluate(series, directions=("down",)) == []


def test_nothing_fires_before_the_minimum_history():
    series = revenue(days=alerts.MIN_HISTORY_DAYS - 1)
    series[-1] = 0

    assert alerts.evaluate(series) == []
