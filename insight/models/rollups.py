"""The rollups behind the journey map and the house's figures: insight's own tables, rebuilt from the raw ones.

Nothing here is a source of truth. insight.services.rollups writes these rows set-based from Transition, Enrollment
and Order, and rewrites a client's rows whenever their stage moves or orders change (core.client_changes), so
every figure read from them equals the same figure computed from the raw tables (insight.selectors.raw, and the
tests that compare the two). The client's boutique, advisor, persona and tier are copied in when the row is
written: they are the slices of the map, and the scope (a boutique's manager sees their home boutique's clients).
Plain integer columns rather than foreign keys: a rollup never blocks a delete in the apps it reads, and a merged
client's rows are replaced when the survivor's are rewritten.
"""

from __future__ import annotations

from django.db import models


class StageStay(models.Model):
    """One client's stay in one stage of a journey: entered by a transition, left by the next one (or still there).

    `moved_on` is a move out within the stage's target days (any move when the stage has none). A stay that did not
    move on is dropped from `dropped_at`: when the client left the journey, or when the target days ran out,
    whichever came first; until then (and when neither happens) the client is still in the stage.
    """

    entering_transition_id = models.BigIntegerField(unique=True)
    enrollment_id = models.BigIntegerField()
    journey_id = models.BigIntegerField()
    stage_id = models.BigIntegerField()
    customer_id = models.BigIntegerField()
    boutique_id = models.BigIntegerField(null=True)
    advisor_id = models.BigIntegerField(null=True)
    persona_id = models.BigIntegerField(null=True)
    value_tier = models.CharField(max_length=12)
    entered_at = models.DateTimeField()
    entered_on = models.DateField()
    left_at = models.DateTimeField(null=True)
    to_stage_id = models.BigIntegerField(null=True)
    moved_on = models.BooleanField()
    dropped_at = models.DateTimeField(null=True)

    class Meta:
        indexes = [
            models.Index(fields=["journey_id", "entered_on"], name="insight_stay_journey_day_idx"),
            models.Index(fields=["customer_id"], name="insight_stay_customer_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in {self.stage_id} from {self.entered_on}"


class ValueFact(models.Model):
    """One counted order (placed or fulfilled), net of its returns, in the house currency, with whether it was
    the client's first purchase. The per-order layer the daily figures are summed from; keyed by the order, so a
    merged client's orders are never counted twice."""

    order_id = models.BigIntegerField(unique=True)
    customer_id = models.BigIntegerField()
    placed_on = models.DateField()
    boutique_id = models.BigIntegerField(null=True)
    advisor_id = models.BigIntegerField(null=True)
    channel = models.CharField(max_length=16)
    revenue = models.DecimalField(max_digits=14, decimal_places=2)
    # A purchase: an order whose net total is above zero (a return-only receipt reduces revenue, buys nothing).
    is_purchase = models.BooleanField()
    is_first_purchase = models.BooleanField()

    class Meta:
        indexes = [
            models.Index(fields=["customer_id"], name="insight_fact_customer_idx"),
            models.Index(fields=["placed_on"], name="insight_fact_day_idx"),
        ]

    def __str__(self) -> str:
        return f"order {self.order_id} on {self.placed_on}"


class ValueDay(models.Model):
    """Value by day × the client's home boutique × the client's advisor × the order's channel: revenue net of
    returns and cancellations, purchases, and first purchases (new clients)."""

    day = models.DateField()
    boutique_id = models.BigIntegerField(null=True)
    advisor_id = models.BigIntegerField(null=True)
    channel = models.CharField(max_length=16)
    revenue = models.DecimalField(max_digits=16, decimal_places=2)
    purchases = models.IntegerField()
    new_clients = models.IntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "boutique_id", "advisor_id", "channel"], name="insight_value_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [models.Index(fields=["day"], name="insight_value_day_idx")]

    def __str__(self) -> str:
        return f"{self.day} {self.boutique_id}/{self.advisor_id}/{self.channel}"
