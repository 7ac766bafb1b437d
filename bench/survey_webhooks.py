"""Survey answers per second through POST /webhooks/typeform/, next to response_record called directly, in one run.

    .venv/bin/python bench/survey_webhooks.py [--answers 500]

Creates a scratch database (atelier_bench_survey_webhooks, dropped at the end) with N clients and one NPS survey.
Then, in this process (Django's test client: no HTTP server, so the figures are Atelier's cost):
- webhook: N signed Typeform `form_response` deliveries, each verified, recorded in the delivery log, mapped, its
  client found by email (customers.services.customer_find), the answer upserted (feedback.services.response_upsert,
  hence response_record: the response, its timeline touchpoint, recovery for detractors);
- baseline: N answers recorded by response_record directly, the client object in hand.
Tasks queued after commit (journey rules, survey scheduling) go to an in-memory broker that nothing consumes, the
same for both. Prints answers per second and SQL queries per answer for both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

from bench.seed import _drop_database, _recreate_database, _setup_django  # noqa: E402

DATABASE = "atelier_bench_survey_webhooks"
SECRET = "bench-typeform-secret"
AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)
SAMPLE = PROJECT_ROOT / "tests" / "webhooks" / "samples" / "typeform_form_response.json"


def _seed(count: int):
    from customers.models import Boutique, Customer
    from feedback.models import Survey

    boutique = Boutique.objects.create(code="PAR", name="Paris Faubourg", city="Paris", country="FR",
                                       timezone="Europe/Paris", currency="EUR")
    customers = Customer.objects.bulk_create([
        Customer(first_name="Élise", last_name=f"Martin{number}", email=f"client{number}@example.com",
                 home_boutique=boutique)
        for number in range(count)
    ])
    survey = Survey.objects.create(name="After your visit", kind="nps", question="Would you recommend us?")
    return survey, customers


def _bodies(count: int) -> list[bytes]:
    template = json.loads(SAMPLE.read_text())
    bodies = []
    for number in range(count):
        template["event_id"] = f"event-{number}"
        template["form_response"]["token"] = f"token-{number}"
        template["form_response"]["hidden"]["email"] = f"client{number}@example.com"
        template["form_response"]["answers"][0]["number"] = number % 11
        bodies.append(json.dumps(template).encode())
    return bodies


def _measure(run, count: int) -> tuple[float, float]:
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
    return count / elapsed, queries / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--answers", type=int, default=500)
    count = parser.parse_args().answers

    os.environ["CELERY_BROKER_URL"] = "memory://"
    _setup_django(DATABASE)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connections
    from django.test import Client

    from feedback.models import Response
    from feedback.services import response_record
    from webhooks.signatures import typeform_signature

    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["testserver"]
    settings.TYPEFORM_WEBHOOK_SECRET = SECRET
    settings.WEBHOOK_RATE = "100000000/min"
    logging.disable(logging.WARNING)  # one log line per answer would be part of the measure
    version = _recreate_database(DATABASE)
    try:
        call_command("migrate", verbosity=0)
        survey, customers = _seed(count)
        bodies = _bodies(count)
        client = Client()
        print(f"PostgreSQL {version}, {count} answers, Django's test client (no HTTP server)")

        def webhook() -> None:
            for body in bodies:
                response = client.post("/webhooks/typeform/", data=body, content_type="application/json",
                                       headers={"Typeform-Signature": typeform_signature(body, SECRET)})
                if response.status_code != 200 or response.json()["outcome"] != "processed":
                    raise SystemExit(f"The delivery was not processed: {response.content!r}")

        def baseline() -> None:
            for number, customer in enumerate(customers):
                response_record(survey=survey, customer=customer, score=number % 11, responded_at=AT,
                                source="atelier", external_id=f"baseline-{number}")

        through_webhook = _measure(webhook, count)
        direct = _measure(baseline, count)
        assert Response.objects.count() == 2 * count
        print(f"{'':40}{'answers/s':>12}{'queries each':>14}")
        print(f"{'webhook (verify, log, map, find, upsert)':40}{through_webhook[0]:>12.0f}{through_webhook[1]:>14.1f}")
        print(f"{'baseline (response_record directly)':40}{direct[0]:>12.0f}{direct[1]:>14.1f}")
        print(f"the webhook costs {direct[0] / through_webhook[0]:.1f}x response_record alone per answer")
    finally:
        connections.close_all()
        _drop_database(DATABASE)


if __name__ == "__main__":
    main()
