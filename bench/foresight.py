"""Benchmark foresight: fit and score times at 100,000 and 1,000,000 clients, beside a naive baseline, and the
calibration table (predicted against actual purchases per decile on a holdout).

    .venv/bin/python bench/foresight.py [--clients 100000,1000000] [--naive-sample 2000] [--keep]

For each size, purchases are drawn from known BG/NBD parameters (a house whose clients arrived over three years)
and measured twice:
- the model alone, in memory (numpy/scipy): the fits (purchases and spend) and scoring every client;
- end to end on PostgreSQL, in a scratch database (default atelier_bench_foresight, dropped at the end unless
  --keep): the clients and their net orders are loaded with COPY (triggers off: it is a load, not a measure), then
  `predictions_refit` reads the purchase histories through the touchpoints selector, fits, fits again on the data
  before the holdout for the calibration, and writes every client's prediction set-based. The target is this
  under 2 minutes at 1M on the 2-core machine.
The naive baseline writes predictions the naive way, one `update_or_create` per client, on `--naive-sample`
clients, and is extrapolated to the size; the calibration table sets the model beside the naive predictor "as many
purchases as in the same span before" and the RFM estimate.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from bench.seed import _drop_database, _recreate_database, _setup_django  # noqa: E402

TRUE_PARAMS = {"r": 0.9, "alpha": 60.0, "a": 2.5, "b": 5.0}
HISTORY_DAYS = 3 * 365
NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


def _draw(clients: int, seed: int, holdout_days: int):
    import numpy as np

    from insight.foresight import btyd

    rng = np.random.default_rng(seed)
    ages = rng.integers(holdout_days + 30, HISTORY_DAYS, clients).astype(float)
    params = btyd.BetaGeoParams(**TRUE_PARAMS)
    # Histories up to the holdout, and the purchases in it.
    drawn = btyd.simulate_bgnbd(params, clients, ages - holdout_days, seed=seed, extra_days=holdout_days)
    drawn["ages"] = ages
    drawn["spend"] = rng.gamma(3.0, 1 / rng.gamma(4.0, 1 / 1800.0, clients) / 3.0)
    return drawn


def bench_memory(clients: int, seed: int, holdout_days: int) -> dict:
    """The model alone on numpy arrays: fit before the holdout, score, and the calibration table."""
    import numpy as np

    from insight.foresight import btyd
    from insight.foresight.scoring import Summary, calibration_deciles, score_model, score_rfm

    drawn = _draw(clients, seed, holdout_days)
    x, t_x, T = drawn["x"], np.round(drawn["t_x"]), np.round(drawn["T"])
    days = x + 1
    mean_spend = np.maximum(drawn["spend"], 1.0)
    started = time.perf_counter()
    purchase, _ = btyd.fit_bgnbd(x, t_x, T)
    spend, _ = btyd.fit_gamma_gamma(days, mean_spend)
    fitted = time.perf_counter()
    summary = Summary(x=x, t_x=t_x, T=T, purchase_days=days, mean_spend=mean_spend)
    scores = score_model(purchase, spend, summary)
    predicted = btyd.expected_purchases(purchase, holdout_days, x, t_x, T)
    scored = time.perf_counter()
    rfm = score_rfm(summary).expected_365 * holdout_days / 365
    # The naive predictor: the client buys in the holdout as often as in the same span just before it (their
    # average rate over their life, for lack of dated purchases here).
    naive = days / np.maximum(T, 1) * holdout_days
    actual = drawn["future"]
    table = calibration_deciles(predicted, actual)
    order = np.argsort(predicted, kind="stable")
    for row, part in zip(table, np.array_split(order, 10), strict=True):
        row["rfm"] = round(float(rfm[part].mean()), 4)
        row["naive"] = round(float(naive[part].mean()), 4)

    def error(values: np.ndarray) -> float:
        return round(float(np.abs(values - actual).mean()), 4)

    return {
        "clients": clients,
        "fit_seconds": round(fitted - started, 2),
        "score_seconds": round(scored - fitted, 2),
        "params": {"purchases": purchase.as_dict(), "spend": spend.as_dict(), "true": TRUE_PARAMS},
        "mean_absolute_error": {"model": error(predicted), "rfm": error(rfm), "naive": error(naive)},
        "holdout_total": {"actual": float(actual.sum()), "model": round(float(predicted.sum()), 1)},
        "high_risk_share": round(float((scores.churn_band == "high").mean()), 4),
        "calibration": table,
    }


def _load(clients: int, seed: int) -> int:
    """COPY `clients` clients and their net orders (drawn from the same parameters) into the scratch database."""
    import numpy as np
    from django.db import connection

    from insight.foresight import btyd

    rng = np.random.default_rng(seed)
    ages = rng.integers(30, HISTORY_DAYS, clients).astype(float)
    drawn = btyd.simulate_bgnbd(btyd.BetaGeoParams(**TRUE_PARAMS), clients, ages, seed=seed)
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")  # a load: no history or FK triggers
        cursor.execute("TRUNCATE touchpoints_order, customers_customer CASCADE")
        cursor.execute(
            """
            INSERT INTO customers_customer (id, created_at, updated_at, public_id, first_name, last_name, email, phone,
                language, city, country, value_tier, preferences, advisor_notes, consent, lifetime_value,
                order_count, average_order_value, is_anonymized)
            SELECT i, now(), now(), gen_random_uuid(), 'Client', 'No ' || i, 'bench' || i || '@example.com', '', '',
                   '', '', 'prospect', '{}', '', '{}', 0, 0, 0, false
            FROM generate_series(1, %s) AS i
            """,
            [clients],
        )
        count = 0
        columns = ("created_at, updated_at, source, external_id, customer_id, channel, placed_at, status, currency, "
                   "total, total_house")
        with cursor.connection.cursor() as raw, raw.copy(f"COPY touchpoints_order ({columns}) FROM STDIN") as copy:
            for index in range(clients):
                repeats = int(drawn["x"][index])
                first = NOW - dt.timedelta(days=float(ages[index]))
                offsets = [0.0]
                if repeats:
                    offsets += sorted(rng.uniform(0, drawn["t_x"][index], repeats - 1).tolist())
                    offsets.append(float(drawn["t_x"][index]))
                for number, offset in enumerate(offsets):
                    amount = f"{rng.integers(200, 5000)}.00"
                    copy.write_row((NOW, NOW, "pos", f"B{index}-{number}", index + 1, "boutique",
                                    first + dt.timedelta(days=offset), "fulfilled", "EUR", amount, amount))
                    count += 1
        cursor.execute("SET session_replication_role = origin")
        cursor.execute("ANALYZE touchpoints_order")
        cursor.execute("ANALYZE customers_customer")
    return count


def _naive_writes(sample: int) -> float:
    """Seconds per client to write predictions one update_or_create at a time (the baseline), on `sample` clients."""
    from django.db import transaction

    from insight.models import ClientPrediction, Method, ModelRun

    run = ModelRun.objects.create(observed_until=NOW, method=Method.RFM)
    started = time.perf_counter()
    with transaction.atomic():
        for customer_id in range(1, sample + 1):
            ClientPrediction.objects.update_or_create(
                customer_id=customer_id,
                defaults={"run": run, "method": Method.RFM, "scored_at": NOW, "probability_alive": 0.5,
                          "expected_purchases_90": 0.1, "expected_purchases_365": 0.4, "predicted_value_12m": 100,
                          "churn_band": "low", "purchase_days": 1, "first_purchase_on": NOW.date(),
                          "last_purchase_on": NOW.date()},
            )
    return (time.perf_counter() - started) / sample


def bench_database(clients: int, seed: int, naive_sample: int) -> dict:
    from django.db import connection

    from insight.models import ClientPrediction, ModelRun
    from insight.services.predictions import predictions_refit
    from touchpoints.selectors import purchase_histories

    started = time.perf_counter()
    orders = _load(clients, seed)
    loaded = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE insight_clientprediction, insight_modelrun")
    per_client_naive = _naive_writes(min(naive_sample, clients))
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE insight_clientprediction, insight_modelrun")
    read_started = time.perf_counter()
    purchase_histories(until=NOW)
    read_seconds = time.perf_counter() - read_started
    refit_started = time.perf_counter()
    run = predictions_refit(now=NOW)
    total = time.perf_counter() - refit_started
    run = ModelRun.objects.get(pk=run.pk)
    return {
        "clients": clients,
        "orders": orders,
        "load_seconds": round(loaded - started, 1),
        "histories_read_seconds": round(read_seconds, 2),
        "refit_and_score_seconds": round(total, 2),
        "fit_seconds_in_run": run.fit_seconds,
        "scored_clients": run.scored_clients,
        "predictions": ClientPrediction.objects.count(),
        "method": run.method,
        "naive_write_seconds_per_client": round(per_client_naive, 6),
        "naive_writes_extrapolated_seconds": round(per_client_naive * clients, 1),
        "calibration": run.calibration,
    }


def bench_alerts(boutiques: int, days: int, seed: int) -> dict:
    """One day's alert evaluation: every watched figure of `boutiques` boutiques and of the house, `days` of daily
    history each (weekly and yearly seasonality, noise), through the detector the daily task runs."""
    import numpy as np

    from insight.foresight import alerts
    from insight.selectors_alerts import FIGURES
    from insight.services.alerts import HISTORY_DAYS

    rng = np.random.default_rng(seed)
    t = np.arange(days)
    series = []
    for _ in range(boutiques + 1):
        for name in FIGURES:
            level = rng.uniform(20, 200)
            values = level * (1 + 0.2 * np.sin(2 * np.pi * t / 7) + 0.25 * np.sin(2 * np.pi * t / 365))
            series.append((name, np.maximum(values + rng.normal(0, level * 0.08, days), 0)))
    started = time.perf_counter()
    import statsmodels.tsa.seasonal  # noqa: F401  (its import is timed apart: a worker pays it once)

    imported = time.perf_counter()
    fired = 0
    for name, values in series:
        figure = FIGURES[name]
        fired += len(alerts.evaluate(values[-HISTORY_DAYS:], directions=figure.directions, floor=figure.floor))
    done = time.perf_counter()
    return {"boutiques": boutiques, "history_days": days, "series": len(series), "alerts": fired,
            "statsmodels_import_seconds": round(imported - started, 2), "evaluate_seconds": round(done - imported, 2)}


def _print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    print(" | ".join(f"{column:>9}" for column in columns))
    for row in rows:
        print(" | ".join(f"{row.get(column, ''):>9}" for column in columns))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="100000,1000000", help="Comma-separated sizes.")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--naive-sample", type=int, default=2000)
    parser.add_argument("--database", default="atelier_bench_foresight")
    parser.add_argument("--memory-only", action="store_true", help="Skip the PostgreSQL runs.")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--alert-boutiques", type=int, default=50)
    arguments = parser.parse_args()
    sizes = [int(size) for size in arguments.clients.split(",")]

    _setup_django(None if arguments.memory_only else arguments.database)
    from django.conf import settings
    from django.core.management import call_command

    holdout_days = round(settings.INSIGHT_HOLDOUT_MONTHS * 365.25 / 12)
    print(f"uptime: {os.getloadavg()}  cores: {os.cpu_count()}")
    alert_figures = bench_alerts(arguments.alert_boutiques, HISTORY_DAYS, arguments.seed)
    print("BENCH-RESULT " + json.dumps({"part": "alerts", **alert_figures}))
    results = []
    for size in sizes:
        memory = bench_memory(size, arguments.seed, holdout_days)
        print("BENCH-RESULT " + json.dumps({"part": "memory", **{k: v for k, v in memory.items()
                                                                 if k != "calibration"}}))
        _print_table(f"Calibration at {size:,} clients (in memory; mean purchases per client in the "
                     f"{holdout_days}-day holdout)", memory["calibration"],
                     ["decile", "clients", "predicted", "actual", "rfm", "naive"])
        results.append(memory)
    if not arguments.memory_only:
        _recreate_database(arguments.database)
        call_command("migrate", verbosity=0)
        try:
            for size in sizes:
                database = bench_database(size, arguments.seed, arguments.naive_sample)
                print("BENCH-RESULT " + json.dumps({"part": "database", **{k: v for k, v in database.items()
                                                                           if k != "calibration"}}))
                _print_table(f"Calibration at {size:,} clients (PostgreSQL run)", database["calibration"],
                             ["decile", "clients", "predicted", "actual"])
                print(f"load average after: {os.getloadavg()}")
        finally:
            if not arguments.keep:
                _drop_database(arguments.database)


if __name__ == "__main__":
    main()
