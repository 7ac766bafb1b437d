"""Finding the one client a record from any system is about, and creating them when there is none."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from core.errors import ApplicationError
from core.external_ids import external_id_check
from customers.models import (
    Advisor,
    Boutique,
    ContactConflict,
    Customer,
    CustomerIdentity,
    Persona,
    SourceSystem,
)
from customers.normalizers import (
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_preferences,
)

logger = logging.getLogger(__name__)

IDENTITY_MAX_LENGTH = CustomerIdentity._meta.get_field("external_id").max_length



@dataclass
class UpsertResult:
    customer: Customer
    created: bool
    changed_fields: list[str] = field(default_factory=list)


# The fields that say who the client is and how to reach them: written only by a source that owns the record.
CONTACT_FIELDS = ("first_name", "last_name", "email", "phone")


@dataclass
class _Match:
    customer: Customer
    # Found through a verified identity of the record's own (see CustomerIdentity.is_verified).
    by_verified_identity: bool


def _find_by_identities(identities: dict[tuple[str, str], None]) -> _Match | None:
    if not identities:
        return None
    customer_ids = set()
    is_verified = False
    for system, external_id in identities:
        matches = CustomerIdentity.objects.filter(system=system, external_id=external_id)
        for customer_id, verified in matches.values_list("customer_id", "is_verified"):
            customer_ids.add(customer_id)
            is_verified = is_verified or verified
    if len(customer_ids) > 1:
        raise ApplicationError(
            "These identities belong to different clients; merge the clients first.",
            extra={"identities": [f"{system}:{external_id}" for system, external_id in identities]},
        )
    if not customer_ids:
        return None
    return _Match(Customer.objects.select_for_update().get(pk=customer_ids.pop()), by_verified_identity=is_verified)


def _find_by_phone(phone: str, email: str) -> Customer | None:
    # A shared phone (a couple, a household) is not proof of one person: match only an unambiguous record whose
    # email does not contradict the incoming one.
    candidates = list(Customer.objects.filter(phone=phone).values_list("pk", "email")[:2])
    if len(candidates) != 1:
        return None
    pk, candidate_email = candidates[0]
    if email and candidate_email and candidate_email != email:
        return None
    return Customer.objects.select_for_update().get(pk=pk)


def _match(identities: dict[tuple[str, str], None], email: str, phone: str) -> _Match | None:
    match = _find_by_identities(identities)
    if match is not None:
        return match
    customer = Customer.objects.select_for_update().filter(email=email).first() if email else None
    if customer is None and phone:
        customer = _find_by_phone(phone, email)
    return _Match(customer, by_verified_identity=False) if customer is not None else None


def customer_find(
    *,
    public_id: str | None = None,
    identities: Mapping[str, str] | None = None,
    email: str | None = None,
    phone: str | None = None,
    region: str | None = None,
) -> Customer | None:
    """The client a record names, found by the golden record's rule as customer_upsert finds them (Atelier's own id
    or another identity, then the normalized email, then a phone that is one client's and whose email does not
    contradict), or None; an Atelier id no client has (merged away) falls back to the other keys;
    never creates nor changes anyone. Refuses (ApplicationError) identities of different clients, an unknown system,
    and an email or phone that cannot be read. Locks the client found, as customer_upsert does, when called in a
    transaction (select_for_update needs one)."""
    wanted: dict[tuple[str, str], None] = {}
    for system, value in (identities or {}).items():
        if system not in SourceSystem.values:
            raise ApplicationError.for_field("identities", f"Unknown system {system!r}.")
        text = external_id_check(value, field="identities", max_length=IDENTITY_MAX_LENGTH)
        if text:
            wanted[(system, text)] = None
    email = normalize_email(email)
    phone = normalize_phone(phone, region=region)
    own = None
    if public_id:
        try:
            own = Customer.objects.select_for_update().filter(public_id=uuid.UUID(str(public_id).strip())).first()
        except ValueError:
            raise ApplicationError.for_field("public_id", f"{public_id!r} is not an Atelier client id.") from None
    if own is not None:
        # Atelier's own id settles who it is; other identities of someone else are a conflict, not a fallback.
        other = _find_by_identities(wanted)
        if other is not None and other.customer.pk != own.pk:
            raise ApplicationError(
                "These identities belong to different clients; merge the clients first.",
                extra={"identities": [f"atelier:{own.public_id}", *(f"{system}:{ident}" for system, ident in wanted)]},
            )
        return own
    if not (wanted or email or phone):
        return None
    match = _match(wanted, email, phone)
    return match.customer if match is not None else None


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

    Who may change an existing client is the golden record's rule, here and nowhere else:
    - `is_verified` says the source vouches that the email and phone are the person's own (the client at the till,
      the house CRM, an ecommerce account with a verified email). A guest checkout does not.
    - A record owns the client when it created them, was linked by a verified match, or is verified now. Only an
      owner changes the client's name, email and phone; a record that does not own them is linked (its identity
      unverified), fills blanks of the other fields, and every other difference waits for staff as a
      ContactConflict.
    - `may_update` False (an interaction or an order naming its client) finds or creates the client and never
      changes one found; the differences are kept as conflicts too.
    """
    if source not in SourceSystem.values:
        raise ApplicationError.for_field("source", f"Unknown source system {source!r}.")
    wanted: dict[tuple[str, str], None] = {}
    for system, value in [(source, external_id), *(identities or {}).items()]:
        if system not in SourceSystem.values:
            raise ApplicationError.for_field("identities", f"Unknown system {system!r}.")
        # The house's one rule for ids: text or a whole number, printable, within the column.
        text = external_id_check(value, field="external_id" if system == source else "identities",
                                 max_length=IDENTITY_MAX_LENGTH)
        if text:
            wanted[(system, text)] = None
    email = normalize_email(email)
    phone = normalize_phone(phone, region=home_boutique.country if home_boutique else country)
    country = normalize_country(country) if country is not None else None
    if preferences is not None:
        preferences = normalize_preferences(preferences)
    if not (wanted or email or phone):
        raise ApplicationError("A client needs at least an identity, an email or a phone number to be found again.")

    values: dict[str, Any] = {
        "email": email,
        "phone": phone,
        "first_name": first_name,
        "last_name": last_name,
        "birth_date": birth_date,
        "language": language,
        "city": city,
        "country": country,
        "home_boutique": home_boutique,
        "advisor": advisor,
        "persona": persona,
        "advisor_notes": advisor_notes,
    }
    given = {
        name: value.strip() if isinstance(value, str) else value
        for name, value in values.items()
        if value is not None and value != ""
    }

    # Two callers may create the same new client at once; the loser of the race finds the winner's row.
    for attempt in range(3):
        try:
            # The history's "who" comes from the entry point's pghistory.context (an import batch, a sync run, the
            # API key): pghistory keeps a context until the transaction ends, so a service must not set one itself.
            with transaction.atomic():
                result = _upsert_once(wanted, email, phone, given, preferences, source=source,
                                      external_id=str(external_id or "").strip(), is_verified=is_verified,
                                      may_update=may_update)
            break
        except IntegrityError as error:
            if attempt == 2:
                raise ApplicationError("The client could not be saved; please try again.") from error
    logger.info(
        "customers.upserted customer_id=%s created=%s changed=%s",
        result.customer.pk,
        result.created,
        ",".join(result.changed_fields),
    )
    return result


