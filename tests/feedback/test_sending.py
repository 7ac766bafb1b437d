"""Sending survey messages through the follow-up dispatcher: the invitation with one link per score and the house's
unsubscribe mechanics, the contact-pressure policy shared with follow-ups (quiet hours, hands-off, the cap counted
across both), reminders that stop once the client answers, and the promoters' referral ask."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import ValidationError

from customers.services.consent import consent_record
from feedback.models import Invitation, SurveyMessage
from feedback.services import invitation_answer, invitations_schedule_many
from journeys.models import FollowUp
from journeys.services import followup_schedule, hands_off_set
from journeys.services.dispatch import followups_dispatch_due
from tests.factories import BoutiqueFactory
from tests.feedback.test_invitations import survey
from tests.journeys.helpers import make_client, make_template
from touchpoints.services import interaction_record

pytestmark = pytest.mark.django_db

# Monday 4 May 2026, 10:00 UTC (12:00 in Paris): a visit; the survey is due 24 h later, Tuesday 12:00 in Paris.
VISIT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
DUE = VISIT + dt.timedelta(hours=24)


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")


def invite(customer, *, at: dt.datetime = VISIT, **fields) -> Invitation:
    """A survey after store visits (if none yet) and the invitation a visit of `customer` at `at` schedules."""
    after_visit = survey(**{"delay_hours": 24, **fields}) if not fields.get("name") else survey(**fields)
    visit = interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=at, source="pos").record
    invitations_schedule_many(interaction_ids=[visit.pk], now=at)
    return Invitation.objects.get(survey=after_visit, interaction=visit)


def test_a_due_invitation_is_sent_once_with_the_question_a_link_per_score_and_the_unsubscribe_mechanics(paris):
    camille = make_client(paris)
    invitation = invite(camille, reminder_count=2, reminder_after_days=3)

    assert followups_dispatch_due(now=DUE - dt.timedelta(minutes=1)) == {}
    assert followups_dispatch_due(now=DUE) == {"invitation_sent": 1}
    assert followups_dispatch_due(now=DUE + dt.timedelta(minutes=1)) == {}

    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason, invitation.sent_at, invitation.attempts) == ("sent", "", DUE, 1)
    # The link lives SURVEY_EXPIRES_DAYS (14) from the send, not from the visit.
    assert invitation.expires_at == DUE + dt.timedelta(days=14)
    (message,) = mail.outbox
    assert (message.to, message.subject) == ([camille.email], "Would you recommend us?")
    links = re.findall(r'href="([^"]+)"', message.alternatives[0][0])
    page = f"http://localhost:8000/s/{invitation.token}/"
    assert links[:11] == [f"{page}?score={score}" for score in range(11)]
    assert re.search(r"http://localhost:8000/unsubscribe/[^/]+/", links[11])
    assert message.extra_headers["List-Unsubscribe"] == f"<{links[11]}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.extra_headers["Message-ID"] == invitation.provider_message_id
    # Its reminders are scheduled from the send, every reminder_after_days.
    assert list(SurveyMessage.objects.values_list("kind", "number", "status", "due_at")) == [
        ("reminder", 1, "scheduled", DUE + dt.timedelta(days=3)),
        ("reminder", 2, "scheduled", DUE + dt.timedelta(days=6)),
    ]


def test_an_invitation_due_at_night_waits_for_nine_on_the_clients_clock(paris):
    camille = make_client(paris)
    invitation = invite(camille, at=dt.datetime(2026, 5, 4, 20, tzinfo=dt.UTC))  # due 22:00 in Paris

    assert followups_dispatch_due(now=dt.datetime(2026, 5, 5, 20, tzinfo=dt.UTC)) == {"invitation_postponed": 1}

    invitation.refresh_from_db()
    assert (invitation.status, invitation.due_at) == ("scheduled", dt.datetime(2026, 5, 6, 7, tzinfo=dt.UTC))
    assert invitation.status_reason == "Postponed: quiet hours in Europe/Paris until 09:00 local time."
    assert mail.outbox == []


def test_a_client_on_hands_off_is_not_surveyed_and_the_invitation_says_why(paris):
    camille = make_client(paris)
    invitation = invite(camille)
    with time_machine.travel(VISIT, tick=False):
        hands_off_set(customer=camille, actor=None, reason="Bereavement")

    assert followups_dispatch_due(now=DUE) == {"invitation_not_sent_hands_off": 1}

    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == ("not_sent", "hands_off")
    assert mail.outbox == []


def test_consent_withdrawn_before_the_send_leaves_the_invitation_not_sent_for_no_consent(paris):
    camille = make_client(paris)
    invitation = invite(camille)
    consent_record(customer=camille, channel="email", purpose="marketing", is_granted=False,
                   occurred_at=VISIT + dt.timedelta(hours=1), source="crm")

    assert followups_dispatch_due(now=DUE) == {"invitation_not_sent_no_consent": 1}

    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == ("not_sent", "no_consent")
    assert invitation.status_reason == "Cancelled: the client withdrew consent to Email marketing messages."


def test_an_invitation_not_sent_before_its_link_would_die_is_expired(paris):
    camille = make_client(paris)
    invitation = invite(camille)

    assert followups_dispatch_due(now=DUE + dt.timedelta(days=14)) == {"invitation_not_sent_expired": 1}

    invitation.refresh_from_db()
    assert (invitation.status, invitation.reason) == ("not_sent", "expired")


def test_the_frequency_cap_counts_follow_ups_and_surveys_alike(paris, settings):
    settings.FOLLOWUP_MAX_PER_7_DAYS = 2
    camille = make_client(paris)
    thanks = make_template("Thank you", "email", delay_hours=0, holdout_percent=0)
    followup, _ = followup_schedule(customer=camille, template=thanks, key="thanks", trigger_at=DUE)
    invitation = invite(camille)

    # The follow-up and the invitation go: two messages in the window.
    assert followups_dispatch_due(now=DUE) == {"sent": 1, "invitation_sent": 1}
    # A second follow-up is over the cap, which counted the survey; waiting for room would make it a week late.
    later, _ = followup_schedule(customer=camille, template=thanks, key="again", trigger_at=DUE + dt.timedelta(hours=1))
    assert followups_dispatch_due(now=DUE + dt.timedelta(hours=1)) == {"cancelled": 1}

    later.refresh_from_db()
    assert (later.status, later.status_reason) == ("cancelled", "Dropped: the client already has 2 messages in 7 days, "
                                                   "and waiting for room would send it over 72 h late.")
    # And a survey over the cap waits too: a reminder an hour later is postponed until the window has room.
    reminder = SurveyMessage.objects.create(kind="reminder", number=1, survey=invitation.survey, customer=camille,
                                            invitation=invitation, due_at=DUE + dt.timedelta(hours=2))
    assert followups_dispatch_due(now=DUE + dt.timedelta(hours=2)) == {"survey_message_postponed": 1}
    reminder.refresh_from_db()
    assert (reminder.status, reminder.due_at) == ("scheduled", DUE + dt.timedelta(days=7))
    assert FollowUp.objects.get(pk=followup.pk).status == "sent"
    assert Invitation.objects.get(pk=invitation.pk).status == "sent"


def test_a_reminder_goes_to_a_client_who_has_not_answered_and_the_next_stops_once_they_answer(paris):
    camille = make_client(paris)
    invitation = invite(camille, reminder_count=2, reminder_after_days=3)
    followups_dispatch_due(now=DUE)

    assert followups_dispatch_due(now=DUE + dt.timedelta(days=3)) == {"survey_message_sent": 1}
    assert mail.outbox[1].subject == "Reminder: Would you recommend us?"
    invitation_answer(invitation=invitation, score=8, comment="", now=DUE + dt.timedelta(days=4))

    assert followups_dispatch_due(now=DUE + dt.timedelta(days=6)) == {"survey_message_not_sent_answered": 1}
    assert list(SurveyMessage.objects.values_list("number", "status", "reason")) == [
        (1, "sent", ""), (2, "not_sent", "answered")
    ]
    assert len(mail.outbox) == 2


def test_a_promoter_with_marketing_consent_gets_the_referral_ask_48_hours_later_and_a_passive_nothing(paris):
    promoter, passive = make_client(paris), make_client(paris)
    fields = {"referral_subject": "A friend, {{ client.first_name }}?",
              "referral_body": "Dear {{ client.first_name }},\n\nWould a friend enjoy a visit too?"}
    invitation = invite(promoter, **fields)
    other = interaction_record(customer=passive, touchpoint_type="store_visit", occurred_at=VISIT, source="pos").record
    invitations_schedule_many(interaction_ids=[other.pk], now=VISIT)
    assert followups_dispatch_due(now=DUE) == {"invitation_sent": 2}
    answered_at = DUE + dt.timedelta(hours=1)
    invitation_answer(invitation=invitation, score=10, comment="", now=answered_at)
    invitation_answer(invitation=Invitation.objects.get(interaction=other), score=8, comment="", now=answered_at)

    (ask,) = SurveyMessage.objects.all()
    assert (ask.kind, ask.customer_id, ask.due_at) == ("referral", promoter.pk, answered_at + dt.timedelta(hours=48))
    assert followups_dispatch_due(now=answered_at + dt.timedelta(hours=47)) == {}
    assert followups_dispatch_due(now=answered_at + dt.timedelta(hours=48)) == {"survey_message_sent": 1}

    message = mail.outbox[-1]
    assert (message.to, message.subject) == ([promoter.email], "A friend, Élise?")
    assert message.body.startswith("Dear Élise,\n\nWould a friend enjoy a visit too?")
    assert "List-Unsubscribe" in message.extra_headers


def test_the_survey_admin_counts_invitations_by_outcome_with_every_reason_they_were_not_sent(paris, admin_client):
    sent, paused, no_consent = make_client(paris), make_client(paris), make_client(paris, consent=())
    invitation = invite(sent)
    after_visit = invitation.survey
    for customer, moment in ((sent, VISIT + dt.timedelta(days=1)), (no_consent, VISIT)):
        recorded = interaction_record(customer=customer, touchpoint_type="store_visit", occurred_at=moment,
                                      source="pos").record
        invitations_schedule_many(interaction_ids=[recorded.pk], now=moment)
    second = interaction_record(customer=paused, touchpoint_type="store_visit", occurred_at=VISIT,
                                source="pos").record
    invitations_schedule_many(interaction_ids=[second.pk], now=VISIT)
    with time_machine.travel(VISIT, tick=False):
        hands_off_set(customer=paused, actor=None)
    followups_dispatch_due(now=DUE)

    page = admin_client.get(f"/admin/feedback/survey/{after_visit.pk}/change/").content.decode()

    rows = dict(re.findall(r"<tr><th>([^<]+)</th><td>(\d+)</td></tr>", page))
    assert rows == {
        "Scheduled": "0", "Being sent": "0", "Sent": "1", "Answered": "0", "Failed": "0",
        "Not sent: Throttled: surveyed recently": "1", "Not sent: No consent for the channel": "1",
        "Not sent: Sampled out": "0", "Not sent: No address for the channel": "0", "Not sent: Erased client": "0",
        "Not sent: Client on hands-off": "1", "Not sent: Expired before it could go": "0",
    }


def test_a_referral_template_that_does_not_read_is_refused_on_the_survey():
    after_visit = survey(referral_body="Dear {% debug %}")  # no tags at all: nothing reaches past the name

    with pytest.raises(ValidationError) as refused:
        after_visit.full_clean()

    assert list(refused.value.message_dict) == ["referral_body"]
