"""Finding a client from what staff type: any word or word start of their names in any order, without regard to
case or accents; a phone in any format or its last digits; an email; an id another system gave them. The admin's
search box and the API's `q` and `phone` are one implementation (customers.filters)."""

from __future__ import annotations

import pytest

from customers.filters import CustomerFilterSet
from customers.models import Advisor, Customer, SourceSystem
from customers.services import customer_upsert
from tests.api.conftest import key_client
from tests.desk.helpers import logged_in
from tests.factories import BoutiqueFactory, make_staff

pytestmark = pytest.mark.django_db

LIST_URL = "/admin/customers/customer/"


@pytest.fixture
def house():
    dubai = BoutiqueFactory(code="DXB", name="Dubai Mall", country="AE", timezone="Asia/Dubai", currency="AED")
    paris = BoutiqueFactory(code="PAR", name="Paris Faubourg", country="FR")
    clients = [
        ("Sara", "Al Muhairi", "sara@example.ae", "0502645917", dubai, "9001"),
        ("Béatrice", "de Villiers", "beatrice@example.fr", "06 12 34 56 78", paris, "9002"),
        ("Beatrix", "Muller", "beatrix@example.fr", "06 98 76 54 32", paris, "9003"),
        ("Marc", "Sarazin", "marc@example.fr", "06 11 22 33 44", paris, "9004"),
    ]
    for first_name, last_name, email, phone, boutique, pos_id in clients:
        customer_upsert(source=SourceSystem.POS, external_id=pos_id, email=email, phone=phone,
                        first_name=first_name, last_name=last_name, home_boutique=boutique)
    return {"dubai": dubai, "paris": paris}


def found(**data) -> list[str]:
    filterset = CustomerFilterSet(data, queryset=Customer.objects.all())
    assert filterset.is_valid(), filterset.errors
    return sorted(customer.full_name for customer in filterset.qs)


@pytest.mark.parametrize(("typed", "names"), [
    ("Sara Al Muhairi", ["Sara Al Muhairi"]),
    ("Al Muhairi", ["Sara Al Muhairi"]),
    ("Muhairi", ["Sara Al Muhairi"]),
    ("muhairi sara", ["Sara Al Muhairi"]),
    ("de Villiers", ["Béatrice de Villiers"]),
    ("VILL", ["Béatrice de Villiers"]),
    ("Beatrice", ["Béatrice de Villiers"]),
    ("béa", ["Beatrix Muller", "Béatrice de Villiers"]),  # accents are folded in what is typed too
    ("beatri", ["Beatrix Muller", "Béatrice de Villiers"]),
    ("Müller", ["Beatrix Muller"]),
    ("sar", ["Marc Sarazin", "Sara Al Muhairi"]),
    ("arazin", []),  # the middle of a word is no word start
    ("Sara Dupont", []),  # every word must match
    ("O'Brien & (x)", []),  # tsquery syntax typed is text, not a query
])
def test_names_match_any_word_start_in_any_order_without_case_or_accents(house, typed, names):
    assert found(q=typed) == names


@pytest.mark.parametrize(("typed", "names"), [
    ("+971 50 264 5917", ["Sara Al Muhairi"]),
    ("0502645917", ["Sara Al Muhairi"]),  # local, read without the searcher's region: its digits end the number
    ("2645917", ["Sara Al Muhairi"]),
    ("34 56 78", ["Béatrice de Villiers"]),
    ("5917", []),  # too few digits to be part of a number
])
def test_a_phone_in_any_format_or_its_last_digits_finds_the_client(house, typed, names):
    assert found(q=typed) == names
    assert found(phone=typed) == names


def test_an_email_and_an_id_from_another_system_find_the_client(house):
    assert found(q="BEATRICE@example.fr") == ["Béatrice de Villiers"]
    assert found(q="9004") == ["Marc Sarazin"]


def test_the_api_and_the_admin_search_alike(house):
    api, _ = key_client(scopes=["customers:read"])
    manager = logged_in(make_staff(Advisor.Role.BOUTIQUE_MANAGER, house["dubai"], username="dubai-manager"))

    by_api_q = api.get("/api/v1/customers/", {"q": "muhairi"}).json()["results"]
    by_api_phone = api.get("/api/v1/customers/", {"phone": "0502645917"}).json()["results"]
    in_admin = manager.get(LIST_URL, {"q": "Muhairi"})

    assert [row["last_name"] for row in by_api_q] == ["Al Muhairi"]
    assert [row["last_name"] for row in by_api_phone] == ["Al Muhairi"]
    assert [customer.full_name for customer in in_admin.context["cl"].result_list] == ["Sara Al Muhairi"]


def test_a_renamed_client_is_found_by_the_new_name_at_once(house):
    sara = Customer.objects.get(email="sara@example.ae")
    Customer.objects.filter(pk=sara.pk).update(last_name="Al Mansouri")  # a raw write, as a bulk import's

    assert found(q="mansouri") == ["Sara Al Mansouri"]
    assert found(q="muhairi") == []
