"""Importing feedback responses: scores on the survey's scale, refusals, re-imports, rollback and the round trip."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command

from customers.models import SourceSystem
from customers.services import customer_upsert
from feedback.models import Response, Survey
from imports.mapping import ColumnMapping
from imports.models import ImportBatch
from imports.services import import_file, import_rollback

FIXTURES = Path(__file__).resolve().parent / "fixtures"
LEGACY = FIXTURES / "legacy_responses.csv"
MAPPING = FIXTURES / "mapping_legacy_responses.yaml"

pytestmark = pytest.mark.django_db


@pytest.fixture
def house(settings):
    settings.TIME_ZONE = "Europe/Paris"
    camille = customer_upsert(source=SourceSystem.CRM, external_id="C-100", email="camille.durand@example.com",
                              first_name="Camille").customer
    nps = Survey.objects.create(name="After a visit", kind=Survey.Kind.NPS, question="Would you recommend us?")
    csat = Survey.objects.create(name="Satisfaction", kind=Survey.Kind.CSAT, question="How satisfied are you?")
    return {"camille": camille, "nps": nps, "csat": csat}


def import_legacy(source: Path = LEGACY, **options) -> ImportBatch:
    return import_file(kind="responses", source=source, file_name=source.name,
                       mapping=ColumnMapping.from_file(MAPPING), **options)


def snapshot() -> list[tuple]:
    return list(Response.objects.order_by("pk").values_list(
        "pk", "survey__name", "customer_id", "score", "nps_class", "comment", "answers", "responded_at", "source",
        "external_id", "stage_key"))


def test_scores_off_the_survey_scale_and_unknown_surveys_or_clients_reject_the_file(house):
    batch = import_legacy()

    assert batch.status == ImportBatch.Status.REJECTED
    assert batch.counts == {"new": 3, "updated": 0, "unchanged": 0, "skipped": 1, "invalid": 5}
    assert list(batch.row_errors.values_list("line", "column", "message")) == [
        (6, "Note", "11 is off the scale of the survey After a visit, which scores from 0 to 10."),
        (7, "Note", "0 is off the scale of the survey Satisfaction, which scores from 1 to 5."),
        (8, "Enquête", "No survey is named Old survey."),
        (9, "Courriel", "No client answers to nobody@example.com; import the clients first."),
        (10, "Date", "Give the date and time of the answer."),
    ]
    assert Response.objects.count() == 0


def test_valid_only_imports_the_responses_with_their_nps_class(house):
    batch = import_legacy(valid_only=True)

    assert batch.status == ImportBatch.Status.IMPORTED
    camille = house["camille"].pk
    assert [row[1:] for row in snapshot()] == [
        ("After a visit", camille, 9, "promoter", "Accueil parfait", {"q1": "yes"},
         dt.datetime(2025, 2, 3, 13, 30, tzinfo=dt.UTC), "crm", "R-1", ""),
        ("Satisfaction", camille, 4, "", "", {}, dt.datetime(2025, 2, 4, 9, 0, tzinfo=dt.UTC), "crm", "R-2", ""),
        ("After a visit", camille, 7, "passive", "Sans identifiant", {}, dt.datetime(2025, 2, 5, 8, 0, tzinfo=dt.UTC),
         "crm", "", ""),
    ]

    again = import_legacy(valid_only=True)

    assert again.counts == {"new": 0, "updated": 0, "unchanged": 3, "skipped": 1, "invalid": 5}
    assert again.changes.count() == 0


def test_a_corrected_score_updates_that_response_and_its_class_and_rollback_restores_it(house, tmp_path):
    import_legacy(valid_only=True)
    before = snapshot()
    corrected = tmp_path / "corrected.csv"
    corrected.write_text(LEGACY.read_text().replace("Sans identifiant", "Sans identifiant (revu)")
                         .replace(",7,", ",3,"), encoding="utf-8")

    batch = import_legacy(corrected, valid_only=True)

    assert batch.counts == {"new": 0, "updated": 1, "unchanged": 2, "skipped": 1, "invalid": 5}
    assert batch.preview["updated"][0]["fields"] == ["score", "comment", "nps_class"]
    assert Response.objects.get(external_id="", score=3).nps_class == "detractor"

    import_rollback(batch=batch)

    assert snapshot() == before


def test_dry_run_writes_nothing(house):
    batch = import_legacy(dry_run=True, valid_only=True)

    assert batch.status == ImportBatch.Status.PREVIEWED
    assert batch.counts["new"] == 3
    assert Response.objects.count() == 0


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_an_export_imports_back_unchanged(house, tmp_path, fmt):
    camille = house["camille"]
    Response.objects.create(survey=house["nps"], customer=camille, score=9, comment="+ lovely welcome",
                            responded_at=dt.datetime(2026, 1, 21, 8, 0, tzinfo=dt.UTC), source=SourceSystem.CRM,
                            external_id="R-1", answers={"q1": "yes"})
    # Brought in by a survey tool's webhook: its source is the tool's.
    Response.objects.create(survey=house["nps"], customer=camille, score=3, responded_at=dt.datetime(
        2026, 1, 23, 8, 0, tzinfo=dt.UTC), source=Response.Source.TYPEFORM, external_id="tf-token-1")
    # Answered in Atelier: no external id, and recorded before NPS classes were kept.
    Response.objects.create(survey=house["csat"], customer=camille, score=5,
                            responded_at=dt.datetime(2026, 1, 22, 8, 0, 0, 500, tzinfo=dt.UTC))
    path = tmp_path / f"responses.{fmt}"
    call_command("export_data", "responses", str(path), stdout=io.StringIO())
    before = snapshot()

    batch = import_file(kind="responses", source=path, file_name=path.name)

    assert batch.counts == {"new": 0, "updated": 0, "unchanged": 3, "skipped": 0, "invalid": 0}
    assert snapshot() == before
    assert batch.changes.count() == 0


def test_an_answer_dated_before_1900_or_in_the_far_future_is_a_row_error(house, tmp_path):
    # Stored, such a moment is one Python cannot read back or show: every page reading it would fail.
    dated = tmp_path / "dated.csv"
    dated.write_text(
        "Enquête,Courriel,Note,Commentaire,Date,Source,Identifiant,Réponses\n"
        "After a visit,camille.durand@example.com,9,,1850-02-03 14:30,crm,R-1,\n"
        "After a visit,camille.durand@example.com,9,,9999-12-31 23:30,crm,R-2,\n"
        "After a visit,camille.durand@example.com,9,,2025-02-03 14:30,crm,R-3,\n"
    )

    batch = import_legacy(dated)

    assert batch.status == ImportBatch.Status.REJECTED
    messages = list(batch.row_errors.values_list("line", "column", "message"))
    assert messages == [
        (2, "Date", "1850-02-03T14:30:00+00:09:21 is out of range: give a moment from 1900-01-01 to at most one day "
                    "from now."),
        (3, "Date", "9999-12-31T23:30:00+01:00 is out of range: give a moment from 1900-01-01 to at most one day "
                    "from now."),
    ]
    assert Response.objects.count() == 0
