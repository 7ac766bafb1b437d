"""The pipeline's small parts: ImportChange rows, the rollback signal, the error spool, chunks."""


from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from imports.models import ImportBatch, ImportRowError
from imports.reader import SourceRow

# An ImportChange row as the chunk collects it: (content type id, object id, action, before).
_Change = tuple[int, int, str, Any]


class _Rollback(Exception):
    """Raised inside the import's transaction to take everything back (dry run, rejected file)."""


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
