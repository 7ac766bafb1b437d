"""Foresight's writes: the weekly refit (with its holdout calibration) and the daily scoring of every client.

The fit runs outside any transaction (tens of seconds on a million clients); its run row and the scores are each
written in one short transaction. Scores are staged with COPY and written by one INSERT ... ON CONFLICT, then the
rows of clients no longer scored (erased, or without a net purchase any more) are deleted: a handful of statements
whatever the number of clients, never one per client.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from customers.models import Customer
from insight.foresight import btyd
from insight.foresight.scoring import Scores, Summary, calibration_deciles, score_model, score_rfm
from insight.models import ClientPrediction, Method, ModelRun
from touchpoints.selectors import PurchaseHistories, purchase_histories

logger = logging.getLogger(__name__)

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _day_number(moment: dt.datetime) -> int:
    return (moment - EPOCH).days


def _day_start(day: int) -> dt.datetime:
    return EPOCH + dt.timedelta(days=day)


def _summary(histories: PurchaseHistories, *, today: int) -> Summary:
    return Summary.of(first_days=histories.first_days, last_days=histories.last_days,
                      purchase_days=histories.purchase_days, spend=histories.spend, today=today)


def predictions_eligibility(*, histories: PurchaseHistories, today: int) -> dict[str, Any]:
    """Whether the house's purchases are enough for the model, and what is missing when they are not."""
    repeat_buyers = sum(1 for days in histories.purchase_days if days > 1)
    history_days = today - min(histories.first_days) if len(histories) else 0
    required_buyers, required_days = settings.INSIGHT_MIN_REPEAT_BUYERS, settings.INSIGHT_MIN_HISTORY_DAYS
    missing = []
    if repeat_buyers < required_buyers:
        missing.append(f"{required_buyers - repeat_buyers} more clients who bought twice or more "
                       f"({repeat_buyers} of the {required_buyers} needed)")
    if history_days < required_days:
        missing.append(f"{required_days - history_days} more days of purchase history "
                       f"({history_days} of the {required_days} needed)")
    return {
        "repeat_buyers": repeat_buyers, "required_repeat_buyers": required_buyers,
        "history_days": int(history_days), "required_history_days": required_days, "missing": missing,
    }


def _fit(summary: Summary) -> tuple[btyd.BetaGeoParams, btyd.GammaGammaParams, dict[str, Any]]:
    purchase, purchase_diagnostics = btyd.fit_bgnbd(summary.x, summary.t_x, summary.T)
    spend, spend_diagnostics = btyd.fit_gamma_gamma(summary.purchase_days, summary.mean_spend)
    return purchase, spend, {"purchases": purchase_diagnostics.as_dict(), "spend": spend_diagnostics.as_dict()}


def _calibration(*, full: PurchaseHistories, today: int, holdout_days: int) -> tuple[list[dict], str]:
    """Fit on purchases before the holdout; per decile of what that fit predicted for the holdout, what was bought."""
    cutoff = today - holdout_days
    before = purchase_histories(until=_day_start(cutoff))
    if not len(before):
        return [], "no purchase before the holdout"
    summary = _summary(before, today=cutoff)
    try:
        purchase, _spend, _diagnostics = _fit(summary)
    except btyd.FitError as error:
        return [], f"the fit before the holdout failed: {error}"
    predicted = btyd.expected_purchases(purchase, holdout_days, summary.x, summary.t_x, summary.T)
    full_ids = np.asarray(full.customer_ids)
    positions = np.searchsorted(full_ids, np.asarray(before.customer_ids))
    actual = np.asarray(full.purchase_days, float)[positions] - summary.purchase_days
    return calibration_deciles(predicted, actual), ""


def predictions_refit(*, now: dt.datetime | None = None, score: bool = True) -> ModelRun:
    """Fit the model on every client's net purchases up to `now` and keep the run (parameters, diagnostics,
    calibration on the last INSIGHT_HOLDOUT_MONTHS, eligibility); then score every client with it.

    Where the data are too thin, or the fit does not converge, the run is an RFM fallback that says what was missing.
    """
    now = now or timezone.now()
    started = time.monotonic()
    today = _day_number(now)
    histories = purchase_histories(until=now)
    eligibility = predictions_eligibility(histories=histories, today=today)
    holdout_days = round(settings.INSIGHT_HOLDOUT_MONTHS * 365.25 / 12)
    run = ModelRun(observed_until=now, method=Method.RFM, eligibility=eligibility, clients=len(histories),
                   holdout_months=settings.INSIGHT_HOLDOUT_MONTHS)
    if not eligibility["missing"]:
        summary = _summary(histories, today=today)
        try:
            purchase, spend, diagnostics = _fit(summary)
        except btyd.FitError as error:
            eligibility["missing"].append(f"a model that converges ({error})")
        else:
            calibration, calibration_note = _calibration(full=histories, today=today, holdout_days=holdout_days)
            diagnostics["calibration_note"] = calibration_note
            run.method, run.is_eligible = Method.MODEL, True
            run.purchase_params, run.spend_params = purchase.as_dict(), spend.as_dict()
            run.diagnostics, run.calibration = diagnostics, calibration
    run.fit_seconds = round(time.monotonic() - started, 3)
    run.save()
    logger.info("insight.predictions_refit run_id=%s method=%s clients=%s seconds=%s",
                run.pk, run.method, run.clients, run.fit_seconds)
    if score:
        predictions_score(run=run, now=now, histories=histories)
    return run


