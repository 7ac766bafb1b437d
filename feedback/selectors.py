"""Reads of feedback: survey responses on the client timeline, the invitation behind a survey link."""

from __future__ import annotations

from feedback.models import Invitation, RecoveryEvent, Response, SurveyMessage
from touchpoints.selectors import TimelineSource


def _load_responses(pks: list[int]) -> dict[int, Response]:
    queryset = Response.objects.filter(pk__in=pks).select_related("survey")
    return {response.pk: response for response in queryset}


def response_timeline_source() -> TimelineSource:
    """A client's survey answers, at the moment they answered (index response_customer_idx)."""
    return TimelineSource(
        kind="response",
        rows=lambda customer: Response.objects.filter(customer=customer),
        time_field="responded_at",
        load=_load_responses,
    )


def _load_recovery_events(pks: list[int]) -> dict[int, RecoveryEvent]:
    return {event.pk: event for event in RecoveryEvent.objects.filter(pk__in=pks).select_related("case", "advisor")}


def recovery_event_timeline_source() -> TimelineSource:
    """The steps of a client's service recovery (opened, contacted, escalated, closed), when each happened."""
    return TimelineSource(kind="recovery", rows=lambda customer: RecoveryEvent.objects.filter(customer=customer),
                          time_field="occurred_at", load=_load_recovery_events)


def _load_survey_messages(pks: list[int]) -> dict[int, SurveyMessage]:
    return {message.pk: message for message in SurveyMessage.objects.filter(pk__in=pks).select_related("survey")}


def survey_message_timeline_source() -> TimelineSource:
    """The survey reminders and referral asks sent to a client, when they went."""
    return TimelineSource(
        kind="survey_message",
        rows=lambda customer: SurveyMessage.objects.filter(customer=customer, status=SurveyMessage.Status.SENT),
        time_field="sent_at", load=_load_survey_messages,
    )


def invitation_for_link(*, token: str) -> Invitation | None:
    """The invitation a survey link's token opens, with what its page shows (the survey, the client, the touchpoint
    it is about, its answer); None for an unknown token or one of an invitation that was never to be sent."""
    if not token or len(token) > Invitation._meta.get_field("token").max_length:
        return None
    return (
        Invitation.objects.exclude(status=Invitation.Status.NOT_SENT)
        .select_related("survey", "customer", "interaction__touchpoint_type", "interaction__boutique",
                        "interaction__order", "response")
        .filter(token=token)
        .first()
    )


def survey_invitation_counts(*, survey_id: int) -> list[tuple[str, int]]:
    """A survey's invitations by outcome, every outcome named even when none has it: scheduled, being sent, sent
    (and of those, answered), failed, then not sent by each reason. One query."""
    from django.db.models import Count, Q

    reasons = Invitation.Reason
    counts = Invitation.objects.filter(survey_id=survey_id).aggregate(
        scheduled=Count("pk", filter=Q(status=Invitation.Status.SCHEDULED)),
        sending=Count("pk", filter=Q(status=Invitation.Status.SENDING)),
        sent=Count("pk", filter=Q(status=Invitation.Status.SENT)),
        answered=Count("pk", filter=Q(answered_at__isnull=False)),
        failed=Count("pk", filter=Q(status=Invitation.Status.FAILED)),
        **{f"not_sent_{reason}": Count("pk", filter=Q(status=Invitation.Status.NOT_SENT, reason=reason))
           for reason in reasons.values},
    )
    labels = [("scheduled", "Scheduled"), ("sending", "Being sent"), ("sent", "Sent"), ("answered", "Answered"),
              ("failed", "Failed")]
    labels += [(f"not_sent_{reason.value}", f"Not sent: {reason.label}") for reason in reasons]
    return [(label, counts[key]) for key, label in labels]
