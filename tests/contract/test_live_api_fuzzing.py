"""Schemathesis against the live API: every operation of the OpenAPI schema, valid and invalid inputs generated from
it, sent over HTTP to a running server. No 5xx, and every response matches the schema (status, content type, body).

The run is seeded with one record of each kind, and each detail operation is pointed at its record, so that the
generated cases reach the views' logic and not only their 404.
"""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest

from customers.models import Segment
from customers.services import customer_upsert
from feedback.models import Survey
from feedback.services import response_record
from integrations.models import ApiKey, Scope
from integrations.throttling import AnonymousRateThrottle, ApiKeyRateThrottle
from journeys.models import Journey
from journeys.services import enrollment_enroll
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, ProductFactory
from touchpoints.models import TouchpointType
from touchpoints.services import interaction_record, order_record
from touchpoints.services.orders import OrderLineData

# Every check, negative_data_rejection and positive_data_acceptance included: the schema says what the server enforces.
CHECKS = "all"
# A write the schema allows may still be refused by a business rule the schema cannot hold (a client or a touchpoint
# type that does not exist, a stage of another journey, lines that do not add up): 400 is among its answers.
WRITES = [("/api/v1/interactions/", "POST"), ("/api/v1/interactions/bulk/", "POST"), ("/api/v1/orders/", "POST"),
          ("/api/v1/orders/bulk/", "POST"), ("/api/v1/enrollments/{id}/move/", "POST"), ("/api/v1/responses/", "POST")]
WRITE_STATUSES = '["2xx", "400", "401", "403", "404", "409", "422", "429"]'
# The clients' list takes a boutique, an advisor or a persona among those the caller may see: another id is an invalid
# choice (a 400), which the schema, the same for every caller, cannot list.
CHOICE_STATUSES = '["2xx", "400", "401", "403", "404", "429"]'
# The figures' period is checked beyond the schema: it ends after it starts and spans at most three years (a 400).
FIGURE_STATUSES = '["2xx", "400", "401", "403", "404", "429"]'
# The timeline's cursor is opaque: one of the right form may still be one the timeline never gave out (a 400).
TIMELINE_STATUSES = '["2xx", "400", "401", "403", "404", "429"]'
# Some 2,000 requests in all (the coverage phase adds its own): every operation, valid and invalid data.
EXAMPLES_PER_OPERATION = 8
AT = dt.datetime(2026, 5, 4, 10, tzinfo=dt.UTC)


