"""Orders through the API: recorded once, updated by sending them again, never across boutiques."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from customers.models import Customer
from tests.api.conftest import key_client
from touchpoints.models import Interaction, Order, OrderLine
from touchpoints.services.bulk import orders_record_bulk

pytestmark = pytest.mark.django_db

URL = "/api/v1/orders/"
BULK_URL = "/api/v1/orders/bulk/"
WRITE = ["orders:write"]


def sale(customer: Customer, external_id: str = "O-1", **extra) -> dict:
    return {"customer": str(customer.public_id), "source": "ecommerce", "external_id": external_id,
            "placed_at": "2026-03-01T10:00:00Z", "currency": "EUR", "total": "2600.00", "channel": "web",
            "lines": [{"sku": "BAG-1", "quantity": 1, "unit_price": "2400.00"},
                      {"sku": "SCARF-2", "quantity": 2, "unit_price": "100.00"}], **extra}


def test_a_key_records_an_order_with_its_lines_and_the_clients_metrics(client_a):
    api, _ = key_client(scopes=[*WRITE, "customers:read"])

    response = api.post(URL, sale(client_a), format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["customer"], body["status"], body["total"], body["channel"]) == (
        str(client_a.public_id), "placed", "2600.00", "web")
    assert [(line["sku"], line["quantity"]) for line in body["lines"]] == [("BAG-1", 1), ("SCARF-2", 2)]
    client_a.refresh_from_db()
    assert (client_a.order_count, str(client_a.lifetime_value)) == (1, "2600.00")
    assert Interaction.objects.filter(order_id=body["id"], touchpoint_type__code="purchase").count() == 1


def test_the_same_order_again_is_unchanged_and_with_a_new_status_is_updated(client_a):
    api, _ = key_client(scopes=WRITE)
    created = api.post(URL, sale(client_a), format="json")

    again = api.post(URL, sale(client_a), format="json")
    fulfilled = api.post(URL, sale(client_a, status="fulfilled"), format="json")

    assert (created.status_code, again.status_code, fulfilled.status_code) == (201, 200, 200)
    assert fulfilled.json()["status"] == "fulfilled"
    assert list(Order.objects.values_list("status", flat=True)) == ["fulfilled"]
    assert OrderLine.objects.count() == 2


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(client_a):
    api, _ = key_client(scopes=WRITE)

    first = api.post(URL, sale(client_a), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    retry = api.post(URL, sale(client_a), format="json", HTTP_IDEMPOTENCY_KEY="order-1")
    other_body = api.post(URL, sale(client_a, status="cancelled"), format="json", HTTP_IDEMPOTENCY_KEY="order-1")

    assert (first.status_code, retry.status_code, other_body.status_code) == (201, 201, 422)
    assert retry.json() == first.json()
    assert list(Order.objects.values_list("status", flat=True)) == ["placed"]


def test_an_order_whose_lines_do_not_add_up_is_a_400_naming_the_field(client_a):
    api, _ = key_client(scopes=WRITE)

    response = api.post(URL, sale(client_a, total="10.00"), format="json")

    assert response.status_code == 400
    assert response.json()["extra"]["fields"] == {"total": ["The lines add up to 2600.00, not 10.00."]}
    assert Order.objects.count() == 0


def test_a_key_without_the_scope_is_refused(client_a):
    api, _ = key_client(scopes=["interactions:write", "customers:read"])

    assert api.post(URL, sale(client_a), format="json").status_code == 403
    assert Order.objects.count() == 0


def test_a_key_of_one_boutique_can_neither_write_nor_take_another_boutiques_orders(client_a, client_b, boutique_b):
    orders_record_bulk(items=[sale(client_a, "O-A")])
    api, _ = key_client(scopes=WRITE, boutiques=[boutique_b])

    for_other_client = api.post(URL, sale(client_a, "O-new"), format="json")
    # The same order id sent for its own client would move the order to client B.
    taking_the_order = api.post(URL, sale(client_b, "O-A"), format="json")

    assert (for_other_client.status_code, taking_the_order.status_code) == (404, 404)
    assert list(Order.objects.values_list("external_id", "customer_id")) == [("O-A", client_a.pk)]


def test_bulk_reports_each_order(client_a):
    api, _ = key_client(scopes=WRITE)
    orders_record_bulk(items=[sale(client_a, "O-old")])

    response = api.post(BULK_URL, {"items": [
        sale(client_a, "O-1"),
        sale(client_a, "O-old"),
        sale(client_a, "O-old", status="returned"),
        sale(client_a, "O-2", lines=[]),
        sale(client_a, "O-3", currency="XXX"),
    ]}, format="json")

    assert response.status_code == 207
    body = response.json()
    assert [result["status"] for result in body["results"]] == [
        "created", "unchanged", "updated", "invalid", "invalid"]
    assert (body["created"], body["updated"], body["unchanged"], body["invalid"]) == (1, 1, 1, 2)
    assert list(body["results"][3]["errors"]) == ["lines"]
    assert list(body["results"][4]["errors"]) == ["currency"]
    assert sorted(Order.objects.values_list("external_id", "status")) == [("O-1", "placed"), ("O-old", "returned")]


def test_the_list_filters_and_shows_lines_with_the_same_queries_for_one_row_or_thirty(client_a, client_b):
    api, _ = key_client(scopes=["customers:read"])
    api.get(URL)  # the key's first use is written once

    def queries(rows: int) -> int:
        Interaction.objects.all().delete()
        Order.objects.all().delete()
        orders_record_bulk(items=[sale(client_a, f"O-{n}") for n in range(rows)])
        with CaptureQueriesContext(connection) as captured:
            response = api.get(URL, {"page_size": 50})
        assert len(response.json()["results"]) == rows
        assert all(len(order["lines"]) == 2 for order in response.json()["results"])
        return len(captured)

    assert queries(1) == queries(30)
    orders_record_bulk(items=[sale(client_b, "B-1", status="fulfilled")])
    assert [row["external_id"] for row in api.get(URL, {"status": "fulfilled"}).json()["results"]] == ["B-1"]
    assert api.get(URL, {"customer": str(client_b.public_id)}).json()["count"] == 1


def test_a_key_reads_only_its_boutiques_orders(client_a, client_b, boutique_b):
    orders_record_bulk(items=[sale(client_a, "O-A"), sale(client_b, "O-B")])
    api, _ = key_client(scopes=["customers:read"], boutiques=[boutique_b])

    listed = api.get(URL).json()["results"]
    other = Order.objects.get(external_id="O-A")

    assert [row["external_id"] for row in listed] == ["O-B"]
    assert api.get(f"{URL}{other.pk}/").status_code == 404
