"""Interactions through the API: one or a thousand at a time, safe to retry, within the caller's boutiques."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from core.errors import ApplicationError
from customers.models import Customer
from tests.api.conftest import key_client, session_client
from touchpoints.models import Interaction
from touchpoints.services import interaction_record
from touchpoints.services.bulk import interactions_record_bulk

pytestmark = pytest.mark.django_db

URL = "/api/v1/interactions/"
BULK_URL = "/api/v1/interactions/bulk/"
WRITE = ["interactions:write"]


def visit(customer: Customer, external_id: str = "V-1", **extra) -> dict:
    return {"customer": str(customer.public_id), "touchpoint_type": "store_visit", "source": "ecommerce",
            "occurred_at": "2026-03-02T15:00:00+01:00", "external_id": external_id, **extra}


def test_a_key_records_an_interaction_on_the_clients_timeline(client_a):
    api, _ = key_client(scopes=[*WRITE, "customers:read"])

    response = api.post(URL, visit(client_a, amount="12.50", currency="eur", metadata={"sku": "BAG-1"}),
                        format="json")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["customer"], body["touchpoint_type"], body["channel"], body["amount"], body["currency"],
            body["metadata"]) == (str(client_a.public_id), "store_visit", "boutique", "12.50", "EUR", {"sku": "BAG-1"})
    interaction = Interaction.objects.get()
    assert (interaction.pk, interaction.customer_id, interaction.source) == (body["id"], client_a.pk, "ecommerce")
    client_a.refresh_from_db()
    assert client_a.last_interaction_at == dt.datetime(2026, 3, 2, 14, tzinfo=dt.UTC)


def test_the_same_interaction_sent_again_is_unchanged(client_a):
    api, _ = key_client(scopes=WRITE)
    first = api.post(URL, visit(client_a), format="json")

    again = api.post(URL, visit(client_a), format="json")

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Interaction.objects.count() == 1


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(client_a):
    api, _ = key_client(scopes=WRITE)
    body = visit(client_a, external_id="")  # no external id: only the Idempotency-Key keeps it from doubling

    first = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    retry = api.post(URL, body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")

    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert Interaction.objects.count() == 1


def test_bad_input_is_a_400_in_the_shared_format_and_writes_nothing(client_a):
    api, _ = key_client(scopes=WRITE)

    response = api.post(URL, visit(client_a, touchpoint_type="nope", occurred_at="2026-03-02T15:00:00"),
                        format="json")

    assert response.status_code == 400
    assert response.json() == {"message": "The request is invalid.",
                               "extra": {"fields": {"touchpoint_type": ["Unknown touchpoint type 'nope'."]}}}
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize("body", [[], "text", {"customer": 5}, {"metadata": "x"}])
def test_malformed_bodies_are_400_never_500(client_a, body):
    api, _ = key_client(scopes=WRITE)

    response = api.post(URL, body, format="json")

    assert response.status_code == 400
    assert set(response.json()) == {"message", "extra"}


def test_a_key_without_the_scope_is_refused(client_a):
    api, _ = key_client(scopes=["customers:read"])

    response = api.post(URL, visit(client_a), format="json")

    assert response.status_code == 403
    assert Interaction.objects.count() == 0


def test_anonymous_calls_get_401(api, client_a):
    assert api.post(URL, visit(client_a), format="json").status_code == 401


def test_a_key_of_one_boutique_cannot_write_for_another_boutiques_client(client_a, client_b, boutique_b):
    api, _ = key_client(scopes=WRITE, boutiques=[boutique_b])

    refused = api.post(URL, visit(client_a, "V-A"), format="json")
    accepted = api.post(URL, visit(client_b, "V-B"), format="json")

    assert refused.status_code == 404
    assert accepted.status_code == 201
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["V-B"]


def test_an_advisor_logs_for_their_boutiques_clients_only(advisor_a, client_a, client_b):
    api = session_client(advisor_a)

    assert api.post(URL, visit(client_a, "V-A", source="atelier"), format="json").status_code == 201
    assert api.post(URL, visit(client_b, "V-B", source="atelier"), format="json").status_code == 404


# --- bulk ------------------------------------------------------------------------------------------------------------


def test_bulk_reports_each_item_and_writes_the_valid_ones(client_a, client_b, boutique_b):
    api, _ = key_client(scopes=WRITE, boutiques=[boutique_b])
    interactions_record_bulk(items=[visit(client_b, "old")])

    response = api.post(BULK_URL, {"items": [
        visit(client_b, "new"),
        visit(client_b, "old"),
        visit(client_b, "new"),
        visit(client_b, "bad", amount="-1", currency="EUR"),
        visit(client_a, "other-boutique"),
        "not an object",
    ]}, format="json")

    assert response.status_code == 207
    body = response.json()
    assert (body["created"], body["unchanged"], body["invalid"]) == (1, 2, 3)
    assert [result["status"] for result in body["results"]] == [
        "created", "unchanged", "unchanged", "invalid", "invalid", "invalid"]
    assert body["results"][2]["id"] == body["results"][0]["id"]
    assert body["results"][3]["errors"] == {"amount": ["An interaction's amount cannot be negative."]}
    assert list(body["results"][4]["errors"]) == ["customer"]
    assert sorted(Interaction.objects.values_list("external_id", flat=True)) == ["new", "old"]


def test_bulk_of_valid_items_is_200_and_a_retry_with_its_key_changes_nothing(client_a):
    api, _ = key_client(scopes=WRITE)
    items = [visit(client_a, f"V-{n}") for n in range(50)]

    first = api.post(BULK_URL, {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")
    retry = api.post(BULK_URL, {"items": items}, format="json", HTTP_IDEMPOTENCY_KEY="batch-1")

    assert (first.status_code, retry.status_code) == (200, 200)
    assert first.json()["created"] == 50
    assert retry.json() == first.json()
    assert Interaction.objects.count() == 50


@pytest.mark.parametrize("body", [{"items": []}, {"items": "x"}, {}, [1, 2]])
def test_a_bulk_request_that_is_no_list_of_items_is_400(body):
    api, _ = key_client(scopes=WRITE)

    response = api.post(BULK_URL, body, format="json")

    assert response.status_code == 400
    assert "fields" in response.json()["extra"]


def test_bulk_refuses_more_than_a_thousand_items(client_a):
    api, _ = key_client(scopes=WRITE)

    response = api.post(BULK_URL, {"items": [visit(client_a, f"V-{n}") for n in range(1001)]}, format="json")

    assert response.status_code == 400
    assert Interaction.objects.count() == 0


# --- reads -----------------------------------------------------------------------------------------------------------


def test_the_list_is_scoped_filtered_and_pages_by_cursor(client_a, client_b, boutique_b):
    interactions_record_bulk(items=[visit(client_b, f"B-{n}", occurred_at=f"2026-03-0{n + 1}T10:00:00Z")
                                    for n in range(3)] + [visit(client_a, "A-1")])
    api, _ = key_client(scopes=["customers:read"], boutiques=[boutique_b])

    first = api.get(URL, {"page_size": 2})
    second = api.get(first.json()["next"])
    filtered = api.get(URL, {"customer": str(client_a.public_id)})

    assert first.status_code == 200
    assert [row["external_id"] for row in first.json()["results"]] == ["B-2", "B-1"]
    assert [row["external_id"] for row in second.json()["results"]] == ["B-0"]
    assert filtered.json()["results"] == []


def test_filters_by_type_channel_and_time(client_a):
    interactions_record_bulk(items=[
        visit(client_a, "1", occurred_at="2026-03-01T10:00:00Z"),
        visit(client_a, "2", touchpoint_type="product_view", occurred_at="2026-03-05T10:00:00Z"),
    ])
    api, _ = key_client(scopes=["customers:read"])

    def ids(**params) -> list[str]:
        return [row["external_id"] for row in api.get(URL, params).json()["results"]]

    assert ids(touchpoint_type="product_view") == ["2"]
    assert ids(channel="boutique") == ["1"]
    assert ids(occurred_since="2026-03-03T00:00:00Z") == ["2"]


def test_the_list_runs_the_same_queries_for_one_row_or_thirty(client_a):
    api, _ = key_client(scopes=["customers:read"])
    api.get(URL)  # the key's first use is written once; the queries measured are the list's

    def queries(rows: int, prefix: str) -> int:
        Interaction.objects.all().delete()
        interactions_record_bulk(items=[visit(client_a, f"{prefix}{n}") for n in range(rows)])
        with CaptureQueriesContext(connection) as captured:
            response = api.get(URL, {"page_size": 50})
        assert len(response.json()["results"]) == rows
        return len(captured)

    assert queries(1, "a") == queries(30, "b")


def test_metadata_over_the_size_cap_is_a_400_naming_the_size_and_writes_nothing(client_a, settings):
    settings.INTERACTION_METADATA_MAX_BYTES = 100
    api, _ = key_client(scopes=WRITE)
    at_the_cap = {"note": "x" * 89}  # {"note":"…"} is 11 bytes more
    over_it = {"note": "é" * 45}  # two bytes each in UTF-8: 101

    accepted = api.post(URL, visit(client_a, "V-1", metadata=at_the_cap), format="json")
    refused = api.post(URL, visit(client_a, "V-2", metadata=over_it), format="json")

    assert accepted.status_code == 201
    assert refused.status_code == 400
    assert refused.json()["extra"]["fields"] == {"metadata": ["Metadata holds at most 100 bytes as JSON, not 101."]}
    assert list(Interaction.objects.values_list("external_id", flat=True)) == ["V-1"]


def test_the_metadata_cap_holds_for_the_bulk_endpoint_and_the_row_service(client_a, settings):
    settings.INTERACTION_METADATA_MAX_BYTES = 100
    api, _ = key_client(scopes=WRITE)

    response = api.post(BULK_URL, {"items": [visit(client_a, "V-1", metadata={"note": "x" * 200})]}, format="json")
    with pytest.raises(ApplicationError) as refused:
        interaction_record(customer=client_a, touchpoint_type="store_visit", source="pos",
                           occurred_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), metadata={"note": "x" * 200})

    too_large = ["Metadata holds at most 100 bytes as JSON, not 211."]
    assert response.json()["results"][0]["errors"] == {"metadata": too_large}
    assert refused.value.fields == {"metadata": too_large}
    assert Interaction.objects.count() == 0


@pytest.mark.parametrize(("metadata", "message"), [
    ({"note": "a\ud800b"}, "Metadata holds text that is not valid Unicode."),
    ({"note": "a\x00b"}, "Metadata cannot hold the NUL character."),
    ({"score": float("nan")}, "Metadata holds a number that is not finite."),
], ids=["lone-surrogate", "nul", "nan"])
def test_metadata_postgresql_cannot_store_is_refused_by_the_row_service(client_a, metadata, message):
    with pytest.raises(ApplicationError) as refused:
        interaction_record(customer=client_a, touchpoint_type="store_visit", source="pos",
                           occurred_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC), metadata=metadata)

    assert refused.value.fields == {"metadata": [message]}
    assert Interaction.objects.count() == 0
