"""find_clients: the rows of order, interaction and response files find their client by customer_upsert's rules."""

from __future__ import annotations

import uuid

import pytest

from customers.services import customer_upsert
from imports.pipeline.clients import ClientKey, ClientNotFound, find_clients

pytestmark = pytest.mark.django_db


@pytest.fixture
def clients():
    helene = customer_upsert(source="crm", external_id="C-1", email="helene@example.fr", phone="+33612345678").customer
    marc = customer_upsert(source="pos", external_id="P-9", email="marc@example.fr").customer
    # A couple sharing the household's phone.
    anne = customer_upsert(source="crm", external_id="C-2", email="anne@example.fr", phone="+33140000000").customer
    paul = customer_upsert(source="crm", external_id="C-3", email="paul@example.fr", phone="+33140000000").customer
    return {"helene": helene, "marc": marc, "anne": anne, "paul": paul}


def test_atelier_id_then_identity_then_email_then_phone(clients):
    keys = {
        "public_id": ClientKey(public_id=clients["marc"].public_id),
        "identity": ClientKey(identities=(("crm", "C-1"),), email="someone-else@example.fr"),
        "email": ClientKey(identities=(("pos", "UNKNOWN"),), email="marc@example.fr"),
        "phone": ClientKey(phone="+33612345678"),
    }
    found = find_clients(keys.values())
    assert found[keys["public_id"]] == clients["marc"].pk
    assert found[keys["identity"]] == clients["helene"].pk
    assert found[keys["email"]] == clients["marc"].pk
    assert found[keys["phone"]] == clients["helene"].pk


def test_a_shared_or_contradicted_phone_finds_nobody(clients):
    shared = ClientKey(phone="+33140000000")
    contradicted = ClientKey(phone="+33612345678", email="not-helene@example.fr")
    found = find_clients([shared, contradicted])
    assert isinstance(found[shared], ClientNotFound)
    assert isinstance(found[contradicted], ClientNotFound)
    assert "import the clients first" in str(found[shared])


def test_ids_of_two_different_clients_are_refused(clients):
    key = ClientKey(identities=(("crm", "C-1"), ("pos", "P-9")))
    unknown = ClientKey(public_id=uuid.uuid4(), identities=(("crm", "C-1"),))
    found = find_clients([key, unknown])
    assert "belong to different clients" in str(found[key])
    assert "No client has the Atelier id" in str(found[unknown])


def test_blank_keys_are_not_looked_up(clients):
    assert find_clients([ClientKey()]) == {}
