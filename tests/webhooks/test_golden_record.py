"""The golden record cannot be taken over through a webhook: a guest checkout under a client's email links the order
to them and rewrites nothing; the platform's later updates of that guest's record wait for staff as conflicts."""

from __future__ import annotations

import copy

import pytest
from django.urls import reverse

from customers.models import Advisor, ContactConflict, Customer, CustomerIdentity, SourceSystem
from customers.services import customer_upsert
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, make_staff
from tests.webhooks.conftest import encode, sample, shopify_post
from touchpoints.models import Order

pytestmark = pytest.mark.django_db


@pytest.fixture
def camille():
    paris = BoutiqueFactory(code="PAR", country="FR")
    return customer_upsert(source=SourceSystem.POS, external_id="C-1", email="camille@example.com",
                           first_name="Camille", last_name="Durand", phone="06 12 34 56 78",
                           home_boutique=paris).customer


def guest_order(**customer) -> dict:
    """Shopify's sample order, placed as a guest checkout (a customer record the buyer never activated)."""
    order = copy.deepcopy(sample("order.json"))
    order["customer"] = {**order["customer"], "id": 990001, "state": "disabled", "verified_email": False,
                         "email": "camille@example.com", "first_name": "Mallory", "last_name": "Thief",
                         "phone": "+447911123456", **customer}
    order["email"] = order["customer"]["email"]
    for address in ("billing_address", "shipping_address"):
        order[address] = {**order[address], "first_name": "Mallory", "last_name": "Thief"}
    return order


def profile(customer: Customer) -> tuple[str, str, str, str]:
    customer.refresh_from_db()
    return customer.first_name, customer.last_name, customer.email, customer.phone


def test_a_guest_checkout_under_a_clients_email_links_the_order_and_rewrites_nothing(client, camille):
    response = shopify_post(client, encode(guest_order()), topic="orders/create", event_id="o-1")

    assert response.json()["outcome"] == "processed", response.json()
    assert Order.objects.get().customer_id == camille.pk
    assert profile(camille) == ("Camille", "Durand", "camille@example.com", "+33612345678")
    guest = CustomerIdentity.objects.get(system=SourceSystem.ECOMMERCE, external_id="990001")
    assert (guest.customer_id, guest.is_verified) == (camille.pk, False)
    assert sorted(ContactConflict.objects.filter(customer=camille).values_list("field", "proposed_value")) == [
        ("first_name", "Mallory"), ("last_name", "Thief"), ("phone", "+447911123456"),
    ]


def test_the_guest_records_later_update_cannot_rename_the_client_or_change_their_email(client, camille):
    shopify_post(client, encode(guest_order()), topic="orders/create", event_id="o-1")
    update = {**sample("customer.json"), "id": 990001, "state": "disabled", "verified_email": False,
              "email": "mallory@evil.example", "first_name": "Mallory", "last_name": "Thief",
              "updated_at": "2026-03-05T10:00:00+01:00"}

    response = shopify_post(client, encode(update), topic="customers/update", event_id="c-2")

    assert response.json()["outcome"] == "processed", response.json()
    assert profile(camille) == ("Camille", "Durand", "camille@example.com", "+33612345678")
    assert Customer.objects.count() == 1
    conflicts = ContactConflict.objects.filter(customer=camille, status=ContactConflict.Status.OPEN)
    assert sorted(conflicts.values_list("field", "proposed_value")) == [
        ("email", "mallory@evil.example"), ("first_name", "Mallory"), ("last_name", "Thief"),
        ("phone", "+447911123456"),
    ]


def test_the_same_guest_order_again_keeps_one_conflict_per_proposal(client, camille):
    shopify_post(client, encode(guest_order()), topic="orders/create", event_id="o-1")
    replay = guest_order()
    replay["updated_at"] = "2026-03-06T10:00:00+01:00"

    shopify_post(client, encode(replay), topic="orders/updated", event_id="o-2")

    assert ContactConflict.objects.filter(customer=camille).count() == 3


def test_a_verified_account_of_the_clients_own_updates_their_name(client, camille):
    account = {**sample("customer.json"), "id": 990002, "state": "enabled", "verified_email": True,
               "email": "camille@example.com", "first_name": "Camille", "last_name": "Durand-Leroy"}

    response = shopify_post(client, encode(account), topic="customers/update", event_id="c-3")

    assert response.json()["outcome"] == "processed", response.json()
    assert profile(camille) == ("Camille", "Durand-Leroy", "camille@example.com", "+33612345678")
    assert CustomerIdentity.objects.get(external_id="990002").is_verified is True
    assert not ContactConflict.objects.exists()


def test_a_client_created_by_a_guest_checkout_is_that_records_own(client):
    shopify_post(client, encode(guest_order(email="new.buyer@example.com", first_name="Nora")), topic="orders/create",
                 event_id="o-1")
    update = {**sample("customer.json"), "id": 990001, "state": "disabled", "verified_email": False,
              "email": "new.buyer@example.com", "first_name": "Nora", "last_name": "Lind",
              "updated_at": "2026-03-05T10:00:00+01:00"}

    shopify_post(client, encode(update), topic="customers/update", event_id="c-2")

    buyer = Customer.objects.get()
    assert (buyer.first_name, buyer.last_name) == ("Nora", "Lind")
    assert not ContactConflict.objects.exists()


def test_the_client_page_says_what_waits_for_review_and_links_to_it(client, camille):
    shopify_post(client, encode(guest_order()), topic="orders/create", event_id="o-1")
    manager = logged_in(make_staff(Advisor.Role.BOUTIQUE_MANAGER, camille.home_boutique, username="manager"))

    page = manager.get(reverse("admin:customers_customer_change", args=[camille.pk]))
    queue = manager.get(page.context["client_page"].conflicts_url)

    assert "3 contact details another system proposed</a> wait for review." in page.content.decode()
    assert queue.status_code == 200
    assert sorted(row.field for row in queue.context["cl"].result_list) == ["first_name", "last_name", "phone"]
