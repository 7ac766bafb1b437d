"""The client page (customer 360): the header's figures, the merged timeline and its pages, journeys, the quick
actions (each writing exactly one record through its service), the history of every change (bulk writes
included), boutique scoping and permissions, and a query count that does not grow with the client's past."""

from __future__ import annotations

import datetime as dt
import re

import pghistory
import pytest
from django.contrib.auth.models import Group, Permission
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from customers.models import Advisor, ConsentChannel, ConsentPurpose, Customer, SourceSystem
from customers.services import consent_record, customer_upsert
from desk.selectors import customer_history
from feedback.models import Response, Survey
from journeys.models import Enrollment, FollowUp, FollowUpTemplate, HandsOff, Journey, Transition
from journeys.services import enrollment_enroll
from tests.desk.helpers import LOGIN_BACKEND, logged_in, messages_of
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, UserFactory, make_staff
from touchpoints.models import Appointment, Interaction
from touchpoints.services import OrderLineData, interaction_record, order_record

pytestmark = pytest.mark.django_db

PARIS_TIME = dt.timezone(dt.timedelta(hours=1))  # Paris in March (before summer time)


def at(day: int, hour: int = 12) -> dt.datetime:
    return dt.datetime(2026, 3, day, hour, tzinfo=PARIS_TIME)


def page_url(customer: Customer) -> str:
    return reverse("admin:customers_customer_change", args=[customer.pk])


def action_url(customer: Customer, action: str) -> str:
    return reverse(f"admin:customers_customer_{action}", args=[customer.pk])



def field_html(response, name: str) -> str:
    """The text of the page's element marked data-field="name", tags removed."""
    match = re.search(rf'<(\w+)[^>]*data-field="{name}"[^>]*>(.*?)</\1>', response.content.decode(), re.S)
    assert match, f"no {name} on the page"
    return re.sub(r"<[^>]+>", "", match.group(2)).strip()



@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris", currency="EUR")


@pytest.fixture
def london():
    return BoutiqueFactory(code="LON", name="London Bond Street", country="GB", timezone="Europe/London",
                           currency="GBP")


@pytest.fixture
def advisor_user(paris):
    return make_staff(Advisor.Role.ADVISOR, paris, username="camille")


@pytest.fixture
def london_user(london):
    return make_staff(Advisor.Role.ADVISOR, london, username="oliver")


@pytest.fixture
def lifecycle() -> Journey:
    return Journey.objects.get(slug="client-lifecycle")


@pytest.fixture
def claire(paris, advisor_user):
    """A Paris client with an order, a visit and consent on two channels."""
    client = customer_upsert(
        source=SourceSystem.POS, external_id="C-1", email="claire@example.com", phone="+33612345678",
        first_name="Claire", last_name="Moreau", home_boutique=paris, advisor=advisor_user.advisor,
        persona=PersonaFactory(name="The connoisseur", slug="connoisseur"),
        preferences={"sizes": ["38"], "categories": ["Handbags", "Scarves"], "styles": ["Classic"]},
        advisor_notes="Prefers appointments on Saturday mornings.",
    ).customer
    consent_record(customer=client, channel=ConsentChannel.EMAIL, purpose=ConsentPurpose.MARKETING,
                   is_granted=True, occurred_at=at(1), source=SourceSystem.POS)
    consent_record(customer=client, channel=ConsentChannel.SMS, purpose=ConsentPurpose.MARKETING,
                   is_granted=False, occurred_at=at(1), source=SourceSystem.POS)
    order_record(
        source=SourceSystem.POS, external_id="O-1", customer=client, placed_at=at(2), currency="EUR",
        total="1200.00", lines=[OrderLineData(sku="BAG-001", quantity=1, unit_price="1200.00")],
        boutique=paris, advisor=advisor_user.advisor,
    )
    interaction_record(customer=client, touchpoint_type="store_visit", occurred_at=at(3), source=SourceSystem.POS,
                       external_id="V-1", boutique=paris)
    client.refresh_from_db()
    return client


