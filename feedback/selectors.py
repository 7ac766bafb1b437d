"""Reads of feedback: survey responses on the client timeline, the invitation behind a survey link, the survey an
outside tool names, and NPS with its confidence interval."""

from __future__ import annotations

import math
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncMonth

from feedback.models import Invitation, RecoveryEvent, Response, Survey, SurveyMessage
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
def survey_named(*, reference: object) -> Survey | None:
    """The survey an outside tool's answer names: by its id (a whole number, or digits) or else by its exact name,
    ignoring case (a Typeform form titled as the survey). None when none or several answer."""
    if isinstance(reference, bool) or reference is None:
        return None
    text = str(reference).strip()
    if not text or len(text) > Survey._meta.get_field("name").max_length or "\x00" in text:
        return None
    if text.isdigit() and len(text) < 10:
        survey = Survey.objects.filter(pk=int(text)).first()
        if survey is not None:
            return survey
    named = list(Survey.objects.filter(name__iexact=text)[:2])
    return named[0] if len(named) == 1 else None


# --- NPS with its confidence ---------------------------------------------------------------------------------

# Below this many answers an NPS moves too much from one answer to the next to be read alone: it is flagged.
NPS_SMALL_SAMPLE = 30
# The normal quantile of a two-sided 95% interval.
Z_95 = 1.959963984540054
# What each grouping counts by, and the fields its label is read from (the first non-blank of each "or").
NPS_GROUPS = {
    "survey": ("survey_id", ("survey__name",)),
    "boutique": ("customer__home_boutique_id", ("customer__home_boutique__name",)),
    "advisor": ("customer__advisor_id", ("customer__advisor__user__first_name", "customer__advisor__user__last_name",
                                         "customer__advisor__user__username")),
    "month": ("month", ()),
}


@dataclass(frozen=True)
class NpsFigure:
    """One group's NPS (promoters' share minus detractors', in points from -100 to 100) with n and its 95%
    confidence interval: the NPS is the mean of +1 (promoter), 0 (passive) and -1 (detractor) per answer, so its
    standard error is sqrt((p + d - (p - d)²) / n), and the interval NPS ± 1.96 standard errors, held within ±100.
    An interval from so few answers is flagged (`is_small_sample`, under NPS_SMALL_SAMPLE)."""

    key: int | str | None
    label: str
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float
    ci_low: float
    ci_high: float
    is_small_sample: bool

    @property
    def warning(self) -> str:
        if not self.is_small_sample:
            return ""
        return f"Only {self.n} answer(s): under {NPS_SMALL_SAMPLE}, the NPS is too unsteady to be read alone."


def nps_figure(*, key: int | str | None, label: str, promoters: int, passives: int, detractors: int) -> NpsFigure:
    """The NPS of these counts, with its 95% interval (see NpsFigure)."""
    n = promoters + passives + detractors
    if not n:
        return NpsFigure(key, label, 0, 0, 0, 0, 0.0, -100.0, 100.0, True)
    p, d = promoters / n, detractors / n
    score = p - d
    error = math.sqrt(max(p + d - score * score, 0.0) / n)
    low, high = max(score - Z_95 * error, -1.0), min(score + Z_95 * error, 1.0)
    return NpsFigure(key, label, n, promoters, passives, detractors, round(100 * score, 1), round(100 * low, 1),
                     round(100 * high, 1), n < NPS_SMALL_SAMPLE)


def nps_by(*, responses: QuerySet[Response], group_by: str) -> list[NpsFigure]:
    """The NPS of `responses` (already scoped and filtered: Response.objects.visible_to(user) and the list's
    filters) per survey, client's boutique, client's advisor or calendar month (TIME_ZONE), with n and the 95%
    interval; NPS answers only (those with an NPS class). One query."""
    if group_by not in NPS_GROUPS:
        raise ValueError(f"Group by one of {', '.join(NPS_GROUPS)}.")
    key_field, label_fields = NPS_GROUPS[group_by]
    rows = responses.exclude(nps_class="").order_by()
    if group_by == "month":
        rows = rows.annotate(month=TruncMonth("responded_at"))
    fields = [key_field, *label_fields]
    counted = rows.values(*fields).annotate(
        promoters=Count("pk", filter=Q(nps_class=Response.NpsClass.PROMOTER)),
        passives=Count("pk", filter=Q(nps_class=Response.NpsClass.PASSIVE)),
        detractors=Count("pk", filter=Q(nps_class=Response.NpsClass.DETRACTOR)),
    ).order_by(*fields)
    figures = []
    for row in counted:
        key = row[key_field]
        if group_by == "month":
            key = key.date().isoformat()[:7] if key else None
        if group_by == "advisor":
            label = " ".join(part for part in (row[label_fields[0]], row[label_fields[1]]) if part) or (
                row[label_fields[2]] or "")
        else:
            label = (row[label_fields[0]] or "") if label_fields else (key or "")
        figures.append(nps_figure(key=key, label=label or "(none)", promoters=row["promoters"],
                                  passives=row["passives"], detractors=row["detractors"]))
    return figures
