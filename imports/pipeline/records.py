"""The set-based import of records found again by a natural key: interactions, feedback responses, and the reference
tables (personas, products, boutiques). Each kind describes itself in a RecordKind; this module does the rest.

Per chunk: every row is cleaned by the kind (a CleanRecord: the values the row gives, blank = absent, and the
defaults of a new record); the rows' clients are found with find_clients (never created); the records the chunk
names are loaded with one query per kind of key; the rows are applied in file order (new, updated, unchanged);
then the chunk is written with one INSERT and one UPDATE from arrays and one ImportChange per row created or
changed, the changed rows' former values kept in `before` so that a rollback can restore them.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pghistory.models
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, connection, transaction
from django.db.models import Model

from core.errors import ApplicationError
from imports.kinds.customers import RowError
from imports.models import ImportBatch, ImportChange
from imports.pipeline.batches import RowOutcomes
from imports.pipeline.clients import ClientKey, find_clients
from imports.pipeline.sql import _insert, _staged
from imports.reader import SourceRow, SourceTable

# Where a row names its client, in the order a refusal points at.
CLIENT_FIELDS = ("public_id", "crm_id", "pos_id", "ecommerce_id", "email", "phone")


@dataclass
class CleanRecord:
    """A row as the importer applies it: the columns it gives (blank = absent: blanks never erase), the values a
    new record takes where the row gives none, and the client the record belongs to (for kinds that have one)."""

    given: dict[str, Any]
    defaults: dict[str, Any] = field(default_factory=dict)
    client: ClientKey | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RecordKind:
    """How one kind of record imports.

    `columns` are the written columns with their PostgreSQL types; `key(values)` names the key a record is found
    again by, as (key name, values of `keys[name]`); `merge(current, record)` applies a row to a record's values
    (default: the given values over the current ones); `check(values, original)` refuses a result the model would
    (RowError); `after_write(written)` follows a chunk's writes with what the kind's service would do besides;
    `create(values, notifies)` writes the chunk's new records through the owning app's batch service instead of a
    plain INSERT (`notifies`: the batch runs the journey rules) and returns their ids, in order.
    """

    model: type[Model]
    noun: str
    columns: dict[str, str]
    keys: dict[str, tuple[str, ...]]
    key: Callable[[dict[str, Any]], tuple[str, tuple[Any, ...]]]
    required: tuple[str, ...] = ()
    has_updated_at: bool = True
    loaded: tuple[str, ...] = ()
    merge: Callable[[dict[str, Any], CleanRecord], dict[str, Any]] | None = None
    check: Callable[[dict[str, Any], dict[str, Any] | None], None] | None = None
    after_write: Callable[[list[dict[str, Any]]], None] | None = None
    create: Callable[[list[dict[str, Any]], bool], list[int]] | None = None

    @property
    def table(self) -> str:
        return self.model._meta.db_table

    @property
    def key_columns(self) -> list[str]:
        return list(dict.fromkeys(column for columns in self.keys.values() for column in columns))


@dataclass
class _Pending:
    """One record as the chunk sees it: what the database held (None for a new one) and what the rows made of it."""

    pk: int | None
    original: dict[str, Any] | None
    values: dict[str, Any]


def jsonable(value: Any) -> Any:
    """A column's value as JSON keeps it for a rollback (and PostgreSQL casts it back)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    return value