def followup_for(customer: Customer, *, due_at: dt.datetime, name: str = "Thank you") -> FollowUp:
    # No service schedules follow-ups yet (the rules engine is its own piece of work).
    template, _ = FollowUpTemplate.objects.get_or_create(name=name, defaults={"channel": "email"})
    return FollowUp.objects.create(
        customer=customer, template=template, channel=template.channel, due_at=due_at, subject="Thank you",
        idempotency_key=f"test:{customer.pk}:{due_at.isoformat()}",
    )


def response_for(customer: Customer, *, responded_at: dt.datetime, score: int = 9) -> Response:
    survey, _ = Survey.objects.get_or_create(name="After a visit", defaults={"kind": "nps", "question": "Would you?"})
    return Response.objects.create(
        survey=survey, customer=customer, score=score, nps_class=Response.NpsClass.PROMOTER,
        comment="Lovely welcome.", responded_at=responded_at,
    )


# --- The page ------------------------------------------------------------------------------------------------


def test_the_header_shows_the_clients_figures(advisor_user, claire):
    response = logged_in(advisor_user).get(page_url(claire))

    assert response.status_code == 200
    page = response.context["client_page"]
    assert (field_html(response, "name"), field_html(response, "value_tier"), field_html(response, "persona_name"),
            field_html(response, "advisor"), field_html(response, "home_boutique")) == (
        "Claire Moreau", "Client", "The connoisseur", "Camille " + advisor_user.last_name, "Paris Faubourg"
    )
    assert (field_html(response, "lifetime_value"), field_html(response, "order_count"),
            field_html(response, "last_order_at"), field_html(response, "last_visit_at")) == (
        "1,200.00 EUR", "1", "2 Mar 2026", "3 Mar 2026"
    )
    assert [(state.channel, state.marketing, state.service) for state in page.consent] == [
        ("email", True, None), ("sms", False, None), ("phone", None, None), ("messaging", None, None)
    ]
    assert page.preferences == [("Sizes", ["38"]), ("Categories", ["Handbags", "Scarves"]), ("Styles", ["Classic"])]
    assert "Prefers appointments on Saturday mornings." in response.content.decode()
    assert page.time_zone == "Europe/Paris"


def test_a_client_never_seen_in_a_boutique_has_no_last_visit(advisor_user, paris):
    client = customer_upsert(source=SourceSystem.POS, external_id="C-9", email="new@example.com",
                             home_boutique=paris).customer

    response = logged_in(advisor_user).get(page_url(client))

    assert (field_html(response, "last_order_at"), field_html(response, "last_visit_at"),
            field_html(response, "lifetime_value"), field_html(response, "advisor")) == (
        "Never", "Never", "0.00 EUR", "Unassigned"
    )


def test_the_timeline_merges_interactions_orders_moves_follow_ups_and_feedback_newest_first(
    advisor_user, claire, lifecycle
):
    enrollment_enroll(customer=claire, journey=lifecycle, occurred_at=at(1))
    followup_for(claire, due_at=at(4))
    response_for(claire, responded_at=at(5))

    response = logged_in(advisor_user).get(page_url(claire))

    rows = response.context["client_page"].timeline
    assert [(row.kind, row.title, row.occurred_at, row.amount) for row in rows] == [
        ("response", "After a visit: 9", at(5), ""),
        ("followup", "Follow-up: Thank you", at(4), ""),
        ("interaction", "Store visit", at(3), ""),
        ("purchase", "Purchase · order O-1", at(2), "1,200.00 EUR"),
        ("transition", "Client lifecycle: entered Awareness", at(1), ""),
    ]
    assert [row.channel for row in rows] == ["feedback", "email", "boutique", "boutique", "stage"]
    html = response.content.decode()
    assert html.count('<svg class="c360-icon"') == 5
    assert 'data-channel="email"' in html
    assert '<span class="c360-amount">1,200.00 EUR</span>' in html
    assert response.context["client_page"].older_url == ""


