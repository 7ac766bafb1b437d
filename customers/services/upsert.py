"""customers_upsert_many: find or create the clients a batch of records is about, with the golden record's rule,
in a handful of statements per batch. Every path that brings clients in (the row service customer_upsert, the
client import, the webhooks and syncs through it) goes through here, so that the rule has one home.

Per batch: the clients the records may name are loaded and locked (customers.matching.ClientIndex); the records are
applied in order to that picture (a person twice in a batch is one client); then the batch is written: one UPDATE
for the clients changed, one INSERT for those created, one for their new identities, the contact conflicts, the
consent ledger and its derived state, and (given the caller's history context) their history rows.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import pgtrigger
from django.db import IntegrityError, transaction

from core.bulk import insert_rows, update_rows
from core.errors import ApplicationError
from customers.matching import (
    BLANK_VALUES,
    WRITTEN_FIELDS,
    ClientIndex,
    ClientKey,
    ClientState,
    MatchConflict,
    identities_of,
)
from customers.models import ContactConflict, Customer, CustomerIdentity, SourceSystem, ValueTier
from customers.services.consent import (
    ConsentAnswer,
    ConsentEventItem,
    consent_answer_is_news,
    consent_key,
    consent_refresh_many,
    consents_record_many,
)
from customers.services.history import HISTORY_TRIGGERS, customers_history_record

logger = logging.getLogger(__name__)

# The fields that say who the client is and how to reach them: written only by a source that owns the record.
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone")
SOURCE_SYSTEMS = frozenset(SourceSystem.values)
ATTEMPTS = 3


@dataclass
class ClientItem:
    """One cleaned record about a client: how to find them, and only the values it gives (blank = absent).

    `values` are columns of WRITTEN_FIELDS (foreign keys as `<name>_id`) besides email and phone. `is_verified`:
    the source vouches that the email and phone are the person's own (the client at the till, the house CRM, a
    verified ecommerce account; a guest checkout does not). `may_update` False (an order naming its client) finds
    or creates the client and never changes one found.
    """

    source: str
    key: ClientKey
    external_id: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    preferences: dict[str, list[str]] = field(default_factory=dict)
    consents: tuple[ConsentAnswer, ...] = ()
    is_verified: bool = True
    may_update: bool = True


@dataclass
class UpsertOutcome:
    """What became of one item: created, updated, unchanged, or refused (with the reason and the field at fault)."""

    status: str
    customer_id: int | None = None
    changed_fields: list[str] = field(default_factory=list)
    reason: str = ""
    field_name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _client: ClientState | None = field(default=None, repr=False)


@dataclass
class UpsertBatch:
    """One result per item, and what the batch wrote (for a caller that keeps its own journal, such as imports)."""

    results: list[UpsertOutcome]
    # Client id -> the former values of the fields the batch changed (not consent: it is derived from the ledger).
    updated: dict[int, dict[str, Any]] = field(default_factory=dict)
    created: list[int] = field(default_factory=list)
    # Identities and consent events the batch added to clients that existed before it (a created client's own go
    # with it).
    identities_added: list[int] = field(default_factory=list)
    consent_events_added: list[int] = field(default_factory=list)


class _Refused(Exception):
    def __init__(self, field_name: str | None, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message
        self.extra = extra or {}


class _Race(Exception):
    """Another writer took an identity this batch was adding: the batch is tried again on what is there now."""


def customers_upsert_many(
    items: Sequence[ClientItem],
    *,
    history_context: Any = None,
    recorded_by_id: int | None = None,
    wording_version: str = "",
) -> UpsertBatch:
    """Find each item's client (customers.matching) and create or update them: one result per item, in order.

    The golden record's rule, here and nowhere else: a record owns the client when it created them, was linked by
    a verified identity, or is verified now. Only an owner changes the client's name, email and phone; a record
    that does not own them is linked (its identity unverified), fills blanks of the other fields, and every other
    difference waits for staff as a ContactConflict. Blank values never erase. An email another client uses, or
    ids of different clients, refuse the item and change nothing. Consent answers go to the ledger (with
    `recorded_by_id` and `wording_version`) when they are news.

    With `history_context` (the caller's pghistory context, e.g. an import batch's), the history triggers are set
    aside and the same rows are written in one statement. Concurrent writers that create the same client are
    settled by the unique constraints: the batch is tried again on what the winner wrote.
    """
    for attempt in range(ATTEMPTS):
        try:
            with transaction.atomic():
                return _upsert_once(items, history_context=history_context, recorded_by_id=recorded_by_id,
                                    wording_version=wording_version)
        except (IntegrityError, _Race) as error:
            if attempt == ATTEMPTS - 1:
                raise ApplicationError("The clients could not be saved; please try again.") from error
    raise AssertionError("unreachable")


def _upsert_once(
    items: Sequence[ClientItem], *, history_context: Any, recorded_by_id: int | None, wording_version: str
) -> UpsertBatch:
    index = ClientIndex.load([item.key for item in items], lock=True,
                             with_consent=any(item.consents for item in items))
    results: list[UpsertOutcome] = []
    for item in items:
        try:
            status, changed, client = _apply(index, item)
        except _Refused as refused:
            results.append(UpsertOutcome(status="refused", reason=refused.message, field_name=refused.field,
                                         extra=refused.extra))
            continue
        results.append(UpsertOutcome(status=status, changed_fields=changed, _client=client))
    batch = _write(index, history_context=history_context, recorded_by_id=recorded_by_id,
                   wording_version=wording_version)
    for result in results:
        if result._client is not None:
            result.customer_id = result._client.pk
            result._client = None
    batch.results = results
    logger.info("customers.upserted_many items=%s created=%s updated=%s", len(items), len(batch.created),
                len(batch.updated))
    return batch


# --- Applying one item to the batch's picture ---------------------------------------------------------------------


def _apply(index: ClientIndex, item: ClientItem) -> tuple[str, list[str], ClientState]:
    """Apply one item; its outcome (created, updated, unchanged) and the columns it changed. A refusal (_Refused)
    is raised before anything changes."""
    if item.source not in SOURCE_SYSTEMS:
        raise _Refused("source", f"Unknown source system {item.source!r}.")
    if not item.key:
        raise _Refused(None, "A client needs at least an identity, an email or a phone number to be found again.")
    try:
        client, by_verified_identity = index.match(item.key)
    except MatchConflict as conflict:
        raise _Refused("identities", conflict.message, {"identities": conflict.identities}) from None
    given = {name: value for name, value in item.values.items() if value is not None and value != ""}
    if item.key.email:
        given["email"] = item.key.email
    if item.key.phone:
        given["phone"] = item.key.phone

    if client is None:
        fields = dict(BLANK_VALUES) | given
        fields["preferences"] = dict(item.preferences)
        client = ClientState(pk=None, public_id=item.key.public_id, fields=fields, original=None)
        index.add(client)
        index.touch(client)
        # The record the client was created from owns them.
        for key in item.key.identities:
            index.by_identity[key] = client
            index.verified[key] = True
            client.new_identities[key] = True
        _record_consent(client, item)
        return "created", sorted(given), client

    owns = item.may_update and (item.is_verified or by_verified_identity)
    applied: dict[str, Any] = {}
    proposals: dict[str, Any] = {}
    for name, value in given.items():
        current = client.fields[name]
        if current == value:
            continue
        if not owns and (name in CONTACT_FIELDS or current not in (None, "") or not item.may_update):
            proposals[name] = value
            continue
        if name == "email":
            other = index.by_email.get(value)
            if other is not None and other is not client:
                raise _Refused("email", f"Another client already uses {value}; merge the two clients first.",
                               {"fields": {"email": [f"{value} belongs to another client."]}})
        applied[name] = value
    changed = list(applied)
    for name, value in applied.items():
        if name in ("email", "phone"):
            index.move_contact(client, name, value)
        else:
            client.fields[name] = value
    if item.preferences and item.may_update:
        merged = {key: list(values) for key, values in client.fields["preferences"].items()}
        for key, values in item.preferences.items():
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *values]))
        if merged != client.fields["preferences"]:
            client.fields["preferences"] = merged
            changed.append("preferences")
    for name, value in proposals.items():
        current = client.fields[name]
        client.conflicts[(item.source, name.removesuffix("_id"), str(value)[:254])] = (
            item.external_id[:128], str(current if current is not None else "")[:254],
        )
    for key in item.key.identities:
        if key not in index.by_identity:
            index.by_identity[key] = client
            index.verified[key] = owns
            client.new_identities[key] = owns
            changed.append("identities")
    if _record_consent(client, item):
        changed.append("consent")
    if changed or proposals:
        index.touch(client)
    return ("updated" if changed else "unchanged"), sorted(set(changed)), client


def _record_consent(client: ClientState, item: ClientItem) -> bool:
    """Add the item's consent answers that are news to the client's pending ledger; True when one was."""
    added = False
    for answer in item.consents:
        moments = client.moments.setdefault(answer.channel, set())
        if not consent_answer_is_news(answer, state=client.consent, moments=moments):
            continue
        moments.add(answer.occurred_at)
        client.new_events[(answer.channel, answer.occurred_at)] = (answer, item.source)
        latest = client.latest.get(answer.channel)
        if latest is None or answer.occurred_at >= latest:
            client.latest[answer.channel] = answer.occurred_at
            client.consent[consent_key(answer.channel, answer.purpose)] = answer.is_granted
        added = True
    return added


# --- Writing the batch --------------------------------------------------------------------------------------------


def _write(index: ClientIndex, *, history_context: Any, recorded_by_id: int | None,
           wording_version: str) -> UpsertBatch:
    batch = UpsertBatch(results=[])
    names = list(WRITTEN_FIELDS)

    # Updates first: an email a client gives up in this batch may be taken by a client the batch creates.
    updated = [(client, client.changed_fields()) for client in index.clients if not client.is_new]
    updated = [(client, changed) for client, changed in updated if changed]
    created = [client for client in index.clients if client.is_new]
    with _quiet(history_context):
        update_rows(Customer._meta.db_table, WRITTEN_FIELDS,
                    [(client.pk, *(client.fields[name] for name in names)) for client, _changed in updated],
                    assignments=["updated_at = statement_timestamp()"])
        for client in created:
            client.public_id = client.public_id or uuid.uuid4()
        # A created client's ledger holds only this batch's events, so its state is the one _record_consent kept
        # by the ledger's rule (the latest moment per channel decides): written with the row, not derived again
        # (a second UPDATE of thousands of fresh rows, with their indexes, would cost more than the INSERT).
        returned = insert_rows(
            Customer._meta.db_table,
            {"public_id": "uuid", **WRITTEN_FIELDS, "consent": "jsonb"},
            [(client.public_id, *(client.fields[name] for name in names), client.consent) for client in created],
            constants={
                "created_at": "statement_timestamp()", "updated_at": "statement_timestamp()",
                "value_tier": f"'{ValueTier.PROSPECT.value}'", "lifetime_value": "0", "order_count": "0",
                "average_order_value": "0", "is_anonymized": "false",
            },
            suffix="RETURNING public_id, id",
        )
    pks = dict(returned)
    for client in created:
        client.pk = pks[client.public_id]
    batch.updated = {client.pk: {name: client.original[name] for name in changed} for client, changed in updated}
    batch.created = [client.pk for client in created]

    batch.identities_added = _write_identities(index)
    _write_conflicts(index)
    events = [
        ConsentEventItem(customer_id=client.pk, channel=channel, purpose=answer.purpose,
                         is_granted=answer.is_granted, occurred_at=occurred_at, source=source,
                         recorded_by_id=recorded_by_id, wording_version=wording_version)
        for client in index.clients
        for (channel, occurred_at), (answer, source) in client.new_events.items()
    ]
    consent_changed: list[int] = []
    if events:
        added = consents_record_many(events, refresh=False)
        existing = {client.pk for client in index.clients if not client.is_new}
        batch.consent_events_added = [pk for pk, customer in added if customer in existing]
        with _quiet(history_context):
            consent_changed = consent_refresh_many(
                customer_ids=sorted({customer for _pk, customer in added if customer in existing})
            )

    if history_context is not None:
        created_ids = set(batch.created)
        changed_ids = sorted((set(batch.updated) | set(consent_changed)) - created_ids)
        customers_history_record(changed_ids, label="update", context=history_context)
        customers_history_record(batch.created, label="insert", context=history_context)
    return batch


def _quiet(history_context: Any) -> AbstractContextManager[Any]:
    """The history triggers set aside when the caller's context is given (the rows are written set-based)."""
    return pgtrigger.ignore(*HISTORY_TRIGGERS) if history_context is not None else nullcontext()


