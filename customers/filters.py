"""Filters over clients, shared by the admin's client list (desk.admin.list) and the API.

Every filter reads an indexed column or a narrow join, so a filter on 100,000 clients stays one query: the search
matches emails and phone numbers exactly on their normalized form, never with `icontains`.
"""

from __future__ import annotations

import calendar
import contextlib
import datetime as dt
import uuid
import zoneinfo
from collections.abc import Callable
from typing import Any

import django_filters
from django.contrib.postgres.search import SearchQuery
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet, Value
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field

from core.errors import ApplicationError
from core.filtering import IdFilter, IsoDateTimeFilter, StrictBooleanFilter
from customers.models import (
    Advisor,
    Boutique,
    ConsentChannel,
    ConsentPurpose,
    Customer,
    CustomerIdentity,
    CustomerQuerySet,
    Persona,
    SourceSystem,
    ValueTier,
)
from customers.normalizers import normalize_phone
from customers.scoping import visible_boutique_ids
from customers.search import SEARCH_CONFIG, folded, name_prefix_query, reversed_phone

# Characters a phone number is typed with; a term of only these (and enough digits) is searched as a phone.
PHONE_CHARACTERS = frozenset("0123456789+-.()/ ")
MIN_PHONE_DIGITS = 6
# Name searches look at the first few words only: each word adds a condition, and nobody types more.
MAX_NAME_WORDS = 3

LAST_PURCHASE_CHOICES = [
    ("this_month", "This month"),
    ("last_3_months", "In the last 3 months"),
    ("last_12_months", "In the last 12 months"),
    ("over_12_months", "More than 12 months ago"),
    ("never", "Never"),
]
CONSENT_CHOICES = [
    (f"{channel}_{purpose}", f"{channel_label} · {purpose_label.lower()}")
    for purpose, purpose_label in ConsentPurpose.choices
    for channel, channel_label in ConsentChannel.choices
]
CLIENT_BOOK_MINE = "mine"

# Named sets of clients that an app above customers can describe (insight: "the clients who dropped after
# Consideration in Milan this quarter"), so that each of its numbers opens the client list filtered to exactly
# them: `?client_set=<kind>:<argument>`. Customers may not import those apps (apps depend one way), so each
# registers its kind in its AppConfig.ready(): `parse(argument)` raises ValidationError for a malformed one, and
# `clients(argument, user)` answers the ids (a queryset of values) of the clients in the set that `user` sees.
ClientSetParser = Callable[[str], Any]
ClientSetClients = Callable[[str, Any], QuerySet]
_client_sets: dict[str, tuple[ClientSetParser, ClientSetClients]] = {}


def register_client_set(kind: str, parse: ClientSetParser, clients: ClientSetClients) -> None:
    """Let `?client_set=<kind>:<argument>` filter clients with `clients(argument, user)`."""
    _client_sets[kind] = (parse, clients)


def validate_client_set(value: str) -> None:
    kind, _, argument = value.partition(":")
    if kind not in _client_sets:
        known = ", ".join(sorted(_client_sets)) or "none"
        raise ValidationError(f"Unknown client set {kind!r}; write <kind>:<argument>, the kind being one of {known}.")
    _client_sets[kind][0](argument)


