"""The webhook endpoints: read the raw body, hand it to webhooks.services, and answer from the recorded outcome."""

from __future__ import annotations

import math

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from webhooks.models import Provider, WebhookDelivery
from webhooks.services import webhook_is_ping, webhook_receive
from webhooks.throttling import WebhookRateThrottle

Outcome = WebhookDelivery.Outcome


def _receive(request: HttpRequest, provider: str) -> JsonResponse:
    throttle = WebhookRateThrottle()
    if not throttle.allow_request(request, None):
        response = JsonResponse({"message": "Too many deliveries from this address; retry later.", "extra": {}},
                                status=429)
        response["Retry-After"] = str(max(1, math.ceil(throttle.wait() or 1)))
        return response
    try:
        body = request.body
    except RequestDataTooBig:
        return JsonResponse({"message": "The body is too large.", "extra": {}}, status=413)
    if webhook_is_ping(provider=provider, body=body, headers=request.headers):
        return JsonResponse({"outcome": "ping"})
    delivery = webhook_receive(provider=provider, body=body, headers=request.headers)
    if delivery.outcome == Outcome.REJECTED:
        # Says no more than that: the reason is in the delivery log for head office.
        return JsonResponse({"message": "The signature is missing or invalid.", "extra": {}}, status=401)
    if delivery.error_code == WebhookDelivery.ErrorCode.MALFORMED:
        return JsonResponse(
            {"message": delivery.error_message, "extra": {"delivery": delivery.pk}}, status=400
        )
    return JsonResponse({"outcome": delivery.outcome, "delivery": delivery.pk})


@csrf_exempt
@require_POST
def shopify_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/shopify/: a Shopify-style platform's signed delivery."""
    return _receive(request, Provider.SHOPIFY)


@csrf_exempt
@require_POST
def woocommerce_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/woocommerce/: a WooCommerce signed delivery (or its unsigned ping)."""
    return _receive(request, Provider.WOOCOMMERCE)


@csrf_exempt
@require_POST
def typeform_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/typeform/: a Typeform `form_response`, signed with Typeform-Signature."""
    return _receive(request, Provider.TYPEFORM)


@csrf_exempt
@require_POST
def survey_webhook(request: HttpRequest) -> JsonResponse:
    """POST /webhooks/surveys/: a survey tool's answer event, signed with Standard Webhooks."""
    return _receive(request, Provider.SURVEYS)