def test_the_timeline_pages_older_entries_through_its_cursor(advisor_user, paris):
    client = customer_upsert(source=SourceSystem.POS, external_id="C-2", email="many@example.com",
                             home_boutique=paris).customer
    for number in range(30):
        interaction_record(customer=client, touchpoint_type="store_visit", source=SourceSystem.POS,
                           occurred_at=at(1) + dt.timedelta(hours=number), external_id=f"V-{number}")
    browser = logged_in(advisor_user)

    first = browser.get(page_url(client))
    older_url = first.context["client_page"].older_url
    second = browser.get(older_url)

    first_times = [row.occurred_at for row in first.context["client_page"].timeline]
    second_times = [row.occurred_at for row in second.context["client_page"].timeline]
    assert first_times == [at(1) + dt.timedelta(hours=number) for number in range(29, 4, -1)]
    assert second_times == [at(1) + dt.timedelta(hours=number) for number in range(4, -1, -1)]
    assert older_url.startswith(page_url(client) + "?timeline=")
    assert f'href="{older_url}"' in first.content.decode()
    assert (second.context["client_page"].older_url, second.context["client_page"].newest_url) == (
        "", page_url(client) + "#timeline"
    )


def test_a_forged_timeline_cursor_shows_the_newest_page_with_a_message(advisor_user, claire):
    response = logged_in(advisor_user).get(page_url(claire), {"timeline": "bm9wZQ=="})

    assert response.status_code == 200
    assert len(response.context["client_page"].timeline) == 2
    assert messages_of(response) == ["This cursor is not one the timeline gave out."]


def test_journeys_show_the_current_stage_and_the_time_in_it(advisor_user, claire, lifecycle):
    enrollment_enroll(customer=claire, journey=lifecycle, stage=lifecycle.stages.get(key="purchase"),
                      occurred_at=timezone.now() - dt.timedelta(days=12, hours=1))

    response = logged_in(advisor_user).get(page_url(claire))

    [status] = response.context["client_page"].journeys
    assert (status.enrollment.stage.name, status.days_in_stage, status.is_over_target) == ("Purchase", 12, True)
    assert [stage.key for stage in status.stages] == [
        "awareness", "consideration", "purchase", "post_purchase", "loyalty", "advocacy"
    ]
    assert re.search(r"12 days in stage · target 7 · <span class=\"c360-late\">over target</span>",
                     response.content.decode())


def test_the_standard_edit_form_stays_on_the_page(advisor_user, claire):
    response = logged_in(advisor_user).get(page_url(claire))

    html = response.content.decode()
    assert '<details id="profile"' in html
    assert 'id="customer_form"' in html
    assert response.context["adminform"].form["advisor_notes"].value() == "Prefers appointments on Saturday mornings."


# --- Quick actions -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "note", "type_name", "channel"),
    [("store_visit", "Tried the Kelly 28.", "Store visit", "boutique"),
     ("phone_call", "", "Phone call", "phone"),
     ("advisor_note", "Daughter's birthday in June.", "Advisor note", "boutique")],
)
def test_logging_a_visit_call_or_note_writes_one_interaction_in_the_staff_members_name(
    advisor_user, claire, kind, note, type_name, channel
):
    browser = logged_in(advisor_user)
    before = set(Interaction.objects.values_list("pk", flat=True))

    response = browser.post(action_url(claire, "log_touchpoint"), {"touchpoint_type": kind, "note": note})

    [created] = Interaction.objects.exclude(pk__in=before)
    assert (created.customer, created.touchpoint_type.code, created.source, created.boutique.code, created.advisor,
            created.channel, created.metadata, created.amount) == (
        claire, kind, "atelier", "PAR", advisor_user.advisor, channel, {"note": note}, None
    )
    assert (response.status_code, response["Location"]) == (302, page_url(claire) + "#timeline")
    assert messages_of(response) == [f"{type_name} logged on Claire Moreau's timeline."]
    newest = browser.get(page_url(claire)).context["client_page"].timeline[0]
    assert (newest.title, newest.who, newest.note) == (type_name, "Camille " + advisor_user.last_name, note)


