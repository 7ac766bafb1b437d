"""End to end with real workers on Redis and moved clocks: a store visit schedules its survey on the worker, which
sends it at 09:00 in Paris and not at night; a reminder goes, and the next stops once the client answers; a second
survey within 30 days is skipped as throttled; a detractor's answer opens a recovery case that beat escalates after
its SLA; a promoter gets the referral ask 48 hours later."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import pytest

from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Survey, SurveyMessage
from feedback.services import invitation_answer
from feedback.tasks import recovery_cases_escalate_task
from journeys.tasks import followups_dispatch_task
from tests.journeys.helpers import make_client, wait_for
from touchpoints.models import TouchpointType
from touchpoints.services import interaction_record

pytestmark = [pytest.mark.broker, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

# Monday 4 May 2026, 19:30 UTC (21:30 in Paris): a visit. The survey is due an hour later, 22:30 in Paris: night.
VISIT = dt.datetime(2026, 5, 4, 19, 30, tzinfo=dt.UTC)
DUE = VISIT + dt.timedelta(hours=1)
NINE_IN_PARIS = dt.datetime(2026, 5, 5, 7, 0, tzinfo=dt.UTC)


def at(workers, moment: dt.datetime, task=followups_dispatch_task):
    """One beat of `task`, run by a worker whose clock reads `moment`."""
    workers.set_clock(moment)
    return task.apply_async(queue=workers.queue).get(timeout=60)


def mails(workers) -> list[str]:
    return [path.read_text() for path in sorted(workers.mail_dir.iterdir())]


def visit_survey(**fields) -> Survey:
    return Survey.objects.create(name=fields.pop("name", "After a visit"), kind="nps",
                                 question="Would you recommend us?", delay_hours=1,
                                 trigger_type=TouchpointType.objects.get(code="store_visit"), **fields)


def visit(workers, client, moment: dt.datetime = VISIT) -> Invitation:
    """A store visit recorded here; the worker (its clock at the visit) schedules the invitation after the commit."""
    workers.set_clock(moment)
    recorded = interaction_record(customer=client, touchpoint_type="store_visit", occurred_at=moment,
                                  source="pos").record
    wait_for(lambda: Invitation.objects.filter(interaction=recorded).exists(), what="the invitation scheduled")
    return Invitation.objects.get(interaction=recorded)


def test_a_visit_schedules_a_survey_sent_at_nine_in_paris_not_at_night_then_a_reminder_stopped_by_the_answer(
    survey_workers, paris_boutique
):
    visit_survey(reminder_count=2, reminder_after_days=2)
    camille = make_client(paris_boutique)
    survey_workers.start()
    invitation = visit(survey_workers, camille)
    assert (invitation.status, invitation.due_at) == ("scheduled", DUE)

    # 22:30 in Paris: too late to write to a client. 08:59: still waiting. 09:00: sent, once.
    assert at(survey_workers, DUE) == {"invitation_postponed": 1}
    assert at(survey_workers, NINE_IN_PARIS - dt.timedelta(minutes=1)) == {}
    assert at(survey_workers, NINE_IN_PARIS) == {"invitation_sent": 1}
    assert at(survey_workers, NINE_IN_PARIS + dt.timedelta(minutes=1)) == {}
    invitation.refresh_from_db()
    assert (invitation.status, invitation.sent_at) == ("sent", NINE_IN_PARIS)
    (mail,) = mails(survey_workers)
    assert f"To: {camille.email}" in mail
    assert f"/s/{invitation.token}/?score=10" in mail
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in mail

    # Two days later, no answer: the first reminder. The client answers; the second reminder stops.
    assert at(survey_workers, NINE_IN_PARIS + dt.timedelta(days=2)) == {"survey_message_sent": 1}
    invitation_answer(invitation=invitation, score=8, comment="", now=NINE_IN_PARIS + dt.timedelta(days=3))
    assert at(survey_workers, NINE_IN_PARIS + dt.timedelta(days=4)) == {"survey_message_not_sent_answered": 1}

    assert list(SurveyMessage.objects.order_by("number").values_list("number", "status", "reason")) == [
        (1, "sent", ""), (2, "not_sent", "answered")]
    assert len(mails(survey_workers)) == 2


def test_a_second_survey_within_30_days_is_skipped_as_throttled(survey_workers, paris_boutique):
    visit_survey()
    camille = make_client(paris_boutique)
    survey_workers.start()

    first = visit(survey_workers, camille)
    second = visit(survey_workers, camille, VISIT + dt.timedelta(days=10))
    third = visit(survey_workers, camille, VISIT + dt.timedelta(days=31))

    assert [(invitation.status, invitation.reason) for invitation in (first, second, third)] == [
        ("scheduled", ""), ("not_sent", "throttled"), ("scheduled", "")]


def test_a_detractor_opens_a_recovery_case_escalated_after_the_sla_and_a_promoter_gets_the_referral_ask(
    survey_workers, paris_boutique
):
    from customers.models import Advisor
    from tests.factories import make_staff

    visit_survey(referral_subject="A friend, {{ client.first_name }}?",
                 referral_body="Dear {{ client.first_name }},\n\nWould a friend enjoy a visit too?")
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris_boutique)
    unhappy, happy = make_client(paris_boutique), make_client(paris_boutique)
    survey_workers.start()
    unhappy_invitation, happy_invitation = visit(survey_workers, unhappy), visit(survey_workers, happy)
    assert at(survey_workers, NINE_IN_PARIS) == {"invitation_sent": 2}

    answered = NINE_IN_PARIS + dt.timedelta(hours=1)  # 10:00 in Paris, a Tuesday: the boutique opens
    invitation_answer(invitation=unhappy_invitation, score=3, comment="Kept waiting", now=answered)
    invitation_answer(invitation=happy_invitation, score=10, comment="", now=answered)

    # The detractor's case: 24 opening hours (10:00-19:00) from Tuesday 10:00 are Thursday 16:00 in Paris.
    case = RecoveryCase.objects.get()
    assert (case.customer_id, case.contact_due_at) == (unhappy.pk, dt.datetime(2026, 5, 7, 14, tzinfo=dt.UTC))
    assert at(survey_workers, case.contact_due_at, recovery_cases_escalate_task) == 0
    assert at(survey_workers, case.contact_due_at + dt.timedelta(minutes=5), recovery_cases_escalate_task) == 1
    case.refresh_from_db()
    assert (case.status, case.escalated_to.user_id) == ("open", manager.pk)
    assert list(RecoveryEvent.objects.values_list("kind", flat=True)) == ["opened", "escalated"]

    # The promoter's referral ask, 48 hours after the answer; the detractor gets none.
    assert at(survey_workers, answered + dt.timedelta(hours=47)) == {}
    assert at(survey_workers, answered + dt.timedelta(hours=48)) == {"survey_message_sent": 1}
    (ask,) = SurveyMessage.objects.all()
    assert (ask.kind, ask.customer_id, ask.status) == ("referral", happy.pk, "sent")
    message = email.message_from_string(mails(survey_workers)[-1].split("\n---")[0], policy=email.policy.default)
    assert (message["To"], message["Subject"]) == (happy.email, "A friend, Élise?")
