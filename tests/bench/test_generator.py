"""The demo and benchmark data generator: exact, deterministic, and consistent with the services' rules."""

from __future__ import annotations

import datetime as dt
import io
import random
from collections import Counter
from decimal import Decimal

import phonenumbers
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from bench import vocabulary
from bench.generator import TABLES, GenerationResult, demo_data_delete, generate
from customers.models import Advisor, Boutique, ConsentEvent, Customer, CustomerIdentity, Persona
from customers.normalizers import normalize_email
from customers.services.consent import current_consent
from journeys.models import Enrollment, Journey, Stage, Transition
from touchpoints.models import Interaction, Order, OrderLine, Product, TouchpointType
from touchpoints.services.metrics import customer_metrics_refresh
from touchpoints.services.orders import to_house_currency

ANCHOR = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
SIZE, SEED = 60, 7
# What seed 7 gives for 60 clients (the house itself: 6 boutiques, 28 staff, 6 personas, 120 products).
EXPECTED_COUNTS = {
    "customers.Boutique": 6,
    "auth.User": 28,
    "customers.Advisor": 28,
    "customers.Persona": 6,
    "touchpoints.Product": 120,
    "customers.Customer": 60,
    "customers.CustomerIdentity": 152,
    "customers.ConsentEvent": 265,
    "touchpoints.Order": 76,
    "touchpoints.OrderLine": 109,
    "touchpoints.Interaction": 520,
    "journeys.Enrollment": 60,
    "journeys.Transition": 175,
}


@pytest.fixture
def seeded(db) -> GenerationResult:
    return generate(customers=SIZE, seed=SEED, password="demo-password-123", anchor=ANCHOR)


def table_counts() -> dict[str, int]:
    counts = {table.label: table.model._default_manager.count() for table in TABLES}
    counts["auth.User"] = get_user_model().objects.count()
    return counts


def test_a_seed_gives_exact_counts_per_table(seeded):
    assert seeded.counts == EXPECTED_COUNTS
    assert seeded.rows == 1_605
    assert {table.label: table.model._default_manager.count() for table in TABLES} == {
        label: count for label, count in EXPECTED_COUNTS.items() if label in {table.label for table in TABLES}
    }
    assert (Boutique.objects.count(), Advisor.objects.count(), Persona.objects.count(), Product.objects.count()) == (
        6, 28, 6, 120,
    )


def test_the_house_has_six_boutiques_their_staff_and_a_head_office(seeded):
    boutiques = {b.code: (b.country, b.currency, b.timezone) for b in Boutique.objects.all()}
    assert boutiques == {
        "PAR-FSH": ("FR", "EUR", "Europe/Paris"),
        "LON-NBS": ("GB", "GBP", "Europe/London"),
        "MIL-MTN": ("IT", "EUR", "Europe/Rome"),
        "NYC-MAD": ("US", "USD", "America/New_York"),
        "TYO-GNZ": ("JP", "JPY", "Asia/Tokyo"),
        "DXB-MOE": ("AE", "AED", "Asia/Dubai"),
    }
    assert all(currency in settings.CURRENCY_RATES for _, currency, _ in boutiques.values())
    assert Counter(Advisor.objects.values_list("role", flat=True)) == {
        "advisor": 21, "boutique_manager": 6, "head_office": 1,
    }
    paris = Advisor.objects.get(user__username="advisor.paris.1")
    assert paris.boutique.code == "PAR-FSH"
    assert paris.user.check_password("demo-password-123")
    assert Advisor.objects.get(user__username="headoffice").boutique is None
    assert Advisor.objects.get(user__username="manager.tokyo").role == Advisor.Role.BOUTIQUE_MANAGER


def test_the_same_seed_on_a_reset_database_gives_the_same_clients(seeded):
    def snapshot():
        return (
            list(Customer.objects.order_by("pk").values_list("email", "phone", "first_name", "last_name")),
            list(Order.objects.order_by("pk").values_list("source", "external_id", "total", "placed_at", "status")),
        )

    first = snapshot()
    demo_data_delete()
    assert (Customer.objects.count(), Order.objects.count(), Boutique.objects.count()) == (0, 0, 0)

    generate(customers=SIZE, seed=SEED, password="demo-password-123", anchor=ANCHOR)

    assert snapshot() == first
    assert len(first[0]) == 60
    assert first[0][1][0] == "lalnuaimi2@mail.example"


def test_another_seed_gives_other_clients(db):
    generate(customers=10, seed=SEED, password="x-password-123", anchor=ANCHOR)
    emails = set(Customer.objects.values_list("email", flat=True))
    demo_data_delete()

    generate(customers=10, seed=SEED + 1, password="x-password-123", anchor=ANCHOR)

    assert set(Customer.objects.values_list("email", flat=True)) != emails


