"""Finding the clients rows of an order, interaction or response file are about, a chunk at a time.

The same rules as customer_upsert and the client import (imports.pipeline.picture): Atelier's own id first, then an
identity (system, external id), then the normalized email, then a phone that identifies exactly one client whose
email does not contradict the row's. A handful of queries per chunk, whatever its size. These files never create
clients: a row whose client is unknown is refused, and the message says to import the clients first.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from customers.models import Customer
from imports.pipeline.sql import _identities_of


@dataclass(frozen=True)
class ClientKey:
    """How a row names its client; any of the parts may be blank."""

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


class ClientNotFound(Exception):
    """No single client answers to the key; the message says why in words a person understands."""


def find_clients(keys: Iterable[ClientKey]) -> dict[ClientKey, int | ClientNotFound]:
    """Each key's client id, or a ClientNotFound saying why there is none (unknown, or ids of different clients)."""
    keys = list(dict.fromkeys(key for key in keys if key))
    if not keys:
        return {}
    identities = _identities_of(list({identity for key in keys for identity in key.identities}))
    public_ids = list({key.public_id for key in keys if key.public_id})
    emails = list({key.email for key in keys if key.email})
    phones = list({key.phone for key in keys if key.phone})
    by_public_id = dict(Customer.objects.filter(public_id__in=public_ids).values_list("public_id", "pk"))
    # `email <> ''` repeats the unique index's condition so that PostgreSQL uses it (see picture.py).
    by_email = dict(Customer.objects.filter(email__in=emails).exclude(email="").values_list("email", "pk"))
    by_phone: dict[str, list[tuple[int, str]]] = {}
    for pk, phone, email in Customer.objects.filter(phone__in=phones).values_list("pk", "phone", "email"):
        by_phone.setdefault(phone, []).append((pk, email))

    found: dict[ClientKey, int | ClientNotFound] = {}
    for key in keys:
        owners = {identities[identity][1] for identity in key.identities if identity in identities}
        if key.public_id:
            if key.public_id not in by_public_id:
                found[key] = ClientNotFound(f"No client has the Atelier id {key.public_id}; import the clients first.")
                continue
            owners.add(by_public_id[key.public_id])
        if len(owners) > 1:
            found[key] = ClientNotFound(f"{key.describe()} belong to different clients; merge the clients first.")
            continue
        client = next(iter(owners), None)
        if client is None and key.email:
            client = by_email.get(key.email)
        if client is None and key.phone:
            candidates = by_phone.get(key.phone, [])
            # A shared phone (a couple, a household) is not proof of one person.
            if len(candidates) == 1 and not (key.email and candidates[0][1] and candidates[0][1] != key.email):
                client = candidates[0][0]
        found[key] = client if client is not None else ClientNotFound(
            f"No client answers to {key.describe()}; import the clients first."
        )
    return found
