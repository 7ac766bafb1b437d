"""The clients a chunk is about (_Picture), held in memory and matched with customer_upsert's rules."""


from __future__ import annotations

import uuid

from customers.models import ConsentEvent, ConsentPurpose, Customer
from imports.kinds.customers import (
    CleanCustomer,
    RowError,
)
from imports.pipeline.constants import (
    BLANK_VALUES,
    WRITTEN_FIELDS,
)
from imports.pipeline.sql import _identities_of
from imports.pipeline.state import _Client


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
