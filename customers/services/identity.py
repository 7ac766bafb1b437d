"""customer_clean: one record from any system, cleaned into the item customers_upsert_many takes; customer_upsert:
that item handed to it as a batch of one."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from core.errors import ApplicationError
from core.external_ids import external_id_check
from customers.matching import ClientIndex, ClientKey, MatchConflict
from customers.models import Advisor, Boutique, Customer, CustomerIdentity, Persona, SourceSystem
from customers.normalizers import (
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_preferences,
)
from customers.services.upsert import ClientItem, customers_upsert_many

logger = logging.getLogger(__name__)

IDENTITY_MAX_LENGTH = CustomerIdentity._meta.get_field("external_id").max_length


@dataclass
class UpsertResult:
    customer: Customer
    created: bool
    changed_fields: list[str] = field(default_factory=list)


def _identity_keys(
    identities: Mapping[str, str] | None, *, own: tuple[str, str | None] | None = None
) -> dict[tuple[str, str], None]:
    """The (system, id) pairs a record names, its own first, each held to the house's one rule for ids (text or a
    whole number, printable, within the column); blank ones dropped. Refuses an unknown system."""
    wanted: dict[tuple[str, str], None] = {}
    for system, value in [*([own] if own else []), *(identities or {}).items()]:
        if system not in SourceSystem.values:
            raise ApplicationError.for_field("identities", f"Unknown system {system!r}.")
        text = external_id_check(value, field="external_id" if own and system == own[0] else "identities",
                                 max_length=IDENTITY_MAX_LENGTH)
        if text:
            wanted[(system, text)] = None
    return wanted


def customer_clean(
    *,
    source: str,
    external_id: str | None = None,
    identities: Mapping[str, str] | None = None,
    email: str | None = None,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    birth_date: dt.date | None = None,
    language: str | None = None,
    city: str | None = None,
    country: str | None = None,
    home_boutique: Boutique | None = None,
    advisor: Advisor | None = None,
    persona: Persona | None = None,
    preferences: Mapping[str, Any] | None = None,
    advisor_notes: str | None = None,
    is_verified: bool = True,
    may_update: bool = True,
) -> ClientItem:
    """One record about a client, cleaned the house's one way into the ClientItem customers_upsert_many takes
    (customer_upsert's arguments, documented there): ids checked, email, phone (read in the home boutique's country,
    else the record's), country and preferences normalized, text stripped. Raises ApplicationError naming the field
    at fault. For a caller that finds or creates a batch of clients at once (a POS page); customer_upsert is this
    and a batch of one."""
    if source not in SourceSystem.values:
        raise ApplicationError.for_field("source", f"Unknown source system {source!r}.")
    wanted = _identity_keys(identities, own=(source, external_id))
    email = normalize_email(email)
    phone = normalize_phone(phone, region=home_boutique.country if home_boutique else country)
    country = normalize_country(country) if country is not None else None
    if preferences is not None:
        preferences = normalize_preferences(preferences)
    if not (wanted or email or phone):
        raise ApplicationError("A client needs at least an identity, an email or a phone number to be found again.")

    values: dict[str, Any] = {
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date,
        "language": language,
        "city": city,
        "country": country,
        "home_boutique_id": home_boutique.pk if home_boutique else None,
        "advisor_id": advisor.pk if advisor else None,
        "persona_id": persona.pk if persona else None,
        "advisor_notes": advisor_notes,
    }
    return ClientItem(
        source=source,
        key=ClientKey(identities=tuple(wanted), email=email, phone=phone),
        external_id=str(external_id or "").strip(),
        values={name: value.strip() if isinstance(value, str) else value for name, value in values.items()},
        preferences=preferences or {},
        is_verified=is_verified,
        may_update=may_update,
    )


@transaction.atomic
def customer_upsert(
    *,
    source: str,
    external_id: str | None = None,
    identities: Mapping[str, str] | None = None,
    email: str | None = None,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    birth_date: dt.date | None = None,
    language: str | None = None,
    city: str | None = None,
    country: str | None = None,
    home_boutique: Boutique | None = None,
    advisor: Advisor | None = None,
    persona: Persona | None = None,
    preferences: Mapping[str, Any] | None = None,
    advisor_notes: str | None = None,
    is_verified: bool = True,
    may_update: bool = True,
) -> UpsertResult:
    """Find the client a record is about (identity, then normalized email, then phone) and create or update them.

    `source`/`external_id` is the record's own identity; `identities` adds ids the record knows in other systems
    ({"pos": "123"}). Blank or missing values never erase what Atelier already knows. Never creates a second
    client for an identity: the unique constraint on identities settles races between concurrent callers.

    Who may change an existing client is the golden record's rule, applied by customers_upsert_many:
    - `is_verified` says the source vouches that the email and phone are the person's own (the client at the till,
      the house CRM, an ecommerce account with a verified email). A guest checkout does not.
    - A record owns the client when it created them, was linked by a verified match, or is verified now. Only an
      owner changes the client's name, email and phone; a record that does not own them is linked (its identity
      unverified), fills blanks of the other fields, and every other difference waits for staff as a
      ContactConflict.
    - `may_update` False (an interaction or an order naming its client) finds or creates the client and never
      changes one found; the differences are kept as conflicts too.
    """
    item = customer_clean(
        source=source,
        external_id=external_id,
        identities=identities,
        email=email,
        phone=phone,
        first_name=first_name,
        last_name=last_name,
        birth_date=birth_date,
        language=language,
        city=city,
        country=country,
        home_boutique=home_boutique,
        advisor=advisor,
        persona=persona,
        preferences=preferences,
        advisor_notes=advisor_notes,
        is_verified=is_verified,
        may_update=may_update,
    )
    # The history's "who" comes from the entry point's pghistory.context (an import batch, a sync run, the API key):
    # pghistory keeps a context until the transaction ends, so a service must not set one itself.
    (outcome,) = customers_upsert_many([item]).results
    if outcome.status == "refused":
        raise ApplicationError(outcome.reason, extra=outcome.extra)
    result = UpsertResult(
        customer=Customer.objects.get(pk=outcome.customer_id),
        created=outcome.status == "created",
        changed_fields=[name.removesuffix("_id") if name in _RELATION_COLUMNS else name
                        for name in outcome.changed_fields],
    )
    logger.info(
        "customers.upserted customer_id=%s created=%s changed=%s",
        result.customer.pk,
        result.created,
        ",".join(result.changed_fields),
    )
    return result


_RELATION_COLUMNS = ("home_boutique_id", "advisor_id", "persona_id")


def customer_find(
    *,
    public_id: str | None = None,
    identities: Mapping[str, str] | None = None,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
) -> Customer | None:
    """The client a record names, found by the golden record's one matching rule (customers.matching: Atelier's own
    id or another identity, then the normalized email, then a phone that is one client's and whose email does not
    contradict), or None; an Atelier id no client has (merged away) falls back to the other keys. Never creates nor
    changes anyone. Refuses (ApplicationError) identities of different clients, an unknown system, and an email or
    phone that cannot be read. Locks the client found, as customer_upsert does, when called in a transaction."""
    wanted = _identity_keys(identities)
    own_id = None
    if public_id:
        try:
            own_id = uuid.UUID(str(public_id).strip())
        except ValueError:
            raise ApplicationError.for_field("public_id", f"{public_id!r} is not an Atelier client id.") from None
    key = ClientKey(public_id=own_id, identities=tuple(wanted), email=normalize_email(email),
                    phone=normalize_phone(phone, region=region))
    if not key:
        return None
    index = ClientIndex.load([key], with_fields=False, lock=transaction.get_connection().in_atomic_block)
    try:
        client, _verified = index.match(key)
    except MatchConflict as conflict:
        raise ApplicationError(conflict.message, extra={"identities": conflict.identities}) from None
    return None if client is None else Customer.objects.get(pk=client.pk)
