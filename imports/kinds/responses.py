"""Importing feedback responses: the survey by name, the client by find_clients, the score on the survey's scale
(feedback.services.response_score_check), written set-based by imports.pipeline.records.

A response is found again by (source, external_id); one answered in Atelier (no external id) by
(survey, client, responded_at).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from core.errors import ApplicationError
from core.moments import happened_at_check
from feedback.models import Response, Survey
from feedback.services import response_score_check
from imports.kinds.common import client_key, json_object, parsed, text_value
from imports.kinds.customers import DEFAULT_SOURCE, CustomerImportContext, RowError, row_cells
from imports.models import ImportBatch
from imports.parsing import parse_datetime, parse_int
from imports.pipeline.batches import run_batch
from imports.pipeline.constants import Progress
from imports.pipeline.records import CleanRecord, RecordKind, RecordRun, rollback_records
from imports.reader import SourceRow, SourceTable

RESPONSE_SOURCES = frozenset(Response.Source.values)


@dataclass
class ResponseImportContext:
    """What cleaning needs besides the row, loaded once per import."""

    house: CustomerImportContext
    surveys: dict[str, Survey]

    @classmethod
    def load(cls, *, table: SourceTable) -> ResponseImportContext:
        return cls(
            house=CustomerImportContext.load(mapping=table.mapping, started_at=timezone.now()),
            surveys={survey.name.casefold(): survey for survey in Survey.objects.all()},
        )


def clean_response_row(row: SourceRow, context: ResponseImportContext) -> CleanRecord:
    """Read one response row, or raise RowError naming the field at fault."""
    cells = row_cells(row)
    name = cells.get("survey", "")
    if not name:
        raise RowError("survey", "Give the survey's name.")
    survey = context.surveys.get(name.casefold())
    if survey is None:
        raise RowError("survey", f"No survey is named {name}.")
    source = cells.get("source", "").lower() or DEFAULT_SOURCE
    # The house's systems and the survey tools (typeform, survey_tool), so that their answers export and import back.
    if source not in RESPONSE_SOURCES:
        raise RowError("source", f"{source} is not a source; use one of {', '.join(sorted(RESPONSE_SOURCES))}.")
    client = client_key(cells, region=context.house.mapping.default_region)
    score = parsed("score", parse_int, cells.get("score"))
    if score is None:
        raise RowError("score", "Give the score the client gave.")
    try:
        nps_class = response_score_check(survey=survey, score=score)
    except ApplicationError as error:
        raise RowError("score", error.message) from None
    responded_at = parsed(
        "responded_at",
        lambda text: parse_datetime(text, order=context.house.mapping.date_order, tz=context.house.time_zone),
        cells.get("responded_at"),
    )
    if responded_at is None:
        raise RowError("responded_at", "Give the date and time of the answer.")
    try:
        happened_at_check(responded_at, field="responded_at")
    except ApplicationError as error:
        raise RowError("responded_at", error.message) from None
    given: dict[str, Any] = {
        "survey_id": survey.pk, "source": source, "external_id": text_value(cells, "external_id", Response),
        "responded_at": responded_at, "score": score,
    }
    if cells.get("comment"):
        given["comment"] = cells["comment"]
    answers = json_object(cells, "answers")
    if answers is not None:
        given["answers"] = answers
    return CleanRecord(
        given=given,
        defaults={"comment": "", "answers": {}, "nps_class": nps_class, "stage_key": ""},
        client=client,
        extra={"nps_class": nps_class},
    )


def _merge(current: dict[str, Any], record: CleanRecord) -> dict[str, Any]:
    merged = {**current, **record.given}
    # The NPS class follows the score; a response whose score stays keeps the class it was recorded with.
    if merged["score"] != current.get("score"):
        merged["nps_class"] = record.extra["nps_class"]
    return merged


def _key(values: dict[str, Any]) -> tuple[str, tuple[Any, ...]]:
    if values["external_id"]:
        return "external", (values["source"], values["external_id"])
    return "moment", (values["survey_id"], values["customer_id"], values["responded_at"], "")


RESPONSES = RecordKind(
    model=Response,
    noun="response",
    columns={
        "survey_id": "bigint", "customer_id": "bigint", "score": "integer", "comment": "text", "answers": "jsonb",
        "nps_class": "text", "stage_key": "text", "responded_at": "timestamptz", "source": "text",
        "external_id": "text",
    },
    keys={"external": ("source", "external_id"),
          "moment": ("survey_id", "customer_id", "responded_at", "external_id")},
    key=_key,
    has_updated_at=False,
    merge=_merge,
)


def run_response_import(
    *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
) -> None:
    """Import a feedback response file as one batch: all or nothing (unless `valid_only`), or a dry run."""
    context = ResponseImportContext.load(table=table)
    run = RecordRun(batch=batch, table=table, kind=RESPONSES, clean=lambda row: clean_response_row(row, context))
    run_batch(batch=batch, table=table, run=run, dry_run=dry_run, valid_only=valid_only, progress=progress)


def rollback_response_import(batch: ImportBatch) -> None:
    """Remove the responses the batch created and restore those it changed."""
    rollback_records(batch, RESPONSES)
