"""The pipeline's small parts: ImportChange rows, the rollback signal, a client's state, the error spool, chunks."""


from __future__ import annotations

import datetime as dt
import json
import tempfile
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.contrib.contenttypes.models import ContentType

from imports.models import ImportBatch, ImportRowError
from imports.pipeline.constants import (
    WRITTEN_FIELDS,
)
from imports.reader import SourceRow

# An ImportChange row as the chunk collects it: (content type id, object id, action, before).
_Change = tuple[int, int, str, Any]


def _change(
    *, batch: ImportBatch, content_type: ContentType, object_id: int, action: str, before: Any = None
) -> _Change:
    return (content_type.pk, object_id, str(action), before)


class _Rollback(Exception):
    """Raised inside the import's transaction to take everything back (dry run, rejected file)."""


@dataclass
class _Client:
    """One client as the chunk sees it: what the database held (`original`) and what the rows made of it."""

    pk: int | None
    public_id: uuid.UUID | None
    fields: dict[str, Any]
    original: dict[str, Any] | None  # None for a client this chunk creates
    consent: dict[str, bool]
    moments: dict[str, set[dt.datetime]] = field(default_factory=dict)  # channel -> moments of marketing events
    latest: dict[str, dt.datetime] = field(default_factory=dict)
    new_identities: list[tuple[str, str]] = field(default_factory=list)
    # (channel, moment) -> (the row's ConsentValue, the row's source system)
    new_events: dict[tuple[str, dt.datetime], Any] = field(default_factory=dict)
    is_touched: bool = False

    @property
    def is_new(self) -> bool:
        return self.original is None

    def changed_fields(self) -> list[str]:
        if self.original is None:
            return []
        return [name for name in WRITTEN_FIELDS if self.fields[name] != self.original[name]]


def _json_value(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


class _ErrorSpool:
    """Row errors kept on disk until they can be written (after the rollback): memory stays bounded."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(mode="w+", encoding="utf-8")  # noqa: SIM115 (closed in write)
        self.count = 0

    def add(self, line: int, column: str, message: str, row: dict[str, str]) -> None:
        self._file.write(json.dumps([line, column, message[:500], row], ensure_ascii=False) + "\n")
        self.count += 1

    def write(self, batch: ImportBatch) -> None:
        self._file.seek(0)
        pending: list[ImportRowError] = []
        for text in self._file:
            line, column, message, row = json.loads(text)
            pending.append(ImportRowError(batch=batch, line=line, column=column[:120], message=message, row=row))
            if len(pending) >= 1_000:
                ImportRowError.objects.bulk_create(pending)
                pending = []
        ImportRowError.objects.bulk_create(pending)
        self._file.close()


def _chunks(rows: Iterable[SourceRow], size: int) -> Iterator[list[SourceRow]]:
    chunk: list[SourceRow] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
