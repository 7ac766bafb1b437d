"""Privacy: export everything held about a client, erase their personal data; managers and head office only,
within their reach, after confirmation."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from django.apps import apps
from django.contrib.admin.models import CHANGE, LogEntry
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import (
    Advisor,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    Customer,
    CustomerIdentity,
    CustomerMerge,
    SourceSystem,
)
from customers.services import consent_record, customer_external_pushed, customer_merge, customer_upsert
from desk import services as desk_services
from desk.privacy import SECTIONS, client_data_export
from desk.services import ERASURE_OF_CLIENT_ROWS, client_erase
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, Survey, SurveyMessage
from insight.models import ClientPrediction
from insight.services.predictions import predictions_score
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, Journey, Transition
from journeys.services import enrollment_enroll, enrollment_move, hands_off_set
from tests.desk.helpers import messages_of
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.models import Appointment, Interaction, Order
from touchpoints.services import OrderLineData, interaction_record, order_record
from touchpoints.services.appointments import appointment_book

pytestmark = pytest.mark.django_db

PARIS = dt.timezone(dt.timedelta(hours=1))
CHANGELIST = "admin:customers_customer_changelist"
EXPORT = "admin:customers_customer_privacy_export"
ERASE = "admin:customers_customer_privacy_erase"


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=PARIS)


def history_model():
    return apps.get_model("customers", "CustomerHistory")



@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR")


@pytest.fixture
def lyon():
    return BoutiqueFactory(code="LYS", name="Lyon Bellecour", country="FR")


@pytest.fixture
def advisor(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille.advisor")


@pytest.fixture
def manager(paris):
    return make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="helene")


@pytest.fixture
def lyon_manager(lyon):
    return make_staff(Advisor.Role.BOUTIQUE_MANAGER, lyon, username="marc")


@pytest.fixture
def head_office():
    return make_staff(Advisor.Role.HEAD_OFFICE, username="anne")


def full_client(*, boutique, advisor_user, number: int) -> dict:
    """A client with one row of every kind Atelier holds about a person, written through the services."""
    advisor = advisor_user.advisor
    client = customer_upsert(
        source=SourceSystem.POS,
        external_id=f"C-{number}",
        email=f"camille.durand{number}@example.com",
        phone=f"06 12 34 56 {number:02d}",
        first_name="Camille",
        last_name="Durand",
        birth_date=dt.date(1985, 6, 15),
        language="fr",
        city="Paris",
        country="FR",
        home_boutique=boutique,
        advisor=advisor,
        preferences={"sizes": ["38"], "categories": ["Handbags"]},
        advisor_notes="Prefers fittings on Saturday mornings.",
    ).customer
    duplicate = customer_upsert(
        source=SourceSystem.CRM,
        external_id=f"D-{number}",
        email=f"c.durand{number}@example.com",
        first_name="Cam",
        home_boutique=boutique,
    ).customer
    duplicate_pk = duplicate.pk
    merge = customer_merge(surviving=client, merged=duplicate, actor=advisor_user, reason="Same person, two emails")
    consent_record(
        customer=client, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING, is_granted=True,
        occurred_at=at(1), source=SourceSystem.ATELIER, recorded_by=advisor_user, wording_version="v3",
    )
    consent_record(
        customer=client, channel=ConsentChannel.SMS, purpose=ConsentPurpose.SERVICE, is_granted=True,
        occurred_at=at(1), source=SourceSystem.POS,
    )
    consent_record(
        customer=client, channel=ConsentChannel.SMS, purpose=ConsentPurpose.SERVICE, is_granted=False,
        occurred_at=at(2), source=SourceSystem.POS,
    )
    order = order_record(
        source=SourceSystem.POS, external_id=f"O-{number}", customer=client, placed_at=at(2), currency="EUR",
        total="2400.00", boutique=boutique, advisor=advisor,
        lines=[
            OrderLineData(sku="BAG-001", quantity=1, unit_price="1800.00", product_name="Kelly 28"),
            OrderLineData(sku="SCARF-01", quantity=2, unit_price="300.00", product_name="Carré 90"),
        ],
    ).record
    visit = interaction_record(
        customer=client, touchpoint_type="store_visit", occurred_at=at(3), source=SourceSystem.ATELIER,
        boutique=boutique, advisor=advisor, metadata={"note": "Camille is expecting; soft fabrics please."},
    ).record
    appointment_book(customer=client, day=dt.date(2026, 3, 25), time=dt.time(10), actor=advisor_user, now=at(1),
                     purpose="Camille Durand's wedding dress fitting")
    journey = Journey.objects.get(slug="client-lifecycle")
    stages = list(journey.stages.order_by("position"))
    enrollment, _ = enrollment_enroll(customer=client, journey=journey, actor=advisor_user, occurred_at=at(1))
    enrollment_move(
        enrollment=enrollment, to_stage=stages[1], cause=Transition.Cause.MANUAL, actor=advisor_user,
        note="Called Camille at home about the fitting.", occurred_at=at(3),
    )
    hands_off_set(customer=client, actor=advisor_user, reason="Camille is in hospital; no messages for now.")
    customer_external_pushed(customer_id=client.pk, system="crm",
                             values={"first_name": "Camille", "last_name": "Durand", "city": "Paris"})
    # A guest checkout under Camille's email: linked, and its other name kept for staff as a contact conflict.
    customer_upsert(source=SourceSystem.ECOMMERCE, external_id=f"G-{number}",
                    email=f"camille.durand{number}@example.com", first_name="Cami", is_verified=False)
    task_template = FollowUpTemplate.objects.create(
        name=f"Call {number}", channel=FollowUpTemplate.Channel.ADVISOR_TASK
    )
    email_template = FollowUpTemplate.objects.create(name=f"Thanks {number}", channel=FollowUpTemplate.Channel.EMAIL)
    # No follow-up service yet (the rules engine is its own piece of work): rows as the dispatcher leaves them.
    scheduled = FollowUp.objects.create(
        customer=client, template=task_template, channel=task_template.channel, due_at=at(20), advisor=advisor,
        subject="Call Camille Durand", body="Ask Camille about the Kelly.", idempotency_key=f"task:{number}",
    )
    sent = FollowUp.objects.create(
        customer=client, template=email_template, channel=email_template.channel, due_at=at(4),
        status=FollowUp.Status.SENT, subject="Thank you, Camille", body="Dear Camille Durand, …",
        provider_message_id=f"msg-{number}", sent_at=at(4), idempotency_key=f"email:{number}",
        outcome=FollowUp.Outcome.REACHED,
    )
    survey, _ = Survey.objects.get_or_create(
        name="After a visit", defaults={"kind": Survey.Kind.NPS, "question": "Would you recommend us?"}
    )
    answered = Invitation.objects.create(
        survey=survey, customer=client, interaction=visit, sent_at=at(4), expires_at=at(18), answered_at=at(5)
    )
    open_invitation = Invitation.objects.create(
        survey=survey, customer=client, sent_at=timezone.now(), expires_at=timezone.now() + dt.timedelta(days=10)
    )
    response = Response.objects.create(
        survey=survey, customer=client, invitation=answered, score=9, nps_class=Response.NpsClass.PROMOTER,
        comment="Camille here: the fitting was perfect.", answers={"why": "My advisor knows my taste."},
        stage_key="consideration", responded_at=at(5),
    )
    recovery = RecoveryCase.objects.create(response=response, customer=client, contact_due_at=at(7))
    # Foresight scores every client with a net purchase (an RFM estimate on so little data).
    predictions_score(now=timezone.now())
    RecoveryEvent.objects.create(case=recovery, customer=client, kind="opened", occurred_at=at(5))
    SurveyMessage.objects.create(kind="referral", survey=survey, customer=client, response=response, due_at=at(7))
    LogEntry.objects.log_actions(
        user_id=advisor_user.pk, queryset=[client], action_flag=CHANGE, change_message="Changed advisor notes.",
        single_object=True,
    )
    client.refresh_from_db()
    return {
        "client": client, "duplicate_pk": duplicate_pk, "merge": merge, "order": order, "visit": visit,
        "enrollment": enrollment, "scheduled": scheduled, "sent": sent, "open_invitation": open_invitation,
        "answered_invitation": answered, "response": response, "recovery": recovery,
    }


@pytest.fixture
def camille(paris, advisor):
    return full_client(boutique=paris, advisor_user=advisor, number=1)


@pytest.fixture
def bystander(paris, advisor):
    return full_client(boutique=paris, advisor_user=advisor, number=2)


@pytest.fixture
def lyon_client(lyon, lyon_manager):
    return full_client(boutique=lyon, advisor_user=lyon_manager, number=3)


def state(customer: Customer) -> dict:
    """Everything erasure or an export's log could change about one client, to prove that nothing did."""
    return {
        "client": Customer.objects.filter(pk=customer.pk).values().get(),
        "identities": sorted(CustomerIdentity.objects.filter(customer=customer).values_list("system", "external_id")),
        "consent_events": ConsentEvent.objects.filter(customer=customer).count(),
        "merges": list(CustomerMerge.objects.filter(surviving_customer=customer).values("merged_snapshot", "reason")),
        "history": history_model().objects.filter(pgh_obj_id=customer.pk).count(),
        "metadata": list(Interaction.objects.filter(customer=customer).order_by("pk").values_list("metadata")),
        "followups": list(
            FollowUp.objects.filter(customer=customer).order_by("pk").values_list("status", "subject", "body")
        ),
        "enrollments": list(Enrollment.objects.filter(customer=customer).values_list("exited_at")),
        "notes": list(Transition.objects.filter(enrollment__customer=customer).values_list("note")),
        "responses": list(Response.objects.filter(customer=customer).values_list("comment", "answers")),
        "invitations": list(Invitation.objects.filter(customer=customer).order_by("pk").values_list("expires_at")),
        "log_entries": list(
            LogEntry.objects.filter(object_id=str(customer.pk)).values_list("object_repr", "change_message")
        ),
    }