def months_before(moment: dt.datetime, months: int) -> dt.datetime:
    """The same moment `months` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def requesting_advisor(user: Any) -> Advisor | None:
    """The Advisor record (with its boutique) of the staff member `user`, read once per request; None for users
    without one (superusers)."""
    if user is None or not getattr(user, "is_authenticated", False) or getattr(user, "is_api_key", False):
        return None
    if not hasattr(user, "_atelier_advisor"):
        user._atelier_advisor = Advisor.objects.filter(user=user).select_related("boutique").first()
    return user._atelier_advisor


def searcher_boutique(user: Any) -> Boutique | None:
    """The boutique `user` works at (None for head office and superusers). Its country is the region a phone
    number typed without its country code is read in; its time zone says when "this month" starts."""
    advisor = requesting_advisor(user)
    return advisor.boutique if advisor else None


def _as_uuid(term: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(term)
    except ValueError:
        return None


def looks_like_phone(term: str) -> bool:
    return set(term) <= PHONE_CHARACTERS and sum(character.isdigit() for character in term) >= MIN_PHONE_DIGITS


def phone_matches(term: str, *, region: str | None = None) -> Q:
    """Clients whose phone is the number typed (any common format, read in `region` unless it has a country code),
    or ends with its digits: a partial number, or a local one whose region the searcher's boutique does not say
    (an API key, head office), found by its digits without the leading 0s."""
    digits = "".join(character for character in term if character.isdigit()).lstrip("0")
    condition = Q(pk__in=[])
    # Not a whole, valid number: its digits may still end one.
    with contextlib.suppress(ApplicationError):
        condition |= Q(phone=normalize_phone(term, region=region))
    if len(digits) >= MIN_PHONE_DIGITS:
        # reverse(phone) LIKE '<digits reversed>%', read off customer_phone_suffix_idx.
        condition |= Q(phone_reversed__startswith=digits[::-1])
    return condition


def customers_search(queryset: QuerySet[Customer], term: str, *, region: str | None = None) -> QuerySet[Customer]:
    """Clients matching what staff type in a search box: an email or a public id (exact), a phone number in any
    common format or its last digits (phone_matches), an id another system gave the client (exact), or words of
    their names: every word typed must start a word of the first or last name, in any order, without regard to
    case or accents ("muhairi sara", "de vill", "beatrice" for Béatrice)."""
    term = " ".join(term.split())
    if not term:
        return queryset
    if "@" in term:
        # Emails are stored lower-case, so the exact match uses the unique index.
        return queryset.filter(email=term.lower())
    public_id = _as_uuid(term)
    if public_id is not None:
        return queryset.filter(public_id=public_id)
    queryset = queryset.alias(phone_reversed=reversed_phone())
    if looks_like_phone(term):
        condition = phone_matches(term, region=region)
    else:
        query = name_prefix_query(term.split(" ")[:MAX_NAME_WORDS])
        # The words folded as the names are (lower case, no accents), each a prefix: to_tsquery's `'word':*`.
        condition = (Q(name_search=SearchQuery(folded(Value(query)), config=SEARCH_CONFIG, search_type="raw"))
                     if query else Q(pk__in=[]))
    if " " not in term and len(term) <= 128:
        # One word may be the client's id in the POS, the ecommerce site or the CRM (all digits, as often as not).
        # Read first, as ids: `OR id IN (…ids)` keeps PostgreSQL on its indexes, a subquery would not.
        identified = list(CustomerIdentity.objects.filter(system__in=SourceSystem.values, external_id=term)
                          .values_list("customer_id", flat=True)[:20])
        if identified:
            condition |= Q(pk__in=identified)
    return queryset.filter(condition)


def _visible_boutiques(request) -> QuerySet[Boutique]:
    boutique_ids = visible_boutique_ids(request.user if request else None)
    if boutique_ids is None:
        return Boutique.objects.all()
    return Boutique.objects.filter(pk__in=boutique_ids)


def _visible_advisors(request) -> QuerySet[Advisor]:
    return Advisor.objects.visible_to(request.user if request else None).select_related("user")


@extend_schema_field({"type": "string", "pattern": rf"^({'|'.join(SourceSystem.values)}):[^\u0000\n]+$"})
class IdentityFilter(django_filters.CharFilter):
    """`?identity=<system>:<id>`; the schema gives its form, which the filter's validator enforces."""


