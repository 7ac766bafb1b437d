"""Foresight's refit and daily scoring on PostgreSQL: eligibility, the RFM fallback, set-based writes, net orders."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from insight.models import ClientPrediction, Method, ModelRun
from insight.services.predictions import predictions_refit, predictions_score
from tests.insight.predictions_data import NOW, house_with_purchases, order
from touchpoints.models import Order
from touchpoints.selectors import purchase_histories

pytestmark = pytest.mark.django_db


def test_purchase_histories_count_net_purchase_days_only():
    # Given a client with two orders on one day, a cancelled one, one returned in full and one netted to zero
    client = Customer.objects.create(email="net@example.com")
    order(client, days_ago=100, total="300.00", number=1)
    order(client, days_ago=100, total="200.00", number=2)
    order(client, days_ago=60, total="900.00", status=Order.Status.CANCELLED, number=3)
    order(client, days_ago=50, total="900.00", status=Order.Status.RETURNED, number=4)
    order(client, days_ago=40, total="0.00", number=5)
    order(client, days_ago=10, total="1000.00", number=6)

    # When the histories are read
    histories = purchase_histories(until=NOW)

    # Then the client bought on two days, for 1,500 in all
    assert histories.customer_ids == [client.pk]
    assert histories.purchase_days == [2]
    assert histories.spend == [1500.0]
    assert histories.last_days[0] - histories.first_days[0] == 90
    # And orders after `until` are not seen
    assert len(purchase_histories(until=NOW - dt.timedelta(days=101))) == 0


def test_a_thin_house_gets_the_rfm_estimate_and_the_run_says_what_is_missing():
    # Given 30 clients over 120 days: fewer repeat buyers and a shorter history than the model needs
    house_with_purchases(clients=30, days_of_history=120)

    # When the model is refitted
    run = predictions_refit(now=NOW)

    # Then the run is the RFM fallback, with the reasons
    assert (run.method, run.is_eligible, run.purchase_params, run.calibration) == (Method.RFM, False, {}, [])
    missing = run.eligibility["missing"]
    assert len(missing) == 2
    assert missing[0].endswith(f"of the {settings.INSIGHT_MIN_REPEAT_BUYERS} needed)")
    assert "more days of purchase history" in missing[1]
    # And every client is scored with it, without an interval
    predictions = ClientPrediction.objects.filter(run=run)
    assert predictions.count() == 30
    assert set(predictions.values_list("method", flat=True)) == {"rfm"}
    assert predictions.filter(value_low__isnull=False).count() == 0
    assert run.scored_clients == 30


def test_an_eligible_house_is_fitted_with_calibration_per_decile_and_every_client_scored():
    # Given 600 clients over two years
    house_with_purchases(clients=600)

    # When the model is refitted
    run = predictions_refit(now=NOW)

    # Then the model is used, its parameters and diagnostics are kept
    assert (run.method, run.is_eligible, run.eligibility["missing"]) == (Method.MODEL, True, [])
    assert set(run.purchase_params) == {"r", "alpha", "a", "b"}
    assert set(run.spend_params) == {"p", "q", "gamma"}
    assert run.diagnostics["purchases"]["converged"] is True
    assert run.holdout_months == settings.INSIGHT_HOLDOUT_MONTHS
    # And the calibration holds ten deciles of the clients known before the holdout
    assert [decile["decile"] for decile in run.calibration] == list(range(1, 11))
    assert sum(decile["clients"] for decile in run.calibration) <= 600
    assert run.calibration[-1]["predicted"] > run.calibration[0]["predicted"]
    # And each client has a prediction with its interval around the point value
    predictions = ClientPrediction.objects.filter(run=run)
    assert predictions.count() == 600
    assert set(predictions.values_list("method", flat=True)) == {"model"}
    for prediction in predictions:
        assert 0 <= prediction.probability_alive <= 1
        assert prediction.expected_purchases_90 <= prediction.expected_purchases_365
        # (an 80% interval of a skewed count: for an unlikely buyer it is 0 to 0 while the mean is above 0)
        assert prediction.value_low <= prediction.predicted_value_12m
        assert prediction.value_low <= prediction.value_high
        assert prediction.churn_band in {"low", "medium", "high"}


def test_scoring_writes_in_the_same_handful_of_statements_for_50_or_400_clients():
    house_with_purchases(clients=50, seed=1)
    run = predictions_refit(now=NOW, score=False)

    with CaptureQueriesContext(connection) as few:
        assert predictions_score(run=run, now=NOW) == 50
    house_with_purchases(clients=350, seed=2)
    with CaptureQueriesContext(connection) as many:
        assert predictions_score(run=run, now=NOW + dt.timedelta(days=1)) == 400

    assert len(few) == len(many)
    assert not any("INSERT" in query["sql"] and "VALUES" in query["sql"] for query in many.captured_queries)


def test_rescoring_drops_erased_clients_and_clients_left_without_a_net_purchase():
    clients = house_with_purchases(clients=20, seed=4)
    run = predictions_refit(now=NOW)
    erased, refunded = clients[0], clients[1]
    Customer.objects.filter(pk=erased.pk).update(is_anonymized=True)
    Order.objects.filter(customer=refunded).update(status=Order.Status.RETURNED)

    written = predictions_score(run=run, now=NOW + dt.timedelta(days=1))

    assert written == 18
    assert set(ClientPrediction.objects.values_list("customer_id", flat=True)) == {c.pk for c in clients[2:]}
    assert ClientPrediction.objects.filter(scored_at=NOW + dt.timedelta(days=1)).count() == 18


def test_daily_scoring_uses_the_latest_run_and_two_runs_can_be_compared():
    house_with_purchases(clients=400, seed=6)
    first = predictions_refit(now=NOW - dt.timedelta(days=7))
    second = predictions_refit(now=NOW, score=False)

    predictions_score(now=NOW + dt.timedelta(days=1))

    assert set(ClientPrediction.objects.values_list("run_id", flat=True)) == {second.pk}
    assert list(ModelRun.objects.values_list("pk", flat=True)) == [second.pk, first.pk]
    assert first.purchase_params != second.purchase_params


def test_the_beat_schedule_refits_weekly_and_scores_daily():
    schedule = settings.CELERY_BEAT_SCHEDULE
    assert schedule["foresight-refit-weekly"] == {
        "task": "insight.tasks_predictions.predictions_refit_task", "schedule": 7 * 24 * 60 * 60,
    }
    assert schedule["foresight-score-daily"] == {
        "task": "insight.tasks_predictions.predictions_score_task", "schedule": 24 * 60 * 60,
    }
    assert schedule["alerts-evaluate-daily"] == {
        "task": "insight.tasks_predictions.alerts_evaluate_task", "schedule": 24 * 60 * 60,
    }