def test_an_order_on_the_timeline_shows_its_articles(advisor_user, claire):
    rows = logged_in(advisor_user).get(page_url(claire)).context["client_page"].timeline

    purchases = [row for row in rows if row.kind == "purchase"]
    assert [row.articles for row in purchases] == ["1 × BAG-001"]


def test_a_note_logged_from_the_page_shows_in_the_advisor_notes_panel(advisor_user, claire):
    browser = logged_in(advisor_user)
    before = browser.get(page_url(claire)).context["client_page"].timeline_notes

    browser.post(action_url(claire, "log_touchpoint"), {"touchpoint_type": "advisor_note",
                                                        "note": "Daughter's birthday in June."})
    page = browser.get(page_url(claire))

    assert before == []
    assert [row.note for row in page.context["client_page"].timeline_notes] == ["Daughter's birthday in June."]
    content = page.content.decode()
    notes_panel = content[content.index('id="notes"'):content.index('id="history"')]
    assert "Daughter&#x27;s birthday in June." in notes_panel


def test_a_note_without_text_is_refused_and_nothing_is_written(advisor_user, claire):
    count = Interaction.objects.count()

    response = logged_in(advisor_user).post(action_url(claire, "log_touchpoint"),
                                            {"touchpoint_type": "advisor_note", "note": "   "})

    assert (response.status_code, response["Location"]) == (302, page_url(claire) + "#quick-actions")
    assert messages_of(response) == ["Write the note before saving it."]
    assert Interaction.objects.count() == count


def test_a_touchpoint_type_staff_do_not_log_is_refused(advisor_user, claire):
    count = Interaction.objects.count()

    response = logged_in(advisor_user).post(action_url(claire, "log_touchpoint"),
                                            {"touchpoint_type": "purchase", "note": "x"})

    assert messages_of(response) == ["Choose a visit, a call or a note."]
    assert Interaction.objects.count() == count


def test_moving_an_enrolled_client_writes_one_manual_transition_with_the_staff_member_and_the_reason(
    advisor_user, claire, lifecycle
):
    enrollment, _ = enrollment_enroll(customer=claire, journey=lifecycle, occurred_at=at(1))
    loyalty = lifecycle.stages.get(key="loyalty")
    before = set(Transition.objects.values_list("pk", flat=True))
    browser = logged_in(advisor_user)

    response = browser.post(action_url(claire, "move_stage"), {"stage": loyalty.pk, "note": "Third bag this year"})

    [transition] = Transition.objects.exclude(pk__in=before)
    assert (transition.enrollment, transition.from_stage.key, transition.to_stage, transition.cause,
            transition.actor, transition.note) == (
        enrollment, "awareness", loyalty, "manual", advisor_user, "Third bag this year"
    )
    enrollment.refresh_from_db()
    assert enrollment.stage == loyalty
    assert (response.status_code, response["Location"]) == (302, page_url(claire) + "#journeys")
    assert messages_of(response) == ["Claire Moreau is now in Client lifecycle: Loyalty."]
    newest = browser.get(page_url(claire)).context["client_page"].timeline[0]
    assert (newest.kind, newest.title, newest.detail, newest.who, newest.note) == (
        "transition", "Client lifecycle: Awareness → Loyalty", "Manual", "Camille " + advisor_user.last_name,
        "Third bag this year",
    )


def test_moving_a_client_not_in_the_journey_enrolls_them_straight_into_the_stage(advisor_user, claire, lifecycle):
    loyalty = lifecycle.stages.get(key="loyalty")

    logged_in(advisor_user).post(action_url(claire, "move_stage"), {"stage": loyalty.pk, "note": "Known VIC"})

    enrollment = Enrollment.objects.get(customer=claire)
    assert list(Transition.objects.filter(enrollment=enrollment).values_list(
        "from_stage", "to_stage", "cause", "actor", "note"
    )) == [(None, loyalty.pk, "manual", advisor_user.pk, "Known VIC")]
    assert enrollment.stage == loyalty


