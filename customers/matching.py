"""Finding the client a record is about: the house's one matching rule, over a batch loaded in a few statements.

The rule: Atelier's own id (public id) and the record's identities (system, external id) first, and they must not
name two different clients; then the normalized email; then a phone that identifies exactly one client whose email
does not contradict the record's (a shared phone, a couple or a household, is not proof of one person).

A ClientIndex holds the clients a batch may be about (one query per kind of key) and applies the rule in memory,
so that a batch of 5,000 records costs a handful of statements; customers_upsert_many changes it as it applies the
batch in order (a person twice in a file is one client), and the files that only name clients (orders,
interactions, responses) look their clients up in it.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction

from core.bulk import stage_rows
from customers.models import ConsentEvent, ConsentPurpose, Customer, CustomerIdentity

# The client's fields a batch writes, as columns (foreign keys by id), with their PostgreSQL types.
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
    "preferences": "jsonb",
}
BLANK_VALUES: dict[str, Any] = {
    name: None if kind in ("date", "bigint") else "" for name, kind in WRITTEN_FIELDS.items()
} | {"preferences": {}}


@dataclass(frozen=True)
class ClientKey:
    """How a record names its client; any of the parts may be blank."""

    public_id: uuid.UUID | None = None
    identities: tuple[tuple[str, str], ...] = ()
    email: str = ""
    phone: str = ""

    def __bool__(self) -> bool:
        return bool(self.public_id or self.identities or self.email or self.phone)

    def describe(self) -> str:
        parts = [f"Atelier id {self.public_id}"] if self.public_id else []
        parts += [f"{system} id {external_id}" for system, external_id in self.identities]
        parts += [part for part in (self.email, self.phone) if part]
        return ", ".join(parts)


class MatchConflict(Exception):
    """The record's ids name different clients: refused rather than guessed."""

    def __init__(self, key: ClientKey) -> None:
        listed = ", ".join(f"{system}:{external_id}" for system, external_id in key.identities)
        super().__init__(
            f"These ids ({listed or key.describe()}) belong to different clients; merge the clients first."
        )
        self.message = str(self)
        self.identities = [f"{system}:{external_id}" for system, external_id in key.identities]


@dataclass
class ClientState:
    """One client as a batch sees it: what the database held (`original`, None for a client the batch creates)
    and what the batch's records made of it."""

    pk: int | None
    public_id: uuid.UUID | None
    fields: dict[str, Any]
    original: dict[str, Any] | None
    consent: dict[str, bool] = field(default_factory=dict)
    # The consent ledger's marketing moments per channel, and the latest, for telling a replayed answer.
    moments: dict[str, set[dt.datetime]] = field(default_factory=dict)
    latest: dict[str, dt.datetime] = field(default_factory=dict)
    new_identities: dict[tuple[str, str], bool] = field(default_factory=dict)  # key -> is_verified
    # (channel, moment) -> (the ConsentAnswer, the record's source system)
    new_events: dict[tuple[str, dt.datetime], Any] = field(default_factory=dict)
    conflicts: dict[tuple[str, str, str], tuple[str, str]] = field(default_factory=dict)
    is_touched: bool = False

    @property
    def is_new(self) -> bool:
        return self.original is None

    def changed_fields(self) -> list[str]:
        if self.original is None:
            return []
        return [name for name in WRITTEN_FIELDS if self.fields[name] != self.original[name]]


def identities_of(keys: list[tuple[str, str]]) -> dict[tuple[str, str], tuple[int, int, bool]]:
    """(system, external id) -> (identity id, client id, is_verified), for the keys that exist: one query."""
    if not keys:
        return {}
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        stage = stage_rows({"system": "text", "external_id": "text"}, keys)
        cursor.execute(
            f"SELECT i.system, i.external_id, i.id, i.customer_id, i.is_verified "  # noqa: S608
            f"FROM {CustomerIdentity._meta.db_table} AS i "
            f"JOIN {stage} AS k ON i.system = k.system AND i.external_id = k.external_id"
        )
        return {(system, external_id): (pk, customer, verified)
                for system, external_id, pk, customer, verified in cursor}