def _write_identities(index: ClientIndex) -> list[int]:
    wanted = {key: (client, verified) for client in index.clients
              for key, verified in client.new_identities.items()}
    if not wanted:
        return []
    inserted = insert_rows(
        CustomerIdentity._meta.db_table,
        {"customer_id": "bigint", "system": "text", "external_id": "text", "is_verified": "boolean"},
        [(client.pk, system, external_id, verified) for (system, external_id), (client, verified) in wanted.items()],
        constants={"created_at": "statement_timestamp()"},
        suffix="ON CONFLICT DO NOTHING RETURNING system, external_id, id, customer_id",
    )
    found = {(system, external_id): (pk, customer) for system, external_id, pk, customer in inserted}
    # Another writer took the ids that were not inserted meanwhile: they must not point at another client.
    for key, (pk, customer, _verified) in identities_of([key for key in wanted if key not in found]).items():
        found[key] = (pk, customer)
    added = []
    for key, (client, _verified) in wanted.items():
        identity, customer = found.get(key, (None, None))
        if customer != client.pk:
            raise _Race(f"{key[0]}:{key[1]}")
        if not client.is_new:
            added.append(identity)
    return added


def _write_conflicts(index: ClientIndex) -> None:
    rows = [
        ContactConflict(customer_id=client.pk, system=system, external_id=external_id, field=name,
                        current_value=current, proposed_value=proposed)
        for client in index.clients
        for (system, name, proposed), (external_id, current) in client.conflicts.items()
    ]
    if rows:
        # A proposal already open (every later order of a guest checkout) stays one conflict to review.
        ContactConflict.objects.bulk_create(rows, ignore_conflicts=True)
        logger.info("customers.contact_conflicts_kept conflicts=%s", len(rows))
