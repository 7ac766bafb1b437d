"""Service recovery: a detractor's answer (NPS 0-6, CSAT 1-2), whatever brought it in, opens one case for the
client's advisor (or the boutique manager), first contact due within RECOVERY_CONTACT_HOURS, on the advisor's day."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from customers.models import Advisor, Customer
from customers.services import customer_upsert
from desk.day import advisor_day
from feedback.models import RecoveryCase, Survey
from feedback.privacy import feedback_personal_data_erase
from feedback.services import response_record
from tests.factories import BoutiqueFactory, make_staff

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

    due = AT + dt.timedelta(hours=24)
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

    day = advisor_day(user=advisor, now=AT + dt.timedelta(hours=30))
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