class RecordRun(RowOutcomes):
    """The state of one import of records across its chunks."""

    def __init__(
        self, *, batch: ImportBatch, table: SourceTable, kind: RecordKind, clean: Callable[[SourceRow], CleanRecord]
    ) -> None:
        super().__init__(table=table)
        self.batch = batch
        self.kind = kind
        self.clean = clean
        self.content_type = ContentType.objects.get_for_model(kind.model)
        self.client_field = next((name for name in CLIENT_FIELDS if name in table.header_for), None)

    def process(self, rows: list[SourceRow]) -> None:
        cleaned: list[tuple[SourceRow, CleanRecord]] = []
        for row in rows:
            if not self.admit(row):
                continue
            try:
                cleaned.append((row, self.clean(row)))
            except RowError as error:
                self.invalid(row, error.field, error.message)
        found = find_clients(record.client for _row, record in cleaned if record.client is not None)
        keyed: list[tuple[SourceRow, CleanRecord, tuple[str, tuple[Any, ...]]]] = []
        for row, record in cleaned:
            if record.client is not None:
                client = found.get(record.client)
                if not isinstance(client, int):
                    self.invalid(row, self.client_field, str(client or "The row does not name its client."))
                    continue
                record.given["customer_id"] = client
            keyed.append((row, record, self.kind.key(record.given)))
        pending = self._load({key for _row, _record, key in keyed})
        for row, record, key in keyed:
            try:
                outcome, changed = self._apply(pending, key, record)
            except RowError as error:
                self.invalid(row, error.field, error.message)
                continue
            self.outcome(outcome, row, **({"fields": changed} if outcome == "updated" else {}))
        self._write(list(pending.values()))

    # --- Matching -------------------------------------------------------------------------------------------------

    def _load(self, keys: set[tuple[str, tuple[Any, ...]]]) -> dict[tuple[str, tuple[Any, ...]], _Pending]:
        """The records the keys name, one query per kind of key."""
        pending: dict[tuple[str, tuple[Any, ...]], _Pending] = {}
        names = list(self.kind.columns)
        selected = ", ".join(f"t.{name}" for name in ["id", *names, *self.kind.loaded])
        json_columns = [name for name, type_ in self.kind.columns.items() if type_ == "jsonb"]
        for key_name, key_columns in self.kind.keys.items():
            wanted = [values for name, values in keys if name == key_name]
            if not wanted:
                continue
            arrays = ", ".join(f"%s::{self.kind.columns[column]}[]" for column in key_columns)
            joined = " AND ".join(f"t.{column} = k.{column}" for column in key_columns)
            if tuple(key_columns) == ("source", "external_id"):
                # Repeats the partial unique index's condition (this key is never blank), so that PostgreSQL uses
                # it instead of reading the whole table for every chunk.
                joined += " AND t.external_id <> ''"
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {selected} FROM {self.kind.table} AS t "  # noqa: S608
                    f"JOIN unnest({arrays}) AS k({', '.join(key_columns)}) ON {joined} ORDER BY t.id",
                    [[values[position] for values in wanted] for position in range(len(key_columns))],
                )
                for pk, *row in cursor.fetchall():
                    values = dict(zip([*names, *self.kind.loaded], row, strict=True))
                    # Django leaves jsonb undecoded on its connections (fields decode in from_db_value).
                    for name in json_columns:
                        if isinstance(values[name], str):
                            values[name] = json.loads(values[name])
                    key = (key_name, tuple(values[column] for column in key_columns))
                    # Two records under one key (staff logged the same moment twice): the first answers.
                    pending.setdefault(key, _Pending(pk=pk, original=values, values=dict(values)))
        return pending

    def _apply(
        self, pending: dict[tuple[str, tuple[Any, ...]], _Pending], key: tuple[str, tuple[Any, ...]],
        record: CleanRecord,
    ) -> tuple[str, list[str]]:
        """Apply one row; its outcome (new, updated, unchanged) and the columns it changed. Refusals change nothing."""
        current = pending.get(key)
        before = current.values if current is not None else {**record.defaults}
        merged = self.kind.merge(before, record) if self.kind.merge else {**before, **record.given}
        for name in self.kind.required:
            if merged.get(name) in (None, ""):
                raise RowError(name, f"A new {self.kind.noun} needs its {name.removesuffix('_id')}.")
        if self.kind.check is not None:
            self.kind.check(merged, current.original if current is not None else None)
        if current is None:
            pending[key] = _Pending(pk=None, original=None, values=merged)
            return "new", sorted(record.given)
        changed = [name for name in self.kind.columns if merged.get(name) != current.values.get(name)]
        current.values = merged
        if not changed:
            return "unchanged", []
        return "updated", changed

    # --- Writing --------------------------------------------------------------------------------------------------

    def _write(self, pending: list[_Pending]) -> None:
        columns = self.kind.columns
        changed = [
            item for item in pending
            if item.original is not None and any(item.values[name] != item.original[name] for name in columns)
        ]
        created = [item for item in pending if item.original is None]
        changes: list[tuple[Any, ...]] = []
        if changed:
            update_rows(self.kind, [(item.pk, *(item.values[name] for name in columns)) for item in changed])
            changes += [
                (item.pk, ImportChange.Action.UPDATED, {name: jsonable(item.original[name]) for name in columns})
                for item in changed
            ]
        if created and self.kind.create is not None:
            pks = self.kind.create([item.values for item in created], self.batch.runs_automation)
            for item, pk in zip(created, pks, strict=True):
                item.pk = pk
            changes += [(item.pk, ImportChange.Action.CREATED, None) for item in created]
        elif created:
            timestamps = ["created_at", "updated_at"] if self.kind.has_updated_at else ["created_at"]
            returned = _insert(
                self.kind.table,
                columns,
                [tuple(item.values[name] for name in columns) for item in created],
                constants=dict.fromkeys(timestamps, "statement_timestamp()"),
                suffix=f"RETURNING id, {', '.join(self.kind.key_columns)}",
            )
            key_columns = self.kind.key_columns
            by_key = {self.kind.key(dict(zip(key_columns, row, strict=True))): pk for pk, *row in returned}
            for item in created:
                item.pk = by_key[self.kind.key(item.values)]
            changes += [(item.pk, ImportChange.Action.CREATED, None) for item in created]
        _insert(
            ImportChange._meta.db_table,
            {"batch_id": "bigint", "content_type_id": "integer", "object_id": "bigint", "action": "text",
             "before": "jsonb"},
            [(self.batch.pk, self.content_type.pk, pk, str(action), before) for pk, action, before in changes],
        )
        if self.kind.after_write is not None and (changed or created):
            self.kind.after_write([item.values for item in [*changed, *created]])


