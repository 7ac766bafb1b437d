"""What an interaction or order write may reach: finding or creating a client by identity needs customers:write and
never changes the client found; a key that may not read clients is not told whose record it wrote; a
boutique-limited key names only its boutiques and their advisors."""

from __future__ import annotations

import pytest

from customers.models import ContactConflict, Customer, CustomerIdentity
from tests.api.conftest import key_client
from tests.factories import AdvisorFactory
from touchpoints.models import Interaction, Order

pytestmark = pytest.mark.django_db

INTERACTIONS = "/api/v1/interactions/"
ORDERS = "/api/v1/orders/"


def visit(**extra) -> dict:
    return {"touchpoint_type": "store_visit", "source": "ecommerce", "occurred_at": "2026-03-02T15:00:00+01:00",
            "external_id": "V-1", **extra}


def sale(**extra) -> dict:
    return {"source": "ecommerce", "external_id": "O-1", "placed_at": "2026-03-02T15:00:00+01:00", "currency": "EUR",
            "total": "100.00", "lines": [{"sku": "BAG-1", "quantity": 1, "unit_price": "100.00"}], **extra}


@pytest.mark.parametrize(("url", "body", "scope"), [(INTERACTIONS, visit, "interactions:write"),
                                                    (ORDERS, sale, "orders:write")])
def test_a_key_without_customers_write_cannot_find_or_create_a_client_by_identity(url, body, scope, client_a):
    CustomerIdentity.objects.create(customer=client_a, system="crm", external_id="K-1")
    api, _ = key_client(scopes=[scope])

    found = api.post(url, body(client={"system": "crm", "external_id": "K-1"}), format="json")
    created = api.post(url, body(client={"email": "someone.new@example.com"}, external_id="X-2"), format="json")

    assert (found.status_code, created.status_code) == (400, 400)
    assert found.json()["extra"]["fields"]["client"] == [
        "Finding or creating a client by their identity needs the customers:write scope; name the client by "
        "their id (customer)."
    ]
    assert Customer.objects.count() == 1
    assert not Interaction.objects.exclude(touchpoint_type__code="purchase").exists()
    assert not Order.objects.exists()


def test_an_interaction_naming_its_client_by_identity_never_changes_their_email(client_a):
    CustomerIdentity.objects.create(customer=client_a, system="crm", external_id="K-1")
    api, _ = key_client(scopes=["interactions:write", "customers:write"])

    response = api.post(INTERACTIONS, visit(client={"system": "crm", "external_id": "K-1",
                                                    "email": "new@example.com"}), format="json")

    assert response.status_code == 201, response.json()
    client_a.refresh_from_db()
    assert client_a.email == "ana@example.com"
    assert Interaction.objects.get().customer_id == client_a.pk
    assert list(ContactConflict.objects.values_list("field", "proposed_value")) == [("email", "new@example.com")]


def test_a_write_only_key_is_not_told_whose_record_it_wrote(client_a):
    api, _ = key_client(scopes=["interactions:write", "orders:write"])

    interaction = api.post(INTERACTIONS, visit(customer=str(client_a.public_id)), format="json")
    order = api.post(ORDERS, sale(customer=str(client_a.public_id)), format="json")

    assert (interaction.status_code, order.status_code) == (201, 201)
    assert (interaction.json()["customer"], order.json()["customer"]) == (None, None)


def test_a_key_that_reads_clients_sees_whose_record_it_wrote(client_a):
    api, _ = key_client(scopes=["interactions:write", "customers:read"])

    response = api.post(INTERACTIONS, visit(customer=str(client_a.public_id)), format="json")

    assert response.json()["customer"] == str(client_a.public_id)


def test_a_boutique_key_cannot_name_another_boutique_or_its_advisor(client_a, boutique_a, boutique_b):
    api, _ = key_client(scopes=["orders:write", "interactions:write"], boutiques=[boutique_a])
    london_advisor = AdvisorFactory(boutique=boutique_b)
    paris_advisor = AdvisorFactory(boutique=boutique_a)

    other_boutique = api.post(ORDERS, sale(customer=str(client_a.public_id), boutique="LON"), format="json")
    other_advisor = api.post(ORDERS, sale(customer=str(client_a.public_id), advisor=london_advisor.pk,
                                          external_id="O-2"), format="json")
    visit_elsewhere = api.post(INTERACTIONS, visit(customer=str(client_a.public_id), boutique="LON"), format="json")
    own = api.post(ORDERS, sale(customer=str(client_a.public_id), boutique="PAR", advisor=paris_advisor.pk,
                                external_id="O-3"), format="json")

    assert (other_boutique.status_code, other_advisor.status_code, visit_elsewhere.status_code) == (400, 400, 400)
    # Answered as codes and ids that do not exist: the key learns nothing of the other boutique.
    assert other_boutique.json()["extra"]["fields"] == {"boutique": ["No boutique has the code 'LON'."]}
    assert other_advisor.json()["extra"]["fields"] == {"advisor": [f"No advisor has the id {london_advisor.pk}."]}
    assert own.status_code == 201, own.json()
    assert list(Order.objects.values_list("external_id", flat=True)) == ["O-3"]
