"""The follow-up admin: templates checked on save, a preview for a chosen client, results per variant, failures
shown with their reason."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from customers.models import Advisor
from journeys.models import FollowUp, FollowUpTemplate
from journeys.services import followup_schedule
from journeys.services.dispatch import followups_dispatch_due
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, ProductFactory, make_staff
from tests.journeys.helpers import make_client, make_template
from touchpoints.services import OrderLineData, order_record

pytestmark = pytest.mark.django_db

DUE = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)


@pytest.fixture
def head_office():
    return logged_in(make_staff(Advisor.Role.HEAD_OFFICE, username="head.office"))


def template_form(**variant) -> dict[str, str]:
    return {
        "name": "Thank you", "channel": "email", "purpose": "marketing", "delay_hours": "48", "holdout_percent": "",
        "is_active": "on",
        "variants-TOTAL_FORMS": "1", "variants-INITIAL_FORMS": "0", "variants-MIN_NUM_FORMS": "0",
        "variants-MAX_NUM_FORMS": "1000",
        "variants-0-label": "A", "variants-0-weight": "1",
        "variants-0-subject": variant.get("subject", "Merci {{ client.first_name }}"),
        "variants-0-body": variant.get("body", "<p>Dear {{ client.first_name }}</p>"),
    }


def test_a_template_naming_an_unknown_variable_is_refused_with_the_reason_and_nothing_is_saved(head_office):
    response = head_office.post(reverse("admin:journeys_followuptemplate_add"),
                                template_form(body="<p>Dear {{ client.nickname }}</p>"))

    assert response.status_code == 200
    assert "&#x27;client.nickname&#x27;: client has no &#x27;nickname&#x27;; it offers first_name, last_name, name." \
        in response.content.decode()
    assert not FollowUpTemplate.objects.filter(name="Thank you").exists()


def test_a_template_with_a_forbidden_tag_is_refused(head_office):
    response = head_office.post(reverse("admin:journeys_followuptemplate_add"), template_form(subject="{% debug %}"))

    assert "The template does not compile: Invalid block tag on line 1: &#x27;debug&#x27;" in response.content.decode()
    assert not FollowUpTemplate.objects.filter(name="Thank you").exists()


def test_a_valid_template_is_saved_with_its_variant(head_office):
    response = head_office.post(reverse("admin:journeys_followuptemplate_add"), template_form())

    assert response.status_code == 302
    template = FollowUpTemplate.objects.get(name="Thank you")
    assert [(variant.label, variant.body) for variant in template.variants.all()] == [
        ("A", "<p>Dear {{ client.first_name }}</p>")
    ]


def test_the_preview_renders_every_variant_for_the_chosen_client(head_office):
    boutique = BoutiqueFactory(code="PAR", name="Paris Faubourg")
    client = make_client(boutique, preferences={"categories": ["Handbags"]})
    ProductFactory(sku="BAG-1", name="Kelly 25", category="Handbags")
    template = make_template("Thank you", "email", variants=(("A", 1), ("B", 1)),
                             body="<p>{{ client.first_name }}, from {{ boutique.name }}: "
                                  "{{ recommended_products.0.name }}</p>")

    page = head_office.get(reverse("admin:journeys_followuptemplate_preview", args=[template.pk]),
                           {"client": client.email.upper()}).content.decode()

    assert f"For {client}" in page
    assert page.count('<span class="preview-subject">Merci Élise</span>') == 2
    assert "[A] Élise, from Paris Faubourg: Kelly 25" in page
    assert "[B] Élise, from Paris Faubourg: Kelly 25" in page
    assert FollowUp.objects.count() == 0


def test_the_preview_does_not_find_a_client_the_staff_member_may_not_see():
    paris, tokyo = BoutiqueFactory(code="PAR"), BoutiqueFactory(code="TYO", timezone="Asia/Tokyo")
    advisor = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    stranger = make_client(tokyo)
    template = make_template("Thank you", "email")

    page = logged_in(advisor).get(reverse("admin:journeys_followuptemplate_preview", args=[template.pk]),
                                  {"client": str(stranger.pk)}).content.decode()

    assert f"No client &#x27;{stranger.pk}&#x27; among the clients you may see." in page
    assert "preview-subject" not in page


def test_the_template_page_shows_its_results_per_variant_and_against_the_holdout(head_office):
    client = make_client(BoutiqueFactory(code="PAR"))
    template = make_template("Thank you", "email", variants=(("A", 1), ("B", 1)))
    a, b = template.variants.order_by("label")
    rows = [(a, "sent"), (a, "sent"), (b, "sent"), (b, "failed"), (None, "held_out")]
    FollowUp.objects.bulk_create([
        FollowUp(customer=client, template=template, variant=variant, channel="email", due_at=DUE, status=status,
                 idempotency_key=f"r:{number}")
        for number, (variant, status) in enumerate(rows)
    ])

    page = head_office.get(reverse("admin:journeys_followuptemplate_change", args=[template.pk])).content.decode()

    assert 'id="followup-results"' in page
    # Group, still to send, sent, opened, done, failed.
    assert '<tr class="results-a">\n  <td>A</td>\n  <td>0</td>\n  <td>2</td>' in page
    assert ('<tr class="results-b">\n  <td>B</td>\n  <td>0</td>\n  <td>1</td>\n  <td>0</td>\n  <td>0</td>\n'
            '  <td>1</td>') in page
    assert '<tr class="results-holdout">\n  <td>Holdout</td>' in page


def test_a_failed_follow_up_shows_its_reason_in_the_list(head_office):
    client = make_client(BoutiqueFactory(code="PAR"))
    template = make_template("Thank you SMS", "sms")
    FollowUp.objects.create(customer=client, template=template, channel="sms", due_at=DUE, status="failed",
                            status_reason="Failed after 5 attempts: SMS provider answered 503: Service unavailable",
                            idempotency_key="f:1", attempts=5)

    page = head_office.get(reverse("admin:journeys_followup_changelist"), {"status__exact": "failed"}).content.decode()

    assert "Failed after 5 attempts: SMS provider answered 503: Service unavailable" in page


def test_the_client_page_timeline_says_why_a_follow_up_did_not_go(head_office):
    client = make_client(BoutiqueFactory(code="PAR"), consent=())
    template = make_template("Thank you", "email", delay_hours=0)
    followup_schedule(customer=client, template=template, key="k", trigger_at=DUE)
    followups_dispatch_due(now=DUE)

    page = head_office.get(reverse("admin:customers_customer_change", args=[client.pk])).content.decode()

    assert "Follow-up: Thank you" in page
    assert "Cancelled: the client never gave consent to Email marketing messages." in page


def test_the_list_of_templates_shows_each_ones_conversion_next_to_its_holdout(head_office):
    client = make_client(BoutiqueFactory(code="PAR"))
    template = make_template("Thank you", "email")
    make_template("Birthday", "sms")
    order = order_record(source="pos", external_id="O-1", customer=client, placed_at=DUE, currency="EUR",
                         total="100.00", lines=[OrderLineData(sku="S-1", quantity=1, unit_price="100.00")]).record
    rows = [("sent", order), ("sent", None), ("sent", None), ("sent", None), ("failed", None),
            ("held_out", order), ("held_out", None)]
    FollowUp.objects.bulk_create([
        FollowUp(customer=client, template=template, channel="email", due_at=DUE, status=status, sent_at=DUE,
                 attributed_order=attributed, idempotency_key=f"l:{number}")
        for number, (status, attributed) in enumerate(rows)
    ])

    page = head_office.get(reverse("admin:journeys_followuptemplate_changelist")).content.decode()

    assert '<td class="field-conversion">25.0% (1/4)</td>' in page
    assert '<td class="field-holdout_conversion">50.0% (1/2)</td>' in page
    assert '<td class="field-conversion">–</td>' in page  # the birthday SMS, never sent


def test_the_default_lifecycle_templates_pass_the_checks_staff_templates_pass():
    from journeys.services.rendering import template_check

    defaults = FollowUpTemplate.objects.filter(rules__journey__slug="client-lifecycle").distinct()

    assert defaults.count() == 3
    for template in defaults:
        for variant in template.variants.all():
            template_check(variant.subject, channel=template.channel, field="subject")
            template_check(variant.body, channel=template.channel)


@pytest.mark.parametrize("wanted", ["99999999999999999999", "²", "1٣"])
def test_the_preview_answers_odd_client_input_with_not_found_not_an_error(head_office, wanted):
    template = make_template("Thank you", "email")

    response = head_office.get(reverse("admin:journeys_followuptemplate_preview", args=[template.pk]),
                               {"client": wanted})

    assert response.status_code == 200
    assert "among the clients you may see." in response.content.decode()


def test_an_advisor_reads_a_follow_up_by_its_template_and_client_without_the_delivery_machinery():
    paris = BoutiqueFactory(code="PAR")
    client = make_client(paris)
    template = make_template("Thank you SMS", "sms")
    followup = FollowUp.objects.create(customer=client, template=template, channel="sms", due_at=DUE,
                                       idempotency_key="transition:7:template:3", attempts=1,
                                       provider_message_id="SM-provider-1")
    advisor = logged_in(make_staff(Advisor.Role.ADVISOR, paris, username="advisor"))
    head_office = logged_in(make_staff(Advisor.Role.HEAD_OFFICE, username="head.office"))
    url = reverse("admin:journeys_followup_change", args=[followup.pk])

    for_advisor = advisor.get(url).content.decode()
    for_head_office = head_office.get(url).content.decode()

    assert f"Thank you SMS for {client}" in for_advisor
    assert "transition:7:template:3" not in for_advisor
    assert "SM-provider-1" not in for_advisor
    assert "transition:7:template:3" in for_head_office
    assert "SM-provider-1" in for_head_office


def test_the_follow_up_list_shows_due_times_on_the_boutiques_clock_and_says_which(head_office):
    tokyo = BoutiqueFactory(code="TYO", country="JP", timezone="Asia/Tokyo", currency="JPY")
    FollowUp.objects.create(customer=make_client(tokyo), template=make_template("Thank you SMS", "sms"),
                            channel="sms", due_at=DUE, idempotency_key="f:tokyo")

    page = head_office.get(reverse("admin:journeys_followup_changelist")).content.decode()

    # 08:00 UTC is 17:00 in Tokyo.
    assert "06 May 2026, 17:00 (Asia/Tokyo)" in page
