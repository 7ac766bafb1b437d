"""Exports of every kind to CSV and XLSX, in the form the importer reads back unchanged.

One function per step, shared by the admin's export actions (through core.admin's hook, registered in
imports.apps) and `manage.py export_data`:
- `export_queryset`: the rows a staff member may see (customers.scoping), or all of them from the command line;
- `export_rows`: the header, then one list of cells per row, from the kind's Resource, read in chunks;
- `write_export` / `csv_chunks` / `write_xlsx`: the file, streamed (CSV) or written in openpyxl's write-only mode
  (XLSX), memory bounded whatever the number of rows; every text cell defused (core.spreadsheets).
"""

from __future__ import annotations

import csv
import decimal
import io
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from django.db.models import Model, QuerySet
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils import timezone
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell

from core.db import analytics_database
from core.errors import ApplicationError
from core.resources import ExportResource
from core.spreadsheets import csv_cell, xlsx_cell
from customers.models import Boutique
from customers.resources import BoutiqueResource, CustomerResource, PersonaResource
from customers.scoping import visible_boutique_ids
from feedback.resources import ResponseResource
from imports.models import ImportKind
from touchpoints.models import Order
from touchpoints.resources import InteractionResource, OrderLineResource, ProductResource

logger = logging.getLogger(__name__)

