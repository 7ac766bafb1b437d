"""The house: boutiques, staff, personas and products, installed through the ORM before the clients."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from itertools import accumulate

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password

from bench import vocabulary as vocab
from bench.generator.constants import (
    _INTERACTION_KINDS,
    LIFECYCLE_JOURNEY_SLUG,
)
from customers.models import (
    Advisor,
    Boutique,
    Persona,
)
from journeys.models import Journey, Stage
from touchpoints.models import LifecycleStage, Product, TouchpointType

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
