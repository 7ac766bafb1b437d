"""The unsubscribe page of marketing emails: GET shows a confirmation, POST (its button, or a mail client's RFC 8058
one-click) withdraws the consent. No login: the signed token is the key (journeys.services.unsubscribe)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.errors import ApplicationError
from customers.models import ConsentChannel
from journeys.services.unsubscribe import unsubscribe_confirm, unsubscribe_read


@csrf_exempt  # a mail client's one-click POST carries no CSRF token; the signed token is the authority
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET /unsubscribe/<token>/: the confirmation page; POST: the withdrawal."""
    try:
        if request.method == "POST":
            subscription = unsubscribe_confirm(token=token, occurred_at=timezone.now())
        else:
            subscription = unsubscribe_read(token=token)
    except ApplicationError as error:
        return render(request, "journeys/unsubscribe.html", {"error": error.message}, status=404)
    context = {
        "channel": ConsentChannel(subscription.channel).label.lower(),
        "is_done": request.method == "POST",
    }
    response = render(request, "journeys/unsubscribe.html", context)
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of other sites' logs
    return response
