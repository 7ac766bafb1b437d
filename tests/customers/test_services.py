"""Client services: upsert by identity/email/phone, the consent ledger, merges."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity, CustomerMerge
from customers.services import consent_record, customer_merge, customer_upsert
from journeys.models import Enrollment, Journey, Transition
from journeys.services import enrollment_enroll, enrollment_move
from tests.factories import AdvisorFactory, BoutiqueFactory
from touchpoints.models import Interaction, Order
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db

PARIS = dt.timezone(dt.timedelta(hours=1))


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=PARIS)


def test_new_client_is_created_with_normalized_email_and_phone():
    boutique = BoutiqueFactory(code="PAR", country="FR")

    result = customer_upsert(
        source="pos", external_id="P-1", email="  Claire.Martin@Example.COM ", phone="06 12 34 56 78",
        first_name="Claire", last_name="Martin", home_boutique=boutique,
    )

    assert result.created is True
    customer = Customer.objects.get()
    assert (customer.email, customer.phone, customer.home_boutique) == (
        "claire.martin@example.com", "+33612345678", boutique
    )
    assert list(customer.identities.values_list("system", "external_id")) == [("pos", "P-1")]


def test_phone_without_country_code_is_read_in_the_boutique_country():
    london = BoutiqueFactory(code="LON", country="GB", currency="GBP", timezone="Europe/London")

    result = customer_upsert(source="pos", external_id="L-1", phone="07911 123456", home_boutique=london)

    assert result.customer.phone == "+447911123456"


def test_the_same_identity_twice_is_one_client_and_blank_values_erase_nothing():
    first = customer_upsert(source="crm", external_id="C-9", email="ana@example.com", first_name="Ana", city="Lyon")

    second = customer_upsert(source="crm", external_id="C-9", email="", first_name="Ana", city="", last_name="Ruiz")

    assert second.created is False
    assert second.customer.pk == first.customer.pk
    assert second.changed_fields == ["last_name"]
    customer = Customer.objects.get()
    assert (customer.email, customer.city, customer.last_name) == ("ana@example.com", "Lyon", "Ruiz")
    assert CustomerIdentity.objects.count() == 1


def test_a_record_from_another_system_finds_the_client_by_email_and_adds_its_identity():
    existing = customer_upsert(source="pos", external_id="P-7", email="leo@example.com").customer

    result = customer_upsert(source="ecommerce", external_id="shop-55", email="LEO@example.com ")

    assert (result.customer.pk, result.created) == (existing.pk, False)
    assert sorted(existing.identities.values_list("system", "external_id")) == [
        ("ecommerce", "shop-55"), ("pos", "P-7")
    ]


def test_a_record_finds_the_client_by_phone_typed_differently():
    existing = customer_upsert(source="pos", external_id="P-8", phone="+33 6 12 34 56 78").customer

    result = customer_upsert(source="crm", external_id="C-8", phone="0033612345678", email="new@example.com")

    assert result.customer.pk == existing.pk
    assert result.customer.email == "new@example.com"
    assert Customer.objects.count() == 1


def test_a_shared_phone_with_another_email_is_not_taken_for_the_same_person():
    customer_upsert(source="pos", external_id="P-1", phone="+33612345678", email="him@example.com")

    result = customer_upsert(source="pos", external_id="P-2", phone="+33612345678", email="her@example.com")

    assert result.created is True
    assert Customer.objects.count() == 2


def test_identities_of_two_different_clients_are_refused_rather_than_guessed():
    customer_upsert(source="pos", external_id="P-1", email="a@example.com")
    customer_upsert(source="crm", external_id="C-1", email="b@example.com")

    with pytest.raises(ApplicationError, match="different clients"):
        customer_upsert(source="pos", external_id="P-1", identities={"crm": "C-1"})

    assert CustomerIdentity.objects.count() == 2


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"email": "not-an-email"}, "email", "'not-an-email' is not a valid email address."),
        ({"phone": "call me maybe"}, "phone", "'call me maybe' cannot be read as a phone number."),
        ({"phone": "+33 12345"}, "phone", "'+33 12345' is not a valid phone number."),
        ({"email": "x@example.com", "country": "France"}, "country", "'FRANCE' is not a two-letter country code."),
        ({"email": "x@example.com", "preferences": {"colours": ["red"]}}, "preferences",
         "Unknown preference keys: colours. Use sizes, categories, styles."),
    ],
)
def test_bad_input_is_refused_with_the_field_named_and_nothing_written(values, field, message):
    with pytest.raises(ApplicationError) as refused:
        customer_upsert(source="pos", external_id="P-1", **values)

    assert refused.value.fields == {field: [message]}
    assert Customer.objects.count() == 0
    assert CustomerIdentity.objects.count() == 0


def test_a_client_cannot_take_an_email_another_client_uses():
    customer_upsert(source="pos", external_id="P-1", email="taken@example.com")
    customer_upsert(source="pos", external_id="P-2", email="mine@example.com")

    with pytest.raises(ApplicationError, match="merge the two clients first"):
        customer_upsert(source="pos", external_id="P-2", email="taken@example.com")

    assert Customer.objects.get(identities__external_id="P-2").email == "mine@example.com"


def test_a_record_with_nothing_to_find_the_client_again_is_refused():
    with pytest.raises(ApplicationError, match="at least an identity, an email or a phone"):
        customer_upsert(source="pos", first_name="Nobody")


def test_preferences_are_merged_not_replaced():
    customer_upsert(source="crm", external_id="C-1", preferences={"sizes": ["38"], "categories": ["Handbags"]})

    result = customer_upsert(source="crm", external_id="C-1", preferences={"sizes": "38, 40", "styles": ["Classic"]})

    assert result.customer.preferences == {"sizes": ["38", "40"], "categories": ["Handbags"], "styles": ["Classic"]}


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_two_simultaneous_upserts_of_a_new_identity_create_one_client():
    barrier = threading.Barrier(2)
    results, errors = [], []

    def upsert():
        try:
            barrier.wait()
            results.append(customer_upsert(source="ecommerce", external_id="race-1", email="race@example.com"))
        except Exception as error:  # noqa: BLE001 - the assertion below reports it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=upsert) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert Customer.objects.count() == 1
    assert CustomerIdentity.objects.count() == 1
    assert sorted(result.created for result in results) == [False, True]


# --- consent ---------------------------------------------------------------------------------------------


def test_consent_is_derived_from_the_latest_event_whatever_order_events_arrive_in():
    customer = customer_upsert(source="crm", external_id="C-1", email="c@example.com").customer

    consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True, occurred_at=at(10),
                   source="crm", wording_version="v3")
    consent_record(customer=customer, channel="email", purpose="marketing", is_granted=False, occurred_at=at(12),
                   source="ecommerce")
    consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True, occurred_at=at(11),
                   source="pos")  # arrives late, but happened before the withdrawal
    consent_record(customer=customer, channel="sms", purpose="service", is_granted=True, occurred_at=at(11),
                   source="pos")

    customer.refresh_from_db()
    assert customer.consent == {"email_marketing": False, "sms_service": True}
    assert customer.has_consent("email") is False
    assert ConsentEvent.objects.filter(customer=customer).count() == 4


def test_a_replayed_consent_event_is_recorded_once():
    customer = customer_upsert(source="crm", external_id="C-1", email="c@example.com").customer
    for _ in range(2):
        consent_record(customer=customer, channel="sms", purpose="marketing", is_granted=True, occurred_at=at(3),
                       source="crm")

    assert ConsentEvent.objects.count() == 1


def test_consent_with_an_unknown_channel_is_refused():
    customer = customer_upsert(source="crm", external_id="C-1", email="c@example.com").customer

    with pytest.raises(ApplicationError, match="Unknown consent channel 'fax'"):
        consent_record(customer=customer, channel="fax", purpose="marketing", is_granted=True, occurred_at=at(3),
                       source="crm")
    assert ConsentEvent.objects.count() == 0


# --- merge ---------------------------------------------------------------------------------------------


def _line(price: str) -> list[OrderLineData]:
    return [OrderLineData(sku="BAG-1", quantity=1, unit_price=price)]


def test_merge_moves_everything_to_the_survivor_and_keeps_an_audit_entry():
    advisor = AdvisorFactory()
    survivor = customer_upsert(source="crm", external_id="C-1", email="marie@example.com", first_name="Marie",
                               preferences={"sizes": ["38"]}).customer
    duplicate = customer_upsert(source="pos", external_id="P-9", phone="+33612345678", last_name="Dubois",
                                advisor=advisor, preferences={"sizes": ["40"]}, advisor_notes="Loves green.").customer
    consent_record(customer=duplicate, channel="sms", purpose="marketing", is_granted=True, occurred_at=at(1),
                   source="pos")
    order_record(source="pos", external_id="O-1", customer=duplicate, placed_at=at(2), currency="EUR",
                 total="1500.00", lines=_line("1500.00"))
    order_record(source="pos", external_id="O-2", customer=survivor, placed_at=at(4), currency="EUR",
                 total="500.00", lines=_line("500.00"))
    interaction_record(customer=duplicate, touchpoint_type="store_visit", occurred_at=at(5), source="pos",
                       external_id="V-1")
    journey = Journey.objects.get(slug="client-lifecycle")
    enrollment_enroll(customer=duplicate, journey=journey, occurred_at=at(1))

    record = customer_merge(surviving=survivor, merged=duplicate, reason="Same person at two tills")

    survivor.refresh_from_db()
    assert not Customer.objects.filter(pk=duplicate.pk).exists()
    assert (survivor.first_name, survivor.last_name, survivor.phone, survivor.advisor) == (
        "Marie", "Dubois", "+33612345678", advisor
    )
    assert survivor.preferences == {"sizes": ["38", "40"]}
    assert survivor.advisor_notes == "Loves green."
    assert survivor.consent == {"sms_marketing": True}
    assert sorted(survivor.identities.values_list("system", "external_id")) == [("crm", "C-1"), ("pos", "P-9")]
    assert (survivor.order_count, survivor.lifetime_value) == (2, Decimal("2000.00"))
    assert Interaction.objects.filter(customer=survivor).count() == 3  # two purchases and the visit
    assert Enrollment.objects.get().customer == survivor
    assert record.merged_public_id == duplicate.public_id
    assert record.merged_snapshot["last_name"] == "Dubois"
    assert record.moved == {
        "identities": 1, "merges": 0, "consent_events": 1, "interactions": 2, "orders": 1, "appointments": 0,
        "enrollments": 1, "transitions_of_duplicate_enrollments": 0, "followups": 0, "survey_invitations": 0,
        "survey_responses": 0, "recovery_cases": 0,
    }


def test_merge_keeps_the_survivors_enrollment_and_the_duplicates_history():
    journey = Journey.objects.get(slug="client-lifecycle")
    survivor = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    duplicate = customer_upsert(source="crm", external_id="C-2", email="b@example.com").customer
    kept, _ = enrollment_enroll(customer=survivor, journey=journey, occurred_at=at(1))
    other, _ = enrollment_enroll(customer=duplicate, journey=journey, occurred_at=at(1))
    enrollment_move(enrollment=other, to_stage=journey.stages.get(key="purchase"), cause="manual",
                    occurred_at=at(2))

    customer_merge(surviving=survivor, merged=duplicate)

    assert list(Enrollment.objects.values_list("pk", flat=True)) == [kept.pk]
    assert Transition.objects.filter(enrollment=kept).count() == 3
    assert Customer.objects.get().email == "a@example.com"


def test_merging_a_client_into_themselves_is_refused():
    customer = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer

    with pytest.raises(ApplicationError, match="into themselves"):
        customer_merge(surviving=customer, merged=customer)
    assert CustomerMerge.objects.count() == 0


def test_merge_takes_the_duplicates_email_when_the_survivor_has_none():
    survivor = customer_upsert(source="pos", external_id="P-1", phone="+33612345678").customer
    duplicate = customer_upsert(source="ecommerce", external_id="E-1", email="only@example.com").customer

    customer_merge(surviving=survivor, merged=duplicate)

    survivor.refresh_from_db()
    assert survivor.email == "only@example.com"
    assert Order.objects.count() == 0


def test_a_consent_event_held_by_both_records_is_kept_once_after_a_merge():
    survivor = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    duplicate = customer_upsert(source="pos", external_id="P-1", email="b@example.com").customer
    for customer in (survivor, duplicate):
        consent_record(customer=customer, channel="email", purpose="marketing", is_granted=True, occurred_at=at(2),
                       source="crm")
    consent_record(customer=duplicate, channel="sms", purpose="marketing", is_granted=True, occurred_at=at(2),
                   source="pos")

    record = customer_merge(surviving=survivor, merged=duplicate)

    assert sorted(ConsentEvent.objects.values_list("customer_id", "channel")) == [
        (survivor.pk, "email"), (survivor.pk, "sms")
    ]
    assert record.moved["consent_events"] == 1
