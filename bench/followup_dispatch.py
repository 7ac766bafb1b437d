"""Follow-ups dispatched per second, next to a naive send loop on the same data in the same run.

    .venv/bin/python bench/followup_dispatch.py [--followups 1000]

Creates a scratch database (atelier_bench_followups, dropped at the end) with N clients of one Paris boutique who
granted email consent, and N thank-you emails due at 10:00 Paris time. Then, with Django's in-memory email
backend (so the figures are Atelier's cost, not a mail server's):
- dispatch: journeys.services.dispatch.followups_dispatch_due, which for each follow-up locks it and the client,
  reads the consent ledger, checks quiet hours and the frequency cap, renders, commits the claim, sends and
  records the result in a second transaction;
- baseline: the same N follow-ups (reset to scheduled) sent by a plain loop that renders, sends and saves
  `sent`, with none of the checks, locks or claims.
Prints follow-ups per second and SQL queries per follow-up for both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _drop_database, _recreate_database, _setup_django  # noqa: E402

DATABASE = "atelier_bench_followups"
DUE = dt.datetime(2026, 5, 6, 8, tzinfo=dt.UTC)  # 10:00 in Paris


def _seed(count: int) -> None:
    from customers.models import Boutique, ConsentEvent, Customer
    from journeys.models import FollowUp, FollowUpTemplate, FollowUpVariant

    boutique = Boutique.objects.create(code="PAR", name="Paris Faubourg", city="Paris", country="FR",
                                       timezone="Europe/Paris", currency="EUR")
    granted = {"email_marketing": True}
    customers = Customer.objects.bulk_create([
        Customer(first_name="Élise", last_name=f"Martin{number}", email=f"client{number}@example.com",
                 home_boutique=boutique, consent=granted)
        for number in range(count)
    ])
    ConsentEvent.objects.bulk_create([
        ConsentEvent(customer=customer, channel="email", purpose="marketing", is_granted=True,
                     occurred_at=DUE - dt.timedelta(days=30), source="crm")
        for customer in customers
    ])
    template = FollowUpTemplate.objects.create(name="Thank you", channel="email", delay_hours=48)
    variant = FollowUpVariant.objects.create(
        template=template, label="A", subject="Merci {{ client.first_name }}",
        body="<p>Dear {{ client.first_name }}, thank you{% if advisor %} from {{ advisor.name }}{% endif %}.</p>",
    )
    FollowUp.objects.bulk_create([
        FollowUp(customer=customer, template=template, variant=variant, channel="email", due_at=DUE,
                 first_due_at=DUE, idempotency_key=f"bench:{customer.pk}")
        for customer in customers
    ])


def _reset() -> None:
    from django.core import mail

    from journeys.models import FollowUp

    FollowUp.objects.update(status="scheduled", attempts=0, sent_at=None, provider_message_id="", status_reason="",
                            last_attempt_at=None, due_at=DUE)
    mail.outbox = []


def _naive_send_all() -> int:
    """What a loop without the safeguards does: render, send, save."""
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.utils import timezone

    from journeys.models import FollowUp
    from journeys.services.rendering import followup_context, render_message

    sent = 0
    due = FollowUp.objects.filter(status="scheduled", due_at__lte=DUE).select_related(
        "customer__advisor__user", "customer__home_boutique", "variant")
    for followup in due:
        message = render_message(subject=followup.variant.subject, body=followup.variant.body, channel="email",
                                 context=followup_context(followup.customer))
        email = EmailMultiAlternatives(message.subject, message.text, settings.DEFAULT_FROM_EMAIL,
                                       [followup.customer.email])
        email.attach_alternative(message.body, "text/html")
        email.send()
        followup.status, followup.sent_at = "sent", timezone.now()
        followup.save(update_fields=["status", "sent_at", "updated_at"])
        sent += 1
    return sent


def _measure(label: str, run, count: int) -> tuple[float, float]:
    from django.core import mail
    from django.db import connection

    queries = 0

    def counted(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    _reset()
    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
    assert len(mail.outbox) == count, (label, len(mail.outbox))
    return count / elapsed, queries / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--followups", type=int, default=1000)
    arguments = parser.parse_args()
    count = arguments.followups

    _setup_django(DATABASE)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections

    from journeys.services.dispatch import followups_dispatch_due

    settings.DEBUG = False
    logging.disable(logging.INFO)  # one log line per follow-up would be part of the measure
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.FOLLOWUP_MAX_PER_7_DAYS = 3
    version = _recreate_database(DATABASE)
    try:
        call_command("migrate", verbosity=0)
        _seed(count)
        print(f"PostgreSQL {version}, {count} follow-ups due, in-memory email backend")
        dispatch = _measure("dispatch", lambda: followups_dispatch_due(now=DUE, limit=count), count)
        naive = _measure("baseline", _naive_send_all, count)
        print(f"{'':34}{'follow-ups/s':>14}{'queries each':>14}")
        print(f"{'dispatch (checks, claim, record)':34}{dispatch[0]:>14.0f}{dispatch[1]:>14.1f}")
        print(f"{'baseline (render, send, save)':34}{naive[0]:>14.0f}{naive[1]:>14.1f}")
        print(f"dispatch costs {naive[0] / dispatch[0]:.1f}x the naive loop per follow-up")
    finally:
        connections.close_all()
        _drop_database(DATABASE)


if __name__ == "__main__":
    main()