def run_action(client, action: str, *customers: Customer):
    """Post the client list's action form as the page does."""
    return client.post(
        reverse(CHANGELIST),
        {"action": action, "_selected_action": [customer.pk for customer in customers], "index": "0"},
    )


# --- export --------------------------------------------------------------------------------------------------------


def test_a_manager_exports_everything_held_about_a_client_as_json_after_confirming(client, manager, camille):
    customer = camille["client"]
    client.force_login(manager)

    # Given the manager chose "Export client data" for Camille on the client list
    chosen = run_action(client, "export_client_data", customer)
    confirmation = client.get(chosen["Location"])

    # When they confirm
    download = client.post(reverse(EXPORT), {"ids": str(customer.pk), "confirm": "yes"})

    # Then they were shown whom the export is about, and download one JSON document with everything
    assert chosen.status_code == 302
    assert chosen["Location"] == f"{reverse(EXPORT)}?ids={customer.pk}"
    assert confirmation.status_code == 200
    assert [listed.pk for listed in confirmation.context["customers"]] == [customer.pk]
    assert download.status_code == 200
    assert download["Content-Type"] == "application/json; charset=utf-8"
    assert download["Content-Disposition"] == f'attachment; filename="atelier-client-{customer.public_id}.json"'
    assert "no-store" in download["Cache-Control"]
    document = json.loads(download.content)
    assert (document["format"], document["exported_by"], len(document["clients"])) == (
        "atelier.client-data/1", "helene", 1
    )
    exported = document["clients"][0]
    profile = exported["profile"]
    assert (profile["public_id"], profile["full_name"], profile["email"], profile["phone"], profile["birth_date"]) == (
        str(customer.public_id), "Camille Durand", "camille.durand1@example.com", "+33612345601", "1985-06-15"
    )
    assert (profile["advisor_notes"], profile["preferences"], profile["home_boutique"]) == (
        "Prefers fittings on Saturday mornings.", {"sizes": ["38"], "categories": ["Handbags"]}, "Paris Faubourg"
    )
    assert sorted((row["system"], row["external_id"], row["is_verified"]) for row in exported["identities"]) == [
        ("crm", "D-1", True), ("ecommerce", "G-1", False), ("pos", "C-1", True)
    ]
    assert [(row["field"], row["proposed_value"], row["status"]) for row in exported["contact_conflicts"]] == [
        ("first_name", "Cami", "open")
    ]
    ledger = exported["consent_ledger"]
    assert [(row["channel"], row["purpose"], row["is_granted"], row["wording_version"]) for row in ledger] == [
        ("email", "marketing", True, "v3"), ("sms", "service", True, ""), ("sms", "service", False, "")
    ]
    assert [(row["touchpoint_type"], row["metadata"]) for row in exported["interactions"]] == [
        ("purchase", {"status": "placed"}),
        ("store_visit", {"note": "Camille is expecting; soft fabrics please."}),
    ]
    [order] = exported["orders"]
    assert (order["external_id"], order["total"], order["status"]) == ("O-1", "2400.00", "placed")
    assert [(line["sku"], line["quantity"], line["unit_price"]) for line in order["lines"]] == [
        ("BAG-001", 1, "1800.00"), ("SCARF-01", 2, "300.00")
    ]
    assert [
        (row["journey"], row["stage"], [(move["from_stage"], move["to_stage"], move["note"])
                                        for move in row["transitions"]])
        for row in exported["enrollments"]
    ] == [("Client lifecycle", "Consideration", [
        (None, "Awareness", ""), ("Awareness", "Consideration", "Called Camille at home about the fitting.")
    ])]
    assert [(row["subject"], row["status"]) for row in exported["follow_ups"]] == [
        ("Thank you, Camille", "sent"), ("Call Camille Durand", "scheduled")
    ]
    # The invitation token is a live credential, not the client's data
    assert [("token" in row, row["survey"]) for row in exported["survey_invitations"]] == [
        (False, "After a visit"), (False, "After a visit")
    ]
    assert [(row["score"], row["comment"], row["answers"]) for row in exported["survey_responses"]] == [
        (9, "Camille here: the fitting was perfect.", {"why": "My advisor knows my taste."})
    ]
    assert [(row["merged_snapshot"]["email"], row["reason"]) for row in exported["merges"]] == [
        ("c.durand1@example.com", "Same person, two emails")
    ]
    assert exported["history"][0]["email"] == "camille.durand1@example.com"
    assert len(exported["history"]) == history_model().objects.filter(pgh_obj_id=customer.pk).count()
    # And the export is on the client's record of admin actions
    assert LogEntry.objects.filter(
        object_id=str(customer.pk), user=manager, change_message="Exported all the data held about the client."
    ).count() == 1


