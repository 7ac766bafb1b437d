"""Marketing consent withdrawn without a login: the unsubscribe link and one-click header of marketing emails, and
STOP replies to SMS reported by the provider's inbound webhook (signed as Twilio signs)."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac

import pytest
import time_machine
from django.core import mail, signing

from customers.models import ConsentEvent, SourceSystem
from customers.services.consent import consent_record
from customers.services.merge import customer_merge
from journeys.models import FollowUp
from journeys.services import followup_schedule
from journeys.services.dispatch import followups_dispatch_due
from journeys.services.unsubscribe import unsubscribe_token
from tests.factories import BoutiqueFactory
from tests.journeys.fake_sms import AUTH_TOKEN
from tests.journeys.helpers import GRANTED_AT, make_client, make_template

pytestmark = pytest.mark.django_db

TRIGGER = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)
DUE = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)
CLICKED = dt.datetime(2026, 5, 6, 12, tzinfo=dt.UTC)
BASE = "https://atelier.example"


@pytest.fixture(autouse=True)
def public_address(settings):
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def boutique():
    return BoutiqueFactory(code="PAR", name="Paris Faubourg", timezone="Europe/Paris")


def schedule(customer, template, *, trigger_at=TRIGGER) -> FollowUp:
    followup, _ = followup_schedule(customer=customer, template=template, trigger_at=trigger_at,
                                    key=f"test:{template.pk}:{customer.pk}:{trigger_at.isoformat()}")
    return followup


def ledger(customer) -> list[tuple]:
    return list(ConsentEvent.objects.filter(customer=customer).order_by("occurred_at", "pk").values_list(
        "channel", "purpose", "is_granted", "occurred_at", "source", "wording_version"))


def path_of(customer, channel="email", purpose="marketing") -> str:
    return f"/unsubscribe/{unsubscribe_token(customer=customer, channel=channel, purpose=purpose)}/"


# --- the email ----------------------------------------------------------------------------------------------


def test_a_marketing_email_carries_its_unsubscribe_link_and_the_one_click_headers(boutique):
    client = make_client(boutique)
    followup = schedule(client, make_template("Thank you email", "email"))

    assert followups_dispatch_due(now=DUE) == {"sent": 1}

    url = BASE + path_of(client)
    message = mail.outbox[0]
    assert message.extra_headers["List-Unsubscribe"] == f"<{url}>"
    assert message.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.body == f"Dear Élise, thank you.\n\n--\nTo stop receiving these emails, unsubscribe: {url}"
    assert message.alternatives[0][0] == (
        f'Dear Élise, thank you.\n<p style="font-size:small">To stop receiving these emails, '
        f'<a href="{url}">unsubscribe</a>.</p>'
    )
    followup.refresh_from_db()
    assert followup.body == "Dear Élise, thank you."  # the key to the client's consent is not kept on the row


def test_a_service_email_has_no_unsubscribe_link(boutique):
    client = make_client(boutique)
    consent_record(customer=client, channel="email", purpose="service", is_granted=True, occurred_at=GRANTED_AT,
                   source=SourceSystem.CRM)
    schedule(client, make_template("Alteration ready", "email", purpose="service"))

    assert followups_dispatch_due(now=DUE) == {"sent": 1}

    message = mail.outbox[0]
    assert "List-Unsubscribe" not in message.extra_headers
    assert message.body == "Dear Élise, thank you."


# --- the link -----------------------------------------------------------------------------------------------


def test_following_the_link_shows_a_confirmation_and_withdraws_nothing(client, boutique):
    customer = make_client(boutique)

    response = client.get(path_of(customer))

    assert response.status_code == 200
    assert b"Stop receiving marketing email messages from us?" in response.content
    assert b'<form method="post">' in response.content
    assert ledger(customer) == [
        ("email", "marketing", True, GRANTED_AT, "crm", ""), ("sms", "marketing", True, GRANTED_AT, "crm", ""),
    ]


def test_a_one_click_post_withdraws_email_marketing_once_without_a_login(client, boutique):
    customer = make_client(boutique)
    later = schedule(customer, make_template("New collection", "email"), trigger_at=CLICKED)

    with time_machine.travel(CLICKED, tick=False):
        response = client.post(path_of(customer), data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    with time_machine.travel(CLICKED + dt.timedelta(minutes=5), tick=False):
        again = client.post(path_of(customer), data={"List-Unsubscribe": "One-Click"})

    assert (response.status_code, again.status_code) == (200, 200)
    assert b"You are unsubscribed" in response.content
    assert ledger(customer) == [
        ("email", "marketing", True, GRANTED_AT, "crm", ""),
        ("sms", "marketing", True, GRANTED_AT, "crm", ""),
        ("email", "marketing", False, CLICKED, "atelier", "unsubscribe-link"),
    ]
    customer.refresh_from_db()
    assert customer.consent == {"email_marketing": False, "sms_marketing": True}
    # The next marketing email is not sent.
    assert followups_dispatch_due(now=CLICKED + dt.timedelta(hours=48)) == {"cancelled": 1}
    later.refresh_from_db()
    assert later.status_reason == "Cancelled: the client withdrew consent to Email marketing messages."
    assert mail.outbox == []


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # the signature altered
    lambda token: "x" + token,  # the payload altered
    lambda token: "not-a-token",
])
def test_an_altered_token_is_not_found_and_changes_nothing(client, boutique, mangle):
    customer = make_client(boutique)
    token = unsubscribe_token(customer=customer, channel="email", purpose="marketing")

    get = client.get(f"/unsubscribe/{mangle(token)}/")
    post = client.post(f"/unsubscribe/{mangle(token)}/", data={"List-Unsubscribe": "One-Click"})

    assert (get.status_code, post.status_code) == (404, 404)
    assert b"This unsubscribe link is not valid." in post.content
    assert ledger(customer) == [
        ("email", "marketing", True, GRANTED_AT, "crm", ""), ("sms", "marketing", True, GRANTED_AT, "crm", ""),
    ]


def test_a_token_signed_for_another_salt_is_refused(client, boutique):
    customer = make_client(boutique)
    forged = signing.Signer().sign_object({"c": str(customer.public_id), "ch": "email", "p": "marketing"})

    assert client.post(f"/unsubscribe/{forged}/").status_code == 404
    assert len(ledger(customer)) == 2


# --- STOP replies -------------------------------------------------------------------------------------------

INBOUND = "/sms/inbound/"


def twilio_signed(params: dict[str, str], *, token: str = AUTH_TOKEN, url: str = BASE + INBOUND) -> str:
    """Twilio's documented scheme, written out again here: the URL, then each parameter's name and value sorted by
    name, HMAC-SHA1 with the auth token, base64."""
    data = url + "".join(name + params[name] for name in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


def inbound(client, params: dict[str, str], signature: str | None = None):
    return client.post(INBOUND, data=params, HTTP_X_TWILIO_SIGNATURE=signature or twilio_signed(params))


@pytest.fixture
def sms_token(settings):
    settings.SMS_AUTH_TOKEN = AUTH_TOKEN


def test_a_stop_reply_withdraws_the_senders_sms_consent_and_cancels_the_next_sms(client, boutique, sms_token):
    customer = make_client(boutique)
    other = make_client(boutique)
    pending = schedule(customer, make_template("Thank you SMS", "sms", subject=""), trigger_at=CLICKED)
    params = {"MessageSid": "SM1", "AccountSid": "AC0123456789", "From": customer.phone, "To": "+33100000000",
              "Body": " stop "}

    with time_machine.travel(CLICKED, tick=False):
        response = inbound(client, params)
        replayed = inbound(client, params)  # the provider retries its webhook

    assert (response.status_code, replayed.status_code) == (200, 200)
    assert response["Content-Type"] == "text/xml"
    assert response.content == b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    assert ledger(customer) == [
        ("email", "marketing", True, GRANTED_AT, "crm", ""),
        ("sms", "marketing", True, GRANTED_AT, "crm", ""),
        ("sms", "marketing", False, CLICKED, "atelier", "sms-stop-reply"),
        ("sms", "service", False, CLICKED, "atelier", "sms-stop-reply"),
    ]
    assert len(ledger(other)) == 2
    assert followups_dispatch_due(now=CLICKED + dt.timedelta(hours=48)) == {"cancelled": 1}
    pending.refresh_from_db()
    assert pending.status_reason == "Cancelled: the client withdrew consent to SMS marketing messages."


def test_the_providers_opt_out_type_decides_over_the_words(client, boutique, sms_token):
    customer = make_client(boutique)

    inbound(client, {"From": customer.phone, "Body": "Arrêtez svp", "OptOutType": "STOP"})
    assert len(ledger(customer)) == 4


@pytest.mark.parametrize("body", ["Thank you!", "Stop by tomorrow?", "START", ""])
def test_any_other_reply_changes_nothing(client, boutique, sms_token, body):
    customer = make_client(boutique)

    assert inbound(client, {"From": customer.phone, "Body": body}).status_code == 200
    assert len(ledger(customer)) == 2


@pytest.mark.parametrize("how", ["missing", "other token", "other url", "altered body"])
def test_an_unsigned_or_badly_signed_stop_is_refused_and_changes_nothing(client, boutique, sms_token, how):
    customer = make_client(boutique)
    params = {"From": customer.phone, "Body": "STOP"}
    signature = {
        "missing": "",
        "other token": twilio_signed(params, token="another-token"),
        "other url": twilio_signed(params, url="https://elsewhere.example" + INBOUND),
        "altered body": twilio_signed({**params, "Body": "Hello"}),
    }[how]

    response = client.post(INBOUND, data=params, **({"HTTP_X_TWILIO_SIGNATURE": signature} if signature else {}))

    assert response.status_code == 403
    assert len(ledger(customer)) == 2


def test_without_an_auth_token_every_inbound_message_is_refused(client, boutique, settings):
    settings.SMS_AUTH_TOKEN = ""
    customer = make_client(boutique)
    params = {"From": customer.phone, "Body": "STOP"}

    assert inbound(client, params, signature=twilio_signed(params, token="")).status_code == 403
    assert len(ledger(customer)) == 2


def test_a_send_the_provider_refuses_because_the_number_replied_stop_records_the_withdrawal(boutique, sms_provider):
    # Given a client whose STOP reply never reached us, and a provider that refuses the number for it (Twilio 21610)
    customer = make_client(boutique)
    followup = schedule(customer, make_template("Thank you SMS", "sms", subject=""))
    sms_provider.fail_next(400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"})

    with time_machine.travel(DUE, tick=False):
        outcome = followups_dispatch_due(now=DUE)

    # Then the follow-up is cancelled, not failed, and the ledger says what the provider knows
    assert outcome == {"cancelled": 1}
    followup.refresh_from_db()
    assert (followup.status, followup.status_reason) == (
        "cancelled", "Cancelled: the client replied STOP to our SMS (the provider refuses the number).")
    assert ledger(customer)[2:] == [
        ("sms", "marketing", False, DUE, "atelier", "sms-stop-reply"),
        ("sms", "service", False, DUE, "atelier", "sms-stop-reply"),
    ]
    assert sms_provider.messages == []


def test_a_link_of_a_client_merged_since_withdraws_the_surviving_clients_consent(client, boutique):
    # Given an email sent to a duplicate, which staff merged into the client's main record afterwards
    duplicate, survivor = make_client(boutique), make_client(boutique)
    path = path_of(duplicate)
    customer_merge(surviving=survivor, merged=duplicate, reason="Same person")

    with time_machine.travel(CLICKED, tick=False):
        response = client.post(path, data={"List-Unsubscribe": "One-Click"})

    assert response.status_code == 200
    survivor.refresh_from_db()
    assert survivor.consent["email_marketing"] is False
    assert ("email", "marketing", False, CLICKED, "atelier", "unsubscribe-link") in ledger(survivor)
