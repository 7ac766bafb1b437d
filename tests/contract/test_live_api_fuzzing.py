"""Schemathesis against the live API: every operation of the OpenAPI schema, valid and invalid inputs generated from
it, sent over HTTP to a running server. No 5xx, and every response matches the schema (status, content type, body).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from customers.services import customer_upsert
from integrations.models import ApiKey, Scope
from integrations.throttling import ApiKeyRateThrottle
from tests.factories import BoutiqueFactory, ProductFactory

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
# A few hundred cases in all: enough to reach every operation with valid and invalid data on each run.
EXAMPLES_PER_OPERATION = 12


@pytest.fixture
def live_api(django_db_serialized_rollback, live_server, monkeypatch):
    """The running server, some data to read, and a key that may call every endpoint."""
    # The run sends hundreds of calls within a minute with one key; the rate limit is not what is under test.
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "100000/min"})
    paris = BoutiqueFactory(code="PAR", name="Paris")
    for n in range(3):
        customer_upsert(source="atelier", email=f"client{n}@example.com", first_name="Ana", last_name=f"N{n}",
                        home_boutique=paris)
    ProductFactory(sku="BAG-1")
    _, key = ApiKey.objects.create_key(name="schemathesis", scopes=list(Scope.values))
    return live_server.url, key


@pytest.mark.contract
def test_no_server_error_and_no_schema_violation_on_any_operation(live_api, tmp_path: Path):
    url, key = live_api
    command = [
        str(Path(sys.executable).with_name("st")), "run", f"{url}/api/v1/schema/",
        "--header", f"Authorization: Api-Key {key}",
        "--checks", CHECKS,
        "--max-examples", str(EXAMPLES_PER_OPERATION),
        "--seed", "20261124",
        "--workers", "1",
        "--request-timeout", "30",
        "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=900)

    (tmp_path / "schemathesis.txt").write_text(completed.stdout + completed.stderr)
    assert completed.returncode == 0, f"schemathesis found problems:\n{_failures(completed.stdout)}"
    assert "0 unique failures" in completed.stdout or "No issues found" in completed.stdout, completed.stdout[-3000:]


def _failures(output: str) -> str:
    """The failures section, long request lines (a bulk body is 100 KB) cut short."""
    section = output[output.find("FAILURES"):] if "FAILURES" in output else output[-5000:]
    return "\n".join(line if len(line) < 400 else line[:400] + " …" for line in section.splitlines())