@pytest.mark.parametrize(
    ("posted", "message"),
    [({"note": ""}, "Say why the client moves to this stage."),
     ({"note": "x" * 241}, "Keep the reason under 240 characters."),
     ({"stage": "awareness"}, "Choose a stage of an active journey."),
     ({"stage": ""}, "Choose the stage.")],
)
def test_a_move_with_bad_input_is_refused_and_nothing_moves(advisor_user, claire, lifecycle, posted, message):
    enrollment_enroll(customer=claire, journey=lifecycle, occurred_at=at(1))
    transitions = Transition.objects.count()
    data = {"stage": lifecycle.stages.get(key="loyalty").pk, "note": "Because"} | posted

    response = logged_in(advisor_user).post(action_url(claire, "move_stage"), data)

    assert messages_of(response) == [message]
    assert Transition.objects.count() == transitions
    assert Enrollment.objects.get(customer=claire).stage.key == "awareness"


def test_moving_to_the_current_stage_is_refused_with_the_services_message(advisor_user, claire, lifecycle):
    enrollment_enroll(customer=claire, journey=lifecycle, occurred_at=at(1))
    transitions = Transition.objects.count()

    response = logged_in(advisor_user).post(
        action_url(claire, "move_stage"), {"stage": lifecycle.stages.get(key="awareness").pk, "note": "Again"}
    )

    assert messages_of(response) == ["The client is already in the stage 'Awareness'."]
    assert Transition.objects.count() == transitions


def test_assigning_an_advisor_changes_the_advisor_and_the_history_names_the_staff_member(
    advisor_user, claire, paris
):
    colleague = AdvisorFactory(boutique=paris, user__first_name="Inès", user__last_name="Laurent")
    browser = logged_in(advisor_user)

    response = browser.post(action_url(claire, "assign_advisor"), {"advisor": colleague.pk})

    claire.refresh_from_db()
    assert claire.advisor == colleague
    assert (response.status_code, response["Location"]) == (302, page_url(claire) + "#client-header")
    assert messages_of(response) == ["Inès Laurent is now Claire Moreau's advisor."]
    entry = browser.get(page_url(claire)).context["client_page"].history[0]
    assert (entry.who, entry.action, entry.kind, entry.staff_user_id) == (
        "Camille " + advisor_user.last_name, "assign advisor", "changed", advisor_user.pk
    )
    assert [(change.field, change.old, change.new) for change in entry.changes] == [
        ("advisor", "Camille " + advisor_user.last_name, "Inès Laurent")
    ]


def test_only_active_advisors_of_the_clients_boutique_are_offered_and_accepted(
    advisor_user, claire, paris, london
):
    colleague = AdvisorFactory(boutique=paris, user__last_name="Laurent")
    AdvisorFactory(boutique=paris, user__last_name="Gone", is_active=False)
    AdvisorFactory(boutique=paris, user__last_name="Manager", role=Advisor.Role.BOUTIQUE_MANAGER)
    foreign = AdvisorFactory(boutique=london, user__last_name="Abroad")
    browser = logged_in(advisor_user)

    offered = browser.get(page_url(claire)).context["client_page"].actions.advisors
    refused = browser.post(action_url(claire, "assign_advisor"), {"advisor": foreign.pk})

    assert sorted(advisor.user.last_name for advisor in offered) == sorted(
        [advisor_user.last_name, colleague.user.last_name, "Manager"]
    )
    assert messages_of(refused) == ["Choose an active advisor of the client's boutique."]
    claire.refresh_from_db()
    assert claire.advisor == advisor_user.advisor


def test_a_quick_action_answers_only_post(advisor_user, claire):
    response = logged_in(advisor_user).get(action_url(claire, "log_touchpoint"))

    assert response.status_code == 405


