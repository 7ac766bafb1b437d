"""Staff editing a client's profile through customer_update."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from customers.models import Customer
from customers.services import customer_update, customer_upsert
from tests.factories import BoutiqueFactory

pytestmark = pytest.mark.django_db


def test_only_the_changed_fields_are_saved_normalized():
    paris = BoutiqueFactory(code="PAR", country="FR")
    client = customer_upsert(source="crm", external_id="C-1", email="a@example.com", home_boutique=paris).customer
    Customer.objects.filter(pk=client.pk).update(lifetime_value=900)  # a metrics refresh that happened meanwhile

    changed = customer_update(customer=client, changes={"phone": "06 12 34 56 78", "email": " A@Example.com ",
                                                        "city": "Lyon"})

    client.refresh_from_db()
    assert changed == ["phone", "city"]
    assert (client.phone, client.email, client.city, client.lifetime_value) == ("+33612345678", "a@example.com",
                                                                                "Lyon", 900)


def test_values_a_form_already_copied_onto_the_client_are_still_saved():
    client = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer
    client.last_name = "Dupré"  # what a ModelForm does before save_model

    assert customer_update(customer=client, changes={"last_name": "Dupré"}) == ["last_name"]
    assert Customer.objects.get(pk=client.pk).last_name == "Dupré"


def test_an_email_another_client_uses_is_refused_and_nothing_changes():
    customer_upsert(source="crm", external_id="C-1", email="taken@example.com")
    client = customer_upsert(source="crm", external_id="C-2", email="mine@example.com").customer

    with pytest.raises(ApplicationError) as refused:
        customer_update(customer=client, changes={"email": "taken@example.com", "city": "Nice"})

    assert refused.value.fields == {"email": ["Another client already uses this email address; merge the two clients."]}
    assert Customer.objects.filter(pk=client.pk).values_list("email", "city").get() == ("mine@example.com", "")


def test_derived_fields_are_not_edited_here():
    client = customer_upsert(source="crm", external_id="C-1", email="a@example.com").customer

    with pytest.raises(ApplicationError, match="not edited here: lifetime_value"):
        customer_update(customer=client, changes={"lifetime_value": 1})
