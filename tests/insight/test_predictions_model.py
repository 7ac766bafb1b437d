"""The BG/NBD and Gamma-Gamma fits (insight.foresight.btyd) on purchases drawn from known parameters."""

import numpy as np
import pytest

from insight.foresight import btyd

TRUE_BGNBD = btyd.BetaGeoParams(r=0.8, alpha=80.0, a=2.7, b=6.0)
TRUE_GAMMA_GAMMA = btyd.GammaGammaParams(p=3.0, q=4.0, gamma=600.0)
CLIENTS = 50_000


def _histories(seed: int = 2) -> dict[str, np.ndarray]:
    ages = np.random.default_rng(seed).uniform(180, 1000, CLIENTS).round()
    data = btyd.simulate_bgnbd(TRUE_BGNBD, CLIENTS, ages, seed=seed, extra_days=90)
    data["t_x"] = np.round(data["t_x"])
    return data


def test_bgnbd_fit_recovers_the_parameters_purchases_were_drawn_from():
    data = _histories()

    params, diagnostics = btyd.fit_bgnbd(data["x"], data["t_x"], data["T"])

    # Stated tolerance: 10% on the purchase-rate parameters, 25% on the dropout ones (a and b trade off against
    # each other, so each alone is less sharply identified), at 50,000 clients.
    assert params.r == pytest.approx(TRUE_BGNBD.r, rel=0.10)
    assert params.alpha == pytest.approx(TRUE_BGNBD.alpha, rel=0.10)
    assert params.a == pytest.approx(TRUE_BGNBD.a, rel=0.25)
    assert params.b == pytest.approx(TRUE_BGNBD.b, rel=0.25)
    assert diagnostics.converged is True
    assert diagnostics.clients == CLIENTS
    assert len(diagnostics.log_param_std_errors) == 4


def test_expected_purchases_in_a_holdout_match_what_the_clients_then_bought():
    data = _histories(seed=5)
    params, _ = btyd.fit_bgnbd(data["x"], data["t_x"], data["T"])

    expected = btyd.expected_purchases(params, 90, data["x"], data["t_x"], data["T"])

    # Within 5% in total over the 90 days after the fit's window.
    assert expected.sum() == pytest.approx(data["future"].sum(), rel=0.05)
    # And by decile of prediction, the most likely buyers bought the most.
    order = np.argsort(expected)
    deciles = [data["future"][part].mean() for part in np.array_split(order, 10)]
    assert deciles[-1] > 3 * deciles[0]


def test_probability_alive_is_one_for_a_single_purchase_and_falls_with_time_since_the_last():
    params = TRUE_BGNBD
    x = np.array([0.0, 4.0, 4.0])
    t_x = np.array([0.0, 300.0, 100.0])
    T = np.array([400.0, 400.0, 400.0])

    alive = btyd.probability_alive(params, x, t_x, T)

    assert alive[0] == 1.0
    assert 0 < alive[2] < alive[1] < 1


def test_gamma_gamma_fit_recovers_spend_parameters():
    rng = np.random.default_rng(7)
    frequency = rng.integers(1, 8, CLIENTS).astype(float)
    scale = rng.gamma(TRUE_GAMMA_GAMMA.q, 1 / TRUE_GAMMA_GAMMA.gamma, CLIENTS)
    mean_spend = rng.gamma(TRUE_GAMMA_GAMMA.p * frequency, 1 / (scale * frequency))

    params, diagnostics = btyd.fit_gamma_gamma(frequency, mean_spend)

    # Stated tolerance: 10% on each of p, q and gamma at 50,000 clients.
    assert params.p == pytest.approx(TRUE_GAMMA_GAMMA.p, rel=0.10)
    assert params.q == pytest.approx(TRUE_GAMMA_GAMMA.q, rel=0.10)
    assert params.gamma == pytest.approx(TRUE_GAMMA_GAMMA.gamma, rel=0.10)
    assert diagnostics.converged is True


def test_value_interval_holds_the_point_estimate_and_is_zero_below_for_a_likely_gone_client():
    x, T = np.array([5.0, 5.0]), np.array([500.0, 500.0])
    alive = np.array([0.95, 0.05])
    spend = np.array([1000.0, 1000.0])
    point = btyd.expected_purchases(TRUE_BGNBD, 365, x, np.array([490.0, 60.0]), T) * spend

    low, high = btyd.value_interval(TRUE_BGNBD, 365, x, T, alive, spend)

    assert low[0] <= point[0] <= high[0]
    assert low[1] == 0.0
    assert high[1] == 0.0


def test_a_fit_without_repeat_buyers_is_refused():
    x = np.zeros(500)
    T = np.full(500, 300.0)

    with pytest.raises(btyd.FitError):
        btyd.fit_bgnbd(x, x, T)
