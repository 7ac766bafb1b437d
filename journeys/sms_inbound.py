"""POST /sms/inbound/: the SMS provider's inbound messages (Twilio's "A message comes in" webhook). A STOP reply
withdraws the sender's SMS consent. Signed as Twilio signs (X-Twilio-Signature over PUBLIC_BASE_URL + the path and
the form's parameters, keyed with SMS_AUTH_TOKEN); an unsigned or badly signed request changes nothing (403)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from core.errors import ApplicationError
from customers.normalizers import normalize_phone
from journeys.channels.sms import twilio_signature_is_valid
from journeys.services.unsubscribe import is_stop_reply, sms_stop_record

# An empty TwiML answer: nothing to reply (the provider sends its own STOP confirmation).
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


@csrf_exempt
@require_POST
def sms_inbound(request: HttpRequest) -> HttpResponse:
    """Verify the provider's signature, then record a withdrawal for a STOP reply; any other reply is ignored."""
    url = settings.PUBLIC_BASE_URL.rstrip("/") + request.get_full_path()
    params = [(name, value) for name, values in request.POST.lists() for value in values]
    if not twilio_signature_is_valid(url=url, params=params, signature=request.headers.get("X-Twilio-Signature", "")):
        return HttpResponse("The signature is missing or invalid.", status=403, content_type="text/plain")
    if is_stop_reply(body=request.POST.get("Body", ""), opt_out_type=request.POST.get("OptOutType", "")):
        try:
            phone = normalize_phone(request.POST.get("From", ""))
        except ApplicationError:
            phone = ""
        if phone:
            sms_stop_record(phone=phone, occurred_at=timezone.now())
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
