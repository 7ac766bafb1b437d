"""Importing the reference tables (personas, products, boutiques): validation as the models have it, re-imports,
rollback, and the round trip of Atelier's own export for each."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command

from core.errors import ApplicationError
from customers.models import Boutique, Persona, SourceSystem
from customers.services import customer_upsert
from imports.models import ImportBatch
from imports.services import import_file, import_rollback
from tests.factories import BoutiqueFactory, PersonaFactory, ProductFactory
from touchpoints.models import Product

FIXTURES = Path(__file__).resolve().parent / "fixtures"

pytestmark = pytest.mark.django_db


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def rows(model) -> list[tuple]:
    return list(model.objects.order_by("pk").values_list())


def test_boutiques_are_validated_like_the_model_and_a_refused_file_writes_nothing():
    source = FIXTURES / "legacy_boutiques.csv"
    batch = import_file(kind="boutiques", source=source, file_name=source.name)

    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.counts == {"new": 2, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 4}
    assert list(batch.row_errors.values_list("line", "column", "message")) == [
        (4, "timezone", "Europe/Lyon is not a known time zone (for example Europe/Paris)."),
        (5, "country", "'SUISSE' is not a two-letter country code."),
        (6, "currency", "YEN is not a currency code (ISO 4217, e.g. EUR, USD, CHF)."),
        (7, "code", "Give the boutique's code."),
    ]
    assert Boutique.objects.count() == 0


def test_valid_boutiques_import_with_normalized_codes_and_a_rollback_removes_them():
    source = FIXTURES / "legacy_boutiques.csv"
    batch = import_file(kind="boutiques", source=source, file_name=source.name, valid_only=True)

    assert list(Boutique.objects.order_by("code").values_list("code", "country", "timezone", "currency")) == [
        ("NYC", "US", "America/New_York", "USD"), ("PAR", "FR", "Europe/Paris", "EUR"),
    ]
    customer_upsert(source=SourceSystem.CRM, external_id="C-1", email="a@example.com",
                    home_boutique=Boutique.objects.get(code="PAR"))
    with pytest.raises(ApplicationError, match=r"depend on boutiques it created \(clients\)"):
        import_rollback(batch=batch)
    assert Boutique.objects.count() == 2


def test_personas_keep_their_names_unique_and_a_corrected_reimport_changes_only_that_row(tmp_path):
    PersonaFactory(slug="collector", name="Collector")
    source = write(tmp_path / "personas.csv", "slug,name,preferred_channels\n"
                   "traveller,Traveller,boutique|email\nnewcomer,Collector,\nfan,Fan,pigeon\n")

    batch = import_file(kind="personas", source=source, file_name="personas.csv", valid_only=True)

    assert list(batch.row_errors.values_list("line", "column", "message")) == [
        (3, "name", "The persona collector is already named Collector; persona names are unique."),
        (4, "preferred_channels", "pigeon: not a channel; use app, boutique, email, event, messaging, phone, "
                                  "sms, social, web."),
    ]
    assert Persona.objects.get(slug="traveller").preferred_channels == ["boutique", "email"]
    corrected = write(tmp_path / "corrected.csv", "slug,name,preferred_channels\n"
                      "traveller,Traveller,email\nnewcomer,Newcomer,\nfan,Fan,social\n")

    again = import_file(kind="personas", source=corrected, file_name="corrected.csv")

    assert again.counts == {"new": 2, "updated": 1, "unchanged": 0, "skipped": 0, "invalid": 0}
    assert again.preview["updated"][0]["fields"] == ["preferred_channels"]
    import_rollback(batch=again)
    assert Persona.objects.get(slug="traveller").preferred_channels == ["boutique", "email"]
    assert set(Persona.objects.values_list("slug", flat=True)) == {"collector", "traveller"}


def test_products_need_a_price_that_is_not_negative_and_reimport_unchanged(tmp_path):
    source = write(tmp_path / "products.csv", "sku;name;category;price;is_active\n"
                   "BAG-1;Kelly 28;Handbags;9 500,00 €;oui\nBAG-2;Birkin;Handbags;-1;\nBAG-3;Evelyne;Handbags;;\n")

    batch = import_file(kind="products", source=source, file_name="products.csv", valid_only=True)

    assert list(batch.row_errors.values_list("line", "column", "message")) == [
        (3, "price", "-1 is not a price (a price is not negative)."),
        (4, "price", "A new product needs its price."),
    ]
    assert list(Product.objects.values_list("sku", "price", "currency", "is_active")) == [
        ("BAG-1", Decimal("9500.00"), "EUR", True)]
    again = import_file(kind="products", source=source, file_name="products.csv", valid_only=True)
    assert again.counts == {"new": 0, "updated": 0, "unchanged": 1, "skipped": 0, "invalid": 2}


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize(("kind", "model"), [("personas", Persona), ("products", Product), ("boutiques", Boutique)])
def test_an_export_imports_back_unchanged(tmp_path, fmt, kind, model):
    BoutiqueFactory(code="PAR", name="Paris Faubourg")
    BoutiqueFactory(code="LON", name="London Bond Street", city="London", country="GB", timezone="Europe/London",
                    currency="GBP")
    PersonaFactory(slug="connoisseur", name="Connoisseur", description="=SUM(A1)", preferred_channels=["boutique"])
    PersonaFactory(slug="newcomer", name="Newcomer")
    ProductFactory(sku="BAG-1", name="Kelly 28", collection="Spring", price="9500.00")
    ProductFactory(sku="-SCARF", name="'Tis a scarf", category="Silk", price="0.50", currency="GBP", is_active=False)
    path = tmp_path / f"{kind}.{fmt}"
    call_command("export_data", kind, str(path), stdout=io.StringIO())
    before = rows(model)

    batch = import_file(kind=kind, source=path, file_name=path.name)

    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 2, "skipped": 0, "invalid": 0}
    assert rows(model) == before
    assert batch.changes.count() == 0
