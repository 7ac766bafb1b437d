"""Survey invitations scheduled per second for a batch of triggering interactions, next to follow-up scheduling of
the same clients in the same run; then invitations sent per second through the dispatcher.

    .venv/bin/python bench/survey_schedule.py [--interactions 100000] [--send 1000]

Creates a scratch database (atelier_bench_surveys, dropped at the end) with N clients of one Paris boutique who
granted email marketing consent (a tenth without: they are recorded `no_consent`), one store visit each, and a
survey after store visits sampling 90 % of clients. Then:
- invitations: feedback.services.invitations_schedule_many over the N visits, in the listener's batches
  (feedback.tasks.SCHEDULE_BATCH_SIZE), each batch its own transaction as each task is: the surveys, the visits
  with their clients, a lock per client, the pairs already handled, the throttle's read and one INSERT;
- follow-ups: journeys.services.followups_schedule_many for the same N clients (a thank-you, batches of
  JOURNEY_RULES_BATCH_SIZE), what the rule engine calls for a batch of new interactions;
- sending: the first `--send` invitations due, through journeys.services.dispatch.followups_dispatch_due with the
  in-memory email backend (consent ledger, hands-off, quiet hours, the cap across follow-ups and surveys, the
  throttle, render, claim, send, record).
Prints rows per second and SQL queries per row for each.
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

DATABASE = "atelier_bench_surveys"
VISIT = dt.datetime(2026, 5, 4, 8, tzinfo=dt.UTC)  # 10:00 in Paris; the survey is due a day later, 10:00 again


def _seed(count: int) -> list[int]:
    from customers.models import Boutique, ConsentEvent, Customer
    from feedback.models import Survey
    from touchpoints.models import Interaction, TouchpointType

    boutique = Boutique.objects.create(code="PAR", name="Paris Faubourg", city="Paris", country="FR",
                                       timezone="Europe/Paris", currency="EUR")
    customers = Customer.objects.bulk_create([
        Customer(first_name="Élise", last_name=f"Martin{number}", email=f"client{number}@example.com",
                 home_boutique=boutique, consent={"email_marketing": number % 10 != 0})
        for number in range(count)
    ], batch_size=5000)
    ConsentEvent.objects.bulk_create([
        ConsentEvent(customer=customer, channel="email", purpose="marketing", is_granted=True,
                     occurred_at=VISIT - dt.timedelta(days=30), source="crm")
        for number, customer in enumerate(customers) if number % 10 != 0
    ], batch_size=5000)
    visit = TouchpointType.objects.get(code="store_visit")
    Survey.objects.create(name="After a visit", kind="nps", question="Would you recommend us?", trigger_type=visit,
                          delay_hours=24, sample_percent=90)
    interactions = Interaction.objects.bulk_create([
        Interaction(customer=customer, touchpoint_type=visit, occurred_at=VISIT, channel="boutique",
                    boutique=boutique, source="pos", external_id=f"V-{customer.pk}")
        for customer in customers
    ], batch_size=5000)
    return [interaction.pk for interaction in interactions]


def _counted(run) -> tuple[float, int]:
    from django.db import connection

    queries = 0

    def counted(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counted):
        started = time.perf_counter()
        run()
        elapsed = time.perf_counter() - started
    return elapsed, queries


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=1000)
    arguments = parser.parse_args()
    count = arguments.interactions

    _setup_django(DATABASE)
    from django.conf import settings
    from django.core import mail
    from django.core.management import call_command
    from django.db import connections
    from django.db.models import Count

    settings.DEBUG = False
    logging.disable(logging.INFO)
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    version = _recreate_database(DATABASE)
    try:
        call_command("migrate", verbosity=0)
        ids = _seed(count)
        print(f"PostgreSQL {version}, {count} store visits of {count} clients")

        from customers.models import Customer
        from feedback.models import Invitation
        from feedback.services import invitations_schedule_many
        from feedback.tasks import SCHEDULE_BATCH_SIZE
        from journeys.models import FollowUpTemplate, FollowUpVariant
        from journeys.services import followups_schedule_many
        from journeys.services.dispatch import followups_dispatch_due
        from journeys.services.followups import FollowUpRequest

        now = VISIT + dt.timedelta(minutes=1)

        def schedule_invitations() -> None:
            for start in range(0, len(ids), SCHEDULE_BATCH_SIZE):
                invitations_schedule_many(interaction_ids=ids[start:start + SCHEDULE_BATCH_SIZE], now=now)

        elapsed, queries = _counted(schedule_invitations)
        outcomes = dict(Invitation.objects.values("reason").annotate(n=Count("pk")).values_list("reason", "n"))
        print(f"invitations scheduled: {count / elapsed:,.0f} interactions/s ({elapsed:.1f} s, "
              f"{queries / count:.3f} queries each); outcomes {outcomes}")

        template = FollowUpTemplate.objects.create(name="Thank you", channel="email", delay_hours=48,
                                                   holdout_percent=0)
        FollowUpVariant.objects.create(template=template, label="A", subject="Merci {{ client.first_name }}",
                                       body="<p>Dear {{ client.first_name }}, thank you.</p>")
        customers = list(Customer.objects.order_by("pk"))
        size = settings.JOURNEY_RULES_BATCH_SIZE

        def schedule_followups() -> None:
            for start in range(0, len(customers), size):
                followups_schedule_many([
                    FollowUpRequest(customer=customer, template=template, key=f"bench:{customer.pk}",
                                    trigger_at=VISIT)
                    for customer in customers[start:start + size]
                ])

        elapsed_followups, queries_followups = _counted(schedule_followups)
        print(f"follow-ups scheduled: {count / elapsed_followups:,.0f} /s ({elapsed_followups:.1f} s, "
              f"{queries_followups / count:.3f} queries each); invitations/follow-ups rate ratio "
              f"{(count / elapsed) / (count / elapsed_followups):.2f}")

        # Sending: only the first --send invitations are due; the rest wait a day more.
        due_ids = list(Invitation.objects.filter(status="scheduled").order_by("pk")
                       .values_list("pk", flat=True)[:arguments.send])
        Invitation.objects.filter(status="scheduled").exclude(pk__in=due_ids).update(
            due_at=VISIT + dt.timedelta(days=2))
        send_at = VISIT + dt.timedelta(hours=24)
        mail.outbox = []
        elapsed_send, queries_send = _counted(lambda: followups_dispatch_due(now=send_at, limit=len(due_ids) + 10))
        sent = len(mail.outbox)
        print(f"invitations sent: {sent / elapsed_send:,.0f} /s ({sent} in {elapsed_send:.1f} s, "
              f"{queries_send / max(sent, 1):.1f} queries each)")
    finally:
        connections.close_all()
        _drop_database(DATABASE)


if __name__ == "__main__":
    main()
