"""The admin: every page answers, list pages cost the same whatever the rows, ledgers stay read-only, and the
client form cleans email and phone with the shared normalizers."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pghistory.models
import pytest
from django.apps import apps
from django.contrib import admin
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from customers.models import (
    ClientHandover,
    ConsentChannel,
    ConsentEvent,
    ConsentPurpose,
    ContactConflict,
    Customer,
    CustomerExternalState,
    CustomerIdentity,
    CustomerMerge,
    Segment,
    SourceSystem,
)
from customers.services import (
    client_book_hand_over,
    consent_record,
    customer_external_pushed,
    customer_merge,
    customer_upsert,
)
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, RootCause, Survey, SurveyMessage
from journeys.models import (
    Enrollment,
    FollowUp,
    FollowUpTemplate,
    FollowUpVariant,
    HandsOff,
    Journey,
    Rule,
    Stage,
    Transition,
)
from journeys.services import enrollment_enroll, enrollment_move, hands_off_set
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, ProductFactory
from touchpoints.models import Appointment, Interaction, Order, OrderLine, TouchpointType
from touchpoints.services import OrderLineData, interaction_record, order_record
from touchpoints.services.appointments import appointment_book

pytestmark = pytest.mark.django_db

APP_LABELS = ["customers", "touchpoints", "journeys", "feedback"]
# The history rows pghistory's triggers write are read on the client page, not through an admin of their own.
MODELS = [
    model for label in APP_LABELS for model in apps.get_app_config(label).get_models()
    if not issubclass(model, pghistory.models.Event)
]
# Written only by services (or, for clients, by the systems that send them): no add page in the admin.
NOT_ADDABLE = {
    Customer, CustomerIdentity, ConsentEvent, CustomerMerge, Order, OrderLine, Interaction, Enrollment, Transition,
    FollowUp, Invitation, Response, RecoveryCase, ClientHandover, CustomerExternalState, ContactConflict,
    SurveyMessage, RecoveryEvent, Appointment,
}
VIEW_ONLY = NOT_ADDABLE - {Customer, FollowUp}

PARIS = dt.timezone(dt.timedelta(hours=1))


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=PARIS)


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def form_data(response) -> dict[str, object]:
    """The change form as the page shows it, ready to post back: main form, inline management forms and rows."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms.extend([inline.formset.management_form, *inline.formset.forms])
    data: dict[str, object] = {}
    for form in forms:
        for bound_field in form:
            value = bound_field.value()
            if value is None or value is False:
                continue
            data[bound_field.html_name] = "on" if value is True else value
    return data


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", currency="EUR")


