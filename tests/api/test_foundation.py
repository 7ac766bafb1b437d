"""Authentication, permissions, throttling and the schema of the API, on the real stack."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from integrations.models import ApiKey
from integrations.throttling import ApiKeyRateThrottle
from tests.api.conftest import key_client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.api.urls")]

def test_anonymous_call_is_401_with_the_api_key_challenge(api):
    response = api.post("/test/personas/", {"name": "Collector"}, format="json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json() == {"message": "Authentication credentials were not provided.", "extra": {}}


def test_unknown_key_is_401(api):
    api.credentials(HTTP_AUTHORIZATION="Api-Key abcdefgh.not-a-real-key")

    response = api.post("/test/personas/", {"name": "Collector"}, format="json")

    assert response.status_code == 401
    assert response.json()["message"] == "This API key is unknown or revoked."


def test_revoked_key_is_401():
    client, api_key = key_client(scopes=["customers:write"])
    api_key.revoked = True
    api_key.save()

    assert client.post("/test/personas/", {"name": "Collector"}, format="json").status_code == 401


def test_key_without_the_scope_is_403_and_nothing_is_written():
    client, _ = key_client(scopes=["customers:read"])

    response = client.post("/test/personas/", {"name": "Collector"}, format="json")

    assert response.status_code == 403
    assert response.json() == {"message": "This API key lacks the scope customers:write.", "extra": {}}
    from customers.models import Persona

    assert not Persona.objects.filter(name="Collector").exists()


def test_key_with_the_scope_may_write_and_its_use_is_recorded_once_a_minute():
    client, api_key = key_client(scopes=["customers:write"])

    assert client.post("/test/personas/", {"name": "Collector"}, format="json").status_code == 201
    api_key.refresh_from_db()
    first_use = api_key.last_used_at
    assert first_use is not None
    assert client.post("/test/personas/", {"name": "Traveller"}, format="json").status_code == 201
    api_key.refresh_from_db()
    assert api_key.last_used_at == first_use

    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=timezone.now() - dt.timedelta(minutes=2))
    assert client.post("/test/personas/", {"name": "Gifter"}, format="json").status_code == 201
    api_key.refresh_from_db()
    assert api_key.last_used_at > first_use


def test_staff_need_the_models_django_permission(advisor_a, head_office):
    from tests.api.conftest import session_client

    # Advisors may not add personas in the admin; head office may.
    assert not advisor_a.has_perm("customers.add_persona")
    response = session_client(advisor_a).post("/test/personas/", {"name": "Collector"}, format="json")
    assert response.status_code == 403
    assert head_office.has_perm("customers.add_persona")
    assert session_client(head_office).post("/test/personas/", {"name": "Collector"}, format="json").status_code == 201


def test_each_key_has_its_own_rate(monkeypatch):
    monkeypatch.setattr(ApiKeyRateThrottle, "THROTTLE_RATES", {"api_key": "2/min"})
    first, _ = key_client(scopes=["customers:write"])
    second, _ = key_client(scopes=["customers:write"])

    statuses = [first.post("/test/personas/", {"name": f"P{n}"}, format="json").status_code for n in range(3)]

    assert statuses == [201, 201, 429]
    assert second.post("/test/personas/", {"name": "Other"}, format="json").status_code == 201


@pytest.mark.urls("config.urls")
def test_an_address_no_view_answers_is_the_json_404_under_the_api_and_a_page_elsewhere(api, settings):
    settings.DEBUG = False

    response = api.get("/api/v1/advisors/0.5/")
    webhook = api.post("/webhooks/no-such-platform/", {}, format="json")
    page = api.get("/no-such-page/")

    assert (response.status_code, response["Content-Type"]) == (404, "application/json")
    assert response.json() == {"message": "Not found.", "extra": {}}
    assert (webhook.status_code, webhook.json()["message"]) == (404, "Not found.")
    assert (page.status_code, page["Content-Type"].split(";")[0]) == (404, "text/html")


@pytest.mark.urls("config.urls")
def test_a_form_encoded_body_is_a_415_and_a_body_with_too_many_fields_a_json_400(settings):
    settings.DEBUG = False
    client, _ = key_client(scopes=["interactions:write"])

    form = client.post("/api/v1/interactions/bulk/", {"items": "x"}, format="multipart")
    flood = client.generic(
        "POST", "/api/v1/interactions/bulk/", "&".join(f"items=f{n}" for n in range(1_500)),
        content_type="application/x-www-form-urlencoded",
    )

    assert (form.status_code, form.json()["message"].split(" ")[0]) == (415, "Unsupported")
    assert (flood.status_code, flood["Content-Type"]) == (415, "application/json")


def test_a_request_refused_before_any_view_is_a_json_400_under_the_api_and_a_page_elsewhere(rf):
    from django.core.exceptions import SuspiciousOperation

    from core.api import bad_request

    api_answer = bad_request(rf.post("/api/v1/orders/bulk/"), SuspiciousOperation("too many fields"))
    page_answer = bad_request(rf.get("/admin/"), SuspiciousOperation("bad host"))

    assert (api_answer.status_code, api_answer["Content-Type"]) == (400, "application/json")
    assert (page_answer.status_code, page_answer["Content-Type"].split(";")[0]) == (400, "text/html")
