"""Keeping a client in step with an outside system that holds client master data too (the house CRM), both ways.

Who wins when both sides changed a field is a table, not code paths: FIELD_OWNERS. The CRM owns the legal name and
the postal address, Atelier owns preferences and notes; for every other field the newer change wins, by the CRM's
own timestamp against the moment the field took its value in Atelier (from the client's history rows).

Provenance is a three-way merge on CustomerExternalState: the base holds what the system last held of each field.
Pulling writes what the system sent into the base, so a change that came from the CRM equals the base afterwards
and is never pushed back; pushing writes what was sent. No per-service bookkeeping is needed: whatever entry point
changed the client (admin, API, import, webhook, order metrics), a difference from the base is an Atelier change.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.errors import ApplicationError
from customers.models import Customer, CustomerExternalState, CustomerIdentity, SourceSystem
from customers.normalizers import normalize_country, normalize_email, normalize_phone
from customers.services.consent import consent_key, consent_record
from customers.services.identity import customer_upsert
from customers.services.privacy import customer_history_model
from customers.services.profile import customer_update

logger = logging.getLogger(__name__)

EXTERNAL = "external"  # the outside system owns the field
ATELIER = "atelier"  # Atelier owns the field
NEWER = "newer"  # the newer change by source timestamp wins

# Who wins a field both sides changed. Fields not named here: NEWER.
FIELD_OWNERS: dict[str, str] = {
    "first_name": EXTERNAL,
    "last_name": EXTERNAL,
    "city": EXTERNAL,
    "country": EXTERNAL,
    "preferences": ATELIER,
    "advisor_notes": ATELIER,
}
# What a pull may write (the master data), and what a push sends back (what Atelier owns or keeps best).
PULLED_FIELDS = ("first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country")
PUSHED_FIELDS = ("preferences", "advisor_notes", "value_tier", "advisor", "consent")


def field_owner(name: str) -> str:
    return FIELD_OWNERS.get(name, NEWER)


@dataclass(frozen=True)
class ConsentChange:
    """A consent as the outside system holds it, with the moment it was given or withdrawn there."""

    channel: str
    purpose: str
    is_granted: bool
    occurred_at: dt.datetime


@dataclass
class ExternalApplyResult:
    """What a pull did to one client: created, the fields it changed, the fields Atelier kept against it."""

    customer: Customer
    created: bool
    changed_fields: list[str] = field(default_factory=list)
    kept_fields: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.created or bool(self.changed_fields)


def _current(customer: Customer, name: str) -> Any:
    """A field's value as JSON, the way the base stores it."""
    if name == "birth_date":
        return customer.birth_date.isoformat() if customer.birth_date else ""
    if name == "advisor":
        return customer.advisor.user.email if customer.advisor_id else ""
    if name == "consent":
        return dict(customer.consent or {})
    if name == "preferences":
        return dict(customer.preferences or {})
    return getattr(customer, name) or ""


def _clean_pulled(values: dict[str, Any]) -> dict[str, Any]:
    """The system's values in Atelier's normal form (raises ApplicationError naming the field)."""
    unknown = set(values) - set(PULLED_FIELDS)
    if unknown:
        raise ApplicationError(f"These fields are not pulled: {', '.join(sorted(unknown))}.")
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name == "email":
            value = normalize_email(value)
        elif name == "country":
            value = normalize_country(value)
        elif name == "phone":
            value = normalize_phone(value, region=values.get("country") or None)
        elif name == "birth_date":
            try:
                value = dt.date.fromisoformat(value).isoformat() if value else ""
            except (TypeError, ValueError):
                raise ApplicationError.for_field("birth_date", f"{value!r} is not a date (YYYY-MM-DD).") from None
        elif not isinstance(value, str):
            raise ApplicationError.for_field(name, "Give a text value.")
        else:
            value = value.strip()
        cleaned[name] = value
    return cleaned


def field_changed_at(customer: Customer, name: str) -> dt.datetime:
    """When the client's `name` took its current value in Atelier: the oldest of the latest history rows that all
    hold it. Falls back to the client's last change when the history does not tell."""
    history = customer_history_model()
    attribute = "advisor_id" if name == "advisor" else name
    current = getattr(customer, attribute)
    moment = customer.updated_at
    rows = (
        history.objects.filter(pgh_obj_id=customer.pk)
        .order_by("-pgh_id")
        .values_list(attribute, "pgh_created_at")[:200]
    )
    for value, created_at in rows:
        if value != current:
            break
        moment = created_at
    return moment