def _upsert_once(
    wanted: dict[tuple[str, str], None],
    email: str,
    phone: str,
    given: dict[str, Any],
    preferences: dict[str, list[str]] | None,
    *,
    source: str,
    external_id: str,
    is_verified: bool,
    may_update: bool,
) -> UpsertResult:
    match = _match(wanted, email, phone)
    if match is None:
        customer = Customer.objects.create(**given, preferences=preferences or {})
        # The record the client was created from owns them.
        CustomerIdentity.objects.bulk_create(
            [CustomerIdentity(customer=customer, system=system, external_id=value, is_verified=True)
             for system, value in wanted]
        )
        return UpsertResult(customer=customer, created=True, changed_fields=sorted(given))

    customer = match.customer
    owns = may_update and (is_verified or match.by_verified_identity)
    changed: list[str] = []
    proposals: dict[str, str] = {}
    for name, value in given.items():
        current = getattr(customer, name)
        if current == value:
            continue
        if not owns and (name in CONTACT_FIELDS or current not in (None, "") or not may_update):
            proposals[name] = value.pk if hasattr(value, "pk") else value
            continue
        if (
            name == "email"
            and Customer.objects.filter(email=value).exclude(pk=customer.pk).exists()
        ):
            raise ApplicationError(
                "Another client already uses this email address; merge the two clients first.",
                extra={"fields": {"email": [f"{value} belongs to another client."]}},
            )
        setattr(customer, name, value)
        changed.append(name)
    if preferences and may_update:
        merged = {key: list(values) for key, values in customer.preferences.items()}
        for key, items in preferences.items():
            merged[key] = list(dict.fromkeys([*merged.get(key, []), *items]))
        if merged != customer.preferences:
            customer.preferences = merged
            changed.append("preferences")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    if proposals:
        _conflicts_keep(customer, proposals, system=source, external_id=external_id)
    known = set(customer.identities.values_list("system", "external_id"))
    missing = [key for key in wanted if key not in known]
    if missing:
        CustomerIdentity.objects.bulk_create(
            [CustomerIdentity(customer=customer, system=system, external_id=value, is_verified=owns)
             for system, value in missing]
        )
        changed.append("identities")
    return UpsertResult(customer=customer, created=False, changed_fields=changed)


def _conflicts_keep(customer: Customer, proposals: dict[str, Any], *, system: str, external_id: str) -> None:
    """Keep what a record proposed and was not applied, once per proposal (a repeat finds the open one)."""
    rows = [
        ContactConflict(
            customer=customer, system=system, external_id=external_id[:128], field=name,
            current_value=str(getattr(customer, f"{name}_id" if name in _RELATIONS else name) or "")[:254],
            proposed_value=str(value)[:254],
        )
        for name, value in proposals.items()
    ]
    ContactConflict.objects.bulk_create(rows, ignore_conflicts=True)
    logger.info("customers.contact_conflicts_kept customer_id=%s fields=%s system=%s", customer.pk,
                ",".join(sorted(proposals)), system)


_RELATIONS = ("home_boutique", "advisor", "persona")
