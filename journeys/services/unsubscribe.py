"""Withdrawals that reach the house without a login: the unsubscribe link of a marketing email, and a STOP reply
to an SMS that the provider reports.

The link names the client, the channel and the purpose in a token signed with SECRET_KEY
(django.core.signing, its own salt): it cannot be guessed or changed to another client, and needs no table. It does
not expire: an unsubscribe link must keep working for as long as the email sits in an inbox. Following the link
(GET) only shows a confirmation page, because mail scanners and link previews fetch every link; the withdrawal is
the POST, from that page or from the mail client's one-click button (RFC 8058: `List-Unsubscribe-Post`).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.urls import reverse

from core.errors import ApplicationError
from customers.models import ConsentChannel, ConsentEvent, ConsentPurpose, Customer, CustomerMerge, SourceSystem
from customers.services.consent import consent_withdraw

logger = logging.getLogger(__name__)

_SALT = "atelier.journeys.unsubscribe"
# The wording version recorded on the ledger, so that a withdrawal says how it was made.
LINK_WORDING = "unsubscribe-link"
SMS_STOP_WORDING = "sms-stop-reply"
# The replies Twilio itself treats as an opt-out (its default opt-out keywords).
STOP_WORDS = frozenset({"STOP", "STOPALL", "STOP ALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})


@dataclass(frozen=True)
class Subscription:
    """What an unsubscribe token names: one client's consent for one channel and purpose."""

    customer: Customer
    channel: str
    purpose: str


def unsubscribe_token(*, customer: Customer, channel: str, purpose: str) -> str:
    """The signed token of a client's unsubscribe link (the same for every message of that channel and purpose)."""
    return signing.Signer(salt=_SALT).sign_object({"c": str(customer.public_id), "ch": channel, "p": purpose})


def unsubscribe_url(*, customer: Customer, channel: str, purpose: str) -> str:
    """The absolute address of the client's unsubscribe page (PUBLIC_BASE_URL, then the path)."""
    token = unsubscribe_token(customer=customer, channel=channel, purpose=purpose)
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("public:unsubscribe", kwargs={"token": token})


def unsubscribe_read(*, token: str) -> Subscription:
    """The subscription a token names. Raises ApplicationError for a token that is not ours, was altered, or
    names a client who no longer exists or was erased (all answered alike: the link is not valid)."""
    invalid = ApplicationError("This unsubscribe link is not valid.")
    try:
        payload = signing.Signer(salt=_SALT).unsign_object(token)
    except (signing.BadSignature, ValueError, UnicodeError) as error:
        raise invalid from error
    if not isinstance(payload, dict):
        raise invalid
    channel, purpose = payload.get("ch"), payload.get("p")
    if channel not in ConsentChannel.values or purpose not in ConsentPurpose.values:
        raise invalid
    customer = _holder(payload.get("c"))
    if customer is None or customer.is_anonymized:
        raise invalid
    return Subscription(customer=customer, channel=channel, purpose=purpose)


def _holder(public_id: object) -> Customer | None:
    """The client a link was sent to, or, when that record was merged into another since, the surviving one (a
    merge keeps the merged public id on its audit entry): a withdrawal must not be lost to a merge."""
    try:
        public_id = uuid.UUID(str(public_id))
    except ValueError:
        return None
    customer = Customer.objects.filter(public_id=public_id).first()
    if customer is not None:
        return customer
    merge = (CustomerMerge.objects.filter(merged_public_id=public_id).select_related("surviving_customer")
             .order_by("-created_at").first())
    return merge.surviving_customer if merge is not None else None


def unsubscribe_confirm(*, token: str, occurred_at: dt.datetime) -> Subscription:
    """Withdraw the consent the token names (the confirmation page's button, or a mail client's one-click POST).
    Clicking again records nothing more. Raises ApplicationError for an invalid token."""
    subscription = unsubscribe_read(token=token)
    event = consent_withdraw(customer=subscription.customer, channel=subscription.channel,
                             purpose=subscription.purpose, occurred_at=occurred_at, source=SourceSystem.ATELIER,
                             wording_version=LINK_WORDING)
    logger.info("journeys.unsubscribed customer_id=%s channel=%s recorded=%s", subscription.customer.pk,
                subscription.channel, event is not None)
    return subscription


def is_stop_reply(*, body: str, opt_out_type: str = "") -> bool:
    """Whether an inbound SMS opts out: the provider says so (Twilio's OptOutType), or the reply is a stop word."""
    if opt_out_type:
        return opt_out_type.strip().upper() == "STOP"
    return " ".join(body.split()).upper() in STOP_WORDS


def sms_stop_record(*, phone: str, occurred_at: dt.datetime) -> list[ConsentEvent]:
    """A STOP reply from `phone`: withdraw SMS consent, for every purpose, of every client with that number.

    Every purpose, because the provider blocks all further messages to a number that replied STOP: a service SMS
    would be refused too, so the ledger says what is true. Returns the events recorded (none when the number is
    unknown or already withdrawn)."""
    events = []
    for customer in Customer.objects.filter(phone=phone, is_anonymized=False).exclude(phone="").order_by("pk"):
        for purpose in ConsentPurpose.values:
            event = consent_withdraw(customer=customer, channel=ConsentChannel.SMS, purpose=purpose,
                                     occurred_at=occurred_at, source=SourceSystem.ATELIER,
                                     wording_version=SMS_STOP_WORDING)
            if event is not None:
                events.append(event)
    logger.info("journeys.sms_stop recorded=%s", len(events))
    return events
