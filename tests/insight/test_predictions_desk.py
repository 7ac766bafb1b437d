"""Foresight where staff work: the client page's card in words, the list's churn column and filter, and the clients
at risk on the advisor's day with the next step."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from customers.models import Advisor, Customer
from customers.services import consent_record
from insight.models import ClientPrediction
from insight.services.predictions import predictions_refit
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, make_staff
from tests.insight.predictions_data import NOW, house_with_purchases, order

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris")


@pytest.fixture
def advisor(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille")


def regular(advisor, *, every: int, since: int, purchases: int, email: str, **fields) -> Customer:
    """A client of `advisor` who bought `purchases` times, every `every` days, the last one `since` days ago."""
    client = Customer.objects.create(email=email, first_name="Ines", last_name="Roux",
                                     home_boutique=advisor.advisor.boutique, advisor=advisor.advisor, **fields)
    for number in range(purchases):
        order(client, days_ago=since + every * number, number=number)
    return client


def card(response) -> str:
    html = response.content.decode()
    section = html[html.index('id="foresight"'):]
    return re.sub(r"\s+", " ", section[: section.index("</section>")])


@time_machine.travel(NOW, tick=False)
def test_the_client_page_says_the_prediction_in_an_advisor_s_words(advisor, paris):
    house_with_purchases(clients=400, boutique=paris)
    ines = regular(advisor, every=95, since=140, purchases=4, email="ines@example.com")
    predictions_refit(now=NOW)
    prediction = ClientPrediction.objects.get(customer=ines)

    response = logged_in(advisor).get(reverse("admin:customers_customer_change", args=[ines.pk]))

    text = card(response)
    assert (f"Usually buys every ~95 days; 140 days since the last purchase; "
            f"{prediction.probability_alive:.0%} likely still active.") in text
    assert "purchases expected in the next 90 days" in text
    assert "BG/NBD and Gamma-Gamma model" in text
    assert "RFM estimate" not in text


@time_machine.travel(NOW, tick=False)
@override_settings(INSIGHT_MIN_REPEAT_BUYERS=10_000)
def test_the_card_says_when_an_rfm_estimate_stands_in_for_the_model_and_what_is_missing(advisor, paris):
    ines = regular(advisor, every=95, since=140, purchases=4, email="ines@example.com")
    predictions_refit(now=NOW)

    text = card(logged_in(advisor).get(reverse("admin:customers_customer_change", args=[ines.pk])))

    assert "An RFM estimate from the client&#x27;s own rhythm" in text
    assert "of the 10000 needed" in text
    assert "Usually buys every ~95 days; 140 days since the last purchase" in text


@time_machine.travel(NOW, tick=False)
def test_the_client_list_shows_and_filters_by_churn_risk(advisor, paris):
    house_with_purchases(clients=300, boutique=paris)
    predictions_refit(now=NOW)
    head_office = make_staff(Advisor.Role.HEAD_OFFICE, username="anne")
    high = ClientPrediction.objects.filter(churn_band="high").count()

    response = logged_in(head_office).get(reverse("admin:customers_customer_changelist"),
                                          {"churn_risk": "high", "client_book": "all"})

    assert response.status_code == 200
    assert high > 0
    assert response.context["cl"].result_count == high
    assert {row.churn_band for row in response.context["cl"].result_list} == {"high"}
    assert "<td class=\"field-churn_risk\">High</td>" in response.content.decode()
    refused = logged_in(head_office).get(reverse("admin:customers_customer_changelist"), {"churn_risk": "soon"})
    assert (refused.status_code, refused["Location"]) == (302, reverse("admin:customers_customer_changelist") + "?e=1")


@time_machine.travel(NOW, tick=False)
def test_the_advisor_s_day_lists_their_clients_at_risk_with_the_next_step(advisor, paris):
    house_with_purchases(clients=400, boutique=paris)
    # A client who bought every 20 days, six times, and has not been back for 400 days: high risk
    gone = regular(advisor, every=20, since=400, purchases=6, email="gone@example.com")
    consent_record(customer=gone, channel="phone", purpose="marketing", is_granted=True, source="atelier",
                   occurred_at=NOW - dt.timedelta(days=500))
    # And a regular of another advisor's book, also gone: not on this advisor's day
    colleague = make_staff(Advisor.Role.ADVISOR, paris, username="louise")
    regular(colleague, every=20, since=400, purchases=6, email="other@example.com")
    predictions_refit(now=NOW)
    assert ClientPrediction.objects.get(customer=gone).churn_band == "high"

    day = logged_in(advisor).get(reverse("admin:index")).context["day"]

    assert [item.customer.pk for item in day.clients_at_risk] == [gone.pk]
    item = day.clients_at_risk[0]
    assert item.reason.startswith("usually buys every ~20 days; 400 days since the last purchase; ")
    assert item.next_step == "Call Ines with a personal invitation to the boutique"


@override_settings(INSIGHT_MIN_REPEAT_BUYERS=10_000)
def test_the_admin_shows_what_the_model_lacks_and_the_calibration_of_a_run(paris):
    house_with_purchases(clients=50, boutique=paris)
    thin = predictions_refit(now=NOW)
    superuser = make_staff(Advisor.Role.HEAD_OFFICE, username="root")
    superuser.is_superuser = True
    superuser.save(update_fields=["is_superuser"])

    page = logged_in(superuser).get(reverse("admin:insight_modelrun_change", args=[thin.pk])).content.decode()

    assert "more clients who bought twice or more" in page
    assert "of the 10000 needed" in page


def test_the_admin_shows_the_calibration_table_of_a_fitted_run(paris):
    house_with_purchases(clients=400, boutique=paris)
    run = predictions_refit(now=NOW)
    superuser = make_staff(Advisor.Role.HEAD_OFFICE, username="root")
    superuser.is_superuser = True
    superuser.save(update_fields=["is_superuser"])

    page = logged_in(superuser).get(reverse("admin:insight_modelrun_change", args=[run.pk])).content.decode()

    assert page.count("<tr><td>") == 10
    assert "Nothing: the model is used" in page