@pytest.fixture
def world(admin_user, paris):
    """One row of every model of the four apps, written through the services wherever a service exists."""
    advisor = AdvisorFactory(boutique=paris)
    ProductFactory(sku="BAG-001", name="Kelly 28", price="1200.00")
    client = customer_upsert(
        source=SourceSystem.POS, external_id="C-1", email="camille@example.com", phone="06 12 34 56 78",
        first_name="Camille", last_name="Durand", home_boutique=paris, advisor=advisor, persona=PersonaFactory(),
    ).customer
    duplicate = customer_upsert(
        source=SourceSystem.CRM, external_id="D-1", email="c.durand@example.com", last_name="Durand"
    ).customer
    merge = customer_merge(surviving=client, merged=duplicate, actor=admin_user, reason="Same person")
    consent = consent_record(
        customer=client, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING, is_granted=True,
        occurred_at=at(1), source=SourceSystem.ATELIER, recorded_by=admin_user,
    )
    order = order_record(
        source=SourceSystem.POS, external_id="O-1", customer=client, placed_at=at(2), currency="EUR",
        total="1200.00", lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price="1200.00")],
        boutique=paris, advisor=advisor,
    ).record
    visit = interaction_record(
        customer=client, touchpoint_type="store_visit", occurred_at=at(3), source=SourceSystem.POS,
        external_id="V-1", boutique=paris, advisor=advisor,
    ).record
    journey = Journey.objects.get(slug="client-lifecycle")
    stages = list(journey.stages.order_by("position"))
    enrollment, _ = enrollment_enroll(customer=client, journey=journey, actor=admin_user, occurred_at=at(1))
    transition = enrollment_move(
        enrollment=enrollment, to_stage=stages[1], cause=Transition.Cause.MANUAL, actor=admin_user,
        interaction=visit, occurred_at=at(3),
    )
    # Reference data, and the rows no service writes yet (follow-ups, invitations, responses).
    template = FollowUpTemplate.objects.create(name="Thank you", channel=FollowUpTemplate.Channel.EMAIL)
    variant = FollowUpVariant.objects.create(template=template, subject="Thank you", body="Dear {{ first_name }}")
    rule = Rule.objects.create(
        journey=journey, name="A visit means consideration", trigger=Rule.Trigger.INTERACTION, to_stage=stages[1],
        followup_template=template,
    )
    rule.touchpoint_types.set(TouchpointType.objects.filter(code="store_visit"))
    rule.from_stages.set(stages[:1])
    followup = FollowUp.objects.create(
        customer=client, template=template, variant=variant, channel=template.channel, due_at=at(4),
        advisor=advisor, rule=rule, transition=transition, subject="Thank you", body="Dear Camille",
        idempotency_key=f"transition:{transition.pk}:template:{template.pk}",
    )
    survey = Survey.objects.create(
        name="After a visit", kind=Survey.Kind.NPS, question="Would you recommend us?",
        trigger_type=visit.touchpoint_type,
    )
    invitation = Invitation.objects.create(
        survey=survey, customer=client, interaction=visit, sent_at=at(4), expires_at=at(18)
    )
    response = Response.objects.create(
        survey=survey, customer=client, invitation=invitation, score=9, nps_class=Response.NpsClass.PROMOTER,
        stage_key="consideration", responded_at=at(5),
    )
    recovery = RecoveryCase.objects.create(response=response, customer=client, advisor=advisor, contact_due_at=at(6))
    recovery_step = RecoveryEvent.objects.create(case=recovery, customer=client, kind="opened", occurred_at=at(5))
    reminder = SurveyMessage.objects.create(kind="reminder", survey=survey, customer=client, invitation=invitation,
                                            due_at=at(7))
    leaver = AdvisorFactory(boutique=paris)
    customer_upsert(source=SourceSystem.POS, external_id="C-2", email="leaver.client@example.com",
                    home_boutique=paris, advisor=leaver)
    handover = client_book_hand_over(from_advisor=leaver, to_advisors=[advisor], actor=admin_user)
    segment = Segment.objects.create(name="VIC", slug="vic", definition={"value_tier": "vic"}, created_by=admin_user)
    hands_off = hands_off_set(customer=client, actor=admin_user, reason="Bereavement: no messages for now")
    customer_external_pushed(customer_id=client.pk, system=SourceSystem.CRM, values={"advisor_notes": ""})
    customer_upsert(source=SourceSystem.ECOMMERCE, external_id="G-1", email="camille@example.com",
                    first_name="Cami", is_verified=False)
    appointment = appointment_book(customer=client, day=dt.date(2026, 3, 20), time=dt.time(11), purpose="Fitting",
                                   advisor=advisor, actor=admin_user, now=at(8))
    rows = [
        appointment, ContactConflict.objects.get(customer=client), hands_off,
        CustomerExternalState.objects.get(customer=client),
        paris, advisor, client.persona, client, client.identities.first(), consent, merge, segment, order,
        order.lines.get(), visit, visit.touchpoint_type, OrderLine.objects.get().product, journey, stages[1],
        enrollment, transition, template, variant, rule, followup, survey, invitation, response, recovery, handover,
        recovery_step, reminder, RootCause.objects.get(name="Waiting"),
    ]
    return {type(row): row for row in rows}


def test_every_model_of_the_four_apps_is_registered():
    missing = [model._meta.label for model in MODELS if not admin.site.is_registered(model)]

    assert missing == []


def test_the_back_office_is_named_atelier(admin_client):
    response = admin_client.get(reverse("admin:index"))

    # A superuser lands on "The house" (head office's landing page, issue 17); the site keeps the house's name.
    assert response.status_code == 200
    assert (response.context["site_header"], response.context["site_title"], response.context["title"]) == (
        "Atelier", "Atelier clienteling", "The house"
    )


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model._meta.label)
def test_changelist_search_add_and_change_pages_answer(admin_client, world, model):
    row = world[model]

    changelist = admin_client.get(admin_url(model, "changelist"))
    searched = admin_client.get(admin_url(model, "changelist"), {"q": "camille@example.com"})
    add = admin_client.get(admin_url(model, "add"))
    change = admin_client.get(admin_url(model, "change", row.pk))

    assert changelist.status_code == 200
    assert row.pk in [shown.pk for shown in changelist.context["cl"].result_list]
    assert searched.status_code == 200
    assert add.status_code == (403 if model in NOT_ADDABLE else 200)
    assert change.status_code == 200


