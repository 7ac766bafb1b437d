"""Cleaning one row of a client file: every path that imports clients (the set-based pipeline, the resources)
reads a row through `clean_customer_row`, so a value is accepted or refused the same way everywhere.

Values go through customers.normalizers (email, phone, country, preferences) and imports.parsing (dates, yes/no,
amounts); a refusal is a RowError naming the Atelier field, which the pipeline reports under the file's own column.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zoneinfo
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from core.errors import ApplicationError
from core.moments import happened_at_check
from customers.models import Advisor, Boutique, ConsentChannel, Customer, Persona, SourceSystem
from customers.normalizers import (
    PREFERENCE_KEYS,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_preferences,
)
from customers.services.consent import ConsentAnswer
from imports.kinds_fields import CONSENT_CHANNELS
from imports.mapping import ColumnMapping
from imports.parsing import parse_bool, parse_date, parse_datetime, parse_decimal
from imports.reader import SourceRow

IDENTITY_COLUMNS = {"crm_id": "crm", "pos_id": "pos", "ecommerce_id": "ecommerce"}
DEFAULT_SOURCE = "crm"
# Computed once: the choices' `.values` builds a new list on every access, and this runs for every row.
SOURCE_SYSTEMS = frozenset(SourceSystem.values)
CONSENT_CHANNEL_CODES = frozenset(ConsentChannel.values)
CONSENT_WORDING = "import"
# Plain text fields of the client, as customer_upsert takes them, with the model's length limits.
TEXT_FIELDS = ("first_name", "last_name", "language", "city", "advisor_notes")


class RowError(Exception):
    """A row refused: the Atelier field at fault (None for the row as a whole) and a message a person understands."""

    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


# A consent column's answer is customers' ConsentAnswer (marketing purpose; `is_dated` when the file gave the moment).
ConsentValue = ConsentAnswer


@dataclass
class CleanCustomer:
    """A row as the importer applies it: how to find the client, and only the values the row gives (blank = absent)."""

    line: int
    public_id: uuid.UUID | None
    identities: tuple[tuple[str, str], ...]
    email: str
    phone: str
    # Model field -> value (foreign keys as `<name>_id`), only non-blank ones: blanks never erase.
    values: dict[str, Any] = field(default_factory=dict)
    preferences: dict[str, list[str]] = field(default_factory=dict)
    consents: tuple[ConsentValue, ...] = ()
    source: str = DEFAULT_SOURCE


@dataclass
class CustomerImportContext:
    """What cleaning needs besides the row, loaded once per import: one query per reference table."""

    mapping: ColumnMapping
    started_at: dt.datetime
    boutiques: dict[str, Boutique]
    advisors: dict[str, Advisor]
    personas: dict[str, Persona]
    time_zone: zoneinfo.ZoneInfo

    @classmethod
    def load(cls, *, mapping: ColumnMapping, started_at: dt.datetime) -> CustomerImportContext:
        user_model = get_user_model()
        email_field = user_model.get_email_field_name()
        advisors = {}
        for advisor in Advisor.objects.select_related("user").order_by("pk"):
            address = (getattr(advisor.user, email_field, "") or "").strip().lower()
            if address:
                advisors.setdefault(address, advisor)
        return cls(
            mapping=mapping,
            started_at=started_at,
            boutiques={boutique.code.upper(): boutique for boutique in Boutique.objects.all()},
            advisors=advisors,
            personas={persona.name.casefold(): persona for persona in Persona.objects.all()},
            time_zone=zoneinfo.ZoneInfo(settings.TIME_ZONE),
        )


def unescape_cell(value: str) -> str:
    """Drop the one leading apostrophe Atelier's exports put before a formula-looking (or apostrophe) cell."""
    return value[1:] if value.startswith("'") else value


def row_cells(row: SourceRow) -> dict[str, str]:
    """The row's cells by field, stripped, without the apostrophe Atelier's exports put before formula-like text;
    a row with more cells than the header is refused (a delimiter inside a cell was not quoted)."""
    if row.extra:
        shown = ", ".join(repr(cell) for cell in row.extra)
        raise RowError(
            None,
            f"This row has {len(row.extra)} cell(s) more than the header has columns ({shown}); "
            "a delimiter inside a cell was probably not quoted.",
        )
    return {name: unescape_cell(value).strip() for name, value in row.values.items()}


def _max_length(name: str) -> int | None:
    return Customer._meta.get_field(name).max_length


def _split_list(text: str) -> list[str]:
    # Atelier's exports separate items with "|" (commas occur in values); legacy files with commas.
    separator = "|" if "|" in text else ","
    return [item.strip() for item in text.split(separator) if item.strip()]