def test_demo_staff_have_their_roles_groups_and_see_their_boutiques_clients(seeded):
    advisor = Advisor.objects.filter(role=Advisor.Role.ADVISOR).select_related("user", "boutique").first()
    head_office = Advisor.objects.get(role=Advisor.Role.HEAD_OFFICE).user

    assert list(advisor.user.groups.values_list("name", flat=True)) == ["Advisor"]
    assert list(head_office.groups.values_list("name", flat=True)) == ["Head office"]
    assert Customer.objects.visible_to(advisor.user).count() == Customer.objects.filter(
        home_boutique=advisor.boutique
    ).count()
    assert Customer.objects.visible_to(head_office).count() == SIZE


def test_the_demo_past_is_loaded_not_recorded_as_changes_in_client_history(seeded):
    assert Customer.pgh_event_model.objects.count() == 0


def test_every_order_adds_up_to_its_lines_in_its_boutique_currency(seeded):
    orders = Order.objects.select_related("boutique").prefetch_related("lines")
    for order in orders:
        lines = list(order.lines.all())
        assert order.total == sum((line.quantity * line.unit_price for line in lines), Decimal("0.00"))
        assert order.total_house == to_house_currency(order.total, order.currency)
        assert order.currency == order.boutique.currency
        assert [line.line_number for line in lines] == list(range(1, len(lines) + 1))
        assert all((line.quantity < 0) == line.is_return for line in lines)
    assert Counter(orders.values_list("status", flat=True)) == {"fulfilled": 73, "returned": 2, "placed": 1}
    assert Counter(orders.values_list("source", "channel")) == {("pos", "boutique"): 59, ("ecommerce", "web"): 17}
    partial_returns = OrderLine.objects.filter(is_return=True)
    assert partial_returns.count() == 2
    assert set(partial_returns.values_list("order__status", flat=True)) == {"fulfilled"}


def test_every_order_is_on_the_timeline_as_order_record_puts_it(seeded):
    # The purchase keeps the status the order had when first recorded (a returned order was fulfilled, a
    # cancelled one placed); a returned order then gets its return touchpoint (_record_on_timeline).
    first_status = {"returned": "fulfilled", "cancelled": "placed"}
    fields = ("touchpoint_type__code", "source", "external_id", "customer_id", "occurred_at", "channel",
              "boutique_id", "advisor_id", "amount", "currency", "metadata")
    for order in Order.objects.all():
        expected = [("purchase", order.source, f"order:{order.external_id}", order.customer_id, order.placed_at,
                     order.channel, order.boutique_id, order.advisor_id, abs(order.total), order.currency,
                     {"status": first_status.get(order.status, order.status)})]
        if order.status == Order.Status.RETURNED:
            expected.append(("return", order.source, f"order:{order.external_id}:returned", order.customer_id,
                             max(order.placed_at, order.updated_at), order.channel, order.boutique_id,
                             order.advisor_id, abs(order.total), order.currency, {}))
        actual = list(Interaction.objects.filter(order=order).order_by("occurred_at", "pk").values_list(*fields))
        assert actual == expected
    assert Interaction.objects.filter(touchpoint_type__code__in=["purchase", "return"], order__isnull=True).count() == 0


def test_touchpoints_use_the_standard_types_once_per_source_and_external_id(seeded):
    interactions = Interaction.objects.all()
    assert interactions.values("source", "external_id").distinct().count() == 520
    assert set(interactions.values_list("touchpoint_type__code", flat=True)) <= set(
        TouchpointType.objects.values_list("code", flat=True)
    )
    assert set(interactions.values_list("channel", flat=True)) == {
        "boutique", "web", "email", "phone", "messaging", "social", "event",
    }
    assert interactions.filter(occurred_at__gte=ANCHOR).count() == 0


def test_advisor_notes_on_the_timeline_say_what_the_advisor_wrote(seeded):
    notes = list(Interaction.objects.filter(touchpoint_type__code="advisor_note").values_list("metadata", flat=True))

    assert notes
    assert all(note.get("note") in vocabulary.ADVISOR_NOTES for note in notes)


def test_metrics_are_what_customer_metrics_refresh_computes(seeded):
    assert customer_metrics_refresh() == 0
    assert Counter(Customer.objects.values_list("value_tier", flat=True)) == {
        "prospect": 23, "client": 24, "gold": 12, "platinum": 1,
    }


def test_last_interaction_is_the_latest_touchpoint(seeded):
    for customer in Customer.objects.all():
        latest = Interaction.objects.filter(customer=customer).order_by("-occurred_at").first()
        assert customer.last_interaction_at == latest.occurred_at


def test_each_enrollment_is_at_its_last_transitions_stage(seeded):
    journey = Journey.objects.get(slug="client-lifecycle")
    for enrollment in Enrollment.objects.select_related("stage"):
        transitions = list(enrollment.transitions.order_by("occurred_at", "pk"))
        assert enrollment.journey == journey
        assert transitions[0].from_stage is None
        assert transitions[0].cause == Transition.Cause.ENROLLMENT
        assert transitions[0].occurred_at == enrollment.enrolled_at
        assert all(t.cause in {"rule", "import"} for t in transitions[1:])
        assert all(a.to_stage_id == b.from_stage_id for a, b in zip(transitions, transitions[1:], strict=False))
        assert all(a.occurred_at < b.occurred_at for a, b in zip(transitions, transitions[1:], strict=False))
        assert enrollment.stage_id == transitions[-1].to_stage_id
        assert enrollment.stage_entered_at == transitions[-1].occurred_at
    stages = Counter(Enrollment.objects.values_list("stage__key", flat=True))
    assert stages == {"awareness": 6, "consideration": 16, "purchase": 2, "post_purchase": 20, "loyalty": 14,
                      "advocacy": 2}
    assert Stage.objects.filter(journey=journey).count() == 6