@pytest.mark.parametrize("model", sorted(VIEW_ONLY, key=lambda model: model._meta.label),
                         ids=lambda model: model._meta.label)
def test_rows_written_by_services_cannot_be_added_changed_or_deleted(admin_client, world, model):
    row = world[model]
    count = model.objects.count()

    add = admin_client.post(admin_url(model, "add"), {})
    change = admin_client.post(admin_url(model, "change", row.pk), {})
    delete = admin_client.post(admin_url(model, "delete", row.pk), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    assert model.objects.count() == count


def test_an_interaction_cannot_be_added_or_changed_through_the_admin(admin_client, paris):
    client = customer_upsert(source=SourceSystem.POS, external_id="C-1", email="camille@example.com").customer
    visit = interaction_record(
        customer=client, touchpoint_type="store_visit", occurred_at=at(3), source=SourceSystem.POS,
        external_id="V-1", boutique=paris,
    ).record
    store_visit = visit.touchpoint_type
    posted = {
        "customer": client.pk, "touchpoint_type": store_visit.pk, "occurred_at_0": "2026-03-04",
        "occurred_at_1": "10:00:00", "channel": "web", "source": "atelier", "metadata": "{}",
    }

    add_page = admin_client.get(admin_url(Interaction, "add"))
    add = admin_client.post(admin_url(Interaction, "add"), posted)
    change = admin_client.post(admin_url(Interaction, "change", visit.pk), posted)

    assert (add_page.status_code, add.status_code, change.status_code) == (403, 403, 403)
    assert list(Interaction.objects.values_list("pk", "channel", "source", "occurred_at")) == [
        (visit.pk, "boutique", "pos", at(3))
    ]


def add_clients_with_history(count: int, *, start: int) -> None:
    """Clients with an order (and so a purchase interaction) and an enrollment, each with other related rows."""
    journey = Journey.objects.get(slug="client-lifecycle")
    for number in range(start, start + count):
        boutique = BoutiqueFactory(code=f"B{number:03d}", country="FR")
        advisor = AdvisorFactory(boutique=boutique)
        client = customer_upsert(
            source=SourceSystem.POS, external_id=f"C-{number}", email=f"client{number}@example.com",
            last_name=f"Client {number}", home_boutique=boutique, advisor=advisor,
        ).customer
        order_record(
            source=SourceSystem.POS, external_id=f"O-{number}", customer=client, placed_at=at(2), currency="EUR",
            total="500.00", lines=[OrderLineData(sku="SCARF-1", quantity=1, unit_price="500.00")],
            boutique=boutique, advisor=advisor,
        )
        enrollment_enroll(customer=client, journey=journey, occurred_at=at(2))


def count_queries(admin_client, url: str) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as queries:
        response = admin_client.get(url)
    assert response.status_code == 200
    return len(queries), len(response.context["cl"].result_list)


@pytest.mark.parametrize(
    "model", [Customer, Interaction, Order, Enrollment, Transition], ids=lambda model: model._meta.label
)
def test_a_list_page_costs_the_same_queries_for_one_row_and_for_twenty(admin_client, model):
    url = admin_url(model, "changelist")
    add_clients_with_history(1, start=1)
    admin_client.get(url)  # caches (content types, the session) warm up on the first page

    with_one = count_queries(admin_client, url)
    add_clients_with_history(19, start=2)
    with_twenty = count_queries(admin_client, url)

    assert with_one[1] == 1
    assert with_twenty == (with_one[0], 20)


@pytest.fixture
def camille(paris):
    return customer_upsert(
        source=SourceSystem.POS, external_id="C-1", email="camille@example.com", first_name="Camille",
        home_boutique=paris,
    ).customer


def test_the_client_form_refuses_an_invalid_email_with_the_normalizer_message(admin_client, camille):
    url = admin_url(Customer, "change", camille.pk)
    data = form_data(admin_client.get(url)) | {"email": "camille at example"}

    response = admin_client.post(url, data)

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "email": ["'camille at example' is not a valid email address."]
    }
    camille.refresh_from_db()
    assert camille.email == "camille@example.com"