CSV, XLSX = "csv", "xlsx"
FORMATS = (CSV, XLSX)
CONTENT_TYPES = {
    CSV: "text/csv; charset=utf-8",
    XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
# The byte-order mark that makes spreadsheets read a CSV file as UTF-8 (the importer accepts it).
BOM = "\ufeff"
# How much CSV text is gathered before it is handed on: big enough for few writes, small enough to stream.
CSV_CHUNK_CHARACTERS = 64 * 1024
# How often, in rows, a progress callback hears of the rows written.
PROGRESS_EVERY = 1000


@dataclass(frozen=True)
class ExportKind:
    """How one kind exports: its Resource, what its rows are called, and the model whose admin rows stand for its
    rows (orders chosen in the order admin export as their lines)."""

    resource_class: type[ExportResource]
    noun: str
    parent_model: type[Model] | None = None
    parent_lookup: str = ""

    @property
    def model(self) -> type[Model]:
        return self.resource_class._meta.model

    @property
    def file_stem(self) -> str:
        return self.noun.replace(" ", "-")


KINDS: dict[str, ExportKind] = {
    ImportKind.CUSTOMERS: ExportKind(CustomerResource, "clients"),
    ImportKind.ORDERS: ExportKind(OrderLineResource, "order lines", parent_model=Order, parent_lookup="order"),
    ImportKind.INTERACTIONS: ExportKind(InteractionResource, "interactions"),
    ImportKind.RESPONSES: ExportKind(ResponseResource, "feedback responses"),
    ImportKind.PERSONAS: ExportKind(PersonaResource, "personas"),
    ImportKind.PRODUCTS: ExportKind(ProductResource, "products"),
    ImportKind.BOUTIQUES: ExportKind(BoutiqueResource, "boutiques"),
}


@dataclass
class ExportResult:
    kind: str
    fmt: str
    rows: int = 0


def export_kind(kind: str) -> ExportKind:
    try:
        return KINDS[kind]
    except KeyError:
        raise ApplicationError.for_field("kind", f"Unknown kind {kind!r}; one of {', '.join(KINDS)}.") from None


def export_queryset(
    *, kind: str, user: Any = None, queryset: QuerySet | None = None, boutique: Boutique | None = None
) -> QuerySet:
    """The rows of `kind` to export: all of them, or those of `queryset` (an admin selection), as far as `user` may
    see them (None: the command line, which sees everything), and only `boutique`'s clients' when one is given.

    Rows that belong to a client follow the client's scope (`visible_to`); boutiques the staff member's own; the
    catalogue (personas, products) is the whole house's and is exported whole.
    """
    spec = export_kind(kind)
    if queryset is None:
        queryset = spec.model._default_manager.all()
    elif queryset.model is not spec.model:
        if queryset.model is not spec.parent_model:
            raise ApplicationError(f"{queryset.model._meta.verbose_name_plural} do not export as {kind}.")
        parents = queryset.order_by().values("pk")
        queryset = spec.model._default_manager.filter(**{f"{spec.parent_lookup}__in": parents})
    if user is not None:
        queryset = _visible_to(queryset, user)
    if boutique is not None:
        queryset = _of_boutique(queryset, boutique)
    return queryset


def _visible_to(queryset: QuerySet, user: Any) -> QuerySet:
    if hasattr(queryset, "visible_to"):
        return queryset.visible_to(user)
    if queryset.model is Boutique:
        boutique_ids = visible_boutique_ids(user)
        return queryset if boutique_ids is None else queryset.filter(pk__in=boutique_ids)
    return queryset


def _of_boutique(queryset: QuerySet, boutique: Boutique) -> QuerySet:
    if hasattr(queryset, "boutique_path"):
        return queryset.filter(**{queryset.boutique_path: boutique.pk})
    if queryset.model is Boutique:
        return queryset.filter(pk=boutique.pk)
    return queryset


def export_rows(
    *, kind: str, user: Any = None, queryset: QuerySet | None = None, boutique: Boutique | None = None
) -> Iterator[list[Any]]:
    """The header, then one list of cells per row (numbers as numbers, all else as text), read in chunks from the
    analytics database so that a big export neither holds every row in memory nor loads the primary."""
    resource = export_kind(kind).resource_class()
    rows = export_queryset(kind=kind, user=user, queryset=queryset, boutique=boutique)
    yield resource.get_export_headers()
    yield from resource.iter_export(resource.export_queryset(rows).using(analytics_database()))


def csv_chunks(rows: Iterable[list[Any]]) -> Iterator[str]:
    """CSV text in chunks of about 64 KB, starting with a byte-order mark, each cell through csv_cell."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer)
    for row in rows:
        writer.writerow([csv_cell(value) for value in row])
        if buffer.tell() >= CSV_CHUNK_CHARACTERS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def write_xlsx(rows: Iterable[list[Any]], stream: IO[bytes], *, title: str) -> None:
    """One sheet in openpyxl's write-only mode (rows go to a temporary file as they come), header frozen."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=title[:31])  # Excel's limit for a sheet name
    sheet.freeze_panes = "A2"
    for row in rows:
        sheet.append([_xlsx_cell(sheet, value) for value in row])
    workbook.save(stream)


def _xlsx_cell(sheet: Any, value: Any) -> Any:
    value = xlsx_cell(value)
    if not isinstance(value, decimal.Decimal):
        return value
    # Amounts keep their decimals on screen (1200.00, not 1200); the cell's value is the number itself.
    cell = WriteOnlyCell(sheet, value=value)
    places = -value.as_tuple().exponent
    if isinstance(places, int) and places > 0:
        cell.number_format = "0." + "0" * places
    return cell


def write_export(
    *,
    kind: str,
    fmt: str,
    stream: IO[bytes],
    user: Any = None,
    queryset: QuerySet | None = None,
    boutique: Boutique | None = None,
    on_progress: Callable[[int], None] | None = None,
) -> ExportResult:
    """Write `kind` as `fmt` (csv or xlsx) to a binary stream; `on_progress(n)` hears of every n rows written."""
    if fmt not in FORMATS:
        raise ApplicationError.for_field("format", f"Unknown format {fmt!r}; one of {', '.join(FORMATS)}.")
    result = ExportResult(kind=kind, fmt=fmt)
    rows = _counted(export_rows(kind=kind, user=user, queryset=queryset, boutique=boutique), result, on_progress)
    if fmt == CSV:
        for chunk in csv_chunks(rows):
            stream.write(chunk.encode("utf-8"))
    else:
        write_xlsx(rows, stream, title=export_kind(kind).file_stem)
    logger.info("imports.exported kind=%s format=%s rows=%s", kind, fmt, result.rows)
    return result


def _counted(
    rows: Iterator[list[Any]], result: ExportResult, on_progress: Callable[[int], None] | None
) -> Iterator[list[Any]]:
    yield next(rows)  # the header
    for row in rows:
        result.rows += 1
        if on_progress and result.rows % PROGRESS_EVERY == 0:
            on_progress(PROGRESS_EVERY)
        yield row
    if on_progress and result.rows % PROGRESS_EVERY:
        on_progress(result.rows % PROGRESS_EVERY)


def file_name(kind: str, fmt: str) -> str:
    return f"{export_kind(kind).file_stem}-{timezone.localdate():%Y-%m-%d}.{fmt}"


def export_response(request: HttpRequest, *, kind: str, queryset: QuerySet, fmt: str) -> HttpResponseBase:
    """The admin's download of a selection: CSV streamed as it is read, XLSX written to a temporary file first
    (a zip cannot be streamed before its end). Only what the staff member may see, whatever was selected."""
    if fmt == CSV:
        rows = export_rows(kind=kind, user=request.user, queryset=queryset)
        response: HttpResponseBase = StreamingHttpResponse(csv_chunks(rows), content_type=CONTENT_TYPES[CSV])
        response["Content-Disposition"] = f'attachment; filename="{file_name(kind, fmt)}"'
    else:
        file = tempfile.TemporaryFile()  # noqa: SIM115 (FileResponse closes it once sent)
        write_export(kind=kind, fmt=fmt, stream=file, user=request.user, queryset=queryset)
        file.seek(0)
        response = FileResponse(file, as_attachment=True, filename=file_name(kind, fmt),
                                content_type=CONTENT_TYPES[fmt])
    logger.info("imports.export_downloaded kind=%s format=%s user_id=%s", kind, fmt, request.user.pk)
    return response
