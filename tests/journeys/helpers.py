"""Helpers of the follow-up tests: templates with variants, clients with consent, through the real services."""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable

from customers.models import SourceSystem
from customers.services import customer_upsert
from customers.services.consent import consent_record
from journeys.models import FollowUpTemplate, FollowUpVariant
from tests.factories import AdvisorFactory

_numbers = itertools.count(1)
GRANTED_AT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def make_template(name: str, channel: str, *, delay_hours: int = 48, variants=(("A", 1),),
                  subject: str = "Merci {{ client.first_name }}",
                  body: str = "Dear {{ client.first_name }}, thank you.", **fields) -> FollowUpTemplate:
    """A template with its variants (labels and weights); each variant's body starts with its label."""
    template = FollowUpTemplate.objects.create(name=name, channel=channel, delay_hours=delay_hours, **fields)
    for label, weight in variants:
        FollowUpVariant.objects.create(template=template, label=label, weight=weight, subject=subject,
                                       body=body if len(variants) == 1 else f"[{label}] {body}")
    return template


def make_client(boutique, *, consent: tuple[str, ...] = ("email", "sms"), **fields):
    """A client of `boutique` with an advisor, an email and a mobile, who granted marketing consent on `consent`."""
    number = next(_numbers)
    fields.setdefault("advisor", AdvisorFactory(boutique=boutique))
    customer = customer_upsert(
        source=SourceSystem.CRM, external_id=f"FU-{number}", email=f"client{number}@example.com",
        phone=f"+3361234{number:04d}", first_name="Élise", last_name=f"Martin{number}", home_boutique=boutique,
        **fields,
    ).customer
    for channel in consent:
        consent_record(customer=customer, channel=channel, purpose="marketing", is_granted=True,
                       occurred_at=GRANTED_AT, source=SourceSystem.CRM)
    customer.refresh_from_db()
    return customer


def wait_for(check: Callable[[], bool], *, what: str = "the expected state", timeout: float = 60) -> None:
    """Poll the database a worker writes to until `check()` holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"The worker did not get there within {timeout:.0f} s: {what}.")
        time.sleep(0.1)
