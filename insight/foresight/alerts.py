"""Detecting when a boutique's figure turns, on one daily series at a time (numpy; statsmodels for seasonality).

For the day evaluated, the history before it (the last SEASONAL_DAYS) is decomposed with a robust weekly STL, and
the day's weekly pattern is its weekday's in the weeks before, averaged, so the day itself (perhaps the
anomaly) cannot bend its own expectation. What remains is scored robustly against its own history (median and MAD,
so past outliers do not widen the band). Then:
- a sudden move: |score| beyond SCORE_THRESHOLD, in the figure's bad direction(s); never on a day the head office
  calendar marks (a sales day, a launch, a holiday), whose spike is expected;
- a slow drift: the deseasonalised level of the last week against the level six weeks before, beyond DRIFT_SHARE of
  it and beyond what the noise allows (an open rate sliding from 42% to 31% in six weeks), which a daily score
  misses because each day moves only a little.
Nothing fires before MIN_HISTORY_DAYS of history. The cool-down and dismissals live in the service, which knows the
alerts already raised.

Yearly seasonality: statsmodels' MSTL (periods 7 and 365) was measured at 2.7 s per three-year series (18 s robust)
on this 2-core machine under load, against a budget of 30 s for 50 boutiques' figures. So the yearly part is
handled where it matters: the yearly peaks (sales, festivals, launches) are the head office calendar's; a day is
compared with the robust trend where its history ends, so a slow seasonal swing moves the expectation with it;
and a drift is
measured net of the same six weeks' change a year earlier, when the series holds a year.

statsmodels is imported inside `deseasonalise` only: it takes seconds to import, and only the alert task needs it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_HISTORY_DAYS = 56
SCORE_THRESHOLD = 4.0
DRIFT_SHARE = 0.15
DRIFT_NOISE_MULTIPLE = 4.0
# The window of the drift: the last DRIFT_WINDOW days against the DRIFT_WINDOW days DRIFT_SPAN days before.
DRIFT_WINDOW = 7
DRIFT_SPAN = 42
SEASONAL_DAYS = 16 * 7
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Finding:
    """What the detector saw on the evaluated day: the kind, the value, the expected value and range, the score."""

    kind: str  # "drop", "spike" or "drift"
    value: float
    expected: float
    low: float
    high: float
    score: float


def deseasonalise(history: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(history less its weekly pattern, the pattern expected on the next day, the trend's last level) from a robust
    weekly STL of the last SEASONAL_DAYS of `history`."""
    from statsmodels.tsa.seasonal import STL

    recent = history[-SEASONAL_DAYS:]
    # A long seasonal smoother (31 weeks at most): the weekly pattern is a habit, not something each week re-learns
    # from its own noise.
    fitted = STL(recent, period=7, seasonal=31, robust=True).fit()
    seasonal = np.asarray(fitted.seasonal, float)
    adjusted = history.astype(float).copy()
    adjusted[-recent.size:] -= seasonal
    # Each weekday's pattern averaged over the fitted weeks (one week's alone is noisy): what older days lose, and
    # what the next day is expected to carry. profile[k] is the weekday k + 1 days after the last day.
    profile = np.array([np.mean(seasonal[recent.size - 7 + k :: -7]) for k in range(7)])
    if history.size > recent.size:
        older = history.size - recent.size
        offsets = (np.arange(older) - history.size) % 7
        adjusted[:older] -= profile[offsets]
    next_day = float(profile[0])
    return adjusted, next_day, float(np.asarray(fitted.trend)[-1])


def robust_sigma(values: np.ndarray, floor: float) -> tuple[float, float]:
    """(median, robust standard deviation from the MAD), the deviation never under `floor`."""
    median = float(np.median(values))
    sigma = MAD_TO_SIGMA * float(np.median(np.abs(values - median)))
    return median, max(sigma, floor)