def test_the_export_has_a_section_for_every_kind_of_row_that_points_at_a_client(manager, camille):
    # Given the kinds of rows that point at a client, as the models say
    accessors = {relation.get_accessor_name() for relation in Customer._meta.related_objects}

    # When a client is exported
    document = client_data_export(customers=Customer.objects.filter(pk=camille["client"].pk), exported_by=manager)

    # Then each kind has its section, and each section has the client's rows
    assert set(SECTIONS) == accessors
    exported = document["clients"][0]
    assert set(exported) == {"profile", *SECTIONS.values()}
    assert all(exported[section] for section in SECTIONS.values())


def test_the_export_costs_the_same_queries_for_one_client_as_for_three(paris, advisor, manager):
    # Given three clients with one row of every kind
    clients = [full_client(boutique=paris, advisor_user=advisor, number=number) for number in (11, 12, 13)]

    def queries_for(customers: list[dict]) -> int:
        queryset = Customer.objects.filter(pk__in=[item["client"].pk for item in customers])
        with CaptureQueriesContext(connection) as queries:
            json.dumps(client_data_export(customers=queryset, exported_by=manager), default=str)
        return len(queries)

    # When one, then all three are exported
    # Then both cost the clients' query and one per kind of row (orders' lines and stage moves included)
    assert queries_for(clients[:1]) == queries_for(clients) == 21  # 21 with appointments


