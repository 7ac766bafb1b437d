"""The one accepted range for business dates, for every way in (API, webhooks, imports, syncs, staff pages).

Python shows the years 1 to 9999 and PostgreSQL stores years before Christ and up to 294276: a moment PostgreSQL
accepts may be one Python cannot read back (`0001-01-01T00:00:00+14:00` is 1 BC in UTC) or cannot show in a
boutique's time zone (`9999-12-31T23:59:59Z` in Paris is the year 10000). Such a moment breaks every page, export
and task that reads it, so the services refuse it before it is stored:

- something that happened (an interaction, an order, a consent event, a survey answer, a stage move) lies between
  EARLIEST and now plus HAPPENED_LEEWAY (the clocks of source systems run a little ahead of ours);
- something due later (a follow-up, the end of a hands-off) lies between EARLIEST and now plus DUE_HORIZON.

The database holds the same columns between EARLIEST and STORED_LATEST with CHECK constraints (a CHECK cannot use
now()): a fixed net behind the services' rule, far inside what both Python and PostgreSQL show.
"""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone

from core.errors import ApplicationError

EARLIEST = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)
STORED_LATEST = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)
HAPPENED_LEEWAY = dt.timedelta(days=1)
DUE_HORIZON = dt.timedelta(days=3660)  # ten years


def _check(moment: dt.datetime, *, field: str, latest: dt.datetime, until: str) -> dt.datetime:
    if not isinstance(moment, dt.datetime):
        raise ApplicationError.for_field(field, f"{moment!r} is not a date and time.")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ApplicationError.for_field(field, "Give the time zone (e.g. 2026-03-01T15:00:00+01:00).")
    try:
        utc = moment.astimezone(dt.UTC)
    except OverflowError:
        # The year 1 with a positive offset is the year 0 in UTC, which Python cannot hold.
        utc = None
    if utc is None or not EARLIEST <= utc <= latest:
        raise ApplicationError.for_field(
            field, f"{moment.isoformat()} is out of range: give a moment from 1900-01-01 to at most {until}."
        )
    return utc


def happened_at_check(moment: dt.datetime, *, field: str, now: dt.datetime | None = None) -> dt.datetime:
    """`moment` in UTC if it may be when something happened (from 1900-01-01 to one day from now); raises
    ApplicationError on `field` otherwise."""
    latest = (now or timezone.now()) + HAPPENED_LEEWAY
    return _check(moment, field=field, latest=latest, until="one day from now")


def due_at_check(moment: dt.datetime, *, field: str, now: dt.datetime | None = None) -> dt.datetime:
    """`moment` in UTC if it may be when something is due (from 1900-01-01 to ten years from now); raises
    ApplicationError on `field` otherwise."""
    latest = (now or timezone.now()) + DUE_HORIZON
    return _check(moment, field=field, latest=latest, until="ten years from now")


def stored_range(column: str) -> Q:
    """The CHECK condition that holds `column` between EARLIEST and STORED_LATEST (NULL passes a CHECK)."""
    return Q(**{f"{column}__gte": EARLIEST, f"{column}__lt": STORED_LATEST})


def repair_sql(table: str, column: str, *, latest: str) -> list[str]:
    """The statements a migration runs to bring `table.column` back into range before its CHECK is added.

    A value before 1900-01-01 becomes 1900-01-01T00:00Z; a value after `latest` (an SQL expression, e.g.
    "now() + interval '1 day'") becomes that bound. Each change is recorded first in core_momentrepair with the
    original value as PostgreSQL writes it (a year before Christ ends in " BC"), so nothing is lost silently.
    Clamping keeps order: a client's latest interaction is still their latest once both are repaired.
    """
    earliest = "'1900-01-01T00:00:00+00:00'::timestamptz"
    outside = f"({column} < {earliest} OR {column} > {latest})"
    repaired = f"CASE WHEN {column} < {earliest} THEN {earliest} ELSE {latest} END"
    return [
        # Deferred foreign-key checks queued earlier in the transaction would stop the ALTER TABLE that follows.
        "SET CONSTRAINTS ALL IMMEDIATE",
        f"INSERT INTO core_momentrepair (table_name, row_id, column_name, original, repaired_to, repaired_at) "  # noqa: S608
        f"SELECT '{table}', id, '{column}', {column}::text, {repaired}, now() FROM {table} WHERE {outside}",
        f"UPDATE {table} SET {column} = {repaired} WHERE {outside}",  # noqa: S608
    ]


HAPPENED_LATEST_SQL = "now() + interval '1 day'"
DUE_LATEST_SQL = "now() + interval '3660 days'"