def test_a_quick_action_needs_the_csrf_token(advisor_user, claire):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(advisor_user, backend=LOGIN_BACKEND)
    count = Interaction.objects.count()

    response = browser.post(action_url(claire, "log_touchpoint"), {"touchpoint_type": "store_visit"})

    assert response.status_code == 403
    assert Interaction.objects.count() == count


# --- Who sees what -------------------------------------------------------------------------------------------


def test_an_advisor_cannot_open_another_boutiques_client_page(london_user, claire):
    response = logged_in(london_user).get(page_url(claire), follow=True)

    assert response.redirect_chain == [(reverse("admin:index"), 302)]
    assert messages_of(response) == [
        f"client with ID “{claire.pk}” doesn’t exist. Perhaps it was deleted?"
    ]
    html = response.content.decode()
    assert "Moreau" not in html
    assert "claire@example.com" not in html


# What each quick action posts, given the lifecycle journey and an advisor to assign.
QUICK_ACTIONS = {
    "log_touchpoint": lambda lifecycle, advisor: {"touchpoint_type": "store_visit", "note": "Came in"},
    "move_stage": lambda lifecycle, advisor: {"stage": lifecycle.stages.get(key="loyalty").pk, "note": "Because"},
    "assign_advisor": lambda lifecycle, advisor: {"advisor": advisor.pk},
    "pause_automation": lambda lifecycle, advisor: {"reason": "Travelling"},
    "book_appointment": lambda lifecycle, advisor: {"date": "2099-01-05", "time": "10:00", "duration": "60",
                                                    "purpose": "Fitting", "advisor": advisor.pk},
}
# The form of each quick action on the page (data-action="…"), in page order, with the permission it needs
# (booking an appointment is part of logging the client's touchpoints).
ACTION_FORMS = {"log_touchpoint": ("log", "add_interaction"), "move_stage": ("move", "change_enrollment"),
                "assign_advisor": ("assign", "change_customer"), "book_appointment": ("book", "add_interaction"),
                "pause_automation": ("pause", "add_handsoff")}


def written(customer: Customer) -> tuple:
    """Everything a quick action could write about the client."""
    customer.refresh_from_db()
    return (Interaction.objects.count(), Transition.objects.count(), Enrollment.objects.count(), customer.advisor_id,
            len(customer_history(customer=customer)), HandsOff.objects.count(), Appointment.objects.count())


@pytest.mark.parametrize("action", QUICK_ACTIONS)
def test_an_advisor_cannot_use_a_quick_action_on_another_boutiques_client(
    london_user, claire, lifecycle, london, action
):
    posted = QUICK_ACTIONS[action](lifecycle, AdvisorFactory(boutique=london))
    before = written(claire)

    response = logged_in(london_user).post(action_url(claire, action), posted)

    assert response.status_code == 404
    assert written(claire) == before


@pytest.mark.parametrize(
    ("action", "permission"),
    [("log_touchpoint", "add_interaction"), ("move_stage", "change_enrollment"),
     ("assign_advisor", "change_customer"), ("pause_automation", "add_handsoff"),
     ("book_appointment", "add_interaction")],
)
def test_a_staff_member_without_the_permission_cannot_use_the_quick_action(
    claire, paris, lifecycle, action, permission
):
    # A boutique advisor whose group has every advisor permission but the one the action needs.
    user = UserFactory(username="trainee")
    Advisor.objects.create(user=user, boutique=paris, role=Advisor.Role.ADVISOR)
    group = Group.objects.create(name="Trainee")
    group.permissions.set(Group.objects.get(name="Advisor").permissions.exclude(codename=permission))
    user.groups.add(group)
    colleague = AdvisorFactory(boutique=paris)
    browser = logged_in(user)
    before = written(claire)

    page = browser.get(page_url(claire))
    response = browser.post(action_url(claire, action), QUICK_ACTIONS[action](lifecycle, colleague))

    assert response.status_code == 403
    assert written(claire) == before
    shown = re.findall(r'data-action="(\w+)"', page.content.decode())
    assert shown == [form for form, needed in ACTION_FORMS.values() if needed != permission]


