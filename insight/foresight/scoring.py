"""From purchase histories to each client's figures, on numpy arrays: the model's, or the RFM estimate's.

No database here: insight.services.predictions reads the histories, calls these, and writes the rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insight.foresight import btyd

# P(alive) below which a repeat buyer's churn risk is high, and below which it is medium.
HIGH_RISK_BELOW = 0.4
MEDIUM_RISK_BELOW = 0.7
# A one-time buyer (P(alive) is 1 for them under BG/NBD) is at high risk past this many times the house's usual gap
# between purchases, at medium risk past it once.
SINGLE_PURCHASE_HIGH_GAPS = 2.0
# The house's usual gap when no client bought twice (the RFM fallback on a very young house).
DEFAULT_GAP_DAYS = 180.0
# The share of the interval the model gives (10th to 90th percentile).
INTERVAL_LEVEL = 0.8
BANDS = np.array(["low", "medium", "high"])


@dataclass
class Summary:
    """Clients' (x, t_x, T) in days at `today`, with their purchase days and mean spend per purchase day."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    purchase_days: np.ndarray
    mean_spend: np.ndarray

    @classmethod
    def of(cls, *, first_days, last_days, purchase_days, spend, today: int) -> Summary:
        first, last = np.asarray(first_days, float), np.asarray(last_days, float)
        days = np.asarray(purchase_days, float)
        return cls(
            x=days - 1, t_x=last - first, T=np.maximum(today - first, 0.0), purchase_days=days,
            mean_spend=np.asarray(spend, float) / np.maximum(days, 1),
        )

    def __len__(self) -> int:
        return len(self.x)

    @property
    def typical_gap(self) -> np.ndarray:
        """Each client's mean days between purchase days (NaN for a single purchase)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.x > 0, self.t_x / np.maximum(self.x, 1), np.nan)

    @property
    def house_gap(self) -> float:
        """The median of clients' typical gaps: what "usually" means for a client who bought once."""
        gaps = self.typical_gap[self.x > 0]
        return float(np.median(gaps)) if gaps.size else DEFAULT_GAP_DAYS


@dataclass
class Scores:
    probability_alive: np.ndarray
    expected_90: np.ndarray
    expected_365: np.ndarray
    value_12m: np.ndarray
    value_low: np.ndarray | None
    value_high: np.ndarray | None
    churn_band: np.ndarray


def churn_bands(probability_alive: np.ndarray, summary: Summary) -> np.ndarray:
    """low / medium / high: from P(alive) for repeat buyers, from time since the purchase for one-time buyers."""
    gap = summary.house_gap
    since = summary.T - summary.t_x
    alive = probability_alive
    repeat_level = np.where(alive < HIGH_RISK_BELOW, 2, np.where(alive < MEDIUM_RISK_BELOW, 1, 0))
    single_level = np.where(since > SINGLE_PURCHASE_HIGH_GAPS * gap, 2, np.where(since > gap, 1, 0))
    return BANDS[np.where(summary.x > 0, repeat_level, single_level)]


def score_model(purchase: btyd.BetaGeoParams, spend: btyd.GammaGammaParams, summary: Summary) -> Scores:
    """The model's figures for every client in `summary`."""
    alive = btyd.probability_alive(purchase, summary.x, summary.t_x, summary.T)
    expected_90 = btyd.expected_purchases(purchase, 90, summary.x, summary.t_x, summary.T)
    expected_365 = btyd.expected_purchases(purchase, 365, summary.x, summary.t_x, summary.T)
    per_purchase = btyd.expected_spend(spend, summary.purchase_days, summary.mean_spend)
    low, high = btyd.value_interval(purchase, 365, summary.x, summary.T, alive, per_purchase, level=INTERVAL_LEVEL)
    return Scores(
        probability_alive=alive, expected_90=expected_90, expected_365=expected_365,
        value_12m=expected_365 * per_purchase, value_low=low, value_high=high,
        churn_band=churn_bands(alive, summary),
    )


def score_rfm(summary: Summary) -> Scores:
    """An RFM estimate where the data are too thin for the model: the client's own purchase rate (or the house's usual
    gap for a one-time buyer), discounted by how long they have been silent relative to that gap. No interval."""
    gap = np.where(summary.x > 0, summary.typical_gap, summary.house_gap)
    gap = np.maximum(np.nan_to_num(gap, nan=summary.house_gap), 1.0)
    since = summary.T - summary.t_x
    # Still active: silence up to one usual gap is normal; beyond, the chance halves with each further gap.
    alive = np.clip(np.power(0.5, np.maximum(since - gap, 0.0) / gap), 0.0, 1.0)
    rate = 1.0 / gap
    expected_90, expected_365 = alive * rate * 90, alive * rate * 365
    return Scores(
        probability_alive=alive, expected_90=expected_90, expected_365=expected_365,
        value_12m=expected_365 * summary.mean_spend, value_low=None, value_high=None,
        churn_band=churn_bands(alive, summary),
    )


def calibration_deciles(predicted: np.ndarray, actual: np.ndarray) -> list[dict]:
    """Clients sorted by predicted purchases into ten equal groups: each group's mean predicted and actual count."""
    if predicted.size < 10:
        return []
    order = np.argsort(predicted, kind="stable")
    return [
        {
            "decile": number,
            "clients": int(part.size),
            "predicted": round(float(predicted[part].mean()), 4),
            "actual": round(float(actual[part].mean()), 4),
        }
        for number, part in enumerate(np.array_split(order, 10), start=1)
    ]
