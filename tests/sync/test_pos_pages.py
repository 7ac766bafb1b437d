"""The POS writes a page set-based: the same statements for a page of ten orders as for a page of two (clients
known), and a record refused in the middle of a page costs only itself, the client it created included."""

from __future__ import annotations

import pytest
from django.db import DataError, connection
from django.test.utils import CaptureQueriesContext

from core.connectors import Page, RecordRejected
from customers.models import Customer
from sync.services import connector_build
from tests.sync.fakes import square_order
from touchpoints.models import Order

pytestmark = pytest.mark.django_db

LOCATION = "PAR-FSH"


def page_of(numbers: range, **extra) -> Page:
    return Page(records=[square_order(f"O{n}", customer_id="C1", location_id=LOCATION,
                                      updated_at=f"2026-03-01T10:{n:02d}:00Z", **extra) for n in numbers],
                next_cursor={}, is_last=True)


def test_a_page_of_ten_orders_takes_the_statements_of_a_page_of_two(fake_pos, pos_setting, boutique):
    connector = connector_build(pos_setting, boutique)
    connector.record_page("orders", page_of(range(1, 2)))  # the client, created once

    with CaptureQueriesContext(connection) as two:
        outcomes_two = connector.record_page("orders", page_of(range(10, 12)))
    with CaptureQueriesContext(connection) as ten:
        outcomes_ten = connector.record_page("orders", page_of(range(20, 30)))

    assert (outcomes_two, outcomes_ten) == (["created"] * 2, ["created"] * 10)
    assert len(ten) == len(two)
    assert Order.objects.count() == 13


def test_a_refused_record_in_a_page_costs_only_itself_and_the_client_it_created(fake_pos, pos_setting, boutique):
    connector = connector_build(pos_setting, boutique)
    good = square_order("O1", customer_id="C1", location_id=LOCATION, updated_at="2026-03-01T10:01:00Z")
    # A new client's sale in another currency than its lines say it is: refused after the client is found.
    bad = square_order("O2", customer_id="C9", location_id=LOCATION, updated_at="2026-03-01T10:02:00Z")
    for line in bad["line_items"]:
        line["total_money"]["currency"] = "XXX"
    also_good = square_order("O3", customer_id="C1", location_id=LOCATION, updated_at="2026-03-01T10:03:00Z")

    outcomes = connector.record_page("orders", Page(records=[good, bad, also_good], next_cursor={}, is_last=True))

    assert [outcomes[0], outcomes[2]] == ["created", "created"]
    assert isinstance(outcomes[1], RecordRejected)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["O1", "O3"]
    assert not Customer.objects.filter(identities__external_id="C9").exists()


def page_of_new_clients(numbers: range) -> Page:
    """One order for each of `numbers` clients Atelier does not know yet, with the profiles fetched with the page."""
    return Page(
        records=[square_order(f"N{n}", customer_id=f"NEW{n}", location_id=LOCATION,
                              updated_at=f"2026-03-01T11:{n:02d}:00Z") for n in numbers],
        next_cursor={}, is_last=True,
        context={"customers": {f"NEW{n}": {"id": f"NEW{n}", "given_name": f"Client{n}",
                                           "email_address": f"new{n}@example.com"} for n in numbers}},
    )


def test_a_page_of_ten_new_clients_takes_the_statements_of_a_page_of_two(fake_pos, pos_setting, boutique):
    # Given pages whose every order names a client Atelier does not know yet
    connector = connector_build(pos_setting, boutique)
    connector.record_page("orders", page_of_new_clients(range(1, 2)))  # the first client and order of the house

    # When a page of two and a page of ten are recorded
    with CaptureQueriesContext(connection) as two:
        outcomes_two = connector.record_page("orders", page_of_new_clients(range(10, 12)))
    with CaptureQueriesContext(connection) as ten:
        outcomes_ten = connector.record_page("orders", page_of_new_clients(range(20, 30)))

    # Then the clients are created together (one customers_upsert_many a page): as many statements either way
    assert (outcomes_two, outcomes_ten) == (["created"] * 2, ["created"] * 10)
    assert len(ten) == len(two)
    assert Customer.objects.count() == 13
    client = Customer.objects.get(identities__system="pos", identities__external_id="NEW25")
    assert (client.first_name, client.email, client.home_boutique) == ("Client25", "new25@example.com", boutique)
    assert list(Order.objects.filter(external_id="N25").values_list("customer_id", flat=True)) == [client.pk]


def test_a_client_customers_refuses_refuses_only_the_orders_naming_them(fake_pos, pos_setting, boutique):
    # Given a page of four orders: two of a client whose profile holds an unreadable phone, two of good clients
    page = page_of_new_clients(range(1, 4))
    page.context["customers"]["NEW2"]["phone_number"] = "+33 1 23"
    page.records.append(square_order("N2-AGAIN", customer_id="NEW2", location_id=LOCATION,
                                     updated_at="2026-03-01T11:59:00Z"))

    # When the page is recorded
    outcomes = connector_build(pos_setting, boutique).record_page("orders", page)

    # Then the good clients and their orders are written; both orders of the refused client say why
    assert [outcomes[0], outcomes[2]] == ["created", "created"]
    for refused in (outcomes[1], outcomes[3]):
        assert isinstance(refused, RecordRejected)
        assert refused.message == "customer NEW2: '+33 1 23' is not a valid phone number."
        assert refused.field_errors == {"phone": ["'+33 1 23' is not a valid phone number."]}
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["N1", "N3"]
    assert sorted(Customer.objects.values_list("email", flat=True)) == ["new1@example.com", "new3@example.com"]


def test_a_client_the_database_refuses_costs_only_its_orders_and_the_page_goes_on(fake_pos, pos_setting, boutique):
    # Given a page whose second client has a name longer than the column holds (the cleaning lets it through)
    page = page_of_new_clients(range(1, 4))
    page.context["customers"]["NEW2"]["given_name"] = "A" * 200

    # When the page is recorded
    outcomes = connector_build(pos_setting, boutique).record_page("orders", page)

    # Then the batch is tried client by client: the others are created with their orders, that client's is refused
    assert [outcomes[0], outcomes[2]] == ["created", "created"]
    assert isinstance(outcomes[1], DataError)
    assert sorted(Order.objects.values_list("external_id", flat=True)) == ["N1", "N3"]
    assert sorted(Customer.objects.values_list("email", flat=True)) == ["new1@example.com", "new3@example.com"]


def test_two_pos_ids_with_one_email_in_a_page_are_one_client(fake_pos, pos_setting, boutique):
    # Given a page naming two new POS ids whose profiles carry the same email (one person, twice at the till)
    page = page_of_new_clients(range(1, 3))
    page.context["customers"]["NEW2"]["email_address"] = "new1@example.com"

    # When the page is recorded
    outcomes = connector_build(pos_setting, boutique).record_page("orders", page)

    # Then one client holds both ids and both orders, as one customer_upsert after the other would have made it
    assert outcomes == ["created", "created"]
    client = Customer.objects.get()
    assert sorted(client.identities.values_list("external_id", flat=True)) == ["NEW1", "NEW2"]
    assert Order.objects.filter(customer=client).count() == 2
