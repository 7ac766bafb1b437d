"""Reads of feedback: survey responses on the client timeline, the invitation behind a survey link."""

from __future__ import annotations

from feedback.models import Invitation, Response, Survey
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