class ClientIndex:
    """The clients a batch may be about, with the indexes the matching rule needs."""

    def __init__(self) -> None:
        self.clients: list[ClientState] = []  # touched, in the order the batch first touched them
        self.by_pk: dict[int, ClientState] = {}
        self.by_identity: dict[tuple[str, str], ClientState] = {}
        self.verified: dict[tuple[str, str], bool] = {}
        self.by_email: dict[str, ClientState] = {}
        self.by_phone: dict[str, list[ClientState]] = {}
        self.by_public_id: dict[uuid.UUID, ClientState] = {}

    @classmethod
    def load(cls, keys: Iterable[ClientKey], *, with_fields: bool = True, lock: bool = False,
             with_consent: bool = False) -> ClientIndex:
        """The clients the keys may name: one query for the identities, one for the emails, phones and public ids
        together, one for the clients (locked FOR UPDATE with `lock`), and one for their marketing consent ledger
        (`with_consent`)."""
        index = cls()
        keys = [key for key in keys if key]
        identities = identities_of(list({identity for key in keys for identity in key.identities}))
        emails = list({key.email for key in keys if key.email})
        phones = list({key.phone for key in keys if key.phone})
        public_ids = list({key.public_id for key in keys if key.public_id})
        wanted = {customer for _pk, customer, _verified in identities.values()}
        # `email <> ''` repeats the unique index's condition: PostgreSQL proves it from an IN list of at most 100
        # values only, and without that index a batch's 5,000 emails would scan the whole table.
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
            wanted.update(pk for (pk,) in lookups[0].union(*lookups[1:]))
        if not wanted:
            return index
        names = list(WRITTEN_FIELDS) if with_fields else ["email", "phone"]
        clients = Customer.objects.filter(pk__in=wanted).order_by("pk")
        if lock:
            clients = clients.select_for_update(of=("self",))
        for values in clients.values("pk", "public_id", "consent", *names):
            fields = {name: values[name] for name in names}
            if with_fields:
                fields["preferences"] = fields["preferences"] or {}
            client = ClientState(pk=values["pk"], public_id=values["public_id"], fields=fields,
                                 original=dict(fields), consent=dict(values["consent"] or {}))
            index.add(client)
        if with_consent:
            for customer, channel, occurred_at in ConsentEvent.objects.filter(
                customer_id__in=wanted, purpose=ConsentPurpose.MARKETING
            ).values_list("customer_id", "channel", "occurred_at"):
                client = index.by_pk[customer]
                client.moments.setdefault(channel, set()).add(occurred_at)
                if channel not in client.latest or occurred_at > client.latest[channel]:
                    client.latest[channel] = occurred_at
        for key, (_pk, customer, verified) in identities.items():
            if customer in index.by_pk:  # a client merged away between the two queries is not there
                index.by_identity[key] = index.by_pk[customer]
                index.verified[key] = verified
        return index

    def add(self, client: ClientState) -> None:
        if client.pk is not None:
            self.by_pk[client.pk] = client
        if client.public_id:
            self.by_public_id[client.public_id] = client
        if client.fields["email"]:
            self.by_email[client.fields["email"]] = client
        if client.fields["phone"]:
            self.by_phone.setdefault(client.fields["phone"], []).append(client)

    def touch(self, client: ClientState) -> None:
        if not client.is_touched:
            client.is_touched = True
            self.clients.append(client)

    def match(self, key: ClientKey) -> tuple[ClientState | None, bool]:
        """The client the key names, or None; and whether a verified identity of the key's found them.
        Raises MatchConflict when the key's ids name different clients."""
        by_public_id = self.by_public_id.get(key.public_id) if key.public_id else None
        owners = {id(self.by_identity[identity]): self.by_identity[identity]
                  for identity in key.identities if identity in self.by_identity}
        if len(owners) > 1 or (by_public_id and owners and list(owners.values()) != [by_public_id]):
            raise MatchConflict(key)
        client = by_public_id or next(iter(owners.values()), None)
        if client is not None:
            verified = any(self.verified.get(identity, False) for identity in key.identities
                           if self.by_identity.get(identity) is client)
            return client, verified
        if key.email:
            client = self.by_email.get(key.email)
        if client is None and key.phone:
            candidates = self.by_phone.get(key.phone, [])
            if len(candidates) == 1:
                candidate_email = candidates[0].fields["email"]
                if not (key.email and candidate_email and candidate_email != key.email):
                    client = candidates[0]
        return client, False

    def move_contact(self, client: ClientState, name: str, value: str) -> None:
        """Keep the email and phone indexes true when a client's email or phone changes."""
        old = client.fields[name]
        if name == "email":
            if old and self.by_email.get(old) is client:
                del self.by_email[old]
            if value:
                self.by_email[value] = client
        elif name == "phone":
            if old:
                self.by_phone[old] = [other for other in self.by_phone.get(old, []) if other is not client]
            if value:
                self.by_phone.setdefault(value, []).append(client)
        client.fields[name] = value