@pytest.fixture
def live_api(django_db_serialized_rollback, live_server, monkeypatch, tmp_path: Path):
    """The running server, one record of each kind, a key that may call every endpoint, and the config file that
    points each detail operation at its record."""
    # The run sends thousands of calls within minutes with one key; the rate limit is not what is under test.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "1000000/min"})
    # Nor the anonymous rate: refused calls count against it (integrations.throttling), and the run's calls without
    # credentials (the every-check run's authentication probes) would meet a 429 where the check expects its 401.
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", {"anonymous": "1000000/min"})
    paris = BoutiqueFactory(code="PAR", name="Paris")
    advisor = AdvisorFactory(boutique=paris)
    persona = PersonaFactory()
    segment = Segment.objects.create(name="VIC", slug="vic", definition={"value_tier": "vic"})
    product = ProductFactory(sku="BAG-1")
    clients = [
        customer_upsert(source="atelier", email=f"client{n}@example.com", first_name="Ana", last_name=f"N{n}",
                        home_boutique=paris).customer
        for n in range(3)
    ]
    journey = Journey.objects.get(slug="client-lifecycle")
    enrollment, _ = enrollment_enroll(customer=clients[0], journey=journey)
    interaction = interaction_record(customer=clients[0], touchpoint_type="appointment", occurred_at=AT,
                                     source="pos", external_id="A-1").record
    order = order_record(source="pos", external_id="O-1", customer=clients[0], placed_at=AT, currency="EUR",
                         total="1200.00", lines=[OrderLineData(sku="BAG-1", quantity=1, unit_price="1200.00")],
                         boutique=paris).record
    survey = Survey.objects.create(name="After your visit", kind="nps", question="Would you recommend us?")
    response, _ = response_record(survey=survey, customer=clients[0], score=9, responded_at=AT, source="pos",
                                  external_id="R-1")
    records = {
        "/api/v1/customers/{public_id}/": ("public_id", str(clients[0].public_id)),
        "/api/v1/customers/{public_id}/timeline/": ("public_id", str(clients[0].public_id)),
        "/api/v1/advisors/{id}/": ("id", advisor.pk),
        "/api/v1/boutiques/{id}/": ("id", paris.pk),
        "/api/v1/personas/{id}/": ("id", persona.pk),
        "/api/v1/segments/{id}/": ("id", segment.pk),
        "/api/v1/products/{id}/": ("id", product.pk),
        "/api/v1/touchpoint-types/{id}/": ("id", TouchpointType.objects.get(code="appointment").pk),
        "/api/v1/journeys/{id}/": ("id", journey.pk),
        "/api/v1/enrollments/{id}/": ("id", enrollment.pk),
        "/api/v1/enrollments/{id}/move/": ("id", enrollment.pk),
        "/api/v1/interactions/{id}/": ("id", interaction.pk),
        "/api/v1/orders/{id}/": ("id", order.pk),
        "/api/v1/insight/journeys/{id}/funnel/": ("id", journey.pk),
        "/api/v1/responses/{id}/": ("id", response.pk),
    }
    config = tmp_path / "schemathesis.toml"
    # Response time is capped at the request timeout: on a loaded CI machine even a 400 may wait 10 s for the CPU.
    config.write_text("[checks]\nmax_response_time = 30\n\n" + "".join(
        f'[[operations]]\ninclude-path = "{path}"\nparameters = {{ "path.{name}" = {value!r} }}\n'.replace("'", '"')
        + (f"checks.positive_data_acceptance.expected-statuses = {TIMELINE_STATUSES}\n" if "timeline" in path else "")
        + (f"checks.positive_data_acceptance.expected-statuses = {FIGURE_STATUSES}\n" if "insight" in path else "")
        + "\n"
        for path, (name, value) in records.items() if path != "/api/v1/enrollments/{id}/move/"
    ) + '[[operations]]\ninclude-path = "/api/v1/customers/"\n' + (
        f"checks.positive_data_acceptance.expected-statuses = {CHOICE_STATUSES}\n\n"
    ) + '[[operations]]\ninclude-path = "/api/v1/insight/kpis/"\n' + (
        f"checks.positive_data_acceptance.expected-statuses = {FIGURE_STATUSES}\n\n"
    ) + "".join(
        f'[[operations]]\ninclude-path = "{path}"\ninclude-method = "{method}"\n'
        + (f'parameters = {{ "path.id" = {enrollment.pk} }}\n' if "{id}" in path else "")
        + f"checks.positive_data_acceptance.expected-statuses = {WRITE_STATUSES}\n\n"
        for path, method in WRITES
    ))
    scopes = list(Scope.values)
    keys = {
        "every boutique": ApiKey.objects.create_key(name="schemathesis", scopes=scopes)[1],
        "one boutique": _limited_key(scopes, paris),
    }
    return live_server.url, keys, config


def _limited_key(scopes: list[str], boutique) -> str:
    api_key, key = ApiKey.objects.create_key(name="schemathesis Paris", scopes=scopes)
    api_key.boutiques.set([boutique])
    return key


@pytest.mark.contract
@pytest.mark.parametrize("reach", ["every boutique", "one boutique"])
def test_no_server_error_and_no_schema_violation_on_any_operation(live_api, tmp_path: Path, reach):
    url, keys, config = live_api
    key = keys[reach]
    command = [
        str(Path(sys.executable).with_name("st")), "--config-file", str(config), "run", f"{url}/api/v1/schema/",
        "--header", f"Authorization: Api-Key {key}",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", "20261124",
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)
    (tmp_path / "schemathesis.txt").write_text(completed.stdout + completed.stderr)

    assert completed.returncode == 0, f"schemathesis found problems:\n{_failures(completed.stdout)}"
    counts = re.search(r"(\d+) generated, (\d+) passed", completed.stdout)
    assert counts is not None, completed.stdout[-3000:]
    generated, passed = int(counts[1]), int(counts[2])
    assert generated == passed >= 500
    selected, total = re.search(r"Selected: (\d+)/(\d+)", completed.stdout).groups()
    assert selected == total == re.search(r"Tested: (\d+)", completed.stdout)[1]


def _failures(output: str) -> str:
    """The failures section, long request lines (a bulk body is 100 KB) cut short."""
    section = output[output.find("FAILURES"):] if "FAILURES" in output else output[-5000:]
    return "\n".join(line if len(line) < 400 else line[:400] + " …" for line in section.splitlines())
