"""The generator's fixed values: sizes and spans, source and status codes, touchpoint kinds and consent odds."""

from __future__ import annotations

from customers.models import (
    SourceSystem,
)
from touchpoints.models import Order

LIFECYCLE_JOURNEY_SLUG = "client-lifecycle"
DEFAULT_CHUNK_SIZE = 5_000
# A client's history (django-pghistory) records changes from go-live on; the demo's past is loaded, not changed.
HISTORY_TRIGGERS = ("customers.Customer:insert_insert", "customers.Customer:update_update")
# How long a purchase keeps a client in the Purchase stage before the post-purchase rule moves them on.
DAYS_IN_PURCHASE = 7
# History older than this came over from the legacy CRM (cause "import"); later moves were made by the rules.
IMPORTED_BEFORE_DAYS = 365
HISTORY_DAYS = 730

POS, ECOMMERCE, CRM = SourceSystem.POS.value, SourceSystem.ECOMMERCE.value, SourceSystem.CRM.value
PLACED, FULFILLED = Order.Status.PLACED.value, Order.Status.FULFILLED.value
CANCELLED, RETURNED = Order.Status.CANCELLED.value, Order.Status.RETURNED.value


# --- One client and their history ----------------------------------------------------------------------------

# Touchpoints beside orders: base weight, source system, local hours (from, to), needs (email/phone), metadata.
_INTERACTION_KINDS: dict[str, tuple[float, str, tuple[int, int], str]] = {
    "product_view": (20, ECOMMERCE, (7, 24), ""),
    "email_opened": (18, CRM, (6, 24), "email"),
    "store_visit": (10, POS, (10, 19), ""),
    "email_clicked": (6, CRM, (6, 24), "email"),
    "wishlist_added": (5, ECOMMERCE, (7, 24), ""),
    "message_exchanged": (5, CRM, (9, 22), "phone"),
    "social_engagement": (5, CRM, (7, 24), ""),
    "appointment": (4, CRM, (10, 19), ""),
    "phone_call": (4, CRM, (10, 19), "phone"),
    "cart_abandoned": (3, ECOMMERCE, (7, 24), ""),
    "advisor_note": (3, CRM, (10, 20), ""),
    "event_attended": (2, CRM, (18, 23), ""),
    "repair_service": (1, POS, (10, 19), ""),
    "newsletter_signup": (1, ECOMMERCE, (7, 24), "email"),
}
# Touchpoints that show interest in a piece: the first one moves a client from Awareness to Consideration.
_CONSIDERATION_KINDS = {"store_visit", "appointment", "wishlist_added", "cart_abandoned", "email_clicked",
                        "message_exchanged"}
_PHYSICAL_KINDS = {"store_visit", "appointment", "phone_call", "advisor_note", "event_attended", "repair_service",
                   "message_exchanged"}

# (channel, purpose): probability of granting at sign-up, of refusing explicitly, and what the client needs.
_CONSENTS = (
    ("email", "marketing", 0.72, 0.12, "email"),
    ("email", "service", 0.92, 0.0, "email"),
    ("sms", "marketing", 0.35, 0.10, "phone"),
    ("sms", "service", 0.60, 0.0, "phone"),
    ("phone", "marketing", 0.30, 0.05, "phone"),
    ("phone", "service", 0.70, 0.0, "phone"),
    ("messaging", "marketing", 0.25, 0.0, "phone"),
    ("messaging", "service", 0.40, 0.0, "phone"),
)