def _scores(run: ModelRun, summary: Summary) -> Scores:
    if run.method == Method.MODEL:
        return score_model(btyd.BetaGeoParams(**run.purchase_params), btyd.GammaGammaParams(**run.spend_params),
                           summary)
    return score_rfm(summary)


STAGE_COLUMNS = {
    "customer_id": "bigint", "probability_alive": "float8", "expected_purchases_90": "float8",
    "expected_purchases_365": "float8", "predicted_value_12m": "numeric", "value_low": "numeric",
    "value_high": "numeric", "churn_band": "text", "purchase_days": "integer", "typical_gap_days": "float8",
    "first_purchase_on": "integer", "last_purchase_on": "integer",
}


def _money(values: np.ndarray | None, count: int) -> list:
    if values is None:
        return [None] * count
    return [round(value, 2) for value in np.nan_to_num(values, nan=0.0, posinf=0.0).tolist()]


def _rows(histories: PurchaseHistories, summary: Summary, scores: Scores) -> Any:
    count = len(histories)
    gaps = [None if np.isnan(gap) else round(gap, 2) for gap in summary.typical_gap.tolist()]
    return zip(
        histories.customer_ids, np.clip(scores.probability_alive, 0, 1).tolist(), scores.expected_90.tolist(),
        scores.expected_365.tolist(), _money(scores.value_12m, count), _money(scores.value_low, count),
        _money(scores.value_high, count), scores.churn_band.tolist(), histories.purchase_days, gaps,
        histories.first_days, histories.last_days, strict=True,
    )


@transaction.atomic
def _write(*, run: ModelRun, scored_at: dt.datetime, rows: Any) -> int:
    stage = "insight_prediction_stage"
    table = ClientPrediction._meta.db_table
    customers = Customer._meta.db_table
    definition = ", ".join(f"{column} {kind}" for column, kind in STAGE_COLUMNS.items())
    columns = ", ".join(STAGE_COLUMNS)
    values = [column for column in STAGE_COLUMNS if column != "customer_id"]
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ({definition}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {stage}")
        with cursor.connection.cursor() as raw, raw.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        # Erased clients are not scored: a prediction is a profile of the person (and erasure removed theirs).
        selected = ", ".join(
            f"DATE '1970-01-01' + s.{column}" if column.endswith("_on") else f"s.{column}" for column in values
        )
        updates = ", ".join(f"{column} = EXCLUDED.{column}" for column in [*values, "run_id", "method", "scored_at"])
        cursor.execute(
            f"""
            INSERT INTO {table} (customer_id, {", ".join(values)}, run_id, method, scored_at)
            SELECT s.customer_id, {selected}, %s, %s, %s
            FROM {stage} AS s JOIN {customers} AS c ON c.id = s.customer_id
            WHERE NOT c.is_anonymized
            ON CONFLICT (customer_id) DO UPDATE SET {updates}
            """,
            [run.pk, run.method, scored_at],
        )
        written = cursor.rowcount
        cursor.execute(f"DELETE FROM {table} WHERE scored_at <> %s", [scored_at])
    run.scored_at, run.scored_clients = scored_at, written
    run.save(update_fields=["scored_at", "scored_clients"])
    return written


def predictions_score(
    *, run: ModelRun | None = None, now: dt.datetime | None = None, histories: PurchaseHistories | None = None
) -> int:
    """Score every client with net purchases with `run` (the latest fit by default) as of `now`; answer how many
    predictions were written. Clients with no net purchase any more, and erased clients, lose theirs."""
    now = now or timezone.now()
    run = run or ModelRun.objects.order_by("-created_at", "-pk").first()
    if run is None:
        run = predictions_refit(now=now, score=False)
    histories = histories if histories is not None else purchase_histories(until=now)
    summary = _summary(histories, today=_day_number(now))
    scores = _scores(run, summary) if len(histories) else None
    rows = _rows(histories, summary, scores) if scores is not None else []
    written = _write(run=run, scored_at=now, rows=rows)
    logger.info("insight.predictions_scored run_id=%s method=%s clients=%s", run.pk, run.method, written)
    return written


def predictions_personal_data_erase(*, customer: Customer) -> dict[str, int]:
    """Erasure's step for foresight: the client's prediction is removed (a profile of the person, not a figure the
    house needs once they are anonymous); later scorings skip erased clients."""
    deleted, _ = ClientPrediction.objects.filter(customer=customer).delete()
    return {"predictions": deleted}
