"""The set-based import of a client file: streamed in chunks, matched and written with a few statements per chunk.

Per chunk of CHUNK_SIZE rows: every row is cleaned (imports.kinds.customers, shared with the resources); the clients
the chunk may be about are loaded with one query per key (identities, emails, phones, Atelier ids); the rows are
then applied in file order to that in-memory picture with customer_upsert's rules (identity first, then normalized
email, then a phone that identifies exactly one client whose email does not contradict; blanks never erase), so a
person who appears twice in the file is one client; finally the chunk is written with bulk statements (an UPDATE
from arrays, INSERTs, the consent ledger, one ImportChange per row created or changed).

The whole file is one transaction: rejected (an invalid row without "valid rows only") and dry runs are rolled back,
keeping only the batch record and its row errors, written after the rollback.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pghistory
import pghistory.models
import pgtrigger
from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import ConsentEvent, ConsentPurpose, Customer, CustomerIdentity, ValueTier
from customers.services.consent import consent_refresh_many
from imports.kinds.customers import (
    CONSENT_WORDING,
    CleanCustomer,
    CustomerImportContext,
    RowError,
    clean_customer_row,
)
from imports.models import ImportBatch, ImportChange, ImportRowError
from imports.reader import SourceRow, SourceTable

logger = logging.getLogger(__name__)

CHUNK_SIZE = 5_000
PREVIEW_ROWS = 5
DUPLICATE_WINDOW = 20_000
OUTCOMES = ("new", "updated", "unchanged", "skipped", "invalid")
# The client's fields an import writes, as columns (foreign keys by id), with their PostgreSQL array types.
WRITTEN_FIELDS = {
    "first_name": "text",
    "last_name": "text",
    "email": "text",
    "phone": "text",
    "birth_date": "date",
    "language": "text",
    "city": "text",
    "country": "text",
    "home_boutique_id": "bigint",
    "advisor_id": "bigint",
    "persona_id": "bigint",
    "advisor_notes": "text",
    "preferences": "text",  # JSON text, cast to jsonb in the statement
}
BLANK_VALUES: dict[str, Any] = {
    name: None if kind in ("date", "bigint") else "" for name, kind in WRITTEN_FIELDS.items()
} | {"preferences": {}}
IDENTITY_FIELDS = ("external_id", "crm_id", "pos_id", "ecommerce_id")
# pghistory's row triggers on clients. Each of their rows attaches the context in a PL/pgSQL block with an exception
# handler, i.e. a subtransaction per row: over a 100,000-row import in one transaction the cost per row keeps
# growing. The pipeline writes the same history rows itself, one statement per chunk (_record_history).
HISTORY_TRIGGERS = ("customers.Customer:insert_insert", "customers.Customer:update_update")

Progress = Callable[[int], None]


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


def run_customer_import(
    *, batch: ImportBatch, table: SourceTable, dry_run: bool, valid_only: bool, progress: Progress | None = None
) -> None:
    """Import a client file into Atelier as one batch: all or nothing (unless `valid_only`), or a dry run.

    Leaves `batch` with its status (IMPORTED, REJECTED or PREVIEWED), counts, preview and row errors saved.
    """
    started_at = batch.started_at or timezone.now()
    context = CustomerImportContext.load(mapping=table.mapping, started_at=started_at)
    run = _CustomerRun(batch=batch, table=table, context=context)
    try:
        with transaction.atomic(), pghistory.context(source="import", import_batch=batch.pk) as history_context:
            run.history_context = history_context
            for chunk in _chunks(table, CHUNK_SIZE):
                run.process(chunk)
                batch.processed_rows = run.processed
                ImportBatch.objects.filter(pk=batch.pk).update(processed_rows=run.processed)
                if progress is not None:
                    progress(len(chunk))
            if dry_run or (run.counts["invalid"] and not valid_only):
                raise _Rollback
    except _Rollback:
        pass
    if dry_run:
        status = ImportBatch.Status.PREVIEWED
    elif run.counts["invalid"] and not valid_only:
        status = ImportBatch.Status.REJECTED
    else:
        status = ImportBatch.Status.IMPORTED
    batch.status = status
    batch.counts = dict(run.counts)
    # The file's own column order, for the errors CSV (JSON objects in PostgreSQL do not keep key order).
    batch.preview = {"headers": list(table.headers), **run.preview}
    batch.processed_rows = batch.total_rows = run.processed
    batch.finished_at = timezone.now()
    batch.save(
        update_fields=["status", "counts", "preview", "processed_rows", "total_rows", "finished_at", "updated_at"]
    )
    run.errors.write(batch)
    logger.info("imports.customers_finished batch_id=%s status=%s counts=%s", batch.pk, status, run.counts)


class _CustomerRun:
    """The state of one client import across its chunks (counts, preview, errors, recent rows for duplicates)."""

    def __init__(self, *, batch: ImportBatch, table: SourceTable, context: CustomerImportContext) -> None:
        self.batch = batch
        self.table = table
        self.context = context
        self.counts = dict.fromkeys(OUTCOMES, 0)
        self.preview: dict[str, list[dict[str, Any]]] = {outcome: [] for outcome in OUTCOMES}
        self.errors = _ErrorSpool()
        self.processed = 0
        self.history_context: Any = None
        # Exact duplicate rows are recognised among the last DUPLICATE_WINDOW rows (bounded memory; exports repeat a
        # row close to the first, and a copy further away is still found again as the same client: "unchanged").
        self._recent_rows: dict[tuple[str, ...], None] = {}
        self._identity_field = next((name for name in IDENTITY_FIELDS if name in table.header_for), None)
        self._content_types = {
            model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)
        }

    # --- Outcomes ---------------------------------------------------------------------------------------------

    def _outcome(self, outcome: str, row: SourceRow, **details: Any) -> None:
        self.counts[outcome] += 1
        if len(self.preview[outcome]) < PREVIEW_ROWS:
            self.preview[outcome].append({"line": row.line, "row": row.raw, **details})

    def _invalid(self, row: SourceRow, field_name: str | None, message: str) -> None:
        column = (self.table.header_for.get(field_name) or field_name or "") if field_name else ""
        self._outcome("invalid", row, column=column, message=message)
        self.errors.add(row.line, column, message, row.raw)

    # --- One chunk --------------------------------------------------------------------------------------------

    def process(self, rows: list[SourceRow]) -> None:
        cleaned: list[tuple[SourceRow, CleanCustomer]] = []
        for row in rows:
            self.processed += 1
            key = (*row.values.values(), *row.extra)
            if key in self._recent_rows:
                self._outcome("skipped", row, reason="The same row appears earlier in the file.")
                continue
            self._recent_rows[key] = None
            if len(self._recent_rows) > DUPLICATE_WINDOW:
                del self._recent_rows[next(iter(self._recent_rows))]
            try:
                cleaned.append((row, clean_customer_row(row, self.context)))
            except RowError as error:
                self._invalid(row, error.field, error.message)
        if not cleaned:
            return
        picture = _Picture.load([clean for _row, clean in cleaned])
        for row, clean in cleaned:
            try:
                outcome, changed = picture.apply(clean, identity_field=self._identity_field)
            except RowError as error:
                self._invalid(row, error.field, error.message)
                continue
            if outcome == "updated":
                self._outcome(outcome, row, fields=changed)
            else:
                self._outcome(outcome, row)
        self._write(picture)

    # --- Writing ----------------------------------------------------------------------------------------------

    def _write(self, picture: _Picture) -> None:
        now = timezone.now()
        changes: list[_Change] = []
        customer_type = self._content_types[Customer]

        # Updates first: an email a client gives up in this chunk may be taken by a client the chunk creates.
        updated = [(client, client.changed_fields()) for client in picture.clients if not client.is_new]
        updated = [(client, changed) for client, changed in updated if changed]
        if updated:
            with pgtrigger.ignore(*HISTORY_TRIGGERS):
                _update_customers([client for client, _changed in updated], now=now)
            _record_history([client.pk for client, _changed in updated], label="update", context=self.history_context)
            changes.extend(
                _change(
                    batch=self.batch,
                    content_type=customer_type,
                    object_id=client.pk,
                    action=ImportChange.Action.UPDATED,
                    before={name: _json_value(client.original[name]) for name in changed},
                )
                for client, changed in updated
            )

        created = [client for client in picture.clients if client.is_new]
        if created:
            for client in created:
                client.public_id = client.public_id or uuid.uuid4()
            with pgtrigger.ignore(*HISTORY_TRIGGERS):
                returned = self._insert_customers(created)
            pks = dict(returned)
            for client in created:
                client.pk = pks[client.public_id]
            _record_history([client.pk for client in created], label="insert", context=self.history_context)
            changes.extend(
                _change(
                    batch=self.batch,
                    content_type=customer_type,
                    object_id=client.pk,
                    action=ImportChange.Action.CREATED,
                )
                for client in created
            )

        changes.extend(self._write_identities(picture))
        changes.extend(self._write_consent(picture))
        _insert(
            ImportChange._meta.db_table,
            {"batch_id": "bigint", "content_type_id": "integer", "object_id": "bigint", "action": "text",
             "before": "jsonb"},
            [(self.batch.pk, *change) for change in changes],
        )

    def _insert_customers(self, created: list[_Client]) -> list[tuple[Any, ...]]:
        columns = {"public_id": "uuid", **{name: ("jsonb" if name == "preferences" else kind)
                                            for name, kind in WRITTEN_FIELDS.items()}, "consent": "jsonb"}
        return _insert(
                Customer._meta.db_table,
                columns,
                # Only this import's events are on a new client's ledger: its consent is known already.
                [(client.public_id, *(client.fields[name] for name in WRITTEN_FIELDS), client.consent)
                 for client in created],
                constants={
                    "created_at": "statement_timestamp()", "updated_at": "statement_timestamp()",
                    "value_tier": f"'{ValueTier.PROSPECT}'", "lifetime_value": "0", "order_count": "0",
                    "average_order_value": "0", "is_anonymized": "false",
                },
                suffix="RETURNING public_id, id",
            )

    def _write_identities(self, picture: _Picture) -> list[_Change]:
        wanted = {key: client for client in picture.clients for key in client.new_identities}
        if not wanted:
            return []
        _insert(
            CustomerIdentity._meta.db_table,
            {"customer_id": "bigint", "system": "text", "external_id": "text"},
            [(client.pk, system, external_id) for (system, external_id), client in wanted.items()],
            constants={"created_at": "statement_timestamp()"},
            suffix="ON CONFLICT DO NOTHING",
        )
        # Another writer may have taken one of these ids meanwhile: verify none points at another client.
        found = _identities_of(list(wanted))
        changes = []
        identity_type = self._content_types[CustomerIdentity]
        for key, client in wanted.items():
            identity_pk, customer_pk = found[key]
            if customer_pk != client.pk:
                raise ApplicationError(
                    f"The id {key[0]}:{key[1]} was given to another client while this file was imported; "
                    "import the file again.",
                    extra={"identity": f"{key[0]}:{key[1]}"},
                )
            if not client.is_new:  # a created client's identities go with it on rollback
                changes.append(
                    _change(
                        batch=self.batch,
                        content_type=identity_type,
                        object_id=identity_pk,
                        action=ImportChange.Action.CREATED,
                    )
                )
        return changes

    def _write_consent(self, picture: _Picture) -> list[_Change]:
        rows = [
            (client.pk, channel, value.is_granted, occurred_at, source)
            for client in picture.clients
            for (channel, occurred_at), (value, source) in client.new_events.items()
        ]
        if not rows:
            return []
        returned = _insert(
            ConsentEvent._meta.db_table,
            {"customer_id": "bigint", "channel": "text", "is_granted": "boolean", "occurred_at": "timestamptz",
             "source": "text"},
            rows,
            constants={
                "purpose": f"'{ConsentPurpose.MARKETING}'",
                "recorded_by_id": str(int(self.batch.created_by_id)) if self.batch.created_by_id else "NULL",
                "wording_version": f"'{CONSENT_WORDING}'",
                "created_at": "statement_timestamp()",
            },
            suffix="RETURNING id, customer_id",
        )
        existing = {client.pk for client in picture.clients if not client.is_new}
        consent_refresh_many(customer_ids=sorted(existing.intersection(row[0] for row in rows)))
        event_type = self._content_types[ConsentEvent]
        # A created client's events go with it on rollback.
        return [
            _change(
                batch=self.batch, content_type=event_type, object_id=event_pk, action=ImportChange.Action.CREATED
            )
            for event_pk, customer_pk in returned
            if customer_pk in existing
        ]


def _insert(
    table: str,
    columns: dict[str, str],
    rows: list[tuple[Any, ...]],
    *,
    constants: dict[str, str] | None = None,
    suffix: str = "",
) -> list[tuple[Any, ...]]:
    """INSERT ... SELECT FROM unnest(one array per column): one statement for a chunk, without building a model
    instance per row. `columns` maps a column to its PostgreSQL type; `constants` adds columns set to an SQL value.
    Returns the rows of `suffix` (e.g. "RETURNING id")."""
    if not rows:
        return []
    names = list(columns)
    constants = constants or {}
    arrays = ", ".join(f"%s::{'text' if kind == 'jsonb' else kind}[]" for kind in columns.values())
    selected = ", ".join(
        [
            *(f"v.{name}::jsonb" if kind == "jsonb" else f"v.{name}" for name, kind in columns.items()),
            *constants.values(),
        ]
    )
    parameters = []
    for position, (_name, kind) in enumerate(columns.items()):
        values = [row[position] for row in rows]
        parameters.append(
            [json.dumps(value) if value is not None else None for value in values] if kind == "jsonb" else values
        )
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} ({', '.join([*names, *constants])}) "  # noqa: S608
            f"SELECT {selected} FROM unnest({arrays}) AS v({', '.join(names)}) {suffix}",
            parameters,
        )
        return cursor.fetchall() if "RETURNING" in suffix else []


def _record_history(customer_ids: list[int], *, label: str, context: Any) -> None:
    """The rows pghistory's triggers would write for these clients (insert or update), with the import's context,
    in one statement (see HISTORY_TRIGGERS)."""
    if not customer_ids:
        return
    history = apps.get_model("customers", "CustomerHistory")
    columns = [field.column for field in history._meta.concrete_fields if not field.name.startswith("pgh_")]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {pghistory.models.Context._meta.db_table} (id, metadata, created_at, updated_at) "  # noqa: S608
            "VALUES (%s, %s::jsonb, NOW(), NOW()) ON CONFLICT (id) DO UPDATE "
            "SET metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at "
            f"WHERE {pghistory.models.Context._meta.db_table}.metadata != EXCLUDED.metadata",
            [context.id, json.dumps(context.metadata)],
        )
        cursor.execute(
            f"INSERT INTO {history._meta.db_table} ({', '.join(columns)}, pgh_context_id, pgh_created_at, "  # noqa: S608
            f"pgh_label, pgh_obj_id) SELECT {', '.join(f'c.{column}' for column in columns)}, %s, NOW(), %s, c.id "
            f"FROM {Customer._meta.db_table} AS c WHERE c.id = ANY(%s::bigint[])",
            [context.id, label, list(customer_ids)],
        )


def _identities_of(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int]]:
    """(system, external id) -> (identity id, client id), for the keys that exist: one query."""
    if not keys:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.system, i.external_id, i.id, i.customer_id FROM {CustomerIdentity._meta.db_table} AS i
            JOIN unnest(%s::text[], %s::text[]) AS k(system, external_id)
              ON i.system = k.system AND i.external_id = k.external_id
            """,  # noqa: S608
            [[system for system, _ in keys], [external_id for _, external_id in keys]],
        )
        return {(system, external_id): (pk, customer_pk) for system, external_id, pk, customer_pk in cursor}


