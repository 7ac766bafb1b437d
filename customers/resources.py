"""Boutiques, personas and clients as rows of a file (django-import-export), keyed on their natural ids.

The columns are the importer's field names (imports/columns.md). Columns marked readonly are written on export
and not set by the library's row import: identities, consent and preferences go through customer_upsert and
consent_record, and the metrics are derived from orders.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from django.db.models import Prefetch
from import_export.fields import Field
from import_export.widgets import DecimalWidget, ForeignKeyWidget, IntegerWidget

from core.resources import LIST_SEPARATOR, ExportResource, IsoDateTimeWidget, ListWidget, TrueFalseWidget
from customers.models import (
    Advisor,
    Boutique,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    CustomerIdentity,
    Persona,
    SourceSystem,
)
from customers.services.consent import latest_consent_events

BOUTIQUE_COLUMNS = ("code", "name", "city", "country", "timezone", "currency")
PERSONA_COLUMNS = ("slug", "name", "description", "motivations", "pain_points", "preferred_channels")
# The systems whose ids a client file carries, one column each: crm_id, pos_id, ecommerce_id.
IDENTITY_SYSTEMS = (SourceSystem.CRM, SourceSystem.POS, SourceSystem.ECOMMERCE)
# Marketing on every channel first (what staff filter on), then service; each with the moment of the ledger event
# that decided it, so that importing the file again records no new consent event.
CONSENT_KEYS = tuple(f"{channel}_{purpose}" for purpose in ConsentPurpose.values for channel in ConsentChannel.values)
CONSENT_COLUMNS = tuple(column for key in CONSENT_KEYS for column in (key, f"{key}_at"))
CUSTOMER_COLUMNS = (
    "public_id",
    *(f"{system}_id" for system in IDENTITY_SYSTEMS),
    "first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country",
    "home_boutique", "advisor", "persona", "value_tier",
    "preferences_sizes", "preferences_categories", "preferences_styles",
    "advisor_notes",
    *CONSENT_COLUMNS,
    "lifetime_value", "order_count", "last_order_at",
)


class BoutiqueResource(ExportResource):
    """A boutique by its POS code."""

    export_ordering = ("code",)

    class Meta:
        model = Boutique
        fields = BOUTIQUE_COLUMNS
        export_order = BOUTIQUE_COLUMNS
        import_id_fields = ("code",)
        skip_unchanged = True


class PersonaResource(ExportResource):
    """A persona by its slug (its name is unique too, and is what client files name)."""

    preferred_channels = Field(attribute="preferred_channels", column_name="preferred_channels", widget=ListWidget())

    export_ordering = ("name",)

    class Meta:
        model = Persona
        fields = PERSONA_COLUMNS
        export_order = PERSONA_COLUMNS
        import_id_fields = ("slug",)
        skip_unchanged = True


def _consent_field(key: str) -> Field:
    # Blank when the ledger has no event for the key: "false" would read back as a withdrawal nobody made.
    return Field(attribute=f"consent__{key}", column_name=key, widget=TrueFalseWidget(), readonly=True)


def _consent_moment_field(key: str) -> Field:
    return Field(column_name=f"{key}_at", dehydrate_method=partial(consent_moment, key=key), readonly=True)


def consent_moment(customer: Customer, *, key: str) -> str:
    """When the ledger event that decided the client's current consent for `key` happened."""
    events = getattr(customer, "latest_consents", None)
    if events is None:  # not prefetched by the export's queryset: one client, one query
        events = _latest_consents().filter(customer=customer)
    for event in events:
        if f"{event.channel}_{event.purpose}" == key:
            return IsoDateTimeWidget().render(event.occurred_at)
    return ""


def _latest_consents():
    # The deciding event per channel and purpose: the consent ledger's one rule.
    return latest_consent_events()


def _preferences_field(key: str) -> Field:
    return Field(attribute=f"preferences__{key}", column_name=f"preferences_{key}", widget=ListWidget(),
                 readonly=True)


class CustomerResource(ExportResource):
    """A client by public id, with their ids in the other systems, relations by natural key (boutique code,
    advisor email, persona name), preferences, consent and the metrics derived from their orders."""

    public_id = Field(attribute="public_id", column_name="public_id")
    crm_id = Field(column_name="crm_id", readonly=True)
    pos_id = Field(column_name="pos_id", readonly=True)
    ecommerce_id = Field(column_name="ecommerce_id", readonly=True)
    home_boutique = Field(attribute="home_boutique", column_name="home_boutique",
                          widget=ForeignKeyWidget(Boutique, field="code"))
    advisor = Field(attribute="advisor", column_name="advisor", widget=ForeignKeyWidget(Advisor, field="user__email"))
    persona = Field(attribute="persona", column_name="persona", widget=ForeignKeyWidget(Persona, field="name"))
    # The tier follows the lifetime value (customers.services.metrics): shown, never imported.
    value_tier = Field(attribute="value_tier", column_name="value_tier", readonly=True)
    preferences_sizes = _preferences_field("sizes")
    preferences_categories = _preferences_field("categories")
    preferences_styles = _preferences_field("styles")
    lifetime_value = Field(attribute="lifetime_value", column_name="lifetime_value", widget=DecimalWidget(),
                           readonly=True)
    order_count = Field(attribute="order_count", column_name="order_count", widget=IntegerWidget(), readonly=True)
    last_order_at = Field(attribute="last_order_at", column_name="last_order_at", widget=IsoDateTimeWidget(),
                          readonly=True)

    export_select_related = ("home_boutique", "advisor__user", "persona")
    export_prefetch_related = (
        Prefetch("identities", queryset=CustomerIdentity.objects.order_by("system", "external_id")),
        Prefetch("consent_events", queryset=_latest_consents(), to_attr="latest_consents"),
    )

    class Meta:
        model = Customer
        fields = CUSTOMER_COLUMNS
        export_order = CUSTOMER_COLUMNS
        import_id_fields = ("public_id",)
        skip_unchanged = True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        # Two columns per key of the consent vocabulary (ConsentChannel × ConsentPurpose): the state and its moment.
        for key in CONSENT_KEYS:
            self.fields[key] = _consent_field(key)
            self.fields[f"{key}_at"] = _consent_moment_field(key)

    def dehydrate_crm_id(self, customer: Customer) -> str:
        return identity_ids(customer, SourceSystem.CRM)

    def dehydrate_pos_id(self, customer: Customer) -> str:
        return identity_ids(customer, SourceSystem.POS)

    def dehydrate_ecommerce_id(self, customer: Customer) -> str:
        return identity_ids(customer, SourceSystem.ECOMMERCE)


def identity_ids(customer: Customer, system: str) -> str:
    """The client's ids in one system, `a|b` when a merge left them two (prefetched: no query per client)."""
    return LIST_SEPARATOR.join(
        identity.external_id for identity in customer.identities.all() if identity.system == system
    )

