"""Importing client files: the legacy CRM's Latin-1 export, duplicates, dry runs, refusals, re-imports, rollback,
the command line, and memory on a large generated file."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import resource
import time
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.core.management.base import CommandError

from core.errors import ApplicationError
from customers.models import ConsentEvent, Customer, CustomerIdentity
from customers.services import customer_upsert
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportChange, ImportKind
from imports.registry import KINDS
from imports.services import import_errors_csv, import_file, import_rollback
from tests.factories import AdvisorFactory, BoutiqueFactory, PersonaFactory, UserFactory

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "legacy_crm_latin1_semicolon.csv"
LEGACY_MAPPING = FIXTURES / "mapping_legacy_crm.yaml"
ECOMMERCE = FIXTURES / "ecommerce_utf8_bom.csv"

pytestmark = pytest.mark.django_db
CustomerHistory = apps.get_model("customers", "CustomerHistory")


@pytest.fixture
def house():
    paris = BoutiqueFactory(code="PAR-FSH", name="Paris Faubourg", country="FR")
    cannes = BoutiqueFactory(code="CAN-CRO", name="Cannes Croisette", city="Cannes", country="FR")
    claire = AdvisorFactory(user=UserFactory(username="claire", email="claire.martin@maison.example"), boutique=paris)
    sophie = AdvisorFactory(user=UserFactory(username="sophie", email="sophie.bernard@maison.example"), boutique=cannes)
    personas = {
        name: PersonaFactory(name=name, slug=slug)
        for name, slug in (("Collectionneuse", "collectionneuse"), ("Nouvelle cliente", "nouvelle-cliente"),
                           ("Voyageur", "voyageur"))
    }
    return {"paris": paris, "cannes": cannes, "claire": claire, "sophie": sophie, "personas": personas}


def table_counts() -> dict[str, int]:
    return {
        "customers": Customer.objects.count(),
        "identities": CustomerIdentity.objects.count(),
        "consent_events": ConsentEvent.objects.count(),
        "changes": ImportChange.objects.count(),
        "history": CustomerHistory.objects.count(),
    }


def import_legacy(**options) -> ImportBatch:
    return import_file(
        kind="customers", source=LEGACY, file_name=LEGACY.name,
        mapping=ColumnMapping.from_file(LEGACY_MAPPING), **options,
    )


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows(rows)
    return path



def client(email: str) -> Customer:
    return Customer.objects.get(email=email)


def test_legacy_crm_latin1_semicolon_file_imports_with_normalized_values_and_consent(house):
    batch = import_legacy()

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {"new": 5, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 0}
    assert (batch.encoding, batch.delimiter, batch.total_rows, batch.processed_rows) == ("cp1252", ";", 6, 6)
    assert batch.file_size == LEGACY.stat().st_size
    assert batch.checksum == __import__("hashlib").sha256(LEGACY.read_bytes()).hexdigest()
    assert batch.preview["skipped"][0]["line"] == 8  # CRM-000103 again (the header is line 1, a note spans 2 lines)
    assert Customer.objects.count() == 5
    helene = client("helene.dupre@example.fr")
    assert (helene.first_name, helene.last_name, helene.phone, helene.birth_date) == (
        "Hélène", "Dupré", "+33612345678", dt.date(1984, 3, 7)
    )
    assert (helene.home_boutique, helene.advisor, helene.persona) == (
        house["paris"], house["claire"], house["personas"]["Collectionneuse"]
    )
    assert helene.preferences == {"sizes": ["36", "38"], "categories": ["Maroquinerie", "Joaillerie"]}
    assert helene.advisor_notes == "Préfère être appelée le matin; allergique au nickel"
    assert helene.consent == {"email_marketing": True, "sms_marketing": False}
    zoe = client("zoe.lefevre@gmail.com")
    assert (zoe.phone, zoe.birth_date, zoe.consent) == ("+33698765432", dt.date(1991, 9, 1), {"email_marketing": True})
    assert zoe.advisor_notes == "Cliente fidèle depuis 2009.\r\nVient avec sa fille ; aime la ligne « Cœur » en or rose"
    jurgen = client("jurgen.mueller@example.de")
    assert (jurgen.phone, jurgen.birth_date, jurgen.city, jurgen.country) == (
        "+498912345678", dt.date(1975, 12, 31), "München", "DE"
    )
    anais = client("anais@exemple.fr")
    assert (anais.phone, anais.birth_date, anais.country, anais.persona) == (
        "+33142685300", dt.date(1984, 3, 7), "FR", None
    )
    jose = client("jose.nunez@example.es")
    assert (jose.phone, jose.birth_date, jose.advisor, jose.consent) == (
        "+33611223344", None, None, {"email_marketing": False, "sms_marketing": True}
    )
    assert sorted(CustomerIdentity.objects.values_list("system", "external_id")) == [
        ("crm", f"CRM-00010{n}") for n in range(1, 6)
    ]
    events = ConsentEvent.objects.all()
    assert events.count() == 9
    assert {(event.occurred_at, event.source, event.wording_version) for event in events} == {
        (batch.started_at, "crm", "import")
    }
    assert batch.changes.filter(action=ImportChange.Action.CREATED).count() == 5
    history = CustomerHistory.objects.filter(pgh_obj_id=helene.pk).select_related("pgh_context")
    assert [(event.pgh_label, event.pgh_context.metadata) for event in history.order_by("pgh_id")] == [
        ("insert", {"source": "import", "import_batch": batch.pk}),
    ]


def test_bom_file_with_atelier_column_names_imports_dated_consent(house):
    batch = import_file(kind="customers", source=ECOMMERCE, file_name=ECOMMERCE.name)

    assert batch.counts == {"new": 4, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 0}
    assert (batch.encoding, batch.delimiter) == ("utf-8-sig", ",")
    asa = client("asa.lindqvist@example.se")
    assert (asa.first_name, asa.phone, asa.country, asa.language) == ("Åsa", "+46701234567", "SE", "sv")
    assert asa.consent == {"email_marketing": True}
    event = asa.consent_events.get()
    assert (event.occurred_at, event.source) == (
        dt.datetime(2023, 11, 2, 9, 15, tzinfo=dt.UTC), "ecommerce"
    )
    assert client("jose.alvarez@example.com").last_name == "Álvarez, Jr."
    assert client("misaki.sato@example.jp").consent == {}
    assert list(asa.identities.values_list("system", "external_id")) == [("ecommerce", "EC-58213")]


@pytest.mark.parametrize("chunk_size", [5_000, 2], ids=["one chunk", "chunks of two rows"])
def test_duplicates_in_the_file_and_in_atelier_never_make_two_clients_for_one_person(
    house, tmp_path, monkeypatch, chunk_size
):
    # In chunks of two, each row finds the clients earlier chunks wrote (same transaction).
    monkeypatch.setattr("imports.pipeline.CHUNK_SIZE", chunk_size)
    anne = customer_upsert(source="pos", external_id="P1", email="anne@example.com", first_name="Anne").customer
    dora = customer_upsert(source="pos", external_id="P2", email="dora@example.com", phone="+33633333333").customer
    path = write_csv(tmp_path / "clients.csv", [
        ["source", "external_id", "crm_id", "first_name", "email", "phone"],
        ["pos", "P1", "", "Anne-Marie", "", ""],  # Anne by identity: updated
        ["crm", "CRM-9", "", "", " ANNE@example.com ", ""],  # Anne by email: a new identity
        ["crm", "CRM-10", "", "Dan", "dan@example.com", "06 33 33 33 33"],  # Dora's phone, another email: new
        ["crm", "CRM-11", "", "Bea", "bea@example.com", "06 44 44 44 44"],  # new
        ["crm", "CRM-12", "", "", "", "+33 6 44 44 44 44"],  # Bea (earlier in this file) by phone
        ["crm", "CRM-11", "", "", "BEA@EXAMPLE.COM", ""],  # Bea by identity: nothing new
        ["crm", "CRM-11", "", "Bea", "bea@example.com", "06 44 44 44 44"],  # the same row again
        ["crm", "CRM-11", "CRM-9", "", "", ""],  # ids of Bea and of Anne: refused
    ])

    batch = import_file(kind="customers", source=path, file_name="clients.csv", valid_only=True)

    assert batch.counts == {"new": 2, "updated": 3, "unchanged": 1, "skipped": 1, "invalid": 1}
    assert Customer.objects.count() == 4
    anne.refresh_from_db()
    assert anne.first_name == "Anne-Marie"
    assert sorted(anne.identities.values_list("system", "external_id")) == [("crm", "CRM-9"), ("pos", "P1")]
    bea = client("bea@example.com")
    assert sorted(bea.identities.values_list("external_id", flat=True)) == ["CRM-11", "CRM-12"]
    assert client("dan@example.com").phone == dora.phone == "+33633333333"
    error = batch.row_errors.get()
    assert (error.line, error.column, error.message) == (
        9, "external_id", "These ids (crm:CRM-11, crm:CRM-9) belong to different clients; merge the clients first."
    )


def test_dry_run_writes_nothing_but_reports_exact_counts(house):
    customer_upsert(source="crm", external_id="CRM-000101", email="helene.dupre@example.fr", city="Lyon")
    before = table_counts()

    batch = import_legacy(dry_run=True)

    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.counts == {"new": 4, "updated": 1, "unchanged": 0, "skipped": 1, "invalid": 0}
    assert [row["line"] for row in batch.preview["new"]] == [3, 6, 7, 9]
    assert batch.preview["updated"][0]["line"] == 2
    assert table_counts() == before
    assert client("helene.dupre@example.fr").city == "Lyon"


@pytest.fixture
def broken_file(tmp_path):
    return write_csv(tmp_path / "broken.csv", [
        ["external_id", "email", "birth_date", "home_boutique"],
        ["C1", "ok@example.com", "1990-02-01", "PAR-FSH"],
        ["C2", "not-an-email", "", ""],
        ["C3", "three@example.com", "1990-02-31", ""],
        ["C4", "four@example.com", "", "XXX-000"],
        ["C5", "five@example.com", "", ""],
    ])


def test_an_invalid_row_rejects_the_file_and_writes_nothing(house, broken_file):
    before = table_counts()

    batch = import_file(kind="customers", source=broken_file, file_name="broken.csv")

    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.counts == {"new": 2, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 3}
    assert list(batch.row_errors.values_list("line", "column", "message")) == [
        (3, "email", "'not-an-email' is not a valid email address."),
        (4, "birth_date", "1990-02-31 is not a date (day 31 of month 2)."),
        (5, "home_boutique", "No boutique has the code XXX-000."),
    ]
    assert batch.row_errors.first().row == {"external_id": "C2", "email": "not-an-email", "birth_date": "",
                                            "home_boutique": ""}
    assert table_counts() == before
    stream = io.StringIO()
    assert import_errors_csv(batch=batch, stream=stream) == 3
    assert stream.getvalue().splitlines()[:2] == [
        "line,column,message,external_id,email,birth_date,home_boutique",
        # A message that starts with an apostrophe gets one more, as an export's text does (core.spreadsheets).
        "3,email,''not-an-email' is not a valid email address.,C2,not-an-email,,",
    ]


def test_the_refused_rows_csv_defuses_cells_a_spreadsheet_would_run_as_formulas(house, tmp_path):
    # What a refused row brings back (its cells, the file's headers, a message quoting a cell) is escaped as the
    # exports are: opened in a spreadsheet, none of it runs.
    hostile = tmp_path / "hostile.csv"
    with open(hostile, "w", encoding="utf-8", newline="") as stream:
        csv.writer(stream).writerows([
            ["external_id", "email", "birth_date", '=HYPERLINK("http://evil.example")'],
            ["=cmd|' /C calc'!A0", "=cmd|' /C calc'!A0", "@SUM(1+1)", "+1"],
            ["C3", "three@example.com", "-2+3", "\tTab"],
        ])
    batch = import_file(kind="customers", source=hostile, file_name="hostile.csv")
    stream = io.StringIO()

    assert import_errors_csv(batch=batch, stream=stream) == 2
    command = "=cmd|' /C calc'!A0"
    assert list(csv.reader(io.StringIO(stream.getvalue()))) == [
        ["line", "column", "message", "external_id", "email", "birth_date", "'=HYPERLINK(\"http://evil.example\")"],
        ["2", "email", f'"{command}" is not a valid email address.', f"'{command}", f"'{command}", "'@SUM(1+1)",
         "'+1"],
        ["3", "birth_date", "'-2+3 is not a date (expected year-month-day, e.g. 2024-12-31).", "C3",
         "three@example.com", "'-2+3", "'\tTab"],
    ]


def test_valid_only_imports_the_valid_rows_and_reports_the_others(house, broken_file):
    batch = import_file(kind="customers", source=broken_file, file_name="broken.csv", valid_only=True)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {"new": 2, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 3}
    assert sorted(Customer.objects.values_list("email", flat=True)) == ["five@example.com", "ok@example.com"]
    assert batch.row_errors.count() == 3


def test_importing_the_same_file_twice_changes_nothing_the_second_time(house):
    import_legacy()
    updated_at = dict(Customer.objects.values_list("pk", "updated_at"))
    before = table_counts()

    second = import_legacy()

    assert second.counts == {"new": 0, "updated": 0, "unchanged": 5, "skipped": 1, "invalid": 0}
    assert dict(Customer.objects.values_list("pk", "updated_at")) == updated_at
    assert table_counts() == before


def test_a_corrected_reimport_updates_only_the_corrected_rows(house, tmp_path):
    first = import_legacy()
    corrected = tmp_path / "corrected.csv"
    corrected.write_bytes(LEGACY.read_bytes().replace("Neuilly-sur-Seine".encode("cp1252"), b"Paris"))
    updated_at = dict(Customer.objects.values_list("email", "updated_at"))

    second = import_file(kind="customers", source=corrected, file_name="corrected.csv",
                         mapping=ColumnMapping.from_file(LEGACY_MAPPING))

    assert second.counts == {"new": 0, "updated": 1, "unchanged": 4, "skipped": 1, "invalid": 0}
    assert second.preview["updated"][0]["fields"] == ["city"]
    assert client("zoe.lefevre@gmail.com").city == "Paris"
    changed = {email for email, at in Customer.objects.values_list("email", "updated_at") if at != updated_at[email]}
    assert changed == {"zoe.lefevre@gmail.com"}
    assert list(second.changes.values_list("action", "before")) == [("updated", {"city": "Neuilly-sur-Seine"})]
    assert first.changes.count() == 5


def test_rollback_restores_the_previous_state_exactly(house, tmp_path):
    helene = customer_upsert(source="pos", external_id="P-7", email="helene.dupre@example.fr", city="Lyon",
                             first_name="Hélène").customer
    fields = ["first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country",
              "home_boutique_id", "advisor_id", "persona_id", "preferences", "advisor_notes", "consent"]
    state_before = Customer.objects.filter(pk=helene.pk).values(*fields).get()
    before = table_counts()
    batch = import_legacy()
    assert batch.counts["updated"] == 1
    helene.refresh_from_db()
    assert (helene.city, helene.consent) == ("Paris", {"email_marketing": True, "sms_marketing": False})
    assert CustomerHistory.objects.filter(pgh_obj_id=helene.pk, pgh_context__metadata__import_batch=batch.pk).exists()

    import_rollback(batch=batch)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.ROLLED_BACK
    assert batch.rolled_back_at is not None
    assert Customer.objects.filter(pk=helene.pk).values(*fields).get() == state_before
    counts = table_counts()
    assert {name: counts[name] for name in ("customers", "identities", "consent_events")} == {
        name: before[name] for name in ("customers", "identities", "consent_events")
    }
    with pytest.raises(ApplicationError, match="Only an imported batch can be rolled back"):
        import_rollback(batch=batch)


def test_rollback_restores_a_client_changed_by_two_chunks_to_what_it_was_before_both(house, tmp_path,
                                                                                     monkeypatch):
    marc = customer_upsert(source="crm", external_id="C-9", email="marc@example.fr", first_name="Marc",
                           city="Lyon", birth_date=dt.date(1980, 1, 2), home_boutique=house["paris"]).customer
    state_before = Customer.objects.filter(pk=marc.pk).values().get()
    monkeypatch.setattr("imports.pipeline.CHUNK_SIZE", 2)
    path = write_csv(tmp_path / "two_chunks.csv", [
        ["crm_id", "email", "city", "birth_date", "home_boutique", "first_name"],
        ["C-9", "", "Nice", "1980-01-03", "", ""],
        ["C-10", "new@example.fr", "", "", "", ""],
        ["C-9", "marc.b@example.fr", "Cannes", "", "CAN-CRO", "Marc-Antoine"],
    ])
    batch = import_file(kind="customers", source=path, file_name=path.name)
    marc.refresh_from_db()
    assert (marc.city, marc.email, marc.first_name, marc.home_boutique) == (
        "Cannes", "marc.b@example.fr", "Marc-Antoine", house["cannes"])
    assert batch.changes.filter(action="updated").count() == 2

    import_rollback(batch=batch)

    restored = Customer.objects.filter(pk=marc.pk).values().get()
    assert {name: value for name, value in restored.items() if name != "updated_at"} == {
        name: value for name, value in state_before.items() if name != "updated_at"}
    assert not Customer.objects.filter(email="new@example.fr").exists()
    assert list(CustomerIdentity.objects.values_list("system", "external_id")) == [("crm", "C-9")]


def test_command_imports_and_prints_a_summary(house):
    out = io.StringIO()
    call_command("import_legacy", "customers", str(LEGACY), "--mapping", str(LEGACY_MAPPING), stdout=out,
                 stderr=io.StringIO())

    text = out.getvalue()
    assert "Imported. Batch" in text
    assert "Read as cp1252, semicolon-separated; 6 rows" in text
    assert "new: 5  updated: 0  unchanged: 0  skipped: 1  invalid: 0" in text
    assert Customer.objects.count() == 5


def test_command_exits_with_1_and_lists_the_refused_rows(house, broken_file, tmp_path):
    out = io.StringIO()
    errors = tmp_path / "errors.csv"
    with pytest.raises(CommandError) as raised:
        call_command("import_legacy", "customers", str(broken_file), "--errors-csv", str(errors), stdout=out,
                     stderr=io.StringIO())

    assert raised.value.returncode == 1
    text = out.getvalue()
    assert "Rejected: invalid rows, nothing was written" in text
    assert "  line 3, email: 'not-an-email' is not a valid email address." in text
    assert f"All 3 refused rows are in {errors}." in text
    assert len(errors.read_text().splitlines()) == 4
    assert Customer.objects.count() == 0


def test_every_kind_imports_and_an_unknown_kind_is_refused(tmp_path):
    assert set(KINDS) == set(ImportKind.values)
    with pytest.raises(CommandError, match="invalid choice: 'wishlists'"):
        call_command("import_legacy", "wishlists", str(tmp_path / "wishlists.csv"))
    with pytest.raises(ApplicationError, match="'wishlists' is not a kind of import; use customers, orders"):
        import_file(kind="wishlists", source=tmp_path / "wishlists.csv", file_name="wishlists.csv")


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _current_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@pytest.mark.slow
def test_a_100k_row_file_imports_in_bounded_memory(tmp_path):
    rows = 100_000
    path = tmp_path / "big.csv"
    with open(path, "w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["crm_id", "first_name", "last_name", "email", "phone", "city", "email_marketing"])
        for n in range(rows):
            writer.writerow([f"CRM-{n}", "Camille", f"Client {n}", f"client{n}@example.com", f"+336{n:08d}",
                             "Paris", "yes" if n % 2 else "no"])
    with contextlib.suppress(OSError):  # reset the peak (Linux 4.0+), so the figure is this import's own
        Path("/proc/self/clear_refs").write_text("5")
    baseline = _current_rss_mb()
    began = time.perf_counter()

    batch = import_file(kind="customers", source=path, file_name=path.name)

    seconds = time.perf_counter() - began
    growth = _peak_rss_mb() - baseline
    print(f"100k rows in {seconds:.1f} s ({rows / seconds:,.0f} rows/s), peak RSS growth {growth:.0f} MB")
    assert batch.counts == {"new": rows, "updated": 0, "unchanged": 0, "skipped": 0, "invalid": 0}
    assert Customer.objects.count() == rows
    assert growth < 150


def test_rollback_is_refused_when_a_client_it_created_has_been_used_since(house):
    from touchpoints.services.interactions import interaction_record

    batch = import_legacy()
    interaction_record(customer=client("helene.dupre@example.fr"), touchpoint_type="store_visit",
                       occurred_at=dt.datetime(2026, 3, 2, 10, tzinfo=dt.UTC), source="pos")
    before = table_counts()

    with pytest.raises(ApplicationError, match=r"depend on clients it created \(interactions\)"):
        import_rollback(batch=batch)

    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.IMPORTED
    assert table_counts() == before


def test_cells_escaped_by_an_atelier_export_lose_exactly_one_apostrophe(house, tmp_path):
    path = write_csv(tmp_path / "export.csv", [
        ["crm_id", "first_name", "last_name", "phone", "email_marketing", "email_marketing_at"],
        ["CRM-1", "''Tis", "'=Smith", "'+33612345678", "true", "2026-02-01T10:30:00+01:00"],
    ])

    batch = import_file(kind="customers", source=path, file_name="export.csv")

    assert batch.counts["new"] == 1
    customer = Customer.objects.get()
    assert (customer.first_name, customer.last_name, customer.phone) == ("'Tis", "=Smith", "+33612345678")
    event = customer.consent_events.get()
    assert (event.occurred_at, event.is_granted, event.source) == (
        dt.datetime(2026, 2, 1, 9, 30, tzinfo=dt.UTC), True, "crm"
    )
