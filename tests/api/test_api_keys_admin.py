"""API keys in the admin: created with the key shown once (only its hash kept), revoked for good."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from customers.models import Boutique
from integrations.models import ApiKey
from tests.api.conftest import key_client

pytestmark = pytest.mark.django_db


def test_a_key_created_in_the_admin_is_shown_once_and_stored_hashed(admin_client, admin_user, boutique_b):
    response = admin_client.post(
        reverse("admin:integrations_apikey_add"),
        {"name": "Shop", "scopes": ["customers:read", "orders:write"], "boutiques": [boutique_b.pk]},
    )

    assert response.status_code == 302
    api_key = ApiKey.objects.get(name="Shop")
    message = next(str(message) for message in get_messages(response.wsgi_request))
    key = message.split("The API key for Shop is: ")[1].split(". ")[0]
    assert key.startswith(api_key.prefix + ".")
    assert key not in api_key.hashed_key
    assert api_key.scopes == ["customers:read", "orders:write"]
    assert list(api_key.boutiques.all()) == [Boutique.objects.get(pk=boutique_b.pk)]
    assert api_key.created_by == admin_user
    assert admin_client.get(reverse("admin:integrations_apikey_change", args=[api_key.pk])).status_code == 200
    assert key not in admin_client.get(reverse("admin:integrations_apikey_change", args=[api_key.pk])).content.decode()


def test_a_key_revoked_in_the_admin_is_refused(admin_client):
    client, api_key = key_client(scopes=["customers:read"])
    assert client.get("/api/v1/customers/").status_code == 200

    response = admin_client.post(
        reverse("admin:integrations_apikey_changelist"), {"action": "revoke", "_selected_action": [api_key.pk]}
    )

    assert response.status_code == 302
    assert client.get("/api/v1/customers/").status_code == 401
