"""Service recovery: a detractor's answer (NPS 0-6, CSAT 1-2), whatever brought it in, opens one case for the
client's advisor (or the boutique manager), first contact due within RECOVERY_CONTACT_HOURS, on the advisor's day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from core.errors import ApplicationError
from customers.models import Advisor, Customer
from customers.services import customer_upsert
from desk.day import advisor_day
from feedback.models import RecoveryCase, RecoveryEvent, RootCause, Survey
from feedback.privacy import feedback_personal_data_erase
from feedback.services import response_record
from feedback.services.recovery import recovery_case_close, recovery_case_contact, recovery_cases_escalate_due
from tests.factories import BoutiqueFactory, make_staff
from touchpoints.selectors import customer_timeline

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR", timezone="Europe/Paris")


def survey(kind: str = "nps") -> Survey:
    return Survey.objects.create(name=f"Survey {kind}", kind=kind, question="How was it?")


def client_of(number: int, *, boutique=None, advisor_user=None) -> Customer:
    customer = customer_upsert(source="crm", external_id=f"C-{number}", email=f"c{number}@example.com").customer
    Customer.objects.filter(pk=customer.pk).update(
        home_boutique=boutique, advisor=Advisor.objects.get(user=advisor_user) if advisor_user else None
    )
    return Customer.objects.get(pk=customer.pk)


def cases() -> list[tuple[int, int, int | None, str, dt.datetime]]:
    return list(RecoveryCase.objects.order_by("pk").values_list(
        "response__score", "customer_id", "advisor__user_id", "status", "contact_due_at"))


def test_detractors_open_a_case_for_their_advisor_due_within_the_sla_and_others_open_nothing(paris, settings):
    settings.RECOVERY_CONTACT_HOURS = 24
    nps, csat, custom = survey("nps"), survey("csat"), survey("custom")
    advisor = make_staff(Advisor.Role.ADVISOR, paris)
    camille = client_of(1, boutique=paris, advisor_user=advisor)

    for score in (6, 7, 9, 0):
        response_record(survey=nps, customer=camille, score=score, responded_at=AT)
    for score in (2, 3):
        response_record(survey=csat, customer=camille, score=score, responded_at=AT)
    response_record(survey=custom, customer=camille, score=1, responded_at=AT)

    # 24 opening hours (10:00-19:00, Monday to Saturday, in Paris) from Monday 12:00 in Paris: Wednesday 18:00 there.
    due = dt.datetime(2026, 5, 6, 16, tzinfo=dt.UTC)
    assert cases() == [(6, camille.pk, advisor.pk, "open", due), (0, camille.pk, advisor.pk, "open", due),
                       (2, camille.pk, advisor.pk, "open", due)]


def test_a_client_without_an_active_advisor_goes_to_the_boutique_manager_and_else_stays_unassigned(paris):
    nps = survey()
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris)
    gone = make_staff(Advisor.Role.ADVISOR, paris)
    Advisor.objects.filter(user=gone).update(is_active=False)
    no_advisor, left, elsewhere = client_of(1, boutique=paris), client_of(2, boutique=paris, advisor_user=gone), \
        client_of(3)

    for customer in (no_advisor, left, elsewhere):
        response_record(survey=nps, customer=customer, score=3, responded_at=AT)

    assert [(customer, user) for _score, customer, user, _status, _due in cases()] == [
        (no_advisor.pk, manager.pk), (left.pk, manager.pk), (elsewhere.pk, None),
    ]


def test_a_replayed_answer_opens_no_second_case(paris):
    nps = survey()
    camille = client_of(1, boutique=paris)

    for _ in range(2):
        response_record(survey=nps, customer=camille, score=2, responded_at=AT, source="ecommerce",
                        external_id="R-1")

    assert RecoveryCase.objects.count() == 1


def test_the_advisors_day_shows_their_open_cases_and_the_manager_the_boutiques(client, paris):
    nps = survey()
    advisor, other, manager = (make_staff(Advisor.Role.ADVISOR, paris), make_staff(Advisor.Role.ADVISOR, paris),
                               make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris))
    mine, theirs = client_of(1, boutique=paris, advisor_user=advisor), client_of(2, boutique=paris, advisor_user=other)
    for customer in (mine, theirs):
        response_record(survey=nps, customer=customer, score=4, responded_at=AT, comment="Kept waiting")

    day = advisor_day(user=advisor, now=AT + dt.timedelta(hours=60))
    boutique_day = advisor_day(user=manager, now=AT + dt.timedelta(hours=1))
    client.force_login(advisor)
    page = client.get(reverse("admin:index")).content.decode()

    assert [(case.customer_id, case.is_overdue) for case in day.recovery_cases] == [(mine.pk, True)]
    assert [(case.customer_id, case.is_overdue) for case in boutique_day.recovery_cases] == [
        (mine.pk, False), (theirs.pk, False)]
    assert 'id="day-recovery"' in page
    assert "Kept waiting" in page


def test_erasing_the_client_cancels_their_open_case(paris):
    nps = survey()
    camille, other = client_of(1, boutique=paris), client_of(2, boutique=paris)
    for customer in (camille, other):
        response_record(survey=nps, customer=customer, score=1, responded_at=AT)

    counts = feedback_personal_data_erase(customer=camille, erased_at=AT + dt.timedelta(hours=1))

    assert counts == {"survey_responses": 1, "survey_invitations_closed": 0, "recovery_cases_cancelled": 1}
    assert dict(RecoveryCase.objects.values_list("customer_id", "status")) == {camille.pk: "cancelled",
                                                                               other.pk: "open"}


def test_the_sla_counts_the_boutiques_opening_hours_on_its_clock(paris, settings):
    settings.RECOVERY_CONTACT_HOURS = 24
    camille = client_of(1, boutique=paris)
    # Saturday 9 May 2026, 20:00 in Paris: closed; Sunday closed; the clock starts Monday 10:00.
    response_record(survey=survey(), customer=camille, score=2, responded_at=dt.datetime(2026, 5, 9, 18, tzinfo=dt.UTC))

    # Monday 9 h, Tuesday 9 h, Wednesday 6 h: 16:00 in Paris.
    assert RecoveryCase.objects.get().contact_due_at == dt.datetime(2026, 5, 13, 14, tzinfo=dt.UTC)


def test_an_overdue_case_is_escalated_to_the_boutique_manager_once_with_each_step_on_the_timeline(paris):
    advisor, manager = make_staff(Advisor.Role.ADVISOR, paris), make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris)
    camille = client_of(1, boutique=paris, advisor_user=advisor)
    response_record(survey=survey(), customer=camille, score=3, responded_at=AT)
    case = RecoveryCase.objects.get()

    assert recovery_cases_escalate_due(now=case.contact_due_at) == 0
    assert recovery_cases_escalate_due(now=case.contact_due_at + dt.timedelta(minutes=1)) == 1
    assert recovery_cases_escalate_due(now=case.contact_due_at + dt.timedelta(hours=1)) == 0

    case.refresh_from_db()
    assert (case.status, case.advisor.user_id, case.escalated_to.user_id) == ("open", advisor.pk, manager.pk)
    assert case.escalated_at == case.contact_due_at + dt.timedelta(minutes=1)
    kinds = [entry.kind for entry in customer_timeline(customer=camille).entries]
    assert kinds.count("recovery") == 2
    assert list(RecoveryEvent.objects.values_list("kind", "advisor__user_id")) == [
        ("opened", advisor.pk), ("escalated", manager.pk)]


def test_a_contacted_case_is_not_escalated_and_closing_needs_an_outcome_and_a_root_cause(paris):
    advisor = make_staff(Advisor.Role.ADVISOR, paris)
    camille = client_of(1, boutique=paris, advisor_user=advisor)
    response_record(survey=survey(), customer=camille, score=1, responded_at=AT)
    case = RecoveryCase.objects.get()
    waiting = RootCause.objects.get(name="Waiting")

    recovery_case_contact(case=case, actor=advisor, contacted_at=AT + dt.timedelta(hours=2), note="Called her")
    assert recovery_cases_escalate_due(now=case.contact_due_at + dt.timedelta(hours=1)) == 0
    with pytest.raises(ApplicationError) as no_cause:
        recovery_case_close(case=case, actor=advisor, outcome="resolved", root_cause=None, closed_at=AT)
    with pytest.raises(ApplicationError) as no_outcome:
        recovery_case_close(case=case, actor=advisor, outcome="", root_cause=waiting, closed_at=AT)
    assert RecoveryCase.objects.get().status == "contacted"
    recovery_case_close(case=case, actor=advisor, outcome="resolved", root_cause=waiting,
                        closed_at=AT + dt.timedelta(days=1))

    assert (no_cause.value.extra["fields"], no_outcome.value.extra["fields"]) == (
        {"root_cause": ["Choose the root cause from head office's list."]},
        {"outcome": ["Choose the outcome: resolved, partly_resolved, not_resolved, unreachable"]},
    )
    case.refresh_from_db()
    assert (case.status, case.outcome, case.root_cause, case.contacted_at) == (
        "resolved", "resolved", waiting, AT + dt.timedelta(hours=2))
    assert list(RecoveryEvent.objects.values_list("kind", flat=True)) == ["opened", "contacted", "closed"]
    assert RecoveryEvent.objects.get(kind="closed").note == "Resolved: the client is satisfied; root cause: Waiting."


def test_head_office_edits_the_root_causes_which_ship_seeded():
    assert list(RootCause.objects.values_list("name", flat=True)) == [
        "Product quality", "Alteration", "Advisor care", "Waiting", "Delivery", "Price", "Other"]


def test_the_advisor_works_the_case_in_the_admin_and_cannot_close_it_without_a_root_cause(client, paris):
    advisor = make_staff(Advisor.Role.ADVISOR, paris)
    camille = client_of(1, boutique=paris, advisor_user=advisor)
    response_record(survey=survey(), customer=camille, score=2, responded_at=AT, comment="Kept waiting")
    case = RecoveryCase.objects.get()
    url = reverse("admin:feedback_recoverycase_work", args=[case.pk])
    client.force_login(advisor)

    page = client.get(url)
    contacted = client.post(url, {"step": "contact", "note": "Called her, apologised"})
    refused = client.post(url, {"step": "close", "outcome": "resolved", "root_cause": ""})
    state_after_refusal = RecoveryCase.objects.get().status
    closed = client.post(url, {"step": "close", "outcome": "resolved",
                               "root_cause": RootCause.objects.get(name="Waiting").pk})

    assert (page.status_code, contacted.status_code, refused.status_code, closed.status_code) == (200, 302, 200, 302)
    assert "Kept waiting" in page.content.decode()
    assert state_after_refusal == "contacted"
    case.refresh_from_db()
    assert (case.status, case.outcome, case.root_cause.name) == ("resolved", "resolved", "Waiting")
    assert list(RecoveryEvent.objects.values_list("kind", "actor_id")) == [
        ("opened", None), ("contacted", advisor.pk), ("closed", advisor.pk)]
