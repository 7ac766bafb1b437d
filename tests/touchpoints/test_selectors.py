"""The client timeline: interactions (orders among them) and stage moves merged by time, paged by cursor."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from customers.services import customer_upsert
from journeys.models import Journey
from journeys.services import enrollment_enroll, enrollment_move
from touchpoints.selectors import customer_timeline
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 4, day, hour, tzinfo=dt.UTC)


@pytest.fixture
def history():
    """A client with visits, an order and stage moves, some at the very same moment."""
    customer = customer_upsert(source="crm", external_id="C-1", email="claire@example.com").customer
    other = customer_upsert(source="crm", external_id="C-2", email="other@example.com").customer
    journey = Journey.objects.get(slug="client-lifecycle")
    enrollment, _ = enrollment_enroll(customer=customer, journey=journey, occurred_at=at(1))
    for day in (2, 3, 5):
        interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=at(day), source="pos")
    interaction_record(customer=other, touchpoint_type="store_visit", occurred_at=at(4), source="pos")
    order_record(source="pos", external_id="O-1", customer=customer, placed_at=at(6), currency="EUR",
                 total="900.00", lines=[OrderLineData(sku="S", quantity=1, unit_price="900.00")])
    enrollment_move(enrollment=enrollment, to_stage=journey.stages.get(key="purchase"), cause="rule",
                    occurred_at=at(6))
    return customer


def test_the_timeline_merges_interactions_and_stage_moves_newest_first(history):
    page = customer_timeline(customer=history)

    assert [(entry.kind, entry.occurred_at.day) for entry in page.entries] == [
        ("transition", 6), ("interaction", 6), ("interaction", 5), ("interaction", 3), ("interaction", 2),
        ("transition", 1),
    ]
    assert page.entries[1].item.order.external_id == "O-1"
    assert page.entries[0].item.to_stage.key == "purchase"
    assert page.next_cursor is None


def test_paging_by_cursor_visits_every_entry_once_even_at_equal_times(history):
    seen, cursor = [], None
    while True:
        page = customer_timeline(customer=history, cursor=cursor, limit=2)
        seen.extend((entry.kind, entry.pk) for entry in page.entries)
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert seen == [(entry.kind, entry.pk) for entry in customer_timeline(customer=history).entries]
    assert len(seen) == 6


def test_a_timeline_page_costs_the_same_queries_whatever_its_size(history):
    with CaptureQueriesContext(connection) as small:
        customer_timeline(customer=history, limit=2)
    with CaptureQueriesContext(connection) as large:
        customer_timeline(customer=history, limit=50)

    assert len(small) == len(large) == 3  # the page, then the interactions and the transitions on it


def test_a_forged_cursor_is_refused():
    customer = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer

    with pytest.raises(ApplicationError, match="not one the timeline gave out"):
        customer_timeline(customer=customer, cursor="bm9wZQ==")


def test_an_orders_articles_come_with_its_timeline_entry_in_line_order():
    customer = customer_upsert(source="crm", external_id="C-9", email="nina@example.com").customer
    order_record(source="pos", external_id="O-9", customer=customer, placed_at=at(6), currency="EUR",
                 total="2100.00", lines=[
                     OrderLineData(sku="BAG-28", quantity=1, unit_price="1800.00", product_name="Kelly 28"),
                     OrderLineData(sku="SCARF-90", quantity=2, unit_price="300.00"),
                     OrderLineData(sku="SCARF-90", quantity=-1, unit_price="300.00", is_return=True),
                 ])

    [purchase] = [entry.item for entry in customer_timeline(customer=customer).entries if entry.item.order_id]

    assert purchase.order_articles == "1 × Kelly 28, 2 × SCARF-90, 1 × SCARF-90 (returned)"