def clean_customer_row(row: SourceRow, context: CustomerImportContext) -> CleanCustomer:
    """Read one client row into what the importer applies, or raise RowError naming the field at fault."""
    cells = row_cells(row)
    mapping = context.mapping
    values: dict[str, Any] = {}

    source = cells.get("source", "").lower() or DEFAULT_SOURCE
    if source not in SOURCE_SYSTEMS:
        raise RowError("source", f"{source} is not a source system; use one of {', '.join(SourceSystem.values)}.")
    identities: dict[tuple[str, str], None] = {}
    if cells.get("external_id"):
        identities[(source, cells["external_id"])] = None
    for name, system in IDENTITY_COLUMNS.items():
        # Several ids of one system (after a merge) are separated by "|" in Atelier's exports.
        for part in cells.get(name, "").split("|"):
            external_id = part.strip()
            if external_id:
                if len(external_id) > 128:
                    raise RowError(name, f"{external_id[:20]}… is longer than 128 characters.")
                identities[(system, external_id)] = None

    public_id = None
    if cells.get("public_id"):
        try:
            public_id = uuid.UUID(cells["public_id"])
        except ValueError:
            raise RowError("public_id", f"{cells['public_id']} is not an Atelier client id.") from None

    boutique = None
    if cells.get("home_boutique"):
        boutique = context.boutiques.get(cells["home_boutique"].upper())
        if boutique is None:
            raise RowError("home_boutique", f"No boutique has the code {cells['home_boutique']}.")
        values["home_boutique_id"] = boutique.pk
    if cells.get("advisor"):
        advisor = context.advisors.get(cells["advisor"].lower())
        if advisor is None:
            raise RowError("advisor", f"No advisor has the email address {cells['advisor']}.")
        values["advisor_id"] = advisor.pk
    if cells.get("persona"):
        persona = context.personas.get(cells["persona"].casefold())
        if persona is None:
            raise RowError("persona", f"No persona is named {cells['persona']}.")
        values["persona_id"] = persona.pk

    try:
        email = normalize_email(cells.get("email"))
    except ApplicationError as exc:
        raise RowError("email", exc.message) from None
    try:
        country = normalize_country(cells.get("country"))
    except ApplicationError as exc:
        raise RowError("country", exc.message) from None
    region = (boutique.country if boutique else None) or mapping.default_region or country or None
    try:
        phone = normalize_phone(cells.get("phone"), region=region)
    except ApplicationError as exc:
        raise RowError("phone", exc.message) from None
    if country:
        values["country"] = country

    for name in TEXT_FIELDS:
        text = cells.get(name, "")
        if not text:
            continue
        if name == "language":
            text = text.lower()
        limit = _max_length(name)
        if limit and len(text) > limit:
            raise RowError(name, f"{text[:20]}… is longer than {limit} characters.")
        values[name] = text

    try:
        birth_date = parse_date(cells.get("birth_date"), order=mapping.date_order)
        if birth_date is not None:
            values["birth_date"] = birth_date
    except ValueError as exc:
        raise RowError("birth_date", str(exc)) from None
    # What the old system reported is kept nowhere (Atelier computes its own from the orders), but a value that
    # cannot be read means the column mapping or the file is wrong: say so rather than import on a misreading.
    for name, parse in (
        ("legacy_lifetime_value", lambda text: parse_decimal(text, decimal_comma=mapping.decimal_comma)),
        ("legacy_last_order_date", lambda text: parse_date(text, order=mapping.date_order)),
    ):
        try:
            parse(cells.get(name))
        except ValueError as exc:
            raise RowError(name, str(exc)) from None

    preferences: dict[str, list[str]] = {}
    for key in PREFERENCE_KEYS:
        items = _split_list(cells.get(f"preferences_{key}", ""))
        if items:
            preferences[key] = items
    if preferences:
        try:
            preferences = normalize_preferences(preferences)
        except ApplicationError as exc:
            raise RowError(f"preferences_{next(iter(preferences))}", exc.message) from None

    consents = []
    for channel in CONSENT_CHANNELS:
        try:
            is_granted = parse_bool(cells.get(f"{channel}_marketing"))
        except ValueError as exc:
            raise RowError(f"{channel}_marketing", str(exc)) from None
        if is_granted is None:
            continue
        try:
            occurred_at = parse_datetime(
                cells.get(f"{channel}_marketing_at"), order=mapping.date_order, tz=context.time_zone
            )
        except ValueError as exc:
            raise RowError(f"{channel}_marketing_at", str(exc)) from None
        if occurred_at is not None:
            try:
                happened_at_check(occurred_at, field=f"{channel}_marketing_at")
            except ApplicationError as error:
                raise RowError(f"{channel}_marketing_at", error.message) from None
        assert channel in CONSENT_CHANNEL_CODES
        consents.append(
            ConsentValue(
                channel=channel,
                is_granted=is_granted,
                occurred_at=occurred_at or context.started_at,
                is_dated=occurred_at is not None,
            )
        )

    if not (identities or email or phone or public_id):
        raise RowError(None, "A client needs at least an id, an email or a phone number to be found again.")
    return CleanCustomer(
        line=row.line,
        public_id=public_id,
        identities=tuple(identities),
        email=email,
        phone=phone,
        values=values,
        preferences=preferences,
        consents=tuple(consents),
        source=source,
    )