def test_a_manager_s_selection_reaching_another_boutique_exports_only_their_own_clients(
    client, manager, camille, lyon_client
):
    client.force_login(manager)
    lyon_customer = lyon_client["client"]

    # When the Paris manager asks for the Lyon client, alone, through the action and through the page
    through_action = run_action(client, "export_client_data", lyon_customer)
    through_page = client.post(reverse(EXPORT), {"ids": str(lyon_customer.pk), "confirm": "yes"})
    # and for both clients at once
    both = client.post(reverse(EXPORT), {"ids": f"{camille['client'].pk},{lyon_customer.pk}", "confirm": "yes"})

    # Then nothing about the Lyon client leaves, and no export is recorded on it
    assert (through_action.status_code, through_action["Location"]) == (302, reverse(CHANGELIST))
    assert messages_of(through_action) == ["None of the selected clients can be reached."]
    assert through_page.status_code == 302
    # (Messages pile up until a page shows them; these requests were redirects nobody followed.)
    assert messages_of(through_page) == [
        "None of the selected clients can be reached.", "None of the selected clients can be exported."
    ]
    assert [row["profile"]["public_id"] for row in json.loads(both.content)["clients"]] == [
        str(camille["client"].public_id)
    ]
    assert b"Lyon" not in both.content
    assert not LogEntry.objects.filter(object_id=str(lyon_customer.pk), user=manager).exists()


