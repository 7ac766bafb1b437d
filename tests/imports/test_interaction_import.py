"""Importing interaction files: the legacy CRM's Latin-1 contact history, refusals, valid-only, dry runs,
re-imports, rollback, and the round trip of Atelier's own export."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from openpyxl import load_workbook

from core.errors import ApplicationError
from customers.models import Customer, SourceSystem
from customers.services import customer_upsert
from feedback.models import Invitation, Survey
from imports.mapping import ColumnMapping
from imports.models import ImportBatch, ImportChange
from imports.services import import_file, import_rollback
from tests.factories import AdvisorFactory, BoutiqueFactory, UserFactory
from touchpoints.models import Interaction, TouchpointType
from touchpoints.services import interaction_record

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "legacy_interactions_latin1_semicolon.csv"
LEGACY_MAPPING = FIXTURES / "mapping_legacy_interactions.yaml"
PARIS_TIME = zoneinfo.ZoneInfo("Europe/Paris")

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = BoutiqueFactory(code="PAR-FSH", name="Paris Faubourg", country="FR", timezone="Europe/Paris")
    cannes = BoutiqueFactory(code="CAN-CRO", name="Cannes Croisette", city="Cannes", country="FR")
    claire = AdvisorFactory(user=UserFactory(username="claire", email="claire.martin@maison.example"), boutique=paris)
    camille = customer_upsert(source=SourceSystem.CRM, external_id="C-100", email="camille.durand@example.com",
                              first_name="Camille", last_name="Durand").customer
    hugo = customer_upsert(source=SourceSystem.CRM, external_id="C-101", first_name="Hugo",
                           last_name="Moreau").customer
    return {"paris": paris, "cannes": cannes, "claire": claire, "camille": camille, "hugo": hugo}


def import_legacy(source: Path = LEGACY, **options) -> ImportBatch:
    return import_file(kind="interactions", source=source, file_name=source.name,
                       mapping=ColumnMapping.from_file(LEGACY_MAPPING), **options)


def snapshot() -> list[tuple]:
    return list(Interaction.objects.order_by("pk").values_list(
        "pk", "customer_id", "touchpoint_type__code", "occurred_at", "channel", "boutique_id", "advisor_id", "source",
        "external_id", "amount", "currency", "metadata", "order_id"))


def errors(batch: ImportBatch) -> list[tuple[int, str, str]]:
    return list(batch.row_errors.order_by("line").values_list("line", "column", "message"))


EXPECTED_ERRORS = [
    (8, "Code client", "No client answers to crm id C-999; import the clients first."),
    (9, "Type", "Purchase is not imported as an interaction: purchases and returns come with their orders, so "
                "import them with the order file."),
    (10, "Date", "31/02/2025 11:00 is not a date (day 31 of month 2)."),
    (11, "Type", "No touchpoint type has the code essayage; the codes are advisor_note, appointment, "
                 "cart_abandoned, email_clicked, email_opened, event_attended, message_exchanged, newsletter_signup, "
                 "phone_call, product_view, purchase, referral, repair_service, return, social_engagement, "
                 "store_visit, survey_answered, wishlist_added."),
    (12, "Montant", "An interaction's amount cannot be negative."),
    (13, "Boutique", "No boutique has the code LYO-BEL."),
    (14, "Détails", "This is not JSON (Expecting property name enclosed in double quotes at character 2)."),
]


def test_a_broken_row_rejects_the_file_writes_nothing_and_explains_every_row(house):
    batch = import_legacy()

    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.encoding == "cp1252"
    assert batch.delimiter == ";"
    assert batch.counts == {"new": 4, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 7}
    assert errors(batch) == EXPECTED_ERRORS
    assert Interaction.objects.count() == 0
    assert ImportChange.objects.count() == 0
    assert Customer.objects.filter(last_interaction_at__isnull=False).count() == 0


def test_valid_only_imports_the_legacy_rows_with_day_first_dates_decimal_commas_and_notes(house):
    batch = import_legacy(valid_only=True)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {"new": 4, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 7}
    assert errors(batch) == EXPECTED_ERRORS
    camille, hugo = house["camille"], house["hugo"]
    paris, cannes, claire = house["paris"].pk, house["cannes"].pk, house["claire"].pk
    rows = {row[8] or "staff": row[1:] for row in snapshot()}
    assert rows == {
        "INT-1": (camille.pk, "store_visit", dt.datetime(2025, 2, 3, 13, 30, tzinfo=dt.UTC), "boutique", paris, claire,
                  "crm", "INT-1", None, "", {"note": "Essayé le sac Kelly, taille 28"}, None),
        "INT-2": (camille.pk, "appointment", dt.datetime(2025, 2, 4, 9, 0, tzinfo=dt.UTC), "boutique", paris, None,
                  "crm", "INT-2", Decimal("1250.50"), "EUR", {"note": "Rendez-vous privé", "salon": "VIP"}, None),
        "INT-3": (hugo.pk, "event_attended", dt.datetime(2025, 3, 14, 23, 0, tzinfo=dt.UTC), "event", cannes, None,
                  "crm", "INT-3", None, "", {"note": "Soirée Croisette"}, None),
        "staff": (camille.pk, "phone_call", dt.datetime(2025, 3, 16, 8, 15, tzinfo=dt.UTC), "phone", None, None,
                  "crm", "", None, "", {"note": "Appel de suivi"}, None),
    }
    assert ImportChange.objects.filter(batch=batch, action="created").count() == 4
    camille.refresh_from_db()
    hugo.refresh_from_db()
    assert camille.last_interaction_at == dt.datetime(2025, 3, 16, 8, 15, tzinfo=dt.UTC)
    assert hugo.last_interaction_at == dt.datetime(2025, 3, 14, 23, 0, tzinfo=dt.UTC)
    assert batch.preview["headers"][:3] == ["Source", "N° interaction", "Code client"]
    assert [entry["line"] for entry in batch.preview["new"]] == [2, 3, 4, 5]
    assert batch.preview["skipped"] == [{"line": 6, "row": batch.preview["new"][0]["row"],
                                         "reason": "The same row appears earlier in the file."}]
    # Five rows of each outcome, as the rows were judged (a row's values first, then its client).
    purchase = batch.preview["invalid"][0]
    assert len(batch.preview["invalid"]) == 5
    assert purchase == {"line": 9, "row": purchase["row"], "column": "Type", "message": EXPECTED_ERRORS[1][2]}
    assert purchase["row"]["Type"] == "purchase"


def test_dry_run_writes_nothing_but_reports_exact_counts(house):
    batch = import_legacy(dry_run=True, valid_only=True)

    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.counts == {"new": 4, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 7}
    assert Interaction.objects.count() == 0
    assert ImportChange.objects.count() == 0


def test_importing_the_same_file_twice_changes_nothing_the_second_time(house):
    import_legacy(valid_only=True)
    before = snapshot()

    again = import_legacy(valid_only=True)

    assert again.counts == {"new": 0, "updated": 0, "unchanged": 4, "skipped": 1, "invalid": 7}
    assert snapshot() == before
    assert again.changes.count() == 0


def test_a_corrected_reimport_updates_only_the_corrected_rows(house, tmp_path):
    import_legacy(valid_only=True)
    before = {row[8]: row for row in snapshot()}
    text = LEGACY.read_text(encoding="latin-1")
    corrected = tmp_path / "corrected.csv"
    corrected.write_text(
        text.replace(";PAR-FSH;;1 250,50 EUR;;", ";PAR-FSH;claire.martin@maison.example;1 300,00 EUR;;")
        .replace("C-999", "C-101").replace("31/02/2025", "28/02/2025"),
        encoding="latin-1",
    )

    batch = import_legacy(corrected, valid_only=True)

    assert batch.counts == {"new": 2, "updated": 1, "unchanged": 3, "skipped": 1, "invalid": 5}
    assert batch.preview["updated"][0]["fields"] == ["advisor_id", "amount"]
    after = {row[8]: row for row in snapshot()}
    assert after["INT-2"][6] == house["claire"].pk
    assert after["INT-2"][9] == Decimal("1300.00")
    assert {key: after[key] for key in before if key != "INT-2"} == {k: v for k, v in before.items() if k != "INT-2"}
    assert set(after) - set(before) == {"INT-4", "INT-6"}


def test_rollback_removes_created_interactions_and_restores_changed_ones(house, tmp_path):
    visit = interaction_record(customer=house["camille"], touchpoint_type="store_visit", source=SourceSystem.CRM,
                               external_id="INT-2", occurred_at=dt.datetime(2025, 1, 1, 10, 0, tzinfo=dt.UTC)).record
    before = snapshot()
    camille_before = Customer.objects.get(pk=house["camille"].pk).last_interaction_at
    batch = import_legacy(valid_only=True)
    assert batch.counts["updated"] == 1
    assert batch.counts["new"] == 3

    import_rollback(batch=batch)

    assert snapshot() == before
    assert Interaction.objects.get(pk=visit.pk).metadata == {}
    assert Customer.objects.get(pk=house["camille"].pk).last_interaction_at == camille_before
    assert Customer.objects.get(pk=house["hugo"].pk).last_interaction_at is None
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.ROLLED_BACK


def test_rollback_is_refused_when_an_invitation_asks_about_an_imported_interaction(house):
    batch = import_legacy(valid_only=True)
    survey = Survey.objects.create(name="After a visit", kind=Survey.Kind.NPS, question="Recommend us?")
    Invitation.objects.create(survey=survey, customer=house["camille"],
                              interaction=Interaction.objects.get(external_id="INT-1"),
                              expires_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC))

    with pytest.raises(ApplicationError, match="depend on interactions it created"):
        import_rollback(batch=batch)

    assert Interaction.objects.count() == 4
    batch.refresh_from_db()
    assert batch.status == ImportBatch.Status.IMPORTED


def test_the_command_imports_and_exits_with_1_when_rows_were_refused(house, capsys):
    with pytest.raises(CommandError, match="7 row") as refused:
        call_command("import_legacy", "interactions", str(LEGACY), "--mapping", str(LEGACY_MAPPING), "--valid-only")
    assert refused.value.returncode == 1
    assert Interaction.objects.count() == 4
    assert "new: 4  updated: 0  unchanged: 0  skipped: 1  invalid: 7" in capsys.readouterr().out


# --- Round trip ---------------------------------------------------------------------------------------------------


@pytest.fixture
def timeline(house):
    camille, hugo, paris, claire = house["camille"], house["hugo"], house["paris"], house["claire"]
    interaction_record(customer=camille, touchpoint_type="store_visit", source=SourceSystem.CRM, external_id="V-1",
                       occurred_at=dt.datetime(2026, 1, 20, 15, 0, 0, 123456, tzinfo=dt.UTC), boutique=paris,
                       advisor=claire, metadata={"note": "=1+2 tried the Kelly", "duration_minutes": 30})
    interaction_record(customer=hugo, touchpoint_type="appointment", source=SourceSystem.POS, external_id="A-9",
                       occurred_at=dt.datetime(2026, 1, 21, 9, 0, tzinfo=PARIS_TIME), amount="1200.5",
                       currency="EUR", channel="phone", metadata={"note": {"not": "text"}})
    # Logged by staff in Atelier: no external id, found again by (client, type, moment).
    interaction_record(customer=camille, touchpoint_type="advisor_note", source=SourceSystem.ATELIER,
                       occurred_at=dt.datetime(2026, 1, 22, 18, 45, tzinfo=dt.UTC), metadata={"note": "-VIP"})
    interaction_record(customer=hugo, touchpoint_type="email_opened", source=SourceSystem.ECOMMERCE,
                       external_id="E-1", occurred_at=dt.datetime(2026, 1, 23, 7, 0, tzinfo=dt.UTC))


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(house, timeline, tmp_path, fmt):
    path = tmp_path / f"interactions.{fmt}"
    call_command("export_data", "interactions", str(path), stdout=io.StringIO())
    if fmt == "xlsx":
        assert load_workbook(path).active.max_row == 5
    before = snapshot()
    clients = list(Customer.objects.order_by("pk").values_list("pk", "last_interaction_at", "updated_at"))

    batch = import_file(kind="interactions", source=path, file_name=path.name)

    assert batch.status == ImportBatch.Status.IMPORTED
    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 4, "skipped": 0, "invalid": 0}
    assert snapshot() == before
    assert list(Customer.objects.order_by("pk").values_list("pk", "last_interaction_at", "updated_at")) == clients
    assert batch.changes.count() == 0


def test_imported_visits_reach_the_surveys_only_when_the_import_opts_in(house, django_capture_on_commit_callbacks):
    Survey.objects.create(name="After a visit", kind="nps", question="Would you recommend us?",
                          trigger_type=TouchpointType.objects.get(code="store_visit"))

    with django_capture_on_commit_callbacks(execute=True) as history_callbacks:
        history = import_legacy(valid_only=True)

    assert (history.runs_automation, history_callbacks, Invitation.objects.count()) == (False, [], 0)

    import_rollback(batch=history)
    with django_capture_on_commit_callbacks(execute=True):
        import_legacy(valid_only=True, runs_automation=True)

    # The one visit of the file, from 2025: scheduled, but its link would be dead on arrival, and it says so.
    assert list(Invitation.objects.values_list("customer_id", "interaction__external_id", "status", "reason")) == [
        (house["camille"].pk, "INT-1", "not_sent", "expired"),
    ]
