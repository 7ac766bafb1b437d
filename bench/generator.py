"""The demo and benchmark data generator: a believable luxury house, from six boutiques to a million clients.

One generator serves `manage.py seed_demo` and `bench/seed.py`. It writes clients chunk by chunk (one chunk in
memory at a time) with PostgreSQL COPY, taking primary keys from each table's sequence in blocks so that child
rows can point at their parents without a round trip. The rows follow the same rules as the services that
normally write them: an order's lines add up to its total and the order sits on the timeline as
touchpoints.services.orders records it; the consent state is the ledger's latest word; each enrollment's stage
is its last transition's; the metrics come from touchpoints.services.metrics.customer_metrics_refresh, run
once over every client after the last chunk.

Everything is drawn from random.Random seeded per client from (seed, client number), and every date is counted
back from `anchor`: the same seed, size and anchor give the same data, and client n is the same whatever the
size of the run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import random
import time
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import accumulate
from typing import Any

import pgtrigger
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import connection, models, transaction
from django.utils import timezone

from bench import vocabulary as vocab
from customers.models import (
    Advisor,
    Boutique,
    ConsentEvent,
    Customer,
    CustomerIdentity,
    Persona,
    SourceSystem,
    ValueTier,
)
from customers.services import staff_groups_sync
from journeys.models import Enrollment, Journey, Stage, Transition
from touchpoints.models import Interaction, LifecycleStage, Order, OrderLine, Product, TouchpointType
from touchpoints.services.metrics import customer_metrics_refresh
from touchpoints.services.orders import to_house_currency

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


# --- Tables ---------------------------------------------------------------------------------------------------


class _Table:
    """A model written by COPY: the fields (attnames) of its rows, in order, and the columns they go to."""

    def __init__(self, model: type[models.Model], fields: tuple[str, ...]) -> None:
        self.model = model
        self.fields = fields
        self.label = model._meta.label
        self.db_table = model._meta.db_table
        model_fields = [model._meta.get_field(name) for name in fields]
        self.columns = [model_field.column for model_field in model_fields]
        self.json_positions = [i for i, f in enumerate(model_fields) if isinstance(f, models.JSONField)]
        # COPY bypasses Django's defaults: fail loudly if a model grows a required column this list lacks.
        missing = [
            f.name
            for f in model._meta.concrete_fields
            if f.attname not in fields and not f.null and not f.primary_key
        ]
        if missing:
            raise RuntimeError(f"bench.generator does not fill {self.label}.{', '.join(missing)}; add them.")


CUSTOMERS = _Table(Customer, (
    "id", "public_id", "first_name", "last_name", "email", "phone", "birth_date", "language", "city", "country",
    "home_boutique_id", "advisor_id", "persona_id", "value_tier", "preferences", "advisor_notes", "consent",
    "lifetime_value", "order_count", "average_order_value", "last_interaction_at", "is_anonymized",
    "created_at", "updated_at",
))
IDENTITIES = _Table(CustomerIdentity, ("customer_id", "system", "external_id", "created_at"))
CONSENT_EVENTS = _Table(ConsentEvent, (
    "customer_id", "channel", "purpose", "is_granted", "occurred_at", "source", "recorded_by_id", "wording_version",
    "created_at",
))
ORDERS = _Table(Order, (
    "id", "source", "external_id", "customer_id", "boutique_id", "advisor_id", "channel", "placed_at", "status",
    "currency", "total", "total_house", "created_at", "updated_at",
))
ORDER_LINES = _Table(OrderLine, (
    "order_id", "line_number", "sku", "product_id", "product_name", "category", "quantity", "unit_price", "is_return",
))
INTERACTIONS = _Table(Interaction, (
    "id", "customer_id", "touchpoint_type_id", "occurred_at", "channel", "boutique_id", "advisor_id", "source",
    "external_id", "amount", "currency", "order_id", "metadata", "created_at",
))
ENROLLMENTS = _Table(Enrollment, (
    "id", "customer_id", "journey_id", "stage_id", "stage_entered_at", "enrolled_at", "created_at", "updated_at",
))
TRANSITIONS = _Table(Transition, (
    "enrollment_id", "from_stage_id", "to_stage_id", "occurred_at", "cause", "interaction_id", "note",
))
# Parents before children, so that the rows are valid even where foreign keys are checked immediately.
TABLES = (CUSTOMERS, IDENTITIES, CONSENT_EVENTS, ORDERS, ORDER_LINES, INTERACTIONS, ENROLLMENTS, TRANSITIONS)


class _Ids:
    """Primary keys taken from a table's own sequence a block at a time, so rows can be numbered in Python.

    Unused keys at the end of the last block are simply skipped, as after a rolled-back insert.
    """

    def __init__(self, model: type[models.Model], block: int) -> None:
        self.table = model._meta.db_table
        self.column = model._meta.pk.column
        self.block = block
        self.next = 1
        self.last = 0

    def take(self) -> int:
        if self.next > self.last:
            with connection.cursor() as cursor:
                # One statement: advance the sequence by a whole block and learn where the block ends.
                cursor.execute(
                    "SELECT setval(s::regclass, nextval(s::regclass) + %s - 1) FROM pg_get_serial_sequence(%s, %s) s",
                    [self.block, self.table, self.column],
                )
                self.last = cursor.fetchone()[0]
            self.next = self.last - self.block + 1
        value = self.next
        self.next += 1
        return value


class _CopyWriter:
    """Writes a chunk's rows with COPY … FROM STDIN through the psycopg 3 connection Django holds.

    The metrics are refreshed once, for every client, after the last chunk: refreshing per chunk
    (`id = ANY(chunk)`) lets PostgreSQL scan the whole orders and clients tables each time, which grows
    quadratically with the size of the run.
    """

    refresh_per_chunk = False

    def write(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        if not rows:
            return
        quote = connection.ops.quote_name
        statement = f"COPY {quote(table.db_table)} ({', '.join(map(quote, table.columns))}) FROM STDIN"
        positions = table.json_positions
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                if positions:
                    values = list(row)
                    for position in positions:
                        values[position] = json.dumps(values[position])
                    copy.write_row(values)
                else:
                    copy.write_row(row)

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        return transaction.atomic()


class _OrmWriter:
    """The naive way, kept as the benchmark's baseline: one Model.objects.create() per row, in autocommit."""

    refresh_per_chunk = True

    def write(self, table: _Table, rows: list[tuple[Any, ...]]) -> None:
        manager = table.model._default_manager
        for row in rows:
            manager.create(**dict(zip(table.fields, row, strict=True)))

    def transaction(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()


WRITERS: dict[str, Callable[[], _CopyWriter | _OrmWriter]] = {"copy": _CopyWriter, "orm": _OrmWriter}


# --- The house: boutiques, staff, personas, products (few rows, written through the ORM) ------------------------


@dataclass
class _AdvisorRef:
    id: int
    user_id: int


@dataclass
class _BoutiqueRef:
    id: int
    spec: vocab.BoutiqueSpec
    advisors: list[_AdvisorRef]

    @property
    def currency(self) -> str:
        return self.spec.currency


@dataclass
class _ProductRef:
    id: int
    sku: str
    name: str
    category: str
    prices: dict[str, Decimal]  # in each boutique currency


@dataclass
class _PersonaRef:
    id: int
    spec: vocab.PersonaSpec


@dataclass
class _House:
    boutiques: list[_BoutiqueRef]
    boutique_weights: list[int]
    personas: list[_PersonaRef]
    persona_weights: list[int]
    products_by_category: dict[str, list[_ProductRef]]
    touchpoint_types: dict[str, tuple[int, str]]  # code -> (id, channel)
    journey_id: int
    stages: dict[str, int]  # stage key -> id
    counts: dict[str, int] = field(default_factory=dict)

    @cached_property
    def categories(self) -> list[str]:
        return list(self.products_by_category)


def _local_price(euros: Decimal, currency: str) -> Decimal:
    """A boutique's price for a euro list price: converted, then rounded the way a price tag is."""
    if currency == settings.HOUSE_CURRENCY:
        return euros
    local = euros / settings.CURRENCY_RATES[currency]
    step = Decimal(1000) if local >= 100_000 else Decimal(10)
    return ((local / step).quantize(Decimal(1)) * step).quantize(Decimal("0.01"))


def _install_house(*, seed: int, password: str, anchor: dt.datetime) -> _House:
    """Create or update the boutiques, staff logins, personas and products, idempotently by natural key."""
    rng = random.Random(seed)
    counts: dict[str, int] = {}
    user_model = get_user_model()
    # Hashing is deliberately slow; one hash serves every demo login.
    password_hash = make_password(password)

    def staff(username: str, country: str, boutique: Boutique | None, role: str) -> _AdvisorRef:
        names = vocab.COUNTRIES[country]
        first_name = rng.choice(names.female if rng.random() < 0.6 else names.male)
        user, _ = user_model.objects.update_or_create(
            username=username,
            defaults={
                "first_name": first_name,
                "last_name": rng.choice(names.surnames),
                "email": f"{username}@atelier.example",
                "is_staff": True,
                "is_active": True,
                "password": password_hash,
            },
        )
        advisor, _ = Advisor.objects.update_or_create(
            user=user, defaults={"boutique": boutique, "role": role, "is_active": True}
        )
        return _AdvisorRef(id=advisor.pk, user_id=user.pk)

    boutiques: list[_BoutiqueRef] = []
    for spec in vocab.BOUTIQUES:
        if spec.currency not in settings.CURRENCY_RATES:
            raise RuntimeError(f"settings.CURRENCY_RATES has no rate for {spec.currency} ({spec.name}).")
        boutique, _ = Boutique.objects.update_or_create(
            code=spec.code,
            defaults={"name": spec.name, "city": spec.city, "country": spec.country, "timezone": spec.timezone,
                      "currency": spec.currency},
        )
        staff(f"manager.{spec.slug}", spec.country, boutique, Advisor.Role.BOUTIQUE_MANAGER)
        advisors = [
            staff(f"advisor.{spec.slug}.{number}", spec.country, boutique, Advisor.Role.ADVISOR)
            for number in range(1, spec.advisors + 1)
        ]
        boutiques.append(_BoutiqueRef(id=boutique.pk, spec=spec, advisors=advisors))
    staff(vocab.HEAD_OFFICE_USERNAME, "FR", None, Advisor.Role.HEAD_OFFICE)
    staff_count = len(vocab.staff_usernames())
    counts.update({"customers.Boutique": len(boutiques), user_model._meta.label: staff_count,
                   "customers.Advisor": staff_count})

    personas = []
    for spec in vocab.PERSONAS:
        persona, _ = Persona.objects.update_or_create(
            slug=spec.slug,
            defaults={"name": spec.name, "description": spec.description, "motivations": spec.motivations,
                      "pain_points": spec.pain_points, "preferred_channels": list(spec.preferred_channels)},
        )
        personas.append(_PersonaRef(id=persona.pk, spec=spec))
    counts["customers.Persona"] = len(personas)

    year = anchor.year
    collections = ("Icons", f"Spring-Summer {year - 1}", f"Fall-Winter {year - 1}", f"Cruise {year}",
                   f"Spring-Summer {year}", f"Fall-Winter {year}")
    currencies = sorted({spec.currency for spec in vocab.BOUTIQUES})
    products_by_category: dict[str, list[_ProductRef]] = {}
    for category in vocab.CATEGORIES:
        low, high = category.price_range
        refs = []
        for number in range(1, category.count + 1):
            sku = f"{category.code}-{number:04d}"
            name = f"{rng.choice(vocab.LINES)} {rng.choice(category.items)}"
            # Most pieces sit in the lower part of the range; a few are exceptional.
            euros = Decimal(round((low + (high - low) * rng.random() ** 3) / category.step) * category.step)
            product, _ = Product.objects.update_or_create(
                sku=sku,
                defaults={"name": name, "category": category.name, "collection": rng.choice(collections),
                          "price": euros, "currency": settings.HOUSE_CURRENCY, "is_active": True},
            )
            prices = {currency: _local_price(euros, currency) for currency in currencies}
            refs.append(_ProductRef(id=product.pk, sku=sku, name=name, category=category.name, prices=prices))
        # Cheapest first: clients pick from the start of the list more often (see _ClientBuilder._product).
        products_by_category[category.name] = sorted(refs, key=lambda ref: ref.prices[settings.HOUSE_CURRENCY])
    counts["touchpoints.Product"] = sum(len(refs) for refs in products_by_category.values())

    touchpoint_types = {code: (pk, channel) for pk, code, channel in TouchpointType.objects.values_list(
        "pk", "code", "channel")}
    missing = ({*_INTERACTION_KINDS, "purchase", "return", "referral"}) - set(touchpoint_types)
    if missing:
        raise RuntimeError(f"Touchpoint types {sorted(missing)} are missing; run `manage.py migrate` first.")
    try:
        journey = Journey.objects.get(slug=LIFECYCLE_JOURNEY_SLUG)
    except Journey.DoesNotExist:
        raise RuntimeError("The Client lifecycle journey is missing; run `manage.py migrate` first.") from None
    stages = dict(Stage.objects.filter(journey=journey).values_list("key", "pk"))
    missing_stages = set(LifecycleStage.values) - set(stages)
    if missing_stages:
        raise RuntimeError(f"The Client lifecycle journey lacks the stages {sorted(missing_stages)}.")

    return _House(
        boutiques=boutiques,
        boutique_weights=list(accumulate(spec.weight for spec in vocab.BOUTIQUES)),
        personas=personas,
        persona_weights=list(accumulate(spec.weight for spec in vocab.PERSONAS)),
        products_by_category=products_by_category,
        touchpoint_types=touchpoint_types,
        journey_id=journey.pk,
        stages=stages,
        counts=counts,
    )


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
_ASCII_CACHE: dict[str, str] = {}


def _ascii(name: str) -> str:
    """A name as it appears in an email address: no accents, spaces or apostrophes."""
    if name not in _ASCII_CACHE:
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        _ASCII_CACHE[name] = "".join(c for c in plain if c.isalnum())
    return _ASCII_CACHE[name]


@dataclass
class _Chunk:
    """The rows of one chunk of clients, per table, until they are written."""

    rows: dict[_Table, list[tuple[Any, ...]]] = field(default_factory=lambda: {table: [] for table in TABLES})
    customer_ids: list[int] = field(default_factory=list)


@dataclass
class _OrderPlan:
    """What the rest of a client's history needs to know about one of their orders."""

    placed_at: dt.datetime
    status: str
    is_web: bool
    interaction_id: int


class _ClientBuilder:
    """Draws one client and everything that happened to them, and appends the rows to a chunk."""

    def __init__(self, *, house: _House, seed: int, anchor: dt.datetime, ids: dict[str, _Ids]) -> None:
        self.house = house
        self.seed = seed
        self.anchor = anchor
        self.ids = ids
        self.imported_before = anchor - dt.timedelta(days=IMPORTED_BEFORE_DAYS)
        self._kind_weights: dict[tuple[str, bool, bool], tuple[list[str], list[float]]] = {}

    # Moments -------------------------------------------------------------------------------------------------

    def _moment(self, rng: random.Random, days_ago: int, hours: tuple[int, int], utc_offset: int) -> dt.datetime:
        """A moment `days_ago` days before the anchor, in local opening `hours`; always before the anchor."""
        local_hour = rng.randrange(hours[0], hours[1])
        utc_hour = (local_hour - utc_offset) % 24
        return self.anchor - dt.timedelta(days=days_ago) + dt.timedelta(hours=utc_hour, minutes=rng.randrange(60))

    def _later(self, rng: random.Random, after: dt.datetime) -> dt.datetime:
        """A moment strictly between `after` and the anchor (or `after` + 1 s when there is no room)."""
        room = int((self.anchor - after).total_seconds())
        return after + dt.timedelta(seconds=rng.randint(1, max(room - 1, 1)))

    def _kinds_for(self, persona: vocab.PersonaSpec, has_email: bool, has_phone: bool) -> tuple[list[str], list[float]]:
        key = (persona.slug, has_email, has_phone)
        if key not in self._kind_weights:
            codes, weights = [], []
            for code, (weight, _source, _hours, needs) in _INTERACTION_KINDS.items():
                if (needs == "email" and not has_email) or (needs == "phone" and not has_phone):
                    continue
                channel = self.house.touchpoint_types[code][1]
                codes.append(code)
                weights.append(weight * persona.channel_affinity.get(channel, 1.0))
            self._kind_weights[key] = (codes, list(accumulate(weights)))
        return self._kind_weights[key]

    # The client ------------------------------------------------------------------------------------------------

    def add(self, index: int, chunk: _Chunk) -> None:
        """Add client number `index` (0-based) and their history to the chunk."""
        # Seeded per client, so client n is the same whatever the size of the run or the chunking.
        rng = random.Random((self.seed << 40) + index)
        house, anchor, number = self.house, self.anchor, index + 1
        boutique = rng.choices(house.boutiques, cum_weights=house.boutique_weights)[0]
        persona_ref = rng.choices(house.personas, cum_weights=house.persona_weights)[0]
        persona = persona_ref.spec
        travels = persona.slug == "global-traveller"
        country = boutique.spec.country if rng.random() < (0.6 if travels else 0.88) else rng.choice(
            boutique.spec.visitors)
        people = vocab.COUNTRIES[country]
        is_female = rng.random() < 0.68
        first_name = rng.choice(people.female if is_female else people.male)
        last_name = rng.choice(people.surnames)
        language = people.languages[0] if rng.random() < 0.75 else rng.choice(people.languages)
        email = ""
        if rng.random() < 0.96:
            first, last = _ascii(first_name), _ascii(last_name)
            local = rng.choice((f"{first}.{last}", f"{first[0]}{last}", f"{last}.{first}", f"{first}{last[0]}"))
            # The client number makes the address unique without a lookup.
            email = f"{local}{number}@{rng.choice(vocab.EMAIL_DOMAINS)}"
        phone = vocab.PHONES[country](rng) if rng.random() < 0.9 else ""
        birth_date = None
        if rng.random() < 0.85:
            birth_date = dt.date(anchor.year - rng.randint(21, 78), rng.randint(1, 12), rng.randint(1, 28))
        advisor = rng.choice(boutique.advisors) if rng.random() < 0.93 else None
        first_days = rng.randint(1, HISTORY_DAYS)
        created_at = anchor - dt.timedelta(days=first_days, hours=1) + dt.timedelta(minutes=rng.randrange(60))
        customer_id = self.ids["customer"].take()
        chunk.customer_ids.append(customer_id)

        categories = [c for c in persona.categories if rng.random() < 0.6] or [persona.categories[0]]
        if rng.random() < 0.2:
            categories.append(rng.choice(house.categories))
        categories = list(dict.fromkeys(categories))
        preferences: dict[str, list[str]] = {"sizes": [], "categories": categories,
                                             "styles": rng.sample(persona.styles, rng.randint(1, 2))}
        size = rng.choice(vocab.FEMALE_SIZES if is_female else vocab.MALE_SIZES)
        if "Ready-to-wear" in categories:
            preferences["sizes"].append(size)
        if "Shoes" in categories:
            preferences["sizes"].append(rng.choice(vocab.FEMALE_SHOE_SIZES if is_female else vocab.MALE_SHOE_SIZES))
        notes = ""
        if advisor is not None and rng.random() < 0.3:
            notes = " ".join(
                note.format(line=rng.choice(vocab.LINES), month=rng.choice(vocab.MONTHS),
                            category=rng.choice(categories).lower(), size=size)
                for note in rng.sample(vocab.ADVISOR_NOTES, rng.randint(1, 2))
            )

        # Orders, each with its purchase (and, when returned, return) touchpoint --------------------------------
        order_days: list[int] = []
        if rng.random() < persona.buys:
            count = 1 + min(int(rng.expovariate(1 / persona.repeat)) if persona.repeat else 0, 24)
            # Many clients are first recorded at the till, the day of their first purchase.
            order_days = [first_days if rng.random() < 0.45 else rng.randint(1, first_days)]
            order_days += [rng.randint(1, first_days) for _ in range(count - 1)]
            order_days.sort(reverse=True)
        interactions: list[tuple[Any, ...]] = []
        orders: list[_OrderPlan] = []
        has_pos_order = has_web_order = False
        for k, days_ago in enumerate(order_days):
            plan = self._add_order(rng, chunk, interactions, customer_id=customer_id, number=number, k=k,
                                   days_ago=days_ago, boutique=boutique, advisor=advisor, persona=persona,
                                   categories=categories, travels=travels)
            orders.append(plan)
            has_web_order = has_web_order or plan.is_web
            has_pos_order = has_pos_order or not plan.is_web

        # Other touchpoints -----------------------------------------------------------------------------------
        codes, cum_weights = self._kinds_for(persona, bool(email), bool(phone))
        seen_kinds: set[str] = set()
        consideration: tuple[dt.datetime, int] | None = None
        for k in range(min(int(rng.expovariate(1 / persona.engagement)) + 1, 80)):
            code = rng.choices(codes, cum_weights=cum_weights)[0]
            if code == "newsletter_signup" and code in seen_kinds:
                code = "email_opened"
            seen_kinds.add(code)
            at_id, occurred_at = self._add_touchpoint(
                rng, interactions, code=code, customer_id=customer_id, number=number, k=k,
                days_ago=rng.randint(1, first_days), boutique=boutique, advisor=advisor, country=country,
                categories=categories,
            )
            if code in _CONSIDERATION_KINDS and (consideration is None or occurred_at < consideration[0]):
                consideration = (occurred_at, at_id)

        # The journey: enrollment and every stage move, consistent with the history -----------------------------
        moves = self._stage_moves(orders, consideration)
        if len(moves) and moves[-1][1] == LifecycleStage.LOYALTY and rng.random() < 0.18:
            # Some loyal clients recommend the house: the referral moves them to Advocacy.
            referred_at = self._later(rng, moves[-1][0])
            referral_id = self.ids["interaction"].take()
            type_id, channel = house.touchpoint_types["referral"]
            interactions.append((referral_id, customer_id, type_id, referred_at, channel, boutique.id,
                                 advisor.id if advisor else None, CRM, f"referral-{number:08d}-001", None, "",
                                 None, {"via": "advisor" if advisor else "friend"}, referred_at))
            moves.append((referred_at, LifecycleStage.ADVOCACY.value, referral_id))
        self._add_enrollment(chunk, customer_id=customer_id, created_at=created_at, moves=moves)
        chunk.rows[INTERACTIONS].extend(interactions)
        last_interaction_at = max(row[3] for row in interactions)

        # Identities in the three systems -----------------------------------------------------------------------
        identities = [(customer_id, CRM, f"CRM-{number:08d}", created_at)]
        if has_pos_order or "store_visit" in seen_kinds or "repair_service" in seen_kinds or rng.random() < 0.3:
            identities.append((customer_id, POS, f"POS-{number:08d}", created_at))
        if has_web_order or seen_kinds & {"wishlist_added", "cart_abandoned", "newsletter_signup"} or (
            rng.random() < 0.25
        ):
            # A scrambled but unique account number, as an online shop would show it (bijective below 2**32).
            identities.append((customer_id, ECOMMERCE, f"cus_{(number * 2654435761) % 2**32:08x}", created_at))
        chunk.rows[IDENTITIES].extend(identities)

        # Consent: the ledger, and the state it gives --------------------------------------------------------------
        consent, consent_changed_at = self._add_consent(
            rng, chunk, customer_id=customer_id, created_at=created_at, has_email=bool(email), has_phone=bool(phone),
            web_first=has_web_order and not has_pos_order, advisor=advisor, persona=persona,
        )

        chunk.rows[CUSTOMERS].append((
            customer_id, uuid.UUID(int=rng.getrandbits(128), version=4), first_name, last_name, email, phone,
            birth_date, language, rng.choice(people.cities), country, boutique.id, advisor.id if advisor else None,
            persona_ref.id, ValueTier.PROSPECT.value, preferences, notes, consent, Decimal("0.00"), 0,
            Decimal("0.00"), last_interaction_at, False, created_at, max(created_at, consent_changed_at),
        ))

    def _add_order(self, rng: random.Random, chunk: _Chunk, interactions: list[tuple[Any, ...]], *, customer_id: int,
                   number: int, k: int, days_ago: int, boutique: _BoutiqueRef, advisor: _AdvisorRef | None,
                   persona: vocab.PersonaSpec, categories: list[str], travels: bool) -> _OrderPlan:
        house = self.house
        is_web = rng.random() < persona.web_share
        if is_web:
            source, channel, shop, seller = ECOMMERCE, "web", boutique, None
            placed_at = self._moment(rng, days_ago, (7, 24), boutique.spec.utc_offset)
            external_id = f"W{number:08d}{k + 1:02d}"
        else:
            source, channel = POS, "boutique"
            shop = boutique
            if rng.random() < (0.3 if travels else 0.05):
                shop = rng.choice(house.boutiques)
            seller = advisor if shop is boutique and advisor else rng.choice(shop.advisors)
            placed_at = self._moment(rng, days_ago, (10, 19), shop.spec.utc_offset)
            external_id = f"{shop.spec.code}-{number:08d}-{k + 1:02d}"
        currency = shop.currency

        lines: list[tuple[Any, ...]] = []
        order_id = self.ids["order"].take()
        total = Decimal("0.00")
        units = 0
        for line_number in range(1, rng.choices((1, 2, 3), cum_weights=(65, 90, 100))[0] + 1):
            category = rng.choice(categories) if rng.random() < 0.7 else rng.choice(house.categories)
            product = self._product(rng, category)
            quantity = 2 if category in ("Fragrance", "Small leather goods") and rng.random() < 0.15 else 1
            price = product.prices[currency]
            lines.append((order_id, line_number, product.sku, product.id, product.name, product.category, quantity,
                          price, False))
            total += quantity * price
            units += quantity

        status = FULFILLED
        updated_at = placed_at
        first_status = FULFILLED
        roll = rng.random()
        if is_web and days_ago <= 3:
            status = first_status = PLACED
        elif roll < 0.03:
            status, first_status = CANCELLED, PLACED
            updated_at = min(placed_at + dt.timedelta(hours=rng.randint(1, 30)), self._latest(placed_at))
        elif roll < 0.07:
            returned_at = placed_at + dt.timedelta(days=rng.randint(3, 28), hours=rng.randint(0, 8))
            if returned_at < self.anchor:
                status, updated_at = RETURNED, returned_at
        elif roll < 0.10 and units >= 2:
            # A partial return: one article comes back as a negative line; the order stays fulfilled, net.
            returned = rng.choice(lines)
            lines.append((order_id, len(lines) + 1, returned[2], returned[3], returned[4], returned[5], -1,
                          returned[7], True))
            total -= returned[7]
            updated_at = min(placed_at + dt.timedelta(days=rng.randint(2, 20)), self._latest(placed_at))
        if status == FULFILLED and is_web:
            updated_at = max(updated_at, min(placed_at + dt.timedelta(days=2), self._latest(placed_at)))

        seller_id = seller.id if seller else None
        chunk.rows[ORDERS].append((order_id, source, external_id, customer_id, shop.id, seller_id, channel, placed_at,
                                   status, currency, total, to_house_currency(total, currency), placed_at,
                                   updated_at))
        chunk.rows[ORDER_LINES].extend(lines)
        # On the timeline exactly as touchpoints.services.orders._record_on_timeline puts it: the purchase as the
        # order was first recorded, then the return when the order became returned.
        purchase_id = self.ids["interaction"].take()
        type_id = house.touchpoint_types["return" if total < 0 else "purchase"][0]
        interactions.append((purchase_id, customer_id, type_id, placed_at, channel, shop.id, seller_id, source,
                             f"order:{external_id}", abs(total), currency, order_id, {"status": first_status},
                             placed_at))
        if status == RETURNED:
            returned_at = max(placed_at, updated_at)
            interactions.append((self.ids["interaction"].take(), customer_id, house.touchpoint_types["return"][0],
                                 returned_at, channel, shop.id, seller_id, source, f"order:{external_id}:returned",
                                 abs(total), currency, order_id, {}, returned_at))
        return _OrderPlan(placed_at=placed_at, status=status, is_web=is_web, interaction_id=purchase_id)

    def _product(self, rng: random.Random, category: str) -> _ProductRef:
        """A piece of the category, the more affordable ones more often, as in any boutique's sales."""
        products = self.house.products_by_category[category]
        return products[int(len(products) * rng.random() ** 1.5)]

    def _latest(self, after: dt.datetime) -> dt.datetime:
        """The latest moment a follow-up of `after` may take: a minute before the anchor, never before `after`."""
        return max(after, self.anchor - dt.timedelta(minutes=1))

    def _add_touchpoint(self, rng: random.Random, interactions: list[tuple[Any, ...]], *, code: str,
                        customer_id: int, number: int, k: int, days_ago: int, boutique: _BoutiqueRef,
                        advisor: _AdvisorRef | None, country: str,
                        categories: list[str]) -> tuple[int, dt.datetime]:
        house = self.house
        _weight, source, hours, _needs = _INTERACTION_KINDS[code]
        type_id, channel = house.touchpoint_types[code]
        occurred_at = self._moment(rng, days_ago, hours, boutique.spec.utc_offset)
        shop_id = advisor_id = None
        amount: Decimal | None = None
        currency = ""
        metadata: dict[str, Any] = {}
        if code in _PHYSICAL_KINDS:
            shop_id = boutique.id
            helper = advisor or rng.choice(boutique.advisors)
            advisor_id = helper.id if code != "store_visit" or rng.random() < 0.7 else None
        if code in ("product_view", "wishlist_added"):
            metadata["sku"] = rng.choice(house.products_by_category[rng.choice(categories)]).sku
        elif code == "cart_abandoned":
            products = [
                rng.choice(house.products_by_category[rng.choice(categories)]) for _ in range(rng.randint(1, 3))
            ]
            metadata["skus"] = [product.sku for product in products]
            amount, currency = sum(p.prices[boutique.currency] for p in products), boutique.currency
        elif code in ("email_opened", "email_clicked"):
            metadata["campaign"] = rng.choice(vocab.CAMPAIGNS)
        elif code == "event_attended":
            metadata["event"] = rng.choice(vocab.EVENTS)
        elif code == "appointment":
            metadata["purpose"] = rng.choice(vocab.APPOINTMENT_PURPOSES)
        elif code == "phone_call":
            metadata.update(direction="outbound" if rng.random() < 0.8 else "inbound",
                            reason=rng.choice(vocab.PHONE_REASONS))
        elif code == "message_exchanged":
            metadata["app"] = vocab.MESSAGING_APPS.get(country, "WhatsApp")
        elif code == "social_engagement":
            metadata["network"] = rng.choice(vocab.SOCIAL_NETWORKS)
        elif code == "repair_service":
            metadata["category"] = rng.choice(categories)
        interaction_id = self.ids["interaction"].take()
        interactions.append((interaction_id, customer_id, type_id, occurred_at, channel, shop_id, advisor_id, source,
                             f"{code}-{number:08d}-{k + 1:03d}", amount, currency, None, metadata,
                             occurred_at))
        return interaction_id, occurred_at

    def _stage_moves(
        self, orders: list[_OrderPlan], consideration: tuple[dt.datetime, int] | None
    ) -> list[tuple[dt.datetime, str, int | None]]:
        """The stage moves the client's history implies, after the enrollment: (when, stage key, interaction)."""
        bought = [order for order in orders if order.status != CANCELLED]
        moves: list[tuple[dt.datetime, str, int | None]] = []
        if consideration and (not bought or consideration[0] < bought[0].placed_at):
            moves.append((consideration[0], LifecycleStage.CONSIDERATION.value, consideration[1]))
        if bought:
            first = bought[0]
            moves.append((first.placed_at, LifecycleStage.PURCHASE.value, first.interaction_id))
            after_purchase = first.placed_at + dt.timedelta(days=DAYS_IN_PURCHASE)
            next_event = bought[1].placed_at if len(bought) > 1 else self.anchor
            if after_purchase < next_event:
                moves.append((after_purchase, LifecycleStage.POST_PURCHASE.value, None))
            if len(bought) > 1:
                moves.append((bought[1].placed_at, LifecycleStage.LOYALTY.value, bought[1].interaction_id))
        return moves

    def _add_enrollment(self, chunk: _Chunk, *, customer_id: int, created_at: dt.datetime,
                        moves: list[tuple[dt.datetime, str, int | None]]) -> None:
        stages = self.house.stages
        enrollment_id = self.ids["enrollment"].take()
        transitions = chunk.rows[TRANSITIONS]
        stage = LifecycleStage.AWARENESS.value
        transitions.append((enrollment_id, None, stages[stage], created_at, Transition.Cause.ENROLLMENT.value, None,
                            ""))
        at = created_at
        for occurred_at, to_stage, interaction_id in moves:
            # Moves are strictly ordered in time, so "the last transition" is never ambiguous.
            at = max(occurred_at, at + dt.timedelta(seconds=1))
            if at < self.imported_before:
                cause, note = Transition.Cause.IMPORT.value, "Imported from the legacy CRM."
            else:
                cause, note = Transition.Cause.RULE.value, ""
            transitions.append((enrollment_id, stages[stage], stages[to_stage], at, cause, interaction_id, note))
            stage = to_stage
        chunk.rows[ENROLLMENTS].append((enrollment_id, customer_id, self.house.journey_id, stages[stage], at,
                                        created_at, created_at, at))

    def _add_consent(self, rng: random.Random, chunk: _Chunk, *, customer_id: int, created_at: dt.datetime,
                     has_email: bool, has_phone: bool, web_first: bool, advisor: _AdvisorRef | None,
                     persona: vocab.PersonaSpec) -> tuple[dict[str, bool], dt.datetime]:
        """Write the consent ledger and return the state it gives (the latest event per channel and purpose)."""
        events = chunk.rows[CONSENT_EVENTS]
        state: dict[str, bool] = {}
        last_change = created_at
        signup_source = ECOMMERCE if web_first else rng.choice((POS, CRM))
        recorded_by = advisor.user_id if advisor and signup_source != ECOMMERCE else None
        signed_at = created_at + dt.timedelta(minutes=rng.randint(1, 30))
        for channel, purpose, grants, refuses, needs in _CONSENTS:
            if (needs == "email" and not has_email) or (needs == "phone" and not has_phone):
                continue
            if channel in ("phone", "messaging") and purpose == "marketing":
                grants = min(grants * persona.channel_affinity.get(channel, 1.0), 0.9)
            roll = rng.random()
            if roll >= grants + refuses:
                continue
            history = [(signed_at, roll < grants, signup_source, recorded_by)]
            if roll < grants and purpose == "marketing" and rng.random() < 0.12:
                # Withdrawn later (an unsubscribe link, or a word to the advisor), sometimes granted again.
                withdrawn_at = self._later(rng, signed_at)
                history.append((withdrawn_at, False, ECOMMERCE if channel == "email" else CRM, None))
                if rng.random() < 0.3:
                    history.append((self._later(rng, withdrawn_at), True, CRM, recorded_by))
            for occurred_at, granted, source, actor in history:
                version = "consent-v3" if occurred_at < self.imported_before else "consent-v4"
                events.append((customer_id, channel, purpose, granted, occurred_at, source,
                               actor if source != ECOMMERCE else None, version, occurred_at))
            state[f"{channel}_{purpose}"] = history[-1][1]
            last_change = max(last_change, history[-1][0])
        return state, last_change


# --- The generator ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GenerationResult:
    """What a run wrote: rows per table (by model label) and how long it took."""

    counts: dict[str, int]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(self.counts.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


def default_anchor() -> dt.datetime:
    """Today at midnight UTC: the moment the generated history runs up to."""
    return timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)


def generate(
    *,
    customers: int = 2_000,
    seed: int = 42,
    password: str,
    anchor: dt.datetime | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[int], None] | None = None,
    method: str = "copy",
    start: int = 0,
) -> GenerationResult:
    """Create the demo house and `customers` clients with two years of history, and return what was written.

    `anchor` (aware; default today 00:00 UTC) is the end of the history; with the same seed, size and anchor the
    data is the same. `progress` is called with the number of clients done after each chunk. `method` "copy"
    writes with COPY, one transaction per chunk; "orm" writes one `Model.objects.create()` per row (the
    benchmark's baseline). `start` numbers the first client, so a second run can add clients after a first.
    Staff logins get `password`. The clients' numbers must not exist yet: emails and external ids derive from them.
    """
    if customers < 0 or chunk_size < 1 or start < 0 or seed < 0:
        raise ValueError("customers and start must be >= 0, seed >= 0 and chunk_size >= 1.")
    if method not in WRITERS:
        raise ValueError(f"Unknown method {method!r}; use one of {', '.join(WRITERS)}.")
    anchor = anchor or default_anchor()
    if timezone.is_naive(anchor):
        raise ValueError("The anchor must be timezone-aware.")
    began = time.perf_counter()
    writer = WRITERS[method]()
    with transaction.atomic():
        house = _install_house(seed=seed, password=password, anchor=anchor)
        # The demo staff get the groups (permissions) of their roles, as advisor_save gives them.
        staff_groups_sync()
    counts = dict(house.counts)
    block = min(chunk_size, max(customers, 1))
    ids = {
        "customer": _Ids(Customer, block),
        "order": _Ids(Order, block * 4),
        "interaction": _Ids(Interaction, block * 16),
        "enrollment": _Ids(Enrollment, block),
    }
    builder = _ClientBuilder(house=house, seed=seed, anchor=anchor, ids=ids)
    for chunk_start in range(start, start + customers, chunk_size):
        chunk_end = min(chunk_start + chunk_size, start + customers)
        chunk = _Chunk()
        with writer.transaction(), pgtrigger.ignore(*HISTORY_TRIGGERS):
            # pgtrigger sets its switch (transaction-local) on the next statement Django runs; COPY goes round
            # Django's cursor, so this statement sets it for the whole chunk.
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
            for index in range(chunk_start, chunk_end):
                builder.add(index, chunk)
            for table in TABLES:
                writer.write(table, chunk.rows[table])
                counts[table.label] = counts.get(table.label, 0) + len(chunk.rows[table])
            if writer.refresh_per_chunk:
                # The metrics come from the one service that computes them, set-based over the chunk's clients.
                customer_metrics_refresh(customer_ids=chunk.customer_ids)
        if progress is not None:
            progress(chunk_end - chunk_start)
    if not writer.refresh_per_chunk:
        with connection.cursor() as cursor:
            # Fresh statistics give the refresh (and the demo's first pages) good plans on the new volumes.
            for table in TABLES:
                cursor.execute(f"ANALYZE {connection.ops.quote_name(table.db_table)}")
        with transaction.atomic(), pgtrigger.ignore(*HISTORY_TRIGGERS):
            customer_metrics_refresh()
    return GenerationResult(counts=counts, seconds=time.perf_counter() - began)


def demo_data_delete() -> None:
    """Delete every client with their whole history, and the demo's boutiques, staff, personas and products.

    Touchpoint types, journeys, rules, templates and surveys stay; so do staff accounts the demo did not create,
    and boutiques such staff still work for.
    """
    user_model = get_user_model()
    quote = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        # Rows written earlier in this transaction leave deferred foreign-key checks that TRUNCATE refuses to skip.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        # CASCADE reaches exactly the per-client tables (identities, consent, orders and lines, interactions,
        # enrollments and transitions, follow-ups, invitations and responses, merges), never the configuration.
        cursor.execute(f"TRUNCATE {quote(Customer._meta.db_table)}, {quote(Product._meta.db_table)} CASCADE")
        user_model.objects.filter(username__in=vocab.staff_usernames()).delete()
        Persona.objects.filter(slug__in=[persona.slug for persona in vocab.PERSONAS]).delete()
        Boutique.objects.filter(code__in=[boutique.code for boutique in vocab.BOUTIQUES]).exclude(
            pk__in=Advisor.objects.filter(boutique__isnull=False).values("boutique_id")
        ).delete()
