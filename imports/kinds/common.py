"""Reading the cells the kinds after clients share: the client a row names, boutiques and advisors, texts within the
model's limits, JSON objects, and any parser's ValueError as a RowError on its field."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.db.models import Model

from core.errors import ApplicationError
from customers.models import Advisor, Boutique
from customers.normalizers import normalize_email, normalize_phone
from imports.kinds.customers import IDENTITY_COLUMNS, CustomerImportContext, RowError
from imports.pipeline.clients import ClientKey

T = TypeVar("T")


def parsed(name: str, parse: Callable[[str | None], T], text: str | None) -> T:
    """`parse(text)`, its ValueError or ApplicationError reported on the field `name`."""
    try:
        return parse(text)
    except ValueError as error:
        raise RowError(name, str(error)) from None
    except ApplicationError as error:
        raise RowError(name, error.message) from None


def text_value(cells: dict[str, str], name: str, model: type[Model], column: str | None = None) -> str:
    """A text cell within the model field's length."""
    text = cells.get(name, "")
    limit = model._meta.get_field(column or name).max_length
    if limit and len(text) > limit:
        raise RowError(name, f"{text[:20]}… is longer than {limit} characters.")
    return text


def json_object(cells: dict[str, str], name: str) -> dict[str, Any] | None:
    """A JSON object cell (None when blank)."""
    text = cells.get(name, "")
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise RowError(name, f"This is not JSON ({error.msg} at character {error.pos + 1}).") from None
    if not isinstance(value, dict):
        raise RowError(name, 'This must be a JSON object, e.g. {"key": "value"}.')
    return value


def boutique_of(cells: dict[str, str], context: CustomerImportContext) -> Boutique | None:
    code = cells.get("boutique", "")
    if not code:
        return None
    boutique = context.boutiques.get(code.upper())
    if boutique is None:
        raise RowError("boutique", f"No boutique has the code {code}.")
    return boutique


def advisor_of(cells: dict[str, str], context: CustomerImportContext) -> Advisor | None:
    address = cells.get("advisor", "")
    if not address:
        return None
    advisor = context.advisors.get(address.lower())
    if advisor is None:
        raise RowError("advisor", f"No advisor has the email address {address}.")
    return advisor


def client_key(cells: dict[str, str], *, region: str | None) -> ClientKey:
    """How the row names its client (Atelier id, ids in other systems, email, phone), as find_clients takes it."""
    public_id = None
    if cells.get("public_id"):
        try:
            public_id = uuid.UUID(cells["public_id"])
        except ValueError:
            raise RowError("public_id", f"{cells['public_id']} is not an Atelier client id.") from None
    identities = tuple(
        (system, part.strip())
        for name, system in IDENTITY_COLUMNS.items()
        for part in cells.get(name, "").split("|")
        if part.strip()
    )
    email = parsed("email", normalize_email, cells.get("email"))
    phone = parsed("phone", lambda text: normalize_phone(text, region=region), cells.get("phone"))
    key = ClientKey(public_id=public_id, identities=identities, email=email, phone=phone)
    if not key:
        raise RowError(None, "The row does not name its client: give public_id, crm_id, pos_id, ecommerce_id, "
                             "email or phone.")
    return key