@transaction.atomic
def customer_external_apply(
    *,
    system: str,
    external_id: str,
    remote_updated_at: dt.datetime,
    values: dict[str, Any],
    consents: list[ConsentChange] | tuple[ConsentChange, ...] = (),
) -> ExternalApplyResult:
    """Apply one client record pulled from an outside system: find the client by identity (then email or phone, as
    every entry point does), decide each field by FIELD_OWNERS and the base, record consents in the ledger, and
    remember what the system holds. Applying the same record twice changes nothing the second time."""
    if system not in SourceSystem.values:
        raise ApplicationError.for_field("system", f"Unknown system {system!r}.")
    external_id = (external_id or "").strip()
    if not external_id:
        raise ApplicationError.for_field("id", "The client needs the id the system gave it.")
    if remote_updated_at.tzinfo is None:
        raise ApplicationError.for_field("updated_at", "The system's timestamp needs a time zone.")
    remote = _clean_pulled(values)

    identity = CustomerIdentity.objects.filter(system=system, external_id=external_id).first()
    created = False
    if identity is None:
        # Linked by email, else phone: only those, so that the linking never overwrites a field past the rules.
        email = remote.get("email") or None
        upsert = customer_upsert(source=system, external_id=external_id, email=email,
                                 phone=None if email else remote.get("phone") or None)
        customer_id, created = upsert.customer.pk, upsert.created
    else:
        customer_id = identity.customer_id
    customer = Customer.objects.select_for_update(of=("self",)).select_related("advisor__user").get(pk=customer_id)
    state, _ = CustomerExternalState.objects.select_for_update().get_or_create(customer=customer, system=system)
    base = dict(state.values)

    changes: dict[str, Any] = {}
    kept: list[str] = []
    for name, theirs in remote.items():
        ours = _current(customer, name)
        if theirs != ours and _external_wins(customer, name, theirs, ours, base, remote_updated_at):
            changes[name] = dt.date.fromisoformat(theirs) if name == "birth_date" and theirs else theirs or ""
        elif theirs != ours:
            kept.append(name)
        base[name] = theirs
    changed_fields = customer_update(customer=customer, changes=changes) if changes else []

    if consents:
        before = dict(customer.consent or {})
        base_consent = dict(base.get("consent") or {})
        for consent in consents:
            consent_record(customer=customer, channel=consent.channel, purpose=consent.purpose,
                           is_granted=consent.is_granted, occurred_at=consent.occurred_at, source=system)
            base_consent[consent_key(consent.channel, consent.purpose)] = consent.is_granted
        customer.refresh_from_db(fields=["consent"])
        base["consent"] = base_consent
        if customer.consent != before:
            changed_fields.append("consent")

    state.values = base
    if state.remote_updated_at is None or remote_updated_at > state.remote_updated_at:
        state.remote_updated_at = remote_updated_at
    state.pulled_at = timezone.now()
    state.save()
    logger.info("customers.external_applied customer_id=%s system=%s created=%s changed=%s kept=%s", customer.pk,
                system, created, ",".join(changed_fields), ",".join(kept))
    return ExternalApplyResult(customer=customer, created=created, changed_fields=changed_fields, kept_fields=kept)


def _external_wins(
    customer: Customer, name: str, theirs: Any, ours: Any, base: dict[str, Any], remote_updated_at: dt.datetime
) -> bool:
    """Whether the system's value of a field replaces Atelier's (they differ)."""
    owner = field_owner(name)
    if owner == EXTERNAL:
        return True
    if owner == ATELIER:
        return False
    if ours in ("", None):
        return True
    changed_there = name not in base or base[name] != theirs
    changed_here = name not in base or base[name] != ours
    if not changed_there:
        return False  # only Atelier changed it since the two last agreed
    if not changed_here:
        return True
    return remote_updated_at > field_changed_at(customer, name)


def customer_push_values(customer: Customer) -> dict[str, Any]:
    """The values a push sends for a client, as JSON (the advisor by their email)."""
    return {name: _current(customer, name) for name in PUSHED_FIELDS}


def customer_push_changes(customer: Customer, state_values: dict[str, Any]) -> dict[str, Any]:
    """The pushed fields whose Atelier value differs from what the system last held (consent: only the keys that
    differ). A field never held there counts as blank there, so a blank value is not sent."""
    blank: dict[str, Any] = {"preferences": {}, "consent": {}, "value_tier": "prospect"}
    changes: dict[str, Any] = {}
    for name, ours in customer_push_values(customer).items():
        theirs = state_values.get(name, blank.get(name, ""))
        if name == "consent":
            differing = {key: value for key, value in ours.items() if theirs.get(key) != value}
            if differing:
                changes[name] = differing
        elif ours != theirs:
            changes[name] = ours
    return changes


@transaction.atomic
def customer_external_pushed(*, customer_id: int, system: str, values: dict[str, Any]) -> bool:
    """Remember that the system accepted these values for the client (they become the base). Returns False when
    the client is gone meanwhile (merged or erased)."""
    if not Customer.objects.filter(pk=customer_id).exists():
        return False
    state, _ = CustomerExternalState.objects.select_for_update().get_or_create(customer_id=customer_id, system=system)
    merged = dict(state.values)
    for name, value in values.items():
        merged[name] = {**(merged.get(name) or {}), **value} if name == "consent" else value
    state.values = merged
    state.pushed_at = timezone.now()
    state.refused_values, state.refused_at = None, None
    state.save(update_fields=["values", "pushed_at", "refused_values", "refused_at"])
    return True


@transaction.atomic
def customer_external_refused(*, customer_id: int, system: str, values: dict[str, Any]) -> bool:
    """Remember that the system refused these changes for the client, so that they are not sent again on every run;
    a later change of the client (other pending changes) is sent. Returns False when the client is gone."""
    if not Customer.objects.filter(pk=customer_id).exists():
        return False
    state, _ = CustomerExternalState.objects.select_for_update().get_or_create(customer_id=customer_id, system=system)
    state.refused_values, state.refused_at = values, timezone.now()
    state.save(update_fields=["refused_values", "refused_at"])
    return True
