"""The OpenAPI schema: generated without a warning (CI fails on any), documented on a page with no CDN."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db


def test_schema_generates_without_a_warning():
    output = io.StringIO()

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null", stdout=output, stderr=output)


def test_docs_page_serves_swagger_ui_from_local_static_files(client):
    response = client.get("/api/v1/docs/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert "cdn" not in page.lower()


@pytest.fixture
def schema() -> dict:
    import json

    output = io.StringIO()
    call_command("spectacular", "--format", "openapi-json", stdout=output)
    return json.loads(output.getvalue())


def _parameter(schema: dict, path: str, name: str, method: str = "get") -> dict:
    return next(p for p in schema["paths"][path][method]["parameters"] if p["name"] == name)["schema"]


def test_the_schema_says_what_the_server_enforces(schema):
    bulk = schema["paths"]["/api/v1/interactions/bulk/"]["post"]["requestBody"]["content"]["application/json"]

    assert _parameter(schema, "/api/v1/orders/", "boutique_id") == {
        "type": "integer", "minimum": 1, "maximum": 2**63 - 1}
    assert _parameter(schema, "/api/v1/orders/", "page_size") == {"type": "integer", "minimum": 1}
    assert _parameter(schema, "/api/v1/orders/", "external_id") == {"type": "string", "pattern": "^[^\\u0000]*$"}
    assert _parameter(schema, "/api/v1/interactions/", "cursor") == {"type": "string", "pattern": "^[A-Za-z0-9+/=_-]*$"}
    assert _parameter(schema, "/api/v1/interactions/", "Idempotency-Key", "post") == {"type": "string",
                                                                                     "maxLength": 255}
    assert bulk["schema"]["properties"]["items"] == {
        "type": "array", "minItems": 1, "maxItems": 1000, "items": {},
        "description": "Each item as the single POST takes it."}
