"""The public survey page, /s/<token>/: no login (the unguessable token is the key), built for a phone, no JavaScript.

GET shows the question with one link per score (an email carries the same links); `?score=9` shows that score chosen
with the button that sends it, and records nothing, so a mail gateway that opens every link answers for nobody. Only
the client's POST (CSRF-protected) records, through feedback.services.invitation_answer. The page speaks the client's
language (Customer.language: English, French or Italian) and shows nothing of them but their first name.
"""

from __future__ import annotations

import math
import zoneinfo

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from customers.models import Customer
from feedback.models import Invitation, Response, Survey
from feedback.selectors import invitation_for_link
from feedback.services import SCORE_SCALES, InvitationClosed, invitation_answer, invitation_is_open
from feedback.throttling import SurveyPageRateThrottle
from touchpoints.models import Interaction


def client_language(customer: Customer | None) -> str:
    """The shipped language closest to the client's (fr-CH is French), else the house's."""
    try:
        return translation.get_supported_language_variant((customer.language if customer else "") or "")
    except LookupError:
        return settings.LANGUAGE_CODE


def _about(interaction: Interaction | None) -> str:
    """Which touchpoint the survey is about, in words the client knows (never an id)."""
    if interaction is None:
        return ""
    boutique = interaction.boutique
    zone = zoneinfo.ZoneInfo(boutique.timezone) if boutique else timezone.get_default_timezone()
    date = formats.date_format(timezone.localtime(interaction.occurred_at, zone), "DATE_FORMAT")
    code = interaction.touchpoint_type.code
    place = {"date": date, "boutique": boutique.name if boutique else ""}
    if interaction.order_id is not None or code == "purchase":
        return _("About your order of %(date)s.") % place
    if code == "store_visit" and boutique:
        return _("About your visit to %(boutique)s on %(date)s.") % place
    if code == "appointment":
        return (_("About your appointment at %(boutique)s on %(date)s.") if boutique
                else _("About your appointment on %(date)s.")) % place
    if code == "event_attended":
        return _("About the event of %(date)s.") % place
    return _("About your visit of %(date)s.") % place


def _anchors(survey: Survey) -> tuple[str, str]:
    if survey.kind == Survey.Kind.CSAT:
        return _("Very dissatisfied"), _("Very satisfied")
    return _("Not at all likely"), _("Extremely likely")


def _score(value: str | None, survey: Survey) -> int | None:
    lowest, highest = SCORE_SCALES[survey.kind]
    try:
        score = int(value or "")
    except ValueError:
        return None
    return score if lowest <= score <= highest else None


def _page(request: HttpRequest, template: str, context: dict, *, status: int = 200) -> HttpResponse:
    response = render(request, template, {"language": translation.get_language(), **context}, status=status)
    response["Cache-Control"] = "no-store"
    # The token stays out of other sites' logs; not "no-referrer", which makes browsers send `Origin: null` with the
    # form's POST, and the CSRF check would refuse every answer.
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex"
    response["Content-Language"] = translation.get_language()
    return response


def _closed(request: HttpRequest, invitation: Invitation | None, status: int) -> HttpResponse:
    with translation.override(client_language(invitation.customer if invitation else None)):
        return _page(request, "feedback/closed.html", {"status": status}, status=status)


def _answer_page(request: HttpRequest, invitation: Invitation, *, chosen: int | None = None,
                 response: Response | None = None, error: str = "", comment: str = "",
                 status: int = 200) -> HttpResponse:
    survey, now = invitation.survey, timezone.now()
    lowest, highest = SCORE_SCALES[survey.kind]
    language = translation.get_language()
    low, high = _anchors(survey)
    is_open = invitation_is_open(invitation=invitation, now=now)
    return _page(request, "feedback/answer.html", {
        "first_name": invitation.customer.first_name,
        "question": survey.question_translations.get(language) or survey.question,
        "about": _about(invitation.interaction),
        "scores": range(lowest, highest + 1),
        "low_label": low, "high_label": high,
        "chosen": chosen,
        "response": response,
        "can_comment": response is not None and not response.comment and is_open,
        "error": error,
        "comment": comment,
    }, status=status)


@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET /s/<token>/[?score=N]: the question (with a score chosen); POST: the answer, or a comment on it."""
    throttle = SurveyPageRateThrottle()
    if not throttle.allow_request(request, None):
        with translation.override(settings.LANGUAGE_CODE):
            response = _page(request, "feedback/closed.html", {"status": 429}, status=429)
        response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
        return response
    invitation = invitation_for_link(token=token)
    if invitation is None:
        return _closed(request, None, 404)
    answered = getattr(invitation, "response", None)
    with translation.override(client_language(invitation.customer)):
        if request.method == "GET":
            if answered is not None:
                return _answer_page(request, invitation, response=answered)
            if not invitation_is_open(invitation=invitation, now=timezone.now()):
                return _closed(request, invitation, 410)
            return _answer_page(request, invitation, chosen=_score(request.GET.get("score"), invitation.survey))
        raw_score = request.POST.get("score")
        score = _score(raw_score, invitation.survey)
        comment = request.POST.get("comment", "")
        if answered is None and score is None:
            if not invitation_is_open(invitation=invitation, now=timezone.now()):
                return _closed(request, invitation, 410)
            return _answer_page(request, invitation, error=_("Choose a score."), comment=comment[:2000], status=400)
        try:
            result = invitation_answer(invitation=invitation, score=score, comment=comment, now=timezone.now())
        except InvitationClosed:
            return _closed(request, invitation, 410)
        except ApplicationError as error:
            # Only the comment's length is left to refuse here: the score was checked against the scale above.
            message = _("Keep the comment under 2000 characters.") if "comment" in error.fields else error.message
            return _answer_page(request, invitation, chosen=score, error=message, comment=comment[:2000],
                                status=400)
        return _answer_page(request, invitation, response=result.response)
