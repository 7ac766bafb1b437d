"""Importing the reference tables: personas by slug, products by SKU, boutiques by code.

Each table is a list of Columns (the export's, imports/columns.md) with the parser that reads a cell as the model
would accept it; the rows are written set-based by imports.pipeline.records, like interactions. A blank cell
never erases; a new record takes the model's default where the row gives nothing.
"""

from __future__ import annotations

import dataclasses
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db.models import Model

from customers.models import Boutique, Channel, Persona
from customers.normalizers import normalize_country
from imports.kinds.common import parsed
from imports.kinds.customers import RowError, row_cells
from imports.models import ImportBatch
from imports.parsing import parse_bool, parse_currency_code, parse_decimal
from imports.pipeline.batches import run_batch
from imports.pipeline.constants import Progress
from imports.pipeline.records import CleanRecord, RecordKind, RecordRun, rollback_records
from imports.reader import SourceRow, SourceTable
from touchpoints.models import Product

CHANNELS = frozenset(Channel.values)


@dataclass(frozen=True)
class Column:
    """A column of a reference table: its PostgreSQL type, how a (non-blank) cell reads, a new record's default."""

    name: str
    type: str
    parse: Callable[[str], Any]
    default: Any = ""


def _text(model: type[Model], name: str, *, slug: bool = False) -> Callable[[str], str]:
    limit = model._meta.get_field(name).max_length

    def parse(text: str) -> str:
        if limit and len(text) > limit:
            raise ValueError(f"{text[:20]}… is longer than {limit} characters.")
        if slug:
            try:
                validate_slug(text)
            except ValidationError:
                raise ValueError(f"{text} may hold only letters, digits, hyphens and underscores.") from None
        return text

    return parse


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone(text: str) -> str:
    if text not in _time_zones():
        raise ValueError(f"{text} is not a known time zone (for example Europe/Paris).")
    return text


def _currency(text: str) -> str:
    return parse_currency_code(text) or ""


def _price(text: str) -> Decimal:
    price = parse_decimal(text)
    if price is None or price < 0:
        raise ValueError(f"{text} is not a price (a price is not negative).")
    if price != price.quantize(Decimal("0.01")):
        raise ValueError(f"{text} has more than two decimals.")
    return price.quantize(Decimal("0.01"))


def _channels(text: str) -> list[str]:
    # Atelier's exports separate items with "|"; legacy files with commas.
    separator = "|" if "|" in text else ","
    channels = [item.strip().lower() for item in text.split(separator) if item.strip()]
    unknown = [channel for channel in channels if channel not in CHANNELS]
    if unknown:
        raise ValueError(f"{', '.join(unknown)}: not a channel; use {', '.join(sorted(CHANNELS))}.")
    return list(dict.fromkeys(channels))


def _bool(text: str) -> bool:
    return bool(parse_bool(text))


@dataclass(frozen=True)
class ReferenceTable:
    """One reference table: its model, key column (first), columns and the columns a new record needs."""

    model: type[Model]
    noun: str
    columns: tuple[Column, ...]
    required: tuple[str, ...]

    @property
    def key_column(self) -> str:
        return self.columns[0].name

    def record_kind(self) -> RecordKind:
        key_column = self.key_column
        return RecordKind(
            model=self.model,
            noun=self.noun,
            columns={column.name: column.type for column in self.columns},
            keys={key_column: (key_column,)},
            key=lambda values: (key_column, (values[key_column],)),
            required=self.required,
        )

    def clean(self, row: SourceRow) -> CleanRecord:
        """Read one row, or raise RowError naming the field at fault."""
        cells = row_cells(row)
        if not cells.get(self.key_column):
            raise RowError(self.key_column, f"Give the {self.noun}'s {self.key_column}.")
        given = {
            column.name: parsed(column.name, lambda text, column=column: column.parse(text or ""), cells[column.name])
            for column in self.columns
            if cells.get(column.name)
        }
        return CleanRecord(given=given, defaults={column.name: column.default for column in self.columns})


PERSONAS = ReferenceTable(
    model=Persona,
    noun="persona",
    columns=(
        Column("slug", "text", _text(Persona, "slug", slug=True)),
        Column("name", "text", _text(Persona, "name")),
        Column("description", "text", str),
        Column("motivations", "text", str),
        Column("pain_points", "text", str),
        Column("preferred_channels", "jsonb", _channels, default=[]),
    ),
    required=("name",),
)
PRODUCTS = ReferenceTable(
    model=Product,
    noun="product",
    columns=(
        Column("sku", "text", _text(Product, "sku")),
        Column("name", "text", _text(Product, "name")),
        Column("category", "text", _text(Product, "category")),
        Column("collection", "text", _text(Product, "collection")),
        Column("price", "numeric", _price, default=None),
        Column("currency", "text", _currency, default="EUR"),
        Column("is_active", "boolean", _bool, default=True),
    ),
    required=("name", "category", "price"),
)
BOUTIQUES = ReferenceTable(
    model=Boutique,
    noun="boutique",
    columns=(
        Column("code", "text", _text(Boutique, "code", slug=True)),
        Column("name", "text", _text(Boutique, "name")),
        Column("city", "text", _text(Boutique, "city")),
        Column("country", "text", normalize_country),
        Column("timezone", "text", _time_zone, default="Europe/Paris"),
        Column("currency", "text", _currency, default="EUR"),
    ),
    required=("name", "city", "country"),
)


def _unique_persona_names() -> Callable[[dict[str, Any], dict[str, Any] | None], None]:
    """A check that refuses a persona name another persona has (names are unique: client files name personas)."""
    owners = {name.casefold(): slug for slug, name in Persona.objects.values_list("slug", "name")}
    names = {slug: name.casefold() for name, slug in owners.items()}

    def check(values: dict[str, Any], original: dict[str, Any] | None) -> None:
        name, slug = values["name"].casefold(), values["slug"]
        owner = owners.get(name)
        if owner is not None and owner != slug:
            raise RowError("name", f"The persona {owner} is already named {values['name']}; persona names are unique.")
        if names.get(slug) not in (None, name):
            owners.pop(names[slug], None)
        owners[name], names[slug] = slug, name

    return check


def _runner(reference: ReferenceTable) -> Callable[..., None]:
    def run(
        *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
    ) -> None:
        kind = reference.record_kind()
        if reference.model is Persona:
            kind = dataclasses.replace(kind, check=_unique_persona_names())
        records = RecordRun(batch=batch, table=table, kind=kind, clean=reference.clean)
        run_batch(batch=batch, table=table, run=records, dry_run=dry_run, valid_only=valid_only, progress=progress)

    run.__doc__ = f"Import a {reference.noun} file as one batch: all or nothing (unless `valid_only`), or a dry run."
    return run


def _rollback(table: ReferenceTable) -> Callable[[ImportBatch], None]:
    def rollback(batch: ImportBatch) -> None:
        rollback_records(batch, table.record_kind())

    rollback.__doc__ = f"Remove the {table.noun}s the batch created and restore those it changed."
    return rollback


run_persona_import, rollback_persona_import = _runner(PERSONAS), _rollback(PERSONAS)
run_product_import, rollback_product_import = _runner(PRODUCTS), _rollback(PRODUCTS)
run_boutique_import, rollback_boutique_import = _runner(BOUTIQUES), _rollback(BOUTIQUES)
