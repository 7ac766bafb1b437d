"""Feedback's part of erasing a client's personal data (desk.services.client_erase runs every app's part).

A module of its own, like journeys.privacy; a service all the same (keyword-only, atomic).
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from customers.models import Customer
from feedback.models import Invitation, RecoveryCase, RecoveryEvent, Response, SurveyMessage


@transaction.atomic
def feedback_personal_data_erase(*, customer: Customer, erased_at: dt.datetime) -> dict[str, int]:
    """Clear the client's words (comments, answers to further questions, staff's notes on recovery contacts), close
    their open invitations, cancel their open recovery cases (nobody is to call an erased client) and their
    scheduled reminders and referral asks.

    Scores, NPS classes, stages and dates stay: NPS and CSAT are counted from them. An open invitation is made to
    expire now, so that its link can no longer attach new answers to the record.
    """
    responses = Response.objects.filter(customer=customer).update(comment="", answers={})
    invitations = Invitation.objects.filter(
        customer=customer, answered_at__isnull=True, expires_at__gt=erased_at
    ).update(expires_at=erased_at, updated_at=erased_at)
    cases = RecoveryCase.objects.filter(customer=customer, status=RecoveryCase.Status.OPEN).update(
        status=RecoveryCase.Status.CANCELLED, updated_at=erased_at
    )
    counts = {"survey_responses": responses, "survey_invitations_closed": invitations,
              "recovery_cases_cancelled": cases}
    # Staff's words about the client go; the steps themselves stay for the SLA figures. Nothing more is sent.
    notes = RecoveryEvent.objects.filter(
        customer=customer, kind__in=[RecoveryEvent.Kind.CONTACTED, RecoveryEvent.Kind.CLOSED]
    ).exclude(note="").update(note="")
    messages = SurveyMessage.objects.filter(customer=customer, status=SurveyMessage.Status.SCHEDULED).update(
        status=SurveyMessage.Status.NOT_SENT, reason=SurveyMessage.Reason.ERASED, updated_at=erased_at
    )
    for key, count in (("recovery_notes_cleared", notes), ("survey_messages_not_sent", messages)):
        if count:
            counts[key] = count
    return counts
