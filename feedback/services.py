"""Writes to feedback. Surveys, invitations and responses arrive with their own piece of work; merges now."""

from __future__ import annotations

from core.errors import ApplicationError
from customers.models import Customer
from feedback.models import Invitation, Response, Survey

# The scale of each kind of survey (custom surveys score on NPS's 0-10, the most the model allows).
SCORE_SCALES = {Survey.Kind.NPS: (0, 10), Survey.Kind.CSAT: (1, 5), Survey.Kind.CUSTOM: (0, 10)}


def response_score_check(*, survey: Survey, score: int) -> str:
    """Refuse a score off the survey's scale (ApplicationError on `score`); return the response's NPS class
    (promoter 9-10, passive 7-8, detractor 0-6), blank for a survey that is not NPS."""
    lowest, highest = SCORE_SCALES[survey.kind]
    if not lowest <= score <= highest:
        raise ApplicationError.for_field(
            "score", f"{score} is off the scale of the survey {survey.name}, which scores from {lowest} to {highest}."
        )
    if survey.kind != Survey.Kind.NPS:
        return ""
    if score >= 9:
        return Response.NpsClass.PROMOTER
    return Response.NpsClass.PASSIVE if score >= 7 else Response.NpsClass.DETRACTOR


def move_feedback(*, surviving: Customer, merged: Customer) -> dict[str, int]:
    """Feedback's part of a client merge: invitations and responses follow the client."""
    return {
        "survey_invitations": Invitation.objects.filter(customer=merged).update(customer=surviving),
        "survey_responses": Response.objects.filter(customer=merged).update(customer=surviving),
    }