@pytest.mark.parametrize(
    ("country", "typed", "stored"),
    [("FR", "06 12 34 56 78", "+33612345678"), ("GB", "07911 123456", "+447911123456")],
)
def test_the_client_form_stores_a_local_phone_in_e164_for_the_home_boutique_country(
    admin_client, camille, country, typed, stored
):
    camille.home_boutique = BoutiqueFactory(code=f"{country}-1", country=country)
    camille.save(update_fields=["home_boutique"])
    url = admin_url(Customer, "change", camille.pk)
    data = form_data(admin_client.get(url)) | {"phone": typed, "email": " Camille@Example.COM "}

    response = admin_client.post(url, data)

    assert response.status_code == 302
    camille.refresh_from_db()
    assert (camille.phone, camille.email) == (stored, "camille@example.com")


def test_the_client_form_shows_derived_values_without_letting_them_be_posted(admin_client, camille):
    order_record(
        source=SourceSystem.POS, external_id="O-1", customer=camille, placed_at=at(2), currency="EUR",
        total="1200.00", lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price="1200.00")],
    )
    url = admin_url(Customer, "change", camille.pk)
    page = admin_client.get(url)
    data = form_data(page) | {
        "last_name": "Durand", "value_tier": "vic", "lifetime_value": "999999", "consent": '{"email_marketing": true}'
    }

    response = admin_client.post(url, data)

    assert "value_tier" not in page.context["adminform"].form.fields
    assert response.status_code == 302
    camille.refresh_from_db()
    assert (camille.last_name, camille.value_tier, camille.lifetime_value, camille.consent) == (
        "Durand", "client", Decimal("1200.00"), {}
    )


def test_a_client_is_found_by_a_phone_number_typed_the_local_way(admin_client, paris):
    customer_upsert(source=SourceSystem.POS, external_id="C-1", phone="+33612345678", home_boutique=paris)
    customer_upsert(source=SourceSystem.POS, external_id="C-2", phone="+33698765432", home_boutique=paris)

    response = admin_client.get(admin_url(Customer, "changelist"), {"q": "06 12 34 56 78"})

    assert [client.phone for client in response.context["cl"].result_list] == ["+33612345678"]


def test_the_advisor_field_searches_advisors_instead_of_listing_them(admin_client, paris):
    advisor = AdvisorFactory(boutique=paris, user__last_name="Lefebvre")
    AdvisorFactory(boutique=paris, user__last_name="Martin")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {"app_label": "customers", "model_name": "customer", "field_name": "advisor", "term": "lefeb"},
    )

    assert response.status_code == 200
    assert [result["id"] for result in response.json()["results"]] == [str(advisor.pk)]


def test_a_rule_whose_stage_belongs_to_another_journey_is_refused(admin_client):
    journey = Journey.objects.get(slug="client-lifecycle")
    other = Journey.objects.create(name="Repairs", slug="repairs")
    foreign_stage = Stage.objects.create(journey=other, key="received", name="Received", position=1)
    own_stage = journey.stages.get(key="purchase")
    posted = {"journey": journey.pk, "name": "Buyers", "priority": "100", "trigger": "interaction", "is_active": "on",
              "touchpoint_types": [TouchpointType.objects.get(code="purchase").pk]}

    refused = admin_client.post(admin_url(Rule, "add"), posted | {"to_stage": foreign_stage.pk})
    accepted = admin_client.post(admin_url(Rule, "add"), posted | {"to_stage": own_stage.pk})

    assert refused.status_code == 200
    assert refused.context["adminform"].form.errors == {"to_stage": ["The stage belongs to another journey."]}
    assert accepted.status_code == 302
    assert list(Rule.objects.filter(name="Buyers").values_list("name", "to_stage")) == [("Buyers", own_stage.pk)]


def test_only_the_status_of_a_follow_up_can_be_corrected(admin_client, world):
    followup = world[FollowUp]
    url = admin_url(FollowUp, "change", followup.pk)
    data = form_data(admin_client.get(url)) | {
        "status": "done", "outcome": "reached", "body": "Rewritten", "due_at_0": "2030-01-01", "due_at_1": "09:00"
    }

    response = admin_client.post(url, data)

    assert response.status_code == 302
    followup.refresh_from_db()
    assert (followup.status, followup.outcome, followup.body, followup.due_at) == ("done", "reached", "Dear Camille",
                                                                                   at(4))


