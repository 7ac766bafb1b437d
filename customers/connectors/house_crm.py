"""The house CRM: client master data pulled since a cursor, and what Atelier owns pushed back (docs/connectors.md).

Pull: `GET {endpoint}/api/clients?updated_since=…&cursor=…&limit=…` → `{"clients": [...], "next_cursor": …}`.
Push: `PATCH {endpoint}/api/clients/{id}` `{"fields": {...}}` for each client changed in Atelier.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import quote

from core.connectors import Connector, MalformedPage, Outcome, Page, PermanentError, RecordRejected
from core.connectors.values import iso, items, moment, obj, reject, text
from customers.models import ConsentChannel, ConsentPurpose, SourceSystem
from customers.selectors import customers_pending_push
from customers.services import (
    ConsentChange,
    customer_external_apply,
    customer_external_pushed,
    customer_push_changes,
)
from customers.services.external import customer_external_refused

# Atelier's pushed fields under the CRM's names.
PUSHED_NAMES = {
    "preferences": "preferences", "advisor_notes": "notes", "value_tier": "tier", "advisor": "advisor_email",
    "consent": "consents",
}


class HouseCrmConnector(Connector):
    """The house's master CRM over JSON: house-wide (not per boutique), two streams, pull then push."""

    key = "house_crm"
    label = "House CRM (JSON API)"
    system = SourceSystem.CRM
    streams = ("clients", "push")
    is_per_boutique = False
    default_options = {"page_size": 200}

    # --- fetching ----------------------------------------------------------------------------------------------

    def fetch(self, stream: str, cursor: dict[str, Any]) -> Page:
        if stream == "clients":
            return self._pull(cursor)
        return self._push(cursor)

    def _pull(self, cursor: dict[str, Any]) -> Page:
        params = {"limit": int(self.options["page_size"])}
        if cursor.get("since"):
            params["updated_since"] = cursor["since"]
        if cursor.get("page"):
            params["cursor"] = cursor["page"]
        data = self.http.request_json("GET", "/api/clients", params=params)
        if not isinstance(data, dict) or not isinstance(data.get("clients"), list):
            raise MalformedPage("GET /api/clients: the page has no list of clients.", body=json.dumps(data)[:2000])
        next_page = data.get("next_cursor")
        if next_page is not None and not isinstance(next_page, str):
            raise MalformedPage("GET /api/clients: next_cursor is not a string.", body=json.dumps(data)[:2000])
        high = cursor.get("high") or cursor.get("since")
        for client in data["clients"]:
            try:
                updated_at = iso(moment(client, "updated_at")) if isinstance(client, dict) else None
            except RecordRejected:
                updated_at = None  # rejected when recorded; it does not move the watermark
            if updated_at and (high is None or updated_at > high):
                high = updated_at
        if next_page:
            return Page(data["clients"], {"since": cursor.get("since"), "page": next_page, "high": high}, False)
        return Page(data["clients"], {"since": high}, True)

    def _push(self, cursor: dict[str, Any]) -> Page:
        """PATCH each pending client's changes, one request each: a client the CRM refuses (4xx) is recorded as
        rejected and the others go on; a transient failure that outlasts the retries stops the page (the clients
        already sent are sent again next time, which the Idempotency-Key makes harmless)."""
        limit = int(self.options["page_size"])
        pending = customers_pending_push(system=self.system, after_pk=int(cursor.get("after_pk") or 0), limit=limit)
        records = []
        for item in pending:
            values = customer_push_changes(item.customer, item.state_values)
            if item.refused_values is not None and _same(values, item.refused_values):
                continue  # refused last time, and nothing changed since: asking again would be refused again
            body = {"fields": _crm_fields(values)}
            key = hashlib.sha256(json.dumps([item.external_id, body], sort_keys=True, default=str).encode())
            try:
                self.http.request_json("PATCH", f"/api/clients/{quote(item.external_id, safe='')}", body=body,
                                       headers={"Idempotency-Key": key.hexdigest()})
            except PermanentError as error:
                records.append({"id": item.external_id, "customer_id": item.customer.pk, "values": values,
                                "refused": str(error)})
                continue
            records.append({"id": item.external_id, "customer_id": item.customer.pk, "values": values})
        is_last = len(pending) < limit
        return Page(records, {} if is_last else {"after_pk": pending[-1].customer.pk}, is_last)

    # --- recording ---------------------------------------------------------------------------------------------

    def record(self, stream: str, record: Any, page: Page) -> Outcome:
        if stream == "clients":
            return self._record_client(record)
        return self._record_pushed(record)

    def _record_client(self, record: Any) -> Outcome:
        if not isinstance(record, dict):
            raise RecordRejected("The client is not an object.")
        external_id = text(record, "id", required=True, max_length=128)
        updated_at = moment(record, "updated_at")
        # A blank or absent value says nothing: it never erases what Atelier knows (as for every entry point).
        values = {name: text(record, name, max_length=254 if name == "email" else 80)
                  for name in ("first_name", "last_name", "email", "phone", "language")
                  if record.get(name) not in (None, "")}
        if record.get("birth_date") not in (None, ""):
            values["birth_date"] = text(record, "birth_date")
        address = obj(record, "address", required=False)
        for name in ("city", "country"):
            if address.get(name) not in (None, ""):
                values[name] = text(address, name, max_length=80, where="address.")
        consents = []
        for number, consent in enumerate(items(record, "consents"), start=1):
            where = f"consents[{number}]."
            if not isinstance(consent, dict):
                raise reject(f"consents[{number}]", "Expected an object.")
            channel, purpose = text(consent, "channel", required=True, where=where), text(
                consent, "purpose", required=True, where=where)
            if channel not in ConsentChannel.values:
                raise reject(f"{where}channel", f"Unknown channel {channel!r}.")
            if purpose not in ConsentPurpose.values:
                raise reject(f"{where}purpose", f"Unknown purpose {purpose!r}.")
            if not isinstance(consent.get("granted"), bool):
                raise reject(f"{where}granted", "Expected true or false.")
            consents.append(ConsentChange(channel=channel, purpose=purpose, is_granted=consent["granted"],
                                          occurred_at=moment(consent, "updated_at", where=where)))
        result = customer_external_apply(system=self.system, external_id=external_id, remote_updated_at=updated_at,
                                         values=values, consents=consents)
        if result.created:
            return Outcome.CREATED
        return Outcome.UPDATED if result.changed else Outcome.UNCHANGED

    def rejected(self, stream: str, record: Any, error: Exception) -> None:
        """A client the CRM refused: remember the refused changes (customer_external_refused), so that they are
        not sent on every run; the client's next change is."""
        if stream == "push" and isinstance(record, dict) and record.get("refused"):
            customer_external_refused(customer_id=record["customer_id"], system=self.system, values=record["values"])

    def _record_pushed(self, record: dict[str, Any]) -> Outcome:
        if record.get("refused"):
            raise RecordRejected(f"The CRM refused the changes: {record['refused']}")
        customer_external_pushed(customer_id=record["customer_id"], system=self.system, values=record["values"])
        return Outcome.UPDATED


def _same(values: dict[str, Any], refused: dict[str, Any]) -> bool:
    """The changes as JSON (what was stored when they were refused) are the same as these."""
    return json.loads(json.dumps(values, default=str)) == refused


def _crm_fields(values: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name, value in values.items():
        if name == "consent":
            value = [
                {"channel": key.rsplit("_", 1)[0], "purpose": key.rsplit("_", 1)[1], "granted": granted}
                for key, granted in sorted(value.items())
            ]
        fields[PUSHED_NAMES[name]] = value
    return fields