# --- erasure -------------------------------------------------------------------------------------------------------


def test_a_manager_erases_a_client_after_confirming_and_the_orders_stay_for_the_figures(
    client, advisor, manager, camille, bystander
):
    customer = camille["client"]
    bystander_before = state(bystander["client"])
    public_id, duplicate_pk = customer.public_id, camille["duplicate_pk"]
    # (The duplicate merged into Camille left its history behind: the row of its creation, with its email.)
    assert list(history_model().objects.filter(pgh_obj_id=duplicate_pk).values_list("email", flat=True)) == [
        "c.durand1@example.com"
    ]
    client.force_login(manager)

    # Given the manager chose "Erase personal data" for Camille and saw the confirmation page
    chosen = run_action(client, "erase_personal_data", customer)
    confirmation = client.get(chosen["Location"])

    # When they confirm
    done = client.post(reverse(ERASE), {"ids": str(customer.pk), "confirm": "yes"})

    # Then the confirmation named the client and the action was confirmed, back to the list
    assert chosen["Location"] == f"{reverse(ERASE)}?ids={customer.pk}"
    assert [listed.pk for listed in confirmation.context["customers"]] == [customer.pk]
    assert "Camille Durand" in confirmation.content.decode()
    assert (done.status_code, done["Location"]) == (302, reverse(CHANGELIST))
    assert messages_of(done) == ["Erased the personal data of 1 client."]

    # And the record is anonymous, marked with who erased it and when, its value kept
    erased = Customer.objects.get(pk=customer.pk)
    assert (erased.first_name, erased.last_name, erased.full_name, str(erased)) == (
        "", "Erased client", "Erased client", "Erased client"
    )
    assert (erased.email, erased.phone, erased.birth_date, erased.city, erased.advisor_notes, erased.preferences) == (
        "", "", None, "", "", {}
    )
    assert (erased.advisor_id, erased.is_anonymized, erased.anonymized_by) == (None, True, manager)
    assert timezone.now() - erased.anonymized_at < dt.timedelta(minutes=1)
    assert (erased.public_id, erased.country, erased.language, erased.home_boutique.code) == (
        public_id, "FR", "fr", "PAR"
    )
    assert (erased.lifetime_value, erased.order_count) == (Decimal("2400.00"), 1)
    # Identities are gone; the consent ledger stays, the one consent still granted withdrawn by the erasure
    assert CustomerIdentity.objects.filter(customer=customer).count() == 0
    assert list(
        ConsentEvent.objects.filter(customer=customer)
        .order_by("occurred_at", "channel")
        .values_list("channel", "purpose", "is_granted", "wording_version", "recorded_by")
    ) == [
        ("email", "marketing", True, "v3", advisor.pk),
        ("sms", "service", True, "", None),
        ("sms", "service", False, "", None),
        ("email", "marketing", False, "erasure", manager.pk),
    ]
    assert erased.consent == {"email_marketing": False, "sms_service": False}
    # The merge stays as an audit entry without the duplicate's snapshot
    merge = CustomerMerge.objects.get(pk=camille["merge"].pk)
    assert (merge.merged_snapshot, merge.reason, merge.merged_by_id) == ({}, "", advisor.pk)
    # The old history rows of the client and of the merged duplicate are gone; one anonymous row says who erased
    remaining = list(history_model().objects.filter(pgh_obj_id=customer.pk))
    assert [(row.last_name, row.email, row.phone, row.is_anonymized) for row in remaining] == [
        ("Erased client", "", "", True)
    ]
    assert remaining[0].pgh_context.metadata["action"] == "client_erase"
    assert remaining[0].pgh_context.metadata["user"] == manager.pk
    assert history_model().objects.filter(pgh_obj_id=duplicate_pk).count() == 0
    # Orders and their lines stay; the touchpoints stay without their metadata
    order = Order.objects.get(pk=camille["order"].pk)
    assert (order.customer_id, order.total, order.total_house) == (customer.pk, Decimal("2400.00"), Decimal("2400.00"))
    assert list(order.lines.values_list("sku", "quantity", "unit_price")) == [
        ("BAG-001", 1, Decimal("1800.00")), ("SCARF-01", 2, Decimal("300.00"))
    ]
    assert list(Interaction.objects.filter(customer=customer).order_by("pk").values_list(
        "touchpoint_type__code", "amount", "metadata"
    )) == [("purchase", Decimal("2400.00"), {}), ("store_visit", None, {})]
    # Appointments keep their moment, not what they were for; the booked one will not happen
    assert list(Appointment.objects.filter(customer=customer).values_list("starts_at", "purpose", "status")) == [
        (dt.datetime(2026, 3, 25, 9, tzinfo=dt.UTC), "Erased", "cancelled")
    ]
    # Follow-ups keep their facts, not their words; the scheduled one will not happen
    assert list(FollowUp.objects.filter(customer=customer).order_by("pk").values_list(
        "status", "subject", "body", "provider_message_id", "status_reason", "outcome"
    )) == [
        ("cancelled", "", "", "", "Cancelled: the client's personal data was erased.", ""),
        ("sent", "", "", "", "", "reached"),
    ]
    enrollment = Enrollment.objects.get(pk=camille["enrollment"].pk)
    assert (enrollment.stage.key, enrollment.exited_at) == ("consideration", erased.anonymized_at)
    assert list(Transition.objects.filter(enrollment=enrollment).values_list("note", flat=True)) == ["", ""]
    # Survey scores stay without the client's words; the open invitation can no longer be answered
    assert list(Response.objects.filter(customer=customer).values_list("score", "nps_class", "comment", "answers")) == [
        (9, "promoter", "", {})
    ]
    assert Invitation.objects.get(pk=camille["open_invitation"].pk).expires_at == erased.anonymized_at
    assert Invitation.objects.get(pk=camille["answered_invitation"].pk).expires_at == at(18)
    # The admin's log no longer names the client, and records the erasure
    assert list(LogEntry.objects.filter(object_id=str(customer.pk)).order_by("pk").values_list(
        "object_repr", "change_message", "user"
    )) == [
        ("Erased client", "Changed advisor notes.", advisor.pk),
        ("Erased client", "Erased the client's personal data.", manager.pk),
    ]
    # And nothing happened to another client of the boutique
    assert ClientPrediction.objects.filter(customer=customer).count() == 0
    assert ClientPrediction.objects.filter(customer=bystander["client"]).count() == 1
    assert state(bystander["client"]) == bystander_before


