"""Who may change the golden record (customer_upsert): only a source that owns it changes the client's name, email
and phone; what the others say differently is kept for staff as contact conflicts, and settled by staff."""

from __future__ import annotations

import pytest

from core.errors import ApplicationError
from customers.models import Advisor, ContactConflict, Customer, CustomerIdentity, SourceSystem
from customers.services import customer_upsert
from customers.services.conflicts import contact_conflicts_settle
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db


@pytest.fixture
def paris():
    return BoutiqueFactory(code="PAR", country="FR")


@pytest.fixture
def camille(paris):
    return customer_upsert(source=SourceSystem.POS, external_id="C-1", email="camille@example.com",
                           first_name="Camille", home_boutique=paris).customer


def open_conflicts(customer: Customer) -> list[tuple[str, str, str]]:
    return sorted(ContactConflict.objects.filter(customer=customer, status="open")
                  .values_list("field", "current_value", "proposed_value"))


def test_an_unverified_email_match_links_the_record_and_fills_only_blank_non_contact_fields(camille):
    result = customer_upsert(source=SourceSystem.ECOMMERCE, external_id="G-1", email="CAMILLE@example.com",
                             first_name="Mallory", last_name="Thief", city="Lyon", is_verified=False)

    camille.refresh_from_db()
    assert result.customer.pk == camille.pk
    assert (camille.first_name, camille.last_name, camille.city) == ("Camille", "", "Lyon")
    assert result.changed_fields == ["city", "identities"]
    assert CustomerIdentity.objects.get(external_id="G-1").is_verified is False
    assert open_conflicts(camille) == [("first_name", "Camille", "Mallory"), ("last_name", "", "Thief")]


def test_a_verified_email_match_owns_the_record(camille):
    customer_upsert(source=SourceSystem.CRM, external_id="K-1", email="camille@example.com", first_name="Camila")

    camille.refresh_from_db()
    assert camille.first_name == "Camila"
    assert CustomerIdentity.objects.get(external_id="K-1").is_verified is True
    assert open_conflicts(camille) == []


def test_a_record_that_only_names_its_client_never_changes_them(camille):
    result = customer_upsert(source=SourceSystem.POS, external_id="C-1", email="other@example.com",
                             first_name="Nobody", is_verified=False, may_update=False)

    camille.refresh_from_db()
    assert result.customer.pk == camille.pk
    assert (camille.email, camille.first_name) == ("camille@example.com", "Camille")
    assert open_conflicts(camille) == [("email", "camille@example.com", "other@example.com"),
                                       ("first_name", "Camille", "Nobody")]


def test_staff_apply_a_proposal_through_the_profile_service_and_dismiss_another(paris, camille):
    customer_upsert(source=SourceSystem.ECOMMERCE, external_id="G-1", email="camille@example.com",
                    first_name="Camilla", last_name="Durand", is_verified=False)
    manager = make_staff(Advisor.Role.BOUTIQUE_MANAGER, paris, username="manager")
    first_name = ContactConflict.objects.filter(field="first_name")
    last_name = ContactConflict.objects.filter(field="last_name")

    applied = contact_conflicts_settle(conflicts=first_name, apply=True, actor=manager)
    dismissed = contact_conflicts_settle(conflicts=last_name, apply=False, actor=manager)

    camille.refresh_from_db()
    assert (applied, dismissed) == ({"applied": 1, "dismissed": 0, "refused": 0},
                                    {"applied": 0, "dismissed": 1, "refused": 0})
    assert (camille.first_name, camille.last_name) == ("Camilla", "")
    assert sorted(ContactConflict.objects.values_list("field", "status", "resolved_by")) == [
        ("first_name", "applied", manager.pk), ("last_name", "dismissed", manager.pk),
    ]


def test_staff_of_another_boutique_cannot_settle_a_clients_conflicts(camille):
    customer_upsert(source=SourceSystem.ECOMMERCE, external_id="G-1", email="camille@example.com",
                    first_name="Mallory", is_verified=False)
    london = BoutiqueFactory(code="LON", country="GB")
    outsider = make_staff(Advisor.Role.BOUTIQUE_MANAGER, london, username="london-manager")

    with pytest.raises(ApplicationError, match="out of your reach"):
        contact_conflicts_settle(conflicts=ContactConflict.objects.all(), apply=True, actor=outsider)

    camille.refresh_from_db()
    assert camille.first_name == "Camille"
    assert ContactConflict.objects.get().status == "open"


@pytest.mark.parametrize("external_id", ["C-\x001", "C-\u00071", 1.5, float("nan"), True, "x" * 129])
def test_an_identity_that_is_no_printable_bounded_id_is_refused_and_nothing_is_written(external_id):
    with pytest.raises(ApplicationError) as refused:
        customer_upsert(source=SourceSystem.POS, external_id=external_id, email="new@example.com")

    assert list(refused.value.fields) == ["external_id"]
    assert not Customer.objects.exists()