def test_the_advisor_group_has_the_three_quick_action_permissions():
    granted = set(Permission.objects.filter(group__name="Advisor").values_list("codename", flat=True))

    assert {"add_interaction", "change_enrollment", "change_customer", "add_handsoff", "change_handsoff"} <= granted


# --- History -------------------------------------------------------------------------------------------------


def test_an_edit_through_the_profile_form_is_in_the_history_with_the_staff_member(advisor_user, claire):
    browser = logged_in(advisor_user)
    form = browser.get(page_url(claire)).context["adminform"].form
    data = {name: value for name, value in ((field.html_name, field.value()) for field in form) if value is not None}
    data |= {"city": "Lyon", "advisor_notes": "Moved to Lyon.", "identities-TOTAL_FORMS": "0",
             "identities-INITIAL_FORMS": "0", "_continue": "1"}

    saved = browser.post(page_url(claire), data)

    assert saved.status_code == 302
    entry = browser.get(page_url(claire)).context["client_page"].history[0]
    assert (entry.who, entry.staff_user_id, entry.action) == ("Camille " + advisor_user.last_name, advisor_user.pk, "")
    assert [(change.field, change.old, change.new) for change in entry.changes] == [
        ("city", "", "Lyon"), ("advisor_notes", "Prefers appointments on Saturday mornings.", "Moved to Lyon.")
    ]


def test_a_bulk_update_from_an_import_is_in_the_history_with_old_and_new_values(advisor_user, claire):
    with pghistory.context(source="import"):
        Customer.objects.filter(pk=claire.pk).update(city="Lyon", last_name="Moreau-Blanc")

    response = logged_in(advisor_user).get(page_url(claire))

    entry = response.context["client_page"].history[0]
    assert (entry.who, entry.action, [(change.field, change.old, change.new) for change in entry.changes]) == (
        "Import", "", [("last_name", "Moreau", "Moreau-Blanc"), ("city", "", "Lyon")]
    )
    html = response.content.decode()
    assert '<tr data-field="city"><th scope="row">City</th><td class="c360-old" data-label="Before">—</td>' \
           '<td class="c360-new" data-label="After">Lyon</td></tr>' in html


def test_a_bulk_update_by_no_one_in_particular_is_in_the_history_as_the_system(claire):
    Customer.objects.filter(pk=claire.pk).update(language="fr")

    entry = customer_history(customer=claire)[0]

    assert (entry.who, entry.staff_user_id, [(change.field, change.old, change.new) for change in entry.changes]) == (
        "System", None, [("language", "", "fr")]
    )


def test_the_history_starts_with_the_clients_creation_and_shows_derived_changes(claire):
    history = customer_history(customer=claire)

    assert [(entry.kind, entry.who) for entry in history] == [
        ("changed", "System"), ("changed", "System"), ("changed", "System"), ("created", "System")
    ]
    assert [(change.field, change.old, change.new) for change in history[0].changes] == [
        ("value_tier", "Prospect", "Client")
    ]
    assert [(change.field, change.new) for change in history[-1].changes] == [
        ("first_name", "Claire"), ("last_name", "Moreau"), ("email", "claire@example.com"),
        ("phone", "+33612345678"), ("home_boutique", "Paris Faubourg"), ("advisor", str(claire.advisor)),
        ("persona", "The connoisseur"), ("value_tier", "Prospect"),
        ("preferences", "sizes: 38; categories: Handbags, Scarves; styles: Classic"),
        ("advisor_notes", "Prefers appointments on Saturday mornings."),
    ]


def test_the_history_shows_the_last_changes_only(claire):
    for number in range(25):
        Customer.objects.filter(pk=claire.pk).update(city=f"City {number}")

    history = customer_history(customer=claire, limit=20)

    assert len(history) == 20
    assert [(change.old, change.new) for change in history[0].changes] == [("City 23", "City 24")]
    assert [(change.old, change.new) for change in history[-1].changes] == [("City 4", "City 5")]


