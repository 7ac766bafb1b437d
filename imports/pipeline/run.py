"""One client import across its chunks (_CustomerRun): outcomes, the chunk's cleaning and matching, writing."""


from __future__ import annotations

import uuid
from typing import Any

import pgtrigger
from django.contrib.contenttypes.models import ContentType
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
from imports.models import ImportBatch, ImportChange
from imports.pipeline.batches import RowOutcomes
from imports.pipeline.constants import (
    HISTORY_TRIGGERS,
    IDENTITY_FIELDS,
    WRITTEN_FIELDS,
)
from imports.pipeline.picture import _Picture
from imports.pipeline.sql import _identities_of, _insert, _record_history, _update_customers
from imports.pipeline.state import _Change, _change, _Client, _json_value
from imports.reader import SourceRow, SourceTable


class _CustomerRun(RowOutcomes):
    """The state of one client import across its chunks (counts, preview, errors, recent rows for duplicates)."""

    def __init__(self, *, batch: ImportBatch, table: SourceTable, context: CustomerImportContext) -> None:
        super().__init__(table=table)
        self.batch = batch
        self.context = context
        self._identity_field = next((name for name in IDENTITY_FIELDS if name in table.header_for), None)
        self._content_types = {
            model: ContentType.objects.get_for_model(model) for model in (Customer, CustomerIdentity, ConsentEvent)
        }

    # --- One chunk --------------------------------------------------------------------------------------------

    def prepare(self, rows: list[SourceRow]) -> list[CleanCustomer | tuple[str | None, str]]:
        """Clean each row, a refusal as (field, message): pure, so a worker process may run it (parallel.py)."""
        prepared: list[CleanCustomer | tuple[str | None, str]] = []
        for row in rows:
            try:
                prepared.append(clean_customer_row(row, self.context))
            except RowError as error:
                prepared.append((error.field, error.message))
        return prepared

    def process(self, rows: list[SourceRow], prepared: list[Any] | None = None) -> None:
        cleaned: list[tuple[SourceRow, CleanCustomer]] = []
        for row, clean in zip(rows, prepared if prepared is not None else self.prepare(rows), strict=True):
            if not self.admit(row):
                continue
            if isinstance(clean, tuple):
                self.invalid(row, *clean)
            else:
                cleaned.append((row, clean))
        if not cleaned:
            return
        picture = _Picture.load([clean for _row, clean in cleaned])
        for row, clean in cleaned:
            try:
                outcome, changed = picture.apply(clean, identity_field=self._identity_field)
            except RowError as error:
                self.invalid(row, error.field, error.message)
                continue
            if outcome == "updated":
                self.outcome(outcome, row, fields=changed)
            else:
                self.outcome(outcome, row)
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
        inserted = _insert(
            CustomerIdentity._meta.db_table,
            {"customer_id": "bigint", "system": "text", "external_id": "text"},
            [(client.pk, system, external_id) for (system, external_id), client in wanted.items()],
            constants={"created_at": "statement_timestamp()"},
            suffix="ON CONFLICT DO NOTHING RETURNING system, external_id, id, customer_id",
        )
        found = {(system, external_id): (pk, customer_pk) for system, external_id, pk, customer_pk in inserted}
        # Another writer took the ids that were not inserted meanwhile: they must not point at another client.
        found.update(_identities_of([key for key in wanted if key not in found]))
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
