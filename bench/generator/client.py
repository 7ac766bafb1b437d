"""One client: _ClientBuilder draws a client's details and appends them, with their history, to a chunk."""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
import uuid
from decimal import Decimal
from itertools import accumulate
from typing import Any

from bench import vocabulary as vocab
from bench.generator.constants import (
    _CONSIDERATION_KINDS,
    _INTERACTION_KINDS,
    CRM,
    ECOMMERCE,
    HISTORY_DAYS,
    IMPORTED_BEFORE_DAYS,
    POS,
)
from bench.generator.history import _Chunk, _ClientHistory, _OrderPlan
from bench.generator.house import (
    _House,
)
from bench.generator.tables import (
    CUSTOMERS,
    IDENTITIES,
    INTERACTIONS,
    _Ids,
)
from customers.models import (
    ValueTier,
)
from touchpoints.models import LifecycleStage

# --- One client and their history ----------------------------------------------------------------------------

_ASCII_CACHE: dict[str, str] = {}


def _ascii(name: str) -> str:
    """A name as it appears in an email address: no accents, spaces or apostrophes."""
    if name not in _ASCII_CACHE:
        plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
        _ASCII_CACHE[name] = "".join(c for c in plain if c.isalnum())
    return _ASCII_CACHE[name]


class _ClientBuilder(_ClientHistory):
    """Draws one client and everything that happened to them, and appends the rows to a chunk."""

    def __init__(self, *, house: _House, seed: int, anchor: dt.datetime, ids: dict[str, _Ids]) -> None:
        self.house = house
        self.seed = seed
        self.anchor = anchor
        self.ids = ids
        self.imported_before = anchor - dt.timedelta(days=IMPORTED_BEFORE_DAYS)
        self._kind_weights: dict[tuple[str, bool, bool], tuple[list[str], list[float]]] = {}

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
