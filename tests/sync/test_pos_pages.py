"""The POS writes a page set-based: the same statements for a page of ten orders as for a page of two (clients
known), and a record refused in the middle of a page costs only itself, the client it created included."""

from __future__ import annotations

import pytest
from django.db import connection
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
