"""customers_upsert_many: one result per item, in order, with the golden record's rule applied once for the batch
and a handful of statements whatever the batch's size."""

from __future__ import annotations

import datetime as dt

import pytest

from customers.matching import ClientKey
from customers.models import ConsentEvent, ContactConflict, Customer, CustomerIdentity
from customers.services import customer_upsert
from customers.services.consent import ConsentAnswer, current_consent
from customers.services.upsert import ClientItem, customers_upsert_many

pytestmark = pytest.mark.django_db

MOMENT = dt.datetime(2026, 3, 1, 10, 0, tzinfo=dt.UTC)


def item(*, source: str = "crm", identities=(), email: str = "", phone: str = "", **values) -> ClientItem:
    consents = values.pop("consents", ())
    is_verified = values.pop("is_verified", True)
    return ClientItem(source=source, key=ClientKey(identities=tuple(identities), email=email, phone=phone),
                      external_id=identities[0][1] if identities else "", values=values, consents=consents,
                      is_verified=is_verified)


def test_a_batch_answers_one_result_per_item_in_order_and_a_person_twice_is_one_client():
    customer_upsert(source="pos", external_id="P-1", email="known@example.com", first_name="Known")

    batch = customers_upsert_many([
        item(identities=[("crm", "C-1")], email="new@example.com", first_name="Nina"),
        item(email="known@example.com", city="Lyon"),
        item(identities=[("crm", "C-1")], last_name="Nova"),
        item(email="known@example.com", city="Lyon"),
        item(first_name="Nobody"),
    ])

    nina = Customer.objects.get(email="new@example.com")
    known = Customer.objects.get(email="known@example.com")
    assert [(result.status, result.customer_id, result.changed_fields) for result in batch.results] == [
        ("created", nina.pk, ["email", "first_name"]),
        ("updated", known.pk, ["city"]),
        ("updated", nina.pk, ["last_name"]),
        ("unchanged", known.pk, []),
        ("refused", None, []),
    ]
    assert batch.results[4].reason == (
        "A client needs at least an identity, an email or a phone number to be found again."
    )
    assert (nina.first_name, nina.last_name) == ("Nina", "Nova")
    assert known.city == "Lyon"
    assert batch.created == [nina.pk]
    assert batch.updated == {known.pk: {"city": ""}}
    assert Customer.objects.count() == 2


def test_a_refused_item_changes_nothing_and_the_rest_of_the_batch_is_written():
    customer_upsert(source="pos", external_id="P-1", email="a@example.com")
    customer_upsert(source="pos", external_id="P-2", email="b@example.com")

    batch = customers_upsert_many([
        item(source="pos", identities=[("pos", "P-1"), ("pos", "P-2")], city="Nice"),
        item(source="pos", identities=[("pos", "P-2")], email="a@example.com", city="Nice"),
        item(source="pos", identities=[("pos", "P-1")], city="Nice"),
    ])

    assert [(result.status, result.field_name) for result in batch.results] == [
        ("refused", "identities"), ("refused", "email"), ("updated", None),
    ]
    assert batch.results[0].reason == (
        "These ids (pos:P-1, pos:P-2) belong to different clients; merge the clients first."
    )
    assert batch.results[1].reason == "Another client already uses a@example.com; merge the two clients first."
    assert dict(Customer.objects.values_list("email", "city")) == {"a@example.com": "Nice", "b@example.com": ""}


def test_an_unverified_record_in_a_batch_fills_blanks_and_keeps_the_rest_as_conflicts():
    camille = customer_upsert(source="pos", external_id="P-1", email="camille@example.com",
                              first_name="Camille").customer

    batch = customers_upsert_many([
        item(source="ecommerce", identities=[("ecommerce", "G-1")], email="camille@example.com",
             first_name="Mallory", city="Lyon", is_verified=False),
    ])

    camille.refresh_from_db()
    assert (batch.results[0].status, batch.results[0].changed_fields) == ("updated", ["city", "identities"])
    assert (camille.first_name, camille.city) == ("Camille", "Lyon")
    assert list(ContactConflict.objects.values_list("field", "current_value", "proposed_value")) == [
        ("first_name", "Camille", "Mallory")
    ]
    assert CustomerIdentity.objects.get(system="ecommerce").is_verified is False


def test_consent_answers_go_to_the_ledger_once_and_the_state_is_derived_from_it():
    answer = ConsentAnswer(channel="email", is_granted=True, occurred_at=MOMENT)
    withdrawn = ConsentAnswer(channel="email", is_granted=False, occurred_at=MOMENT + dt.timedelta(days=1))

    first = customers_upsert_many([item(email="zoe@example.com", consents=(answer,))])
    again = customers_upsert_many([item(email="zoe@example.com", consents=(answer, withdrawn))])

    zoe = Customer.objects.get(email="zoe@example.com")
    assert [result.status for result in [*first.results, *again.results]] == ["created", "updated"]
    assert again.results[0].changed_fields == ["consent"]
    assert ConsentEvent.objects.filter(customer=zoe).count() == 2
    assert zoe.consent == current_consent(zoe) == {"email_marketing": False}
    assert len(again.consent_events_added) == 1


def test_a_batch_of_a_hundred_clients_takes_a_handful_of_statements(django_assert_max_num_queries):
    items = [item(identities=[("crm", f"C-{n}")], email=f"client{n}@example.com", first_name="Ana")
             for n in range(100)]

    with django_assert_max_num_queries(20):
        batch = customers_upsert_many(items)

    assert [result.status for result in batch.results] == ["created"] * 100
    assert CustomerIdentity.objects.count() == 100
