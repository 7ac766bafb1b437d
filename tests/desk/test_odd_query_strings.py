"""Query strings and form fields staff can craft by hand get a 400 or "not found", never a 500: ids that are no
integers ("²" is a digit to Python, not to int()), and NUL, which PostgreSQL cannot compare."""

from __future__ import annotations

import pytest
from django.urls import reverse

from customers.models import Advisor, Customer
from tests.api.conftest import make_client
from tests.desk.helpers import logged_in, messages_of
from tests.factories import BoutiqueFactory, make_staff
from tests.journeys.helpers import make_template

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:customers_customer_changelist")
NOT_AN_ID = ["²", "١٢", "12a", "-3", "99999999999999999999999"]


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris")


@pytest.fixture
def head_office():
    return logged_in(make_staff(Advisor.Role.HEAD_OFFICE, username="head"))


@pytest.fixture
def ana(paris):
    return make_client(paris, "ana@example.com")


@pytest.mark.parametrize("ids", NOT_AN_ID)
@pytest.mark.parametrize("page", ["admin:customers_customer_privacy_export", "admin:customers_customer_privacy_erase"])
def test_a_privacy_page_for_ids_that_are_no_integers_selects_no_client(head_office, ana, page, ids):
    response = head_office.get(reverse(page), {"ids": f"{ids},{ana.pk}"})

    assert response.status_code == 200
    assert [customer.pk for customer in response.context["customers"]] == [ana.pk]


# Not "١٢": Django's forms read it as 12, which is a boutique id like any other (one that may not exist).
@pytest.mark.parametrize("boutique_id", ["²", "12a", "-3", "99999999999999999999999"])
def test_the_client_list_for_a_boutique_id_that_is_no_integer_answers(head_office, ana, boutique_id):
    response = head_office.get(CHANGELIST, {"boutique_id": boutique_id})

    # The admin's answer to a filter value it cannot use: the list again, flagged as an invalid lookup.
    assert (response.status_code, response["Location"]) == (302, f"{CHANGELIST}?e=1")


def test_a_template_preview_for_a_client_holding_nul_is_a_400(head_office):
    template = make_template("Thank you", "email")

    response = head_office.get(reverse("admin:journeys_followuptemplate_preview", args=[template.pk]),
                               {"client": "a\x00b"})

    assert response.status_code == 400


def test_an_autocomplete_term_holding_nul_is_a_400(head_office, ana):
    response = head_office.get(reverse("admin:autocomplete"), {
        "term": "an\x00a", "app_label": "customers", "model_name": "customer", "field_name": "advisor"})

    assert response.status_code == 400


def test_a_search_holding_nul_is_a_400(head_office, ana):
    assert head_office.get(CHANGELIST, {"q": "an\x00a"}).status_code == 400


@pytest.mark.parametrize("selected", NOT_AN_ID + ["abc", ""])
def test_an_action_on_a_selection_that_is_no_id_is_refused_with_a_message(head_office, ana, selected):
    response = head_office.post(CHANGELIST, {"action": "delete_selected", "_selected_action": [selected, ana.pk],
                                             "index": "0"})

    assert response.status_code == 302
    assert messages_of(response) == [f"{selected!r} is not the id of a client."]
    assert Customer.objects.filter(pk=ana.pk).exists()
