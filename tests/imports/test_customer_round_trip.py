"""A client file exported from Atelier (CSV or Excel) imports back unchanged: every client found again, nothing
written, the database as it was."""

from __future__ import annotations

import io

import pytest
from django.apps import apps

from customers.models import ConsentEvent, Customer, CustomerIdentity
from imports.exports import write_export
from imports.models import ImportBatch, ImportChange
from imports.services import import_file
from tests.imports.test_export import house, house_time_zone  # noqa: F401 (fixtures)

pytestmark = pytest.mark.django_db
CustomerHistory = apps.get_model("customers", "CustomerHistory")


def snapshot() -> dict[str, object]:
    return {
        "customers": list(Customer.objects.order_by("pk").values()),
        "identities": sorted(CustomerIdentity.objects.values_list("customer_id", "system", "external_id")),
        "consent_events": ConsentEvent.objects.count(),
        "history": CustomerHistory.objects.count(),
        "changes": ImportChange.objects.count(),
    }


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_exported_client_file_imports_back_unchanged(house, fmt):  # noqa: F811
    stream = io.BytesIO()
    write_export(kind="customers", fmt=fmt, stream=stream)
    stream.seek(0)
    before = snapshot()

    batch = import_file(kind="customers", source=stream, file_name=f"clients.{fmt}")

    assert batch.status == ImportBatch.Status.IMPORTED, batch.preview
    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 3, "skipped": 0, "invalid": 0}
    assert snapshot() == before


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_edited_in_a_spreadsheet_updates_only_what_was_edited(house, fmt, tmp_path):  # noqa: F811
    stream = io.BytesIO()
    write_export(kind="customers", fmt=fmt, stream=stream)
    if fmt == "csv":
        edited = stream.getvalue().decode("utf-8-sig").replace("Durand", "Durand-Leroy").encode("utf-8-sig")
    else:
        import openpyxl

        stream.seek(0)
        workbook = openpyxl.load_workbook(stream)
        for row in workbook.active.iter_rows():
            for cell in row:
                if cell.value == "Durand":
                    cell.value = "Durand-Leroy"
        out = io.BytesIO()
        workbook.save(out)
        edited = out.getvalue()
    path = tmp_path / f"clients.{fmt}"
    path.write_bytes(edited)

    batch = import_file(kind="customers", source=path, file_name=path.name)

    assert batch.counts == {"new": 0, "updated": 1, "unchanged": 2, "skipped": 0, "invalid": 0}
    assert batch.preview["updated"][0]["fields"] == ["last_name"]
    assert Customer.objects.get(last_name="Durand-Leroy").first_name == "Camille"