@extend_schema_field({"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "enum": ["null"]}]})
class IdOrNullFilter(django_filters.ModelChoiceFilter):
    """`?advisor_id=12`, or `?advisor_id=null` for none (its null_label); the schema says both."""


class CustomerFilterSet(django_filters.FilterSet):
    """The filters of the client list and of the clients API. Boutique and advisor choices are those the
    requesting user may see (pass `request`); a hidden boutique's or advisor's id is an invalid choice."""

    q = django_filters.CharFilter(
        method="filter_search", label="Search", help_text="Name, email, phone number or public id."
    )
    boutique_id = IdOrNullFilter(
        field_name="home_boutique", queryset=_visible_boutiques, label="Boutique", null_label="No boutique"
    )
    advisor_id = IdOrNullFilter(
        field_name="advisor", queryset=_visible_advisors, label="Advisor", null_label="No advisor"
    )
    value_tier = django_filters.ChoiceFilter(choices=ValueTier.choices, label="Tier")
    persona_id = IdOrNullFilter(
        field_name="persona", queryset=Persona.objects.all(), label="Persona", null_label="No persona"
    )
    # A number, not a model choice: stages belong to journeys, which customers may not import (apps depend one way).
    stage_id = IdFilter(method="filter_stage", label="Journey stage (id)")
    last_purchase = django_filters.ChoiceFilter(
        choices=LAST_PURCHASE_CHOICES, method="filter_last_purchase", label="Last purchase"
    )
    consent = django_filters.ChoiceFilter(choices=CONSENT_CHOICES, method="filter_consent", label="Consent given")
    client_book = django_filters.ChoiceFilter(
        choices=[(CLIENT_BOOK_MINE, "My clients")], method="filter_client_book", label="Client book"
    )
    updated_since = IsoDateTimeFilter(
        field_name="updated_at", lookup_expr="gte", label="Updated at or after (ISO 8601)"
    )
    email = django_filters.CharFilter(method="filter_email", label="Email (exact, any case)")
    phone = django_filters.CharFilter(method="filter_phone", label="Phone number (any format, matched in E.164)")
    identity = IdentityFilter(
        method="filter_identity",
        label="Id in another system, as <system>:<id> (e.g. ecommerce:4711)",
        validators=[
            RegexValidator(
                rf"\A({'|'.join(SourceSystem.values)}):[^\x00\n]+\Z",
                f"Write <system>:<id>, the system being one of {', '.join(SourceSystem.values)}.",
            )
        ],
    )
    client_set = django_filters.CharFilter(
        method="filter_client_set", validators=[validate_client_set],
        label="Clients behind a figure, as <kind>:<argument> (the journey map's links, e.g. "
        "stage:12:dropped:2026-01-01:2026-03-31)",
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    @property
    def user(self) -> Any:
        return getattr(self.request, "user", None)

    def filter_search(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        boutique = searcher_boutique(self.user) if looks_like_phone(value.strip()) else None
        return customers_search(queryset, value, region=boutique.country if boutique else None)

    def filter_stage(self, queryset: QuerySet[Customer], name: str, value: int) -> QuerySet[Customer]:
        # One filter() call, so both conditions apply to the same enrollment. A stage belongs to one journey and a
        # client has one enrollment per journey, so the join cannot repeat a client.
        return queryset.filter(enrollments__stage_id=value, enrollments__exited_at__isnull=True)

    def filter_last_purchase(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        if value == "never":
            return queryset.filter(last_order_at__isnull=True)
        boutique = searcher_boutique(self.user)
        now = timezone.localtime(
            timezone.now(), zoneinfo.ZoneInfo(boutique.timezone) if boutique else timezone.get_current_timezone()
        )
        if value == "this_month":
            start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            return queryset.filter(last_order_at__gte=start)
        if value == "last_3_months":
            return queryset.filter(last_order_at__gte=months_before(now, 3))
        if value == "last_12_months":
            return queryset.filter(last_order_at__gte=months_before(now, 12))
        return queryset.filter(last_order_at__lt=months_before(now, 12))

    def filter_consent(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        # `consent` is the current state derived from the ledger: {"email_marketing": true, ...}.
        return queryset.filter(consent__contains={value: True})

    def filter_email(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        # Emails are stored lower-case (the unique index); a malformed one simply matches no client.
        return queryset.filter(email=value.strip().lower())

    def filter_phone(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        # The search box's phone matching, whatever the caller: a local number finds its client by its digits.
        boutique = searcher_boutique(self.user)
        return queryset.alias(phone_reversed=reversed_phone()).filter(
            phone_matches(value, region=boutique.country if boutique else None)
        )

    def filter_identity(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        system, _, external_id = value.partition(":")
        # An identity points at one client, so the join cannot repeat a row.
        return queryset.filter(identities__system=system, identities__external_id=external_id.strip())

    def filter_client_book(self, queryset: CustomerQuerySet, name: str, value: str) -> QuerySet[Customer]:
        if self.user is None or getattr(self.user, "is_api_key", False):
            # An API key has no client book of its own.
            return queryset.none()
        return queryset.assigned_to(self.user)

    def filter_client_set(self, queryset: QuerySet[Customer], name: str, value: str) -> QuerySet[Customer]:
        kind, _, argument = value.partition(":")
        return queryset.filter(pk__in=_client_sets[kind][1](argument, self.user))


class AdvisorFilterSet(django_filters.FilterSet):
    """Staff roles by boutique, role and whether they are active (the API's advisors list)."""

    boutique_id = IdFilter(field_name="boutique_id", label="Boutique (id)")
    role = django_filters.ChoiceFilter(choices=Advisor.Role.choices, label="Role")
    is_active = StrictBooleanFilter(label="Active")

    class Meta:
        model = Advisor
        fields: list[str] = []
