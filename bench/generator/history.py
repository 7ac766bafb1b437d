"""A client's history as _ClientBuilder draws it: orders, touchpoints, stage moves and the consent ledger."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bench import vocabulary as vocab
from bench.generator.constants import (
    _CONSENTS,
    _INTERACTION_KINDS,
    _PHYSICAL_KINDS,
    CANCELLED,
    CRM,
    DAYS_IN_PURCHASE,
    ECOMMERCE,
    FULFILLED,
    PLACED,
    POS,
    RETURNED,
)
from bench.generator.house import (
    _AdvisorRef,
    _BoutiqueRef,
    _House,
    _ProductRef,
)
from bench.generator.tables import (
    CONSENT_EVENTS,
    ENROLLMENTS,
    ORDER_LINES,
    ORDERS,
    TABLES,
    TRANSITIONS,
    _Ids,
    _Table,
)
from journeys.models import Transition
from touchpoints.models import LifecycleStage
from touchpoints.services.orders import to_house_currency

# The advisor notes a timeline entry can say as they are (the others name a line, a month or a size to fill in).
_TIMELINE_NOTES = tuple(note for note in vocab.ADVISOR_NOTES if "{" not in note)


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


class _ClientHistory:
    """The parts of a client's history _ClientBuilder draws: orders, touchpoints, stage moves, consent."""

    house: _House
    anchor: dt.datetime
    ids: dict[str, _Ids]
    imported_before: dt.datetime

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
        elif code == "advisor_note":
            # What the advisor wrote, as the staff page's "Note" keeps it; picked without a draw from `rng`, so the
            # rest of the generated house stays what it was for the same seed.
            metadata["note"] = _TIMELINE_NOTES[(number + k) % len(_TIMELINE_NOTES)]
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
                            "", ""))
        at = created_at
        for occurred_at, to_stage, interaction_id in moves:
            # Moves are strictly ordered in time, so "the last transition" is never ambiguous.
            at = max(occurred_at, at + dt.timedelta(seconds=1))
            if at < self.imported_before:
                cause, note = Transition.Cause.IMPORT.value, "Imported from the legacy CRM."
            else:
                cause, note = Transition.Cause.RULE.value, ""
            transitions.append((enrollment_id, stages[stage], stages[to_stage], at, cause, interaction_id, note, ""))
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