def test_stages_follow_the_clients_purchases(seeded):
    for enrollment in Enrollment.objects.select_related("stage", "customer"):
        bought = enrollment.customer.orders.exclude(status=Order.Status.CANCELLED).count()
        expected = {0: {"awareness", "consideration"}, 1: {"purchase", "post_purchase"}}.get(
            bought, {"loyalty", "advocacy"}
        )
        assert enrollment.stage.key in expected


def test_phones_are_valid_e164_and_emails_normalized(seeded):
    customers = Customer.objects.all()
    phones = [(c.phone, c.country) for c in customers if c.phone]
    assert len(phones) == 53
    for phone, country in phones:
        number = phonenumbers.parse(phone)
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.region_code_for_number(number) == country
        assert phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == phone
    emails = [c.email for c in customers if c.email]
    assert len(emails) == len(set(emails)) == 56
    assert all(normalize_email(email) == email for email in emails)


@pytest.mark.parametrize("country", sorted(vocabulary.PHONES))
def test_phone_patterns_give_valid_numbers_for_each_country(country):
    rng = random.Random(country)
    for _ in range(500):
        number = phonenumbers.parse(vocabulary.PHONES[country](rng))
        assert phonenumbers.is_valid_number(number)
        assert phonenumbers.region_code_for_number(number) == country


def test_consent_state_is_the_ledgers_latest_word(seeded):
    customers = list(Customer.objects.all())
    for customer in customers:
        assert customer.consent == current_consent(customer)
    assert ConsentEvent.objects.filter(is_granted=False).count() == 25
    assert sum(customer.has_consent("email") for customer in customers) == 40


def test_every_client_has_a_crm_id_and_most_a_pos_or_ecommerce_id(seeded):
    assert Counter(CustomerIdentity.objects.values_list("system", flat=True)) == {"crm": 60, "pos": 50, "ecommerce": 42}
    only_crm = Customer.objects.exclude(identities__system__in=["pos", "ecommerce"]).count()
    assert only_crm == 2
    pos_buyers = Customer.objects.filter(orders__source="pos").distinct()
    assert pos_buyers.exclude(identities__system="pos").count() == 0


def test_demo_reset_keeps_the_configuration(seeded):
    types, stages = TouchpointType.objects.count(), Stage.objects.count()

    demo_data_delete()

    assert set(table_counts().values()) == {0}
    assert (TouchpointType.objects.count(), Stage.objects.count()) == (types, stages)
    assert (Boutique.objects.count(), Persona.objects.count(), Product.objects.count()) == (0, 0, 0)


def test_seed_demo_if_empty_twice_seeds_once(db, monkeypatch):
    monkeypatch.delenv("DEMO_PASSWORD", raising=False)
    call_command("seed_demo", "--if-empty", "--customers", "20", verbosity=0, stdout=io.StringIO())
    after_first = table_counts()
    output = io.StringIO()

    call_command("seed_demo", "--if-empty", "--customers", "20", verbosity=0, stdout=output)

    assert table_counts() == after_first
    assert after_first["customers.Customer"] == 20
    assert after_first["auth.User"] == 29  # 28 staff and the admin
    assert "already has 20 clients: nothing to seed" in output.getvalue()
    admin = get_user_model().objects.get(username="admin")
    assert (admin.is_superuser, admin.email) == (True, "admin@atelier.example")
    assert admin.check_password("atelier-demo-2026")
    assert get_user_model().objects.get(username="advisor.dubai.3").check_password("atelier-demo-2026")


def test_seed_demo_refuses_a_database_with_clients(db):
    call_command("seed_demo", "--customers", "5", "--password", "first-password-1", verbosity=0, stdout=io.StringIO())
    before = table_counts()

    with pytest.raises(CommandError, match="already has 5 clients"):
        call_command("seed_demo", "--customers", "5", verbosity=0, stdout=io.StringIO())

    assert table_counts() == before
    assert get_user_model().objects.get(username="manager.paris").check_password("first-password-1")


def test_seed_demo_reset_replaces_the_demo_data(db):
    call_command("seed_demo", "--customers", "5", verbosity=0, stdout=io.StringIO())
    output = io.StringIO()

    call_command("seed_demo", "--reset", "--customers", "8", "--seed", "3", verbosity=0, stdout=output)

    counts = table_counts()
    assert (counts["customers.Customer"], counts["journeys.Enrollment"], counts["auth.User"]) == (8, 8, 29)
    assert "Deleted 5 clients" in output.getvalue()
    assert "customers.Customer" in output.getvalue()
    assert customer_metrics_refresh() == 0