def update_rows(kind: RecordKind, rows: list[tuple[Any, ...]]) -> None:
    """One UPDATE ... FROM the rows staged with COPY: each row is (id, *values of kind.columns)."""
    assignments = [f"{name} = v.{name}" for name in kind.columns]
    if kind.has_updated_at:
        assignments.append("updated_at = statement_timestamp()")
    with transaction.atomic(savepoint=False):
        stage = _staged({"id": "bigint", **kind.columns}, rows)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {kind.table} AS t SET {', '.join(assignments)} FROM {stage} AS v WHERE t.id = v.id"  # noqa: S608
            )


# --- Rollback -----------------------------------------------------------------------------------------------------


def rollback_records(
    batch: ImportBatch, kind: RecordKind, *, owner: str | None = None,
    after: Callable[[set[int]], None] | None = None,
) -> None:
    """Take a batch of `kind` back: the records it changed get their former values, those it created are removed.

    Refused (ApplicationError) when a record recorded since points at one it created. `owner` is a column whose
    values before and after the rollback are handed to `after` (the clients whose timeline changed).
    """
    content_type = ContentType.objects.get_for_model(kind.model)
    changes = batch.changes.filter(content_type=content_type)
    created = changes.filter(action=ImportChange.Action.CREATED).values("object_id")
    _refuse_when_used(kind.model, created)
    records = kind.model._base_manager.filter(pk__in=changes.values("object_id"))
    touched: set[int] = set(records.values_list(owner, flat=True)) if owner else set()
    casts = ", ".join(
        f"{name} = c.before->'{name}'" if type_ == "jsonb" else f"{name} = (c.before->>'{name}')::{type_}"
        for name, type_ in kind.columns.items()
    )
    if kind.has_updated_at:
        casts += ", updated_at = statement_timestamp()"
    changes_table = ImportChange._meta.db_table
    try:
        with connection.cursor() as cursor:
            # A record changed by two chunks of the batch: its earliest `before` is what it was.
            cursor.execute(
                f"UPDATE {kind.table} AS t SET {casts} FROM (SELECT DISTINCT ON (object_id) object_id, before "  # noqa: S608
                f"FROM {changes_table} WHERE batch_id = %s AND content_type_id = %s AND action = %s "
                "ORDER BY object_id, id) AS c WHERE t.id = c.object_id",
                [batch.pk, content_type.pk, ImportChange.Action.UPDATED],
            )
    except IntegrityError:
        raise ApplicationError(
            f"A value this import replaced is now used by another {kind.noun}, so the import cannot be rolled back; "
            "correct that record first."
        ) from None
    if owner:
        touched.update(records.values_list(owner, flat=True))
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {kind.table} WHERE id IN (SELECT object_id FROM {changes_table} "  # noqa: S608
            "WHERE batch_id = %s AND content_type_id = %s AND action = %s)",
            [batch.pk, content_type.pk, ImportChange.Action.CREATED],
        )
    if after is not None:
        after(touched - {None})


def _refuse_when_used(model: type[Model], created: Any, *, own: tuple[str, ...] = ()) -> None:
    """Refuse when rows of other tables point at records the batch created (whatever their on_delete says: a
    rollback must not quietly empty a reference someone made since). `own` names relations whose rows the rollback
    takes back with the records (a created client's identities)."""
    blocking = []
    for relation in model._meta.get_fields(include_hidden=True):
        if not (relation.auto_created and not relation.concrete and (relation.one_to_many or relation.one_to_one)):
            continue
        related = relation.related_model
        if issubclass(related, pghistory.models.Event) or relation.name in own:  # history keeps what was
            continue
        if related._base_manager.filter(**{f"{relation.field.name}__in": created}).exists():
            blocking.append(str(related._meta.verbose_name_plural))
    if blocking:
        raise ApplicationError(
            f"Records added since this import depend on {model._meta.verbose_name_plural} it created "
            f"({', '.join(sorted(set(blocking)))}); the import cannot be rolled back.",
            extra={"blocking": sorted(set(blocking))},
        )
