"""What every app's django-import-export resources share: the house's way to write a cell, and to export fast.

A value leaves Atelier in one form whatever the file: dates and times in ISO 8601 (times with their UTC offset),
yes/no as `true`/`false`, lists as `a|b|c`, JSON as JSON, numbers as numbers. The widgets here read the same
forms back, so an exported file imports unchanged (imports/columns.md).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

from django.db.models import Model, QuerySet
from django.utils import timezone
from import_export import resources, widgets

LIST_SEPARATOR = "|"
# Rows fetched per round trip to the database while exporting; each chunk also runs each prefetch once.
EXPORT_CHUNK_SIZE = 2000


class TrueFalseWidget(widgets.BooleanWidget):
    """`true` / `false` in every format (blank when unknown), rather than the library's 1 / 0."""

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        if value is None:
            return ""
        return "true" if value else "false"


class IsoDateWidget(widgets.Widget):
    """A date as 2026-03-01, read back from the same."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.date | None:
        if value in (None, ""):
            return None
        return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value).strip())

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return value.isoformat() if value else ""


class IsoDateTimeWidget(widgets.Widget):
    """A moment as 2026-03-01T10:30:00+01:00 in the house time zone, with its offset, so it reads back exactly.

    Text in XLSX too: a spreadsheet date cannot hold a time zone.
    """

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> dt.datetime | None:
        if value in (None, ""):
            return None
        moment = value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value).strip())
        if timezone.is_naive(moment):
            raise ValueError(f"{value!r} has no UTC offset (write it as 2026-03-01T10:30:00+01:00).")
        return moment

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return timezone.localtime(value).isoformat() if value else ""


class ListWidget(widgets.Widget):
    """A list of short texts as `a|b|c` (commas are common inside values; pipes are not)."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> list[str]:
        return [part.strip() for part in str(value or "").split(LIST_SEPARATOR) if part.strip()]

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        return LIST_SEPARATOR.join(str(item) for item in value or [])


class JsonWidget(widgets.Widget):
    """A JSON object or list as compact JSON with sorted keys (blank when empty), so equal values export equal."""

    def clean(self, value: Any, row: Any = None, **kwargs: Any) -> Any:
        return json.loads(value) if value not in (None, "") else None

    def render(self, value: Any, obj: Any = None, **kwargs: Any) -> str:
        if not value:
            return ""
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class ExportResource(resources.ModelResource):
    """A ModelResource whose export streams: `export_queryset` adds the joins and prefetches of a bounded number
    of queries, and `export_cells` turns one row into cells (numbers as numbers, everything else as text)."""

    # Model fields without a declared column get the house's widgets for dates, times, yes/no and JSON.
    WIDGETS_MAP = {
        **resources.ModelResource.WIDGETS_MAP,
        "DateTimeField": IsoDateTimeWidget,
        "DateField": IsoDateWidget,
        "BooleanField": TrueFalseWidget,
        "NullBooleanField": TrueFalseWidget,
        "JSONField": JsonWidget,
    }

    # The related rows the export reads, in the main query and in one query per chunk respectively.
    export_select_related: tuple[str, ...] = ()
    export_prefetch_related: tuple[Any, ...] = ()
    # A stable order: the same data exports to the same file.
    export_ordering: tuple[str, ...] = ("pk",)

    def export_queryset(self, queryset: QuerySet) -> QuerySet:
        """The rows to export with what they read joined or prefetched."""
        queryset = queryset.select_related(*self.export_select_related).order_by(*self.export_ordering)
        if self.export_prefetch_related:
            queryset = queryset.prefetch_related(*self.export_prefetch_related)
        return queryset

    def filter_export(self, queryset: QuerySet, **kwargs: Any) -> QuerySet:
        # The library's own export() (a whole tablib Dataset in memory) gets the same joins, for small exports.
        return self.export_queryset(queryset)

    def iter_export(self, queryset: QuerySet) -> Iterator[list[Any]]:
        """One list of cells per row, read in chunks (prefetches run once per chunk, as Django does for iterator)."""
        getters = self._cell_getters()
        for instance in queryset.iterator(chunk_size=EXPORT_CHUNK_SIZE):
            yield [getter(instance) for getter in getters]

    def _cell_getters(self) -> list[Callable[[Model], Any]]:
        # What export_field does for each cell, resolved once per export rather than for each of 100,000 rows.
        getters: list[Callable[[Model], Any]] = []
        for field in self.get_export_fields():
            method = field.get_dehydrate_method(self.get_field_name(field))
            method = method if callable(method) else getattr(self, method, None)
            # force_native_type keeps numbers as numbers (the library's widgets would format them as text).
            getters.append(method or partial(field.export, force_native_type=True))
        return getters