def test_erasing_a_client_twice_is_refused_with_a_clear_message_and_changes_nothing(client, manager, camille):
    customer = camille["client"]
    client_erase(customer=customer, actor=manager)
    before = state(customer)
    client.force_login(manager)

    # When the manager erases the client again, through the service and through the admin
    with pytest.raises(ApplicationError) as refusal:
        client_erase(customer=customer, actor=manager)
    confirmation = client.get(f"{reverse(ERASE)}?ids={customer.pk}")
    again = client.post(reverse(ERASE), {"ids": str(customer.pk), "confirm": "yes"})

    # Then both refuse, saying why, and nothing changed
    today = Customer.objects.get(pk=customer.pk).anonymized_at.date().isoformat()
    assert refusal.value.message == (
        f"This client's personal data was already erased on {today}; there is nothing left to erase."
    )
    assert "Every selected client was already erased" in confirmation.content.decode()
    assert b'name="confirm"' not in confirmation.content
    assert messages_of(again) == [
        f"Erased client: This client's personal data was already erased on {today}; there is nothing left to erase."
    ]
    assert state(customer) == before


def test_an_erased_client_is_no_longer_found_by_their_email_phone_or_identities(manager, camille):
    customer = camille["client"]
    client_erase(customer=customer, actor=manager)
    before = state(customer)

    # When the POS, the ecommerce site and the legacy CRM send the person again
    by_email = customer_upsert(source=SourceSystem.ECOMMERCE, email="camille.durand1@example.com")
    by_phone = customer_upsert(source=SourceSystem.ATELIER, phone="+33612345601")
    by_identity = customer_upsert(source=SourceSystem.POS, external_id="C-1", first_name="Camille")
    by_old_identity = customer_upsert(source=SourceSystem.CRM, external_id="D-1")

    # Then each creates a new client; the erased record is matched by none and stays as it was
    results = [by_email, by_phone, by_identity, by_old_identity]
    assert [result.created for result in results] == [True, True, True, True]
    assert customer.pk not in {result.customer.pk for result in results}
    assert state(customer) == before