def _update_customers(clients: list[_Client], *, now: dt.datetime) -> None:
    """One UPDATE ... FROM unnest(arrays) for the chunk's changed clients (every written field, from the picture)."""
    names = list(WRITTEN_FIELDS)
    columns = ", ".join(["id", *names])
    arrays = ", ".join(["%s::bigint[]", *(f"%s::{WRITTEN_FIELDS[name]}[]" for name in names)])
    assignments = ", ".join(
        f"{name} = v.{name}::jsonb" if name == "preferences" else f"{name} = v.{name}" for name in names
    )
    parameters: list[Any] = [now, [client.pk for client in clients]]
    for name in names:
        if name == "preferences":
            parameters.append([json.dumps(client.fields[name]) for client in clients])
        else:
            parameters.append([client.fields[name] for client in clients])
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Customer._meta.db_table} AS c SET {assignments}, updated_at = %s "  # noqa: S608
            f"FROM unnest({arrays}) AS v({columns}) WHERE c.id = v.id",
            [parameters[0], *parameters[1:]],
        )


class _Picture:
    """The clients a chunk is about, loaded set-based, and the indexes customer_upsert's matching rules need."""

    def __init__(self) -> None:
        self.clients: list[_Client] = []  # in the order the chunk first touched them
        self.by_pk: dict[int, _Client] = {}
        self.by_identity: dict[tuple[str, str], _Client] = {}
        self.by_email: dict[str, _Client] = {}
        self.by_phone: dict[str, list[_Client]] = {}
        self.by_public_id: dict[uuid.UUID, _Client] = {}

    @classmethod
    def load(cls, rows: list[CleanCustomer]) -> _Picture:
        picture = cls()
        identity_keys = list({key for row in rows for key in row.identities})
        emails = list({row.email for row in rows if row.email})
        phones = list({row.phone for row in rows if row.phone})
        public_ids = list({row.public_id for row in rows if row.public_id})
        identities = _identities_of(identity_keys)
        wanted_pks = {customer_pk for _pk, customer_pk in identities.values()}
        # `email <> ''` repeats the unique index's condition: PostgreSQL proves it from an IN list of at most 100
        # values only, and without that index a chunk's 5,000 emails would scan the whole table.
        lookups = [
            query.values_list("pk")
            for query, values in (
                (Customer.objects.filter(email__in=emails).exclude(email=""), emails),
                (Customer.objects.filter(phone__in=phones), phones),
                (Customer.objects.filter(public_id__in=public_ids), public_ids),
            )
            if values
        ]
        if lookups:
            wanted_pks.update(pk for (pk,) in lookups[0].union(*lookups[1:]))
        if not wanted_pks:
            return picture
        for values in Customer.objects.filter(pk__in=wanted_pks).values(
            "pk", "public_id", "consent", *WRITTEN_FIELDS
        ):
            fields = {name: values[name] for name in WRITTEN_FIELDS}
            fields["preferences"] = fields["preferences"] or {}
            client = _Client(
                pk=values["pk"],
                public_id=values["public_id"],
                fields=fields,
                original=dict(fields),
                consent=dict(values["consent"] or {}),
            )
            picture._add(client, track=False)
        for customer_pk, channel, occurred_at in ConsentEvent.objects.filter(
            customer_id__in=wanted_pks, purpose=ConsentPurpose.MARKETING
        ).values_list("customer_id", "channel", "occurred_at"):
            client = picture.by_pk[customer_pk]
            client.moments.setdefault(channel, set()).add(occurred_at)
            if channel not in client.latest or occurred_at > client.latest[channel]:
                client.latest[channel] = occurred_at
        for key, (_pk, customer_pk) in identities.items():
            picture.by_identity[key] = picture.by_pk[customer_pk]
        return picture

    def _add(self, client: _Client, *, track: bool) -> None:
        if client.pk is not None:
            self.by_pk[client.pk] = client
        if client.public_id:
            self.by_public_id[client.public_id] = client
        if client.fields["email"]:
            self.by_email[client.fields["email"]] = client
        if client.fields["phone"]:
            self.by_phone.setdefault(client.fields["phone"], []).append(client)
        if track:
            self.clients.append(client)

    def _touch(self, client: _Client) -> None:
        if not client.is_touched:
            client.is_touched = True
            self.clients.append(client)

    # --- Matching: customer_upsert's rules ------------------------------------------------------------------------

    def _match(self, row: CleanCustomer, identity_field: str | None) -> _Client | None:
        by_public_id = self.by_public_id.get(row.public_id) if row.public_id else None
        owners = {id(self.by_identity[key]): self.by_identity[key] for key in row.identities if key in self.by_identity}
        if len(owners) > 1 or (by_public_id and owners and list(owners.values()) != [by_public_id]):
            listed = ", ".join(f"{system}:{external_id}" for system, external_id in row.identities)
            raise RowError(
                identity_field, f"These ids ({listed}) belong to different clients; merge the clients first."
            )
        client = by_public_id or next(iter(owners.values()), None)
        if client is None and row.email:
            client = self.by_email.get(row.email)
        if client is None and row.phone:
            # A shared phone (a couple, a household) is not proof of one person: only an unambiguous client whose
            # email does not contradict the row's.
            candidates = self.by_phone.get(row.phone, [])
            if len(candidates) == 1:
                candidate_email = candidates[0].fields["email"]
                if not (row.email and candidate_email and candidate_email != row.email):
                    client = candidates[0]
        return client

    def apply(self, row: CleanCustomer, *, identity_field: str | None) -> tuple[str, list[str]]:
        """Apply one row to the picture; returns its outcome (new, updated, unchanged) and the fields it changed."""
        client = self._match(row, identity_field)
        given = dict(row.values)
        if row.email:
            given["email"] = row.email
        if row.phone:
            given["phone"] = row.phone
        if client is None:
            fields = dict(BLANK_VALUES) | given
            fields["preferences"] = dict(row.preferences)
            client = _Client(pk=None, public_id=row.public_id, fields=fields, original=None, consent={})
            self._add(client, track=False)
            self._touch(client)
            for key in row.identities:
                self.by_identity[key] = client
                client.new_identities.append(key)
            self._record_consent(client, row)
            return "new", sorted(given)

        # Refuse before changing anything: the row is then reported and the picture stays as it was.
        new_email = given.get("email")
        if new_email and new_email != client.fields["email"]:
            owner = self.by_email.get(new_email)
            if owner is not None and owner is not client:
                raise RowError("email", f"Another client already uses {new_email}; merge the two clients first.")
        changed = [name for name, value in given.items() if client.fields[name] != value]
        if "email" in changed and client.fields["email"]:
            self.by_email.pop(client.fields["email"], None)
        if "phone" in changed and client.fields["phone"]:
            self.by_phone[client.fields["phone"]] = [
                other for other in self.by_phone.get(client.fields["phone"], []) if other is not client
            ]
        for name in changed:
            client.fields[name] = given[name]
        if "email" in changed:
            self.by_email[client.fields["email"]] = client
        if "phone" in changed:
            self.by_phone.setdefault(client.fields["phone"], []).append(client)
        if row.preferences:
            merged = {key: list(items) for key, items in client.fields["preferences"].items()}
            for key, items in row.preferences.items():
                merged[key] = list(dict.fromkeys([*merged.get(key, []), *items]))
            if merged != client.fields["preferences"]:
                client.fields["preferences"] = merged
                changed.append("preferences")
        for key in row.identities:
            if key not in self.by_identity:
                self.by_identity[key] = client
                client.new_identities.append(key)
                changed.append("identities")
        if self._record_consent(client, row):
            changed.append("consent")
        if changed:
            self._touch(client)
            return "updated", sorted(set(changed))
        return "unchanged", []

    def _record_consent(self, client: _Client, row: CleanCustomer) -> bool:
        """Add the row's consent answers to the ledger when they are news; True when one was added."""
        added = False
        for value in row.consents:
            key = f"{value.channel}_{ConsentPurpose.MARKETING}"
            moments = client.moments.setdefault(value.channel, set())
            if value.is_dated:
                # The moment the file gives: an event already on the ledger at that moment is a replay.
                if value.occurred_at in moments:
                    continue
            elif client.consent.get(key) == value.is_granted:
                # Undated: the import's start is the moment, and only a change of mind is news.
                continue
            moments.add(value.occurred_at)
            client.new_events[(value.channel, value.occurred_at)] = (value, row.source)
            latest = client.latest.get(value.channel)
            if latest is None or value.occurred_at >= latest:
                client.latest[value.channel] = value.occurred_at
                client.consent[key] = value.is_granted
            added = True
        return added