def evaluate(
    values: np.ndarray, *, marked: np.ndarray | None = None, directions: tuple[str, ...] = ("down", "up"),
    floor: float = 1e-9,
) -> list[Finding]:
    """What fires on the last day of `values` (a daily series, oldest first). `marked` flags calendar days (sales,
    launches, holidays): they are left out of the history's scale, and a move on a marked day is not an alert.
    `directions` are the bad ones: "down" for revenue, "up" for sync rejections. `floor` is the smallest deviation
    that counts as noise (1 for counts, so three rejections against none is not four sigmas)."""
    values = np.asarray(values, float)
    if values.size < MIN_HISTORY_DAYS or not np.isfinite(values).all():
        return []
    marked = np.zeros(values.size, bool) if marked is None else np.asarray(marked, bool)
    history_adjusted, today_seasonal, trend = deseasonalise(values[:-1])
    adjusted = np.append(history_adjusted, values[-1] - today_seasonal)
    history, history_marked = history_adjusted, marked[:-1]
    usual = history[~history_marked][-365:]
    # The level the day is compared with: the robust trend where the history ends (a median of the last weeks would
    # lag a seasonal swing by half its window).
    level = trend
    # The day-to-day noise, from the differences of consecutive days (a slow yearly swing or trend cancels out of
    # them), scaled back to one day's deviation.
    _, sigma = robust_sigma(np.diff(usual) / np.sqrt(2), max(floor, 1e-9))
    expected = level + today_seasonal
    score = (adjusted[-1] - level) / sigma
    findings = []
    if not marked[-1]:
        if score <= -SCORE_THRESHOLD and "down" in directions:
            findings.append(Finding("drop", values[-1], expected, expected - SCORE_THRESHOLD * sigma,
                                    expected + SCORE_THRESHOLD * sigma, score))
        elif score >= SCORE_THRESHOLD and "up" in directions:
            findings.append(Finding("spike", values[-1], expected, expected - SCORE_THRESHOLD * sigma,
                                    expected + SCORE_THRESHOLD * sigma, score))
    drift = _drift(adjusted, marked, sigma, directions)
    if drift is not None and not findings:
        findings.append(drift)
    return findings


def _window_levels(adjusted: np.ndarray, marked: np.ndarray, end: int) -> tuple[float, float] | None:
    """The means of the DRIFT_WINDOW days ending at `end` and of those DRIFT_SPAN days before, calendar days out.
    Means of whole weeks, not medians: what is left of the weekly pattern (stronger in a busy season than the fitted
    profile says) cancels out over a week in a mean, not in a median."""
    now_days = slice(end - DRIFT_WINDOW, end)
    before_days = slice(end - DRIFT_SPAN - DRIFT_WINDOW, end - DRIFT_SPAN)
    now_values = adjusted[now_days][~marked[now_days]]
    before_values = adjusted[before_days][~marked[before_days]]
    if now_values.size < 3 or before_values.size < 3:
        return None
    return float(np.mean(now_values)), float(np.mean(before_values))


def _drift(adjusted: np.ndarray, marked: np.ndarray, sigma: float, directions: tuple[str, ...]) -> Finding | None:
    if adjusted.size < DRIFT_SPAN + DRIFT_WINDOW + MIN_HISTORY_DAYS // 2:
        return None
    levels = _window_levels(adjusted, marked, adjusted.size)
    if levels is None:
        return None
    now_level, before_level = levels
    if before_level == 0:
        return None
    change = now_level - before_level
    windows = 2
    # Yearly seasonality: with a year of history, the same six weeks a year ago tell how much of the change is
    # the season's (a summer lull every year is not a drift).
    if adjusted.size >= 365 + DRIFT_SPAN + DRIFT_WINDOW:
        last_year = _window_levels(adjusted, marked, adjusted.size - 365)
        if last_year is not None and last_year[1] != 0:
            change -= (last_year[0] - last_year[1]) / abs(last_year[1]) * abs(before_level)
            windows = 4
    if abs(change) < DRIFT_SHARE * abs(before_level):
        return None
    # A change of week means is noisy as sigma * sqrt(windows / window): two weeks' means, four once netted.
    if abs(change) < DRIFT_NOISE_MULTIPLE * sigma * np.sqrt(windows / DRIFT_WINDOW):
        return None
    if (change < 0 and "down" not in directions) or (change > 0 and "up" not in directions):
        return None
    band = DRIFT_SHARE * abs(before_level)
    expected = now_level - change
    return Finding("drift", now_level, expected, expected - band, expected + band, change / max(sigma, 1e-9))