def test_a_failing_step_rolls_the_whole_erasure_back(manager, camille, monkeypatch):
    # Given an erasure whose last step (feedback) fails
    customer = camille["client"]
    before = state(customer)

    def failing_step(**kwargs):
        raise RuntimeError("feedback is down")

    monkeypatch.setattr(desk_services, "feedback_personal_data_erase", failing_step)

    # When the client is erased
    with pytest.raises(RuntimeError):
        client_erase(customer=customer, actor=manager)

    # Then nothing was erased anywhere: one transaction
    assert state(customer) == before


def test_erasure_decides_for_every_kind_of_row_that_points_at_a_client():
    # A new model pointing at clients fails this test until erasure (and the export) say what they do with it.
    assert set(ERASURE_OF_CLIENT_ROWS) == {relation.get_accessor_name() for relation in Customer._meta.related_objects}


# --- who may ---------------------------------------------------------------------------------------------------------


def test_an_advisor_is_offered_neither_action_and_crafted_requests_change_nothing(client, advisor, camille):
    customer = camille["client"]
    before = state(customer)
    client.force_login(advisor)

    # When the advisor opens the client list, then posts both actions and both confirmation pages by hand
    listing = client.get(reverse(CHANGELIST))
    export_action = run_action(client, "export_client_data", customer)
    erase_action = run_action(client, "erase_personal_data", customer)
    pages = [
        client.get(f"{reverse(EXPORT)}?ids={customer.pk}"),
        client.post(reverse(EXPORT), {"ids": str(customer.pk), "confirm": "yes"}),
        client.get(f"{reverse(ERASE)}?ids={customer.pk}"),
        client.post(reverse(ERASE), {"ids": str(customer.pk), "confirm": "yes"}),
    ]

    # Then neither action is offered or run, every page is forbidden, and nothing changed or was exported
    offered = {name for name, _label in listing.context["action_form"].fields["action"].choices}
    assert {"export_client_data", "erase_personal_data"} & offered == set()
    assert [(response.status_code, response["Location"]) for response in (export_action, erase_action)] == [
        (302, reverse(CHANGELIST)), (302, reverse(CHANGELIST))
    ]
    assert messages_of(erase_action) == ["No action selected.", "No action selected."]
    assert [page.status_code for page in pages] == [403, 403, 403, 403]
    assert state(customer) == before


def test_a_manager_cannot_erase_another_boutique_s_client_but_head_office_can(
    client, manager, head_office, camille, lyon_client
):
    lyon_customer = lyon_client["client"]
    lyon_before, camille_before = state(lyon_customer), state(camille["client"])
    client.force_login(manager)

    # When the Paris manager erases the Lyon client through the action and through the page
    through_action = run_action(client, "erase_personal_data", lyon_customer)
    page = client.get(f"{reverse(ERASE)}?ids={lyon_customer.pk}")
    through_page = client.post(reverse(ERASE), {"ids": str(lyon_customer.pk), "confirm": "yes"})

    # Then the Lyon client, and Camille, are untouched
    assert (through_action.status_code, through_action["Location"]) == (302, reverse(CHANGELIST))
    assert messages_of(through_action) == ["None of the selected clients can be reached."]
    assert (page.status_code, through_page.status_code) == (302, 302)
    assert messages_of(through_page) == [
        "None of the selected clients can be reached.",
        "None of the selected clients can be erased.",
        "None of the selected clients can be erased.",
    ]
    assert state(lyon_customer) == lyon_before
    assert state(camille["client"]) == camille_before

    # And when head office does it, it is done
    client.force_login(head_office)
    client.post(reverse(ERASE), {"ids": str(lyon_customer.pk), "confirm": "yes"})
    assert Customer.objects.get(pk=lyon_customer.pk).is_anonymized is True