# --- Cost ----------------------------------------------------------------------------------------------------


def client_with_touchpoints(paris, lifecycle, *, number: int, count: int) -> Customer:
    """A client with `count` orders and `count` visits, and a stage move, a follow-up and a survey answer newer
    than all of them (so that every kind is on the first page)."""
    client = customer_upsert(source=SourceSystem.POS, external_id=f"C-{number}", email=f"c{number}@example.com",
                             first_name="Client", last_name=str(number), home_boutique=paris).customer
    for index in range(count):
        moment = at(1) + dt.timedelta(hours=index)
        order_record(source=SourceSystem.POS, external_id=f"O-{number}-{index}", customer=client, placed_at=moment,
                     currency="EUR", total="100.00", lines=[OrderLineData(sku="S", quantity=1, unit_price="100.00")],
                     boutique=paris)
        interaction_record(customer=client, touchpoint_type="store_visit", occurred_at=moment,
                           source=SourceSystem.POS, external_id=f"V-{number}-{index}", boutique=paris)
    enrollment_enroll(customer=client, journey=lifecycle, occurred_at=at(20))
    followup_for(client, due_at=at(21))
    response_for(client, responded_at=at(22))
    return client


def count_page_queries(browser: Client, customer: Customer) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = browser.get(page_url(customer))
    assert response.status_code == 200
    return len(queries)


def test_the_client_page_costs_the_same_queries_for_one_touchpoint_and_for_thirty(advisor_user, paris, lifecycle):
    one = client_with_touchpoints(paris, lifecycle, number=1, count=1)
    thirty = client_with_touchpoints(paris, lifecycle, number=2, count=30)
    browser = logged_in(advisor_user)
    for client in (one, thirty):  # an advisor and a history entry by a staff member: the page reads their names
        browser.post(action_url(client, "assign_advisor"), {"advisor": advisor_user.advisor.pk})
    browser.get(page_url(one))  # caches (content types, the session) warm up on the first page

    with_one = count_page_queries(browser, one)
    with_thirty = count_page_queries(browser, thirty)

    assert (one.orders.count(), thirty.orders.count()) == (1, 30)
    assert len(customer_history(customer=thirty)) == len(customer_history(customer=one))
    assert with_one == with_thirty
    # (26 with foresight's card: the client's prediction and its run, one query; 28 with the upcoming appointments,
    # one query, and the booking form's advisor choices, one query)
    assert with_one <= 28


def test_an_advisor_pauses_automation_until_a_date_and_resumes_it_from_the_client_page(advisor_user, claire):
    browser = logged_in(advisor_user)

    paused = browser.post(action_url(claire, "pause_automation"), {"until": "2030-06-30", "reason": "In mourning"})
    page = browser.get(page_url(claire)).content.decode()
    resumed = browser.post(action_url(claire, "resume_automation"))

    assert paused.status_code == resumed.status_code == 302
    assert "Automation paused</strong> since" in page
    assert f"until 30 Jun 2030 by {advisor_user.get_full_name()}: In mourning." in page
    hands_off = HandsOff.objects.get(customer=claire)
    # The end of the chosen day in the client's boutique's time zone (Paris, summer time).
    assert (hands_off.until, hands_off.set_by, hands_off.lifted_by) == (
        dt.datetime(2030, 6, 30, 21, 59, 59, 999999, tzinfo=dt.UTC), advisor_user, advisor_user
    )
    assert 'data-action="pause"' in browser.get(page_url(claire)).content.decode()


def test_a_pause_ending_in_the_past_is_refused_and_nothing_is_written(advisor_user, claire):
    browser = logged_in(advisor_user)

    response = browser.post(action_url(claire, "pause_automation"), {"until": "2001-01-01"}, follow=True)

    assert messages_of(response) == ["The end of the pause must be in the future."]
    assert HandsOff.objects.count() == 0


