"""The fields a legacy file of each kind can carry: what a column mapping may map headers onto.

Names follow the model and `customer_upsert` where there is one. The rest:
- `public_id` is Atelier's own id, in files exported from Atelier: a round trip finds the client by it first.
- `source` is the system the file comes from (crm, pos, ecommerce): the system of `external_id`;
  `crm_id`, `pos_id`, `ecommerce_id` carry further identities when one file holds several.
- `<channel>_marketing` is the client's marketing consent on that channel (yes/no, oui/non, x …),
  `<channel>_marketing_at` when it was given or withdrawn (the import date when blank).
- `preferences_<key>` is a list for that key of the preferences (sizes, categories, styles): Atelier's exports
  separate items with "|" (commas occur in values), legacy files with commas; split on "|" when the cell has one.
- `home_boutique` is a boutique code, `advisor` an advisor's email, `persona` a persona's name.
- `legacy_lifetime_value` and `legacy_last_order_date` are what the old system reported. Atelier computes its
  own from the orders, so these are only compared or kept for reference, never written over the metrics.
"""

from __future__ import annotations

CONSENT_CHANNELS = ("email", "sms", "phone", "messaging")

CUSTOMER_FIELDS: frozenset[str] = frozenset(
    {
        "public_id",
        "source",
        "external_id",
        "crm_id",
        "pos_id",
        "ecommerce_id",
        "first_name",
        "last_name",
        "email",
        "phone",
        "birth_date",
        "language",
        "city",
        "country",
        "home_boutique",
        "advisor",
        "persona",
        "preferences_sizes",
        "preferences_categories",
        "preferences_styles",
        "advisor_notes",
        "legacy_lifetime_value",
        "legacy_last_order_date",
        *(f"{channel}_marketing" for channel in CONSENT_CHANNELS),
        *(f"{channel}_marketing_at" for channel in CONSENT_CHANNELS),
    }
)

# An order file has one row per order line, the order's columns repeated on each (bench/legacy_files.py
# ORDER_COLUMNS and Atelier's own export, imports/columns.md). `order_id` is the order's id in `source` (pos,
# ecommerce …); `public_id`, `crm_id`/`pos_id`/`ecommerce_id`, `email` and `phone` name the client; `boutique` is a
# code, `advisor` an advisor's email; `order_total` is the order's (negative for a return receipt). A return line
# has a negative quantity and `is_return` yes; `is_cancelled` yes (a cancelled-order marker) makes the order
# cancelled whatever its status says.
ORDER_FIELDS: frozenset[str] = frozenset(
    {
        "source",
        "order_id",
        "public_id",
        "crm_id",
        "pos_id",
        "ecommerce_id",
        "email",
        "phone",
        "boutique",
        "advisor",
        "channel",
        "placed_at",
        "status",
        "is_cancelled",
        "currency",
        "order_total",
        "line_number",
        "sku",
        "product_name",
        "category",
        "quantity",
        "unit_price",
        "is_return",
    }
)

# How an interaction or response row names its client: any of these (imports.pipeline.clients.find_clients).
CLIENT_KEY_FIELDS = ("public_id", "crm_id", "pos_id", "ecommerce_id", "email", "phone")

INTERACTION_FIELDS: frozenset[str] = frozenset(
    {
        "source", "external_id", *CLIENT_KEY_FIELDS, "touchpoint_type", "occurred_at", "channel", "boutique",
        "advisor", "amount", "currency", "note", "metadata",
    }
)
RESPONSE_FIELDS: frozenset[str] = frozenset(
    {"survey", *CLIENT_KEY_FIELDS, "score", "comment", "responded_at", "source", "external_id", "answers"}
)
PERSONA_FIELDS: frozenset[str] = frozenset(
    {"slug", "name", "description", "motivations", "pain_points", "preferred_channels"}
)
PRODUCT_FIELDS: frozenset[str] = frozenset({"sku", "name", "category", "collection", "price", "currency", "is_active"})
BOUTIQUE_FIELDS: frozenset[str] = frozenset({"code", "name", "city", "country", "timezone", "currency"})
