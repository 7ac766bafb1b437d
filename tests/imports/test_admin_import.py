"""The admin's imports, through the Django test client: upload, map the columns, preview, confirm, the result;
invalid rows refused unless chosen otherwise, the errors CSV, rollback, and who may do any of it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
import yaml
from django.core.files.storage import default_storage

from customers.models import Advisor, Customer
from imports.models import ImportBatch, ImportProgress
from tests.desk.helpers import logged_in, messages_of
from tests.factories import BoutiqueFactory, make_staff
from tests.imports.admin_flow import (
    LEGACY,
    LEGACY_MAPPING,
    NEW_URL,
    batch_of,
    batch_url,
    make_house,
    map_columns,
    upload,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    return tmp_path / "media"


@pytest.fixture
def head_office():
    make_house()
    return logged_in(make_staff(Advisor.Role.HEAD_OFFICE))


@pytest.fixture
def broken_file(tmp_path):
    path = tmp_path / "broken.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([
            ["external_id", "email", "birth_date", "home_boutique"],
            ["C1", "ok@example.com", "1990-02-01", "PAR-FSH"],
            ["C2", "not-an-email", "", ""],
            ["C3", "three@example.com", "1990-02-31", ""],
            ["C4", "four@example.com", "", "XXX-000"],
            ["C5", "five@example.com", "", ""],
        ])
    return path


def preview_of(browser, path, **options) -> ImportBatch:
    response = upload(browser, path, **options)
    assert response.status_code == 302, response.content[:800]
    return batch_of(map_columns(browser, response["Location"]))


def test_legacy_file_with_its_mapping_file_is_previewed_then_imported_on_confirmation(head_office):
    response = upload(head_office, LEGACY, mapping=LEGACY_MAPPING)
    assert response.status_code == 302
    mapping_page = head_office.get(response["Location"])
    form = mapping_page.context["form"]
    # Every header of the file, each prefilled from the mapping file; "Civilité" is not imported.
    assert [form[name].label for name in form.headers] == [
        "Code client", "Civilité", "Nom", "Prénom", "Courriel", "Téléphone", "Date de naissance", "Boutique",
        "Conseiller", "Segment", "Langue", "Ville", "Pays", "Consentement email", "Consentement SMS", "Tailles",
        "Catégories préférées", "Remarques", "Dernier achat", "CA total",
    ]
    prefilled = {form[name].label: form[name].value() for name in form.headers}
    assert prefilled["Courriel"] == "email"
    assert prefilled["Civilité"] == ""
    assert (form["date_order"].value(), form["decimal_comma"].value()) == ("dmy", "yes")

    preview = batch_of(map_columns(head_office, response["Location"]))

    assert (preview.status, preview.is_dry_run) == (ImportBatch.Status.PREVIEWED, True)
    assert preview.counts == {"new": 5, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 0}
    assert (preview.encoding, preview.delimiter, preview.file_name) == ("cp1252", ";", LEGACY.name)
    assert preview.mapping["columns"]["Courriel"] == "email"
    assert preview.mapping["constants"] == {"source": "crm"}
    assert default_storage.open(preview.stored_file.name).read() == LEGACY.read_bytes()
    assert Customer.objects.count() == 0
    page = head_office.get(batch_url(preview))
    text = page.content.decode()
    assert page.status_code == 200
    assert "This was a dry run: nothing was written." in text
    assert "CRM-000101" in text
    assert "Dupré" in text
    assert "The same row appears earlier in the file." in text
    assert 'id="import-confirm"' in text
    assert "Import the valid rows only" not in text  # no invalid rows: no such choice

    result = head_office.post(batch_url(preview, "confirm/"))

    imported = batch_of(result)
    assert imported.pk != preview.pk
    assert (imported.status, imported.is_dry_run, imported.valid_rows_only) == (
        ImportBatch.Status.IMPORTED, False, False
    )
    assert imported.counts == preview.counts
    assert (imported.checksum, imported.stored_file.name, imported.mapping) == (
        preview.checksum, preview.stored_file.name, preview.mapping
    )
    assert Customer.objects.count() == 5
    assert Customer.objects.get(email="helene.dupre@example.fr").birth_date == dt.date(1984, 3, 7)
    page = head_office.get(batch_url(imported))
    assert 'id="import-rollback-link"' in page.content.decode()
    assert 'id="import-confirm"' not in page.content.decode()


def test_a_legacy_file_is_mapped_in_the_form_without_a_mapping_file(head_office):
    response = upload(head_office, LEGACY, date_order="dmy", decimal_comma="yes", default_region="FR")
    page = head_office.get(response["Location"])
    form = page.context["form"]
    names = {form[name].label: name for name in form.headers}
    # None of the legacy headers is an Atelier field: nothing is prefilled, but every header is offered.
    assert len(names) == 20
    assert all(form[name].value() == "" for name in form.headers)
    columns = yaml.safe_load(LEGACY_MAPPING.read_text(encoding="utf-8"))["columns"]
    columns["Code client"] = "crm_id"  # the mapping file's constant source=crm is not given here

    preview = batch_of(map_columns(head_office, response["Location"],
                                   **{names[header]: field for header, field in columns.items()}))

    assert preview.status == ImportBatch.Status.PREVIEWED
    assert preview.counts == {"new": 5, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 0}
    assert preview.mapping == {"columns": columns, "date_order": "dmy", "decimal_comma": True,
                               "default_region": "FR", "constants": {}}


def test_two_columns_onto_one_field_are_refused_on_the_mapping_page(head_office, broken_file):
    response = upload(head_office, broken_file)
    page = head_office.get(response["Location"])
    names = {page.context["form"][name].label: name for name in page.context["form"].headers}

    refused = map_columns(head_office, response["Location"], **{names["external_id"]: "email"})

    assert refused.status_code == 200
    assert refused.context["form"].errors == {
        "column_1": ["'external_id' is already mapped onto email; map only one column onto it."]
    }
    assert ImportBatch.objects.count() == 0


def test_invalid_rows_refuse_the_whole_file_by_default(head_office, broken_file):
    preview = preview_of(head_office, broken_file)
    assert preview.counts == {"new": 2, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 3}
    page = head_office.get(batch_url(preview)).content.decode()
    assert "Import the valid rows only" in page
    assert "No boutique has the code XXX-000." in page

    rejected = batch_of(head_office.post(batch_url(preview, "confirm/")))

    assert (rejected.status, rejected.valid_rows_only) == (ImportBatch.Status.REJECTED, False)
    assert Customer.objects.count() == 0
    assert list(rejected.row_errors.values_list("line", "column")) == [(3, "email"), (4, "birth_date"),
                                                                       (5, "home_boutique")]
    assert "nothing was written" in head_office.get(batch_url(rejected)).content.decode()


def test_import_the_valid_rows_only_is_an_explicit_choice(head_office, broken_file):
    preview = preview_of(head_office, broken_file)

    imported = batch_of(head_office.post(batch_url(preview, "confirm/"), {"valid_only": "on"}))

    assert (imported.status, imported.valid_rows_only) == (ImportBatch.Status.IMPORTED, True)
    assert sorted(Customer.objects.values_list("email", flat=True)) == ["five@example.com", "ok@example.com"]
    assert imported.row_errors.count() == 3


def test_row_errors_download_as_csv(head_office, broken_file):
    preview = preview_of(head_office, broken_file)

    response = head_office.get(batch_url(preview, "errors.csv"))

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="import-{preview.pk}-errors.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows == [
        ["line", "column", "message", "external_id", "email", "birth_date", "home_boutique"],
        ["3", "email", "''not-an-email' is not a valid email address.", "C2", "not-an-email", "", ""],
        ["4", "birth_date", "1990-02-31 is not a date (day 31 of month 2).", "C3", "three@example.com",
         "1990-02-31", ""],
        ["5", "home_boutique", "No boutique has the code XXX-000.", "C4", "four@example.com", "", "XXX-000"],
    ]


def test_a_stored_file_changed_since_its_preview_is_refused_and_nothing_is_written(head_office, broken_file):
    preview = preview_of(head_office, broken_file)
    with default_storage.open(preview.stored_file.name, "ab") as stream:
        stream.write(b"C9,nine@example.com,,\r\n")

    response = head_office.post(batch_url(preview, "confirm/"), {"valid_only": "on"})

    failed = ImportBatch.objects.exclude(pk=preview.pk).get()
    assert response["Location"] == batch_url(preview)
    assert messages_of(response) == [
        "The stored file is not the one uploaded (its checksum changed); upload it again."
    ]
    assert (failed.status, failed.failure) == (
        ImportBatch.Status.FAILED, "The stored file is not the one uploaded (its checksum changed); upload it again."
    )
    assert Customer.objects.count() == 0


def test_a_file_that_cannot_be_read_goes_back_to_the_upload_with_the_reason(head_office, tmp_path):
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\r\n\r\n")

    response = upload(head_office, empty)
    step2 = head_office.get(response["Location"])

    assert step2.status_code == 302
    assert step2["Location"] == NEW_URL
    assert messages_of(step2) == [
        "empty.csv cannot be read: The file is empty: it has no header line naming its columns."
    ]
    assert ImportBatch.objects.count() == 0


def test_upload_refuses_a_file_that_is_not_csv_or_xlsx_and_a_broken_mapping_file(head_office, tmp_path):
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG")
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns:\n  Courriel: emial\n", encoding="utf-8")

    response = upload(head_office, picture, mapping=mapping)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["file"] == ["Upload a .csv, .tsv, .txt, .xlsx file."]
    response = upload(head_office, LEGACY, mapping=mapping)
    assert response.status_code == 200
    assert response.context["form"].errors["mapping_file"][0].startswith(
        "Column mapping, columns: 'Courriel' is mapped onto 'emial', which is not a field here. Fields: advisor, "
    )


def test_rollback_from_the_admin_takes_the_import_back(head_office):
    preview = preview_of(head_office, LEGACY, mapping=LEGACY_MAPPING)
    imported = batch_of(head_office.post(batch_url(preview, "confirm/")))
    assert Customer.objects.count() == 5
    page = head_office.get(batch_url(imported, "rollback/"))
    assert page.status_code == 200
    assert "the 5 records it created are removed" in " ".join(page.content.decode().split())

    response = head_office.post(batch_url(imported, "rollback/"))

    assert response.status_code == 302
    assert response["Location"] == batch_url(imported)
    imported.refresh_from_db()
    assert (imported.status, imported.rolled_back_by.pk) == (ImportBatch.Status.ROLLED_BACK,
                                                              response.wsgi_request.user.pk)
    assert Customer.objects.count() == 0
    assert messages_of(response) == [f"Batch #{imported.pk} was rolled back."]


def test_a_refused_rollback_shows_why_and_changes_nothing(head_office):
    from touchpoints.services.interactions import interaction_record

    imported = batch_of(head_office.post(batch_url(preview_of(head_office, LEGACY, mapping=LEGACY_MAPPING),
                                                   "confirm/")))
    interaction_record(customer=Customer.objects.get(email="helene.dupre@example.fr"), touchpoint_type="store_visit",
                       occurred_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC), source="pos")

    response = head_office.post(batch_url(imported, "rollback/"))

    assert response.status_code == 409
    assert "Records added since this import depend on clients it created" in response.content.decode()
    imported.refresh_from_db()
    assert imported.status == ImportBatch.Status.IMPORTED
    assert Customer.objects.count() == 5


def test_a_preview_is_confirmed_once_even_when_posted_twice(head_office):
    preview = preview_of(head_office, LEGACY, mapping=LEGACY_MAPPING)
    first = batch_of(head_office.post(batch_url(preview, "confirm/")))
    # The import finished, so a second confirmation is allowed and changes nothing (imports are idempotent).
    second = batch_of(head_office.post(batch_url(preview, "confirm/")))

    assert first.counts["new"] == 5
    assert second.counts == {"new": 0, "updated": 0, "unchanged": 5, "skipped": 1, "invalid": 0}
    assert Customer.objects.count() == 5


def test_batches_are_listed_filtered_and_never_edited(head_office, broken_file):
    preview = preview_of(head_office, broken_file)

    listing = head_office.get("/admin/imports/importbatch/?status__exact=previewed")
    other = head_office.get("/admin/imports/importbatch/?status__exact=imported")

    assert listing.status_code == 200
    assert list(listing.context["cl"].result_list) == [preview]
    assert list(other.context["cl"].result_list) == []
    assert "New import" in listing.content.decode()
    assert "2 new · 0 updated · 0 unchanged · 0 skipped · 3 invalid" in listing.content.decode()
    assert head_office.post(batch_url(preview, "delete/")).status_code == 403
    assert head_office.get("/admin/imports/importbatch/add/")["Location"] == NEW_URL


@pytest.mark.parametrize("role", [Advisor.Role.ADVISOR, Advisor.Role.BOUTIQUE_MANAGER])
def test_advisors_and_boutique_managers_cannot_see_or_run_imports(role, broken_file):
    make_house()
    preview = preview_of(logged_in(make_staff(Advisor.Role.HEAD_OFFICE)), broken_file)
    staff = logged_in(make_staff(role, BoutiqueFactory(code="LON")))

    index = staff.get("/admin/")
    assert index.status_code == 200
    assert "/admin/imports/" not in index.content.decode()
    for url in ["/admin/imports/importbatch/", NEW_URL, batch_url(preview), batch_url(preview, "status.json"),
                batch_url(preview, "errors.csv"), batch_url(preview, "rollback/")]:
        assert staff.get(url).status_code == 403, url
    assert staff.post(batch_url(preview, "confirm/"), {"valid_only": "on"}).status_code == 403
    with open(broken_file, "rb") as stream:
        assert staff.post(NEW_URL, {"kind": "customers", "file": stream}).status_code == 403
    assert ImportBatch.objects.count() == 1
    assert Customer.objects.count() == 0


def test_head_office_sees_imports_on_the_admin_index(head_office):
    assert "/admin/imports/importbatch/" in head_office.get("/admin/").content.decode()


@pytest.mark.django_db(databases=["default", "imports_progress"])
def test_a_file_above_the_inline_limit_runs_as_a_task_and_its_page_shows_the_result(
    head_office, settings, django_capture_on_commit_callbacks
):
    settings.IMPORT_INLINE_MAX_BYTES = 100  # the legacy file is 1.5 kB: a "large" upload here
    response = upload(head_office, LEGACY, mapping=LEGACY_MAPPING)

    with django_capture_on_commit_callbacks(execute=False) as queued:
        preview = batch_of(map_columns(head_office, response["Location"]))

    assert len(queued) == 1
    assert preview.status == ImportBatch.Status.QUEUED
    page = head_office.get(batch_url(preview)).content.decode()
    assert 'id="import-progress"' in page
    assert "Queued" in page
    assert head_office.get(batch_url(preview, "status.json")).json() == {
        "id": preview.pk, "status": "queued", "status_display": "Queued", "is_finished": False,
        "processed_rows": 0, "total_rows": None, "estimated_rows": None, "counts": {}, "failure": "",
    }

    queued[0]()  # what the commit does: the task (eager here: no worker in this test)

    preview.refresh_from_db()
    assert preview.status == ImportBatch.Status.PREVIEWED
    assert preview.counts == {"new": 5, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 0}
    # Written through the progress connection (in this test, its own transaction: see test_import_tasks).
    progress = ImportProgress.objects.using("imports_progress").get(batch=preview)
    assert (progress.processed_rows, progress.estimated_rows) == (6, 8)  # the file's 9 lines less the header
    status = head_office.get(batch_url(preview, "status.json")).json()
    assert (status["status"], status["is_finished"], status["processed_rows"], status["total_rows"]) == (
        "previewed", True, 6, 6
    )
    assert 'id="import-confirm"' in head_office.get(batch_url(preview)).content.decode()