def test_the_admin_refuses_to_mark_a_follow_up_sent_by_hand(admin_client, world):
    followup = world[FollowUp]
    url = admin_url(FollowUp, "change", followup.pk)

    response = admin_client.post(url, form_data(admin_client.get(url)) | {"status": "sent"})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors == {
        "status": ["A scheduled follow-up cannot be set to sent by hand; it can be marked cancelled or done."]
    }
    followup.refresh_from_db()
    assert followup.status == "scheduled"


def test_a_hands_off_set_in_the_admin_goes_through_the_service_and_is_lifted_by_the_action(admin_client, admin_user):
    client = customer_upsert(source=SourceSystem.POS, external_id="C-1", email="camille@example.com").customer
    earlier = hands_off_set(customer=client, actor=None, reason="Moving house")

    added = admin_client.post(admin_url(HandsOff, "add"), {"customer": client.pk, "reason": "Bereavement"})
    past = admin_client.post(admin_url(HandsOff, "add"), {"customer": client.pk, "reason": "Late",
                                                           "until_0": "2001-01-01", "until_1": "09:00"})

    assert added.status_code == 302
    assert past.status_code == 200
    assert past.context["adminform"].form.errors == {"until": ["The end of the pause must be in the future."]}
    assert list(HandsOff.objects.order_by("pk").values_list("reason", "set_by", "lifted_by")) == [
        ("Moving house", None, admin_user.pk), ("Bereavement", admin_user.pk, None)
    ]

    lifted = admin_client.post(admin_url(HandsOff, "changelist"), {
        "action": "lift", "_selected_action": [h.pk for h in HandsOff.objects.all()],
    })

    assert lifted.status_code == 302
    assert HandsOff.objects.filter(lifted_at__isnull=True).count() == 0
    assert earlier.pk != HandsOff.objects.latest("pk").pk


def test_a_rule_with_nonsense_is_refused_field_by_field(admin_client):
    journey = Journey.objects.get(slug="client-lifecycle")
    other = Journey.objects.create(name="Repairs", slug="repairs")
    foreign_stage = Stage.objects.create(journey=other, key="received", name="Received", position=1)
    posted = {"journey": journey.pk, "name": "Nonsense", "priority": "100", "is_active": "on",
              "to_stage": journey.stages.get(key="loyalty").pk}
    purchase = TouchpointType.objects.get(code="purchase").pk

    negative = admin_client.post(admin_url(Rule, "add"), posted | {
        "trigger": "interaction", "touchpoint_types": [purchase], "min_count": "2", "window_days": "-30"})
    foreign_from = admin_client.post(admin_url(Rule, "add"), posted | {
        "trigger": "interaction", "touchpoint_types": [purchase], "from_stages": [foreign_stage.pk]})
    mixed = admin_client.post(admin_url(Rule, "add"), posted | {
        "trigger": "time_in_stage", "days": "7", "min_amount": "100", "from_stages": [journey.stages.first().pk]})
    no_types = admin_client.post(admin_url(Rule, "add"), posted | {"trigger": "inactivity", "days": "30"})

    assert negative.context["adminform"].form.errors == {
        "window_days": ["Ensure this value is greater than or equal to 0.",
                        "Give both the count and the window in days (each at least 1), or neither."]
    }
    assert foreign_from.context["adminform"].form.errors == {
        "from_stages": ["These stages belong to another journey: Repairs · Received."]
    }
    assert mixed.context["adminform"].form.errors == {
        "min_amount": ["Only a rule on an interaction has this condition."]
    }
    assert no_types.context["adminform"].form.errors == {
        "touchpoint_types": ["Choose the touchpoint types the rule reacts to."]
    }
    assert Rule.objects.filter(name="Nonsense").count() == 0


def test_order_amounts_read_grouped_with_their_currency(admin_client, world):
    page = admin_client.get(admin_url(Order, "changelist")).content.decode()

    assert '<td class="field-amount">1,200.00 EUR</td>' in page
    assert '<td class="field-amount_house">1,200.00 EUR</td>' in page
