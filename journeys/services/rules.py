"""The rule engine: journey rules applied to new interactions (after their commit, in a task) and, from beat, the
time-based rules over every client in a journey.

What a rule acts on:
- on an interaction: clients in the journey, in one of the rule's `from_stages` (empty: any stage); a client not
  yet in the journey only when the rule `enrolls_new_clients` (straight into its stage), and, for a journey meant
  for one persona, only a client of that persona. A client who has left the journey is not brought back by a rule;
- on time: clients in the journey (not left), in one of `from_stages` (empty: any stage);
- both: for a journey meant for a segment, only the clients the segment holds when the rule runs (its filters are
  CustomerFilterSet's, evaluated in the batch's queries: customers.selectors.segment_customers). A client who
  drops out of the segment stays enrolled, and is not moved by its rules until they are back in it.
Never: clients on hands-off, anonymized clients; and a rule does not *move* a client whom staff moved or placed by
hand within JOURNEY_MANUAL_GRACE_DAYS (such a rule does not fire at all, its follow-up included: the follow-up
goes with the move it belongs to). An interaction older than JOURNEY_FOLLOWUP_MAX_AGE_DAYS when the rules see it
(a late sync, an import that opts in) still moves the client but schedules no follow-up. Follow-ups of interaction
rules are due `delay_hours` after the interaction; those of time rules after the run that found the client.
Dates (birthdays, first-purchase anniversaries, "today") are read on the calendar of the client's home boutique,
else of the house (TIME_ZONE); the days of time in stage and inactivity are counted in elapsed time.

Idempotent: a Transition names its rule and interaction, and one (rule, interaction) pair is acted on once;
follow-ups are keyed `rule:<rule>:interaction:<interaction>` or, on time,
`rule:<rule>:customer:<customer>:<date>` where the date is what the rule looked at (the day of the last watched
interaction or of entering the stage, or the date coming up), so another run that day or the next finds it done.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    Count,
    DateField,
    DateTimeField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Cast, Coalesce, Concat, ExtractYear, Greatest, TruncDate
from django.db.models.lookups import GreaterThanOrEqual
from django.utils import timezone

from customers.models import Customer
from customers.selectors import segment_customers
from journeys import selectors
from journeys.models import TIER_ORDER, Enrollment, FollowUp, HandsOff, Rule, Transition
from journeys.services.enrollments import EnrolledMeanwhile, StageMove, StageMoveBatch, StageMoveResult
from journeys.services.followups import FollowUpRequest, followups_schedule_many
from touchpoints.models import Interaction

logger = logging.getLogger(__name__)

# Clients per transaction of a time rule: their enrollments stay locked while their follow-ups are scheduled, and an
# interaction task touching one of them waits that long.
TIME_CHUNK_SIZE = 1000


@dataclass
class RulesOutcome:
    """What a run of the rules did, for logs, task results and the benchmark."""

    evaluated: int = 0
    fired: int = 0
    enrolled: int = 0
    moved: int = 0
    followups: int = 0
    skipped_hands_off: int = 0
    skipped_grace: int = 0
    skipped_late_followups: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


@dataclass(frozen=True)
class _LoadedRule:
    """A rule with its many-to-many choices as sets of ids, read once per batch."""

    rule: Rule
    type_ids: frozenset[int]
    from_stage_ids: frozenset[int]
    boutique_ids: frozenset[int]
    tiers: frozenset[str] = field(default_factory=frozenset)


def _load(rules: Iterable[Rule]) -> list[_LoadedRule]:
    return [
        _LoadedRule(
            rule=rule,
            type_ids=frozenset(t.pk for t in rule.touchpoint_types.all()),
            from_stage_ids=frozenset(s.pk for s in rule.from_stages.all()),
            boutique_ids=frozenset(b.pk for b in rule.boutiques.all()),
            tiers=frozenset(TIER_ORDER[TIER_ORDER.index(rule.min_tier):]) if rule.min_tier else frozenset(),
        )
        for rule in rules
    ]


def grace_start(now: dt.datetime) -> dt.datetime:
    """Manual moves since this moment keep rules from moving the client."""
    return now - dt.timedelta(days=settings.JOURNEY_MANUAL_GRACE_DAYS)


# --- The conditions: one home, querysets both paths run -------------------------------------------------------


def _clients_in_scope(loaded: _LoadedRule, *, now: dt.datetime, among: Iterable[int] | None = None
                      ) -> QuerySet[Customer]:
    """The clients a rule may act on at `now` (of `among`, when given): not anonymized, not on hands-off, of the
    rule's value tiers, and, for a journey meant for a segment, held by the segment now (its filters are
    CustomerFilterSet's, run inside this query)."""
    clients = Customer.objects.filter(is_anonymized=False).filter(
        ~Exists(HandsOff.objects.filter(selectors.hands_off_active_q(at=now), customer_id=OuterRef("pk")))
    )
    if among is not None:
        clients = clients.filter(pk__in=sorted(set(among)))
    if loaded.tiers:
        clients = clients.filter(value_tier__in=sorted(loaded.tiers))
    segment = loaded.rule.journey.segment
    if segment is not None:
        clients = clients.filter(pk__in=segment_customers(segment=segment).values("pk"))
    return clients


def _interactions_of(loaded: _LoadedRule, *, customer: OuterRef) -> QuerySet[Interaction]:
    """The client's interactions of the rule's touchpoint types (what a count counts, what inactivity watches)."""
    return Interaction.objects.filter(customer_id=customer, touchpoint_type_id__in=sorted(loaded.type_ids))


class _Score(Func):
    """An interaction's survey score: its metadata "score" when that is a number, or text that reads as one;
    else NULL (no score)."""

    output_field = DecimalField()
    template = (
        "CASE WHEN jsonb_typeof(%(expressions)s -> 'score') = 'number' THEN (%(expressions)s ->> 'score')::numeric "
        "WHEN jsonb_typeof(%(expressions)s -> 'score') = 'string' AND (%(expressions)s ->> 'score') "
        r"~ '^\s*[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$' "
        "THEN (%(expressions)s ->> 'score')::numeric END"
    )


def _interactions_matching(loaded: _LoadedRule) -> Q:
    """The rule's conditions on the interaction itself: its touchpoint types, amount, channel, boutique, survey
    score, count of the types in the window ending at it (itself included). An interaction must meet them, for a
    client in scope (_clients_in_scope); what the stage conditions say is decided against the batch's own moves
    (_stage_allows)."""
    rule = loaded.rule
    conditions = Q(touchpoint_type_id__in=sorted(loaded.type_ids))
    if rule.min_amount is not None:
        conditions &= Q(amount__gte=rule.min_amount)
    if rule.channel:
        conditions &= Q(channel=rule.channel)
    if loaded.boutique_ids:
        conditions &= Q(boutique_id__in=sorted(loaded.boutique_ids))
    if rule.min_score is not None:
        conditions &= Q(GreaterThanOrEqual(_Score("metadata"), rule.min_score))
    if rule.min_count is not None:
        in_window = (
            _interactions_of(loaded, customer=OuterRef("customer_id"))
            .filter(occurred_at__gt=OuterRef("occurred_at") - dt.timedelta(days=rule.window_days),
                    occurred_at__lte=OuterRef("occurred_at"))
            .order_by().values("customer_id").annotate(total=Count("pk")).values("total")
        )
        conditions &= Q(GreaterThanOrEqual(Coalesce(Subquery(in_window, output_field=IntegerField()), 0),
                                           rule.min_count))
    return conditions


def _stage_allows(loaded: _LoadedRule, enrollment: Enrollment | None, customer: Customer) -> bool:
    """The rule's conditions on where the client is in its journey, read as the batch has moved them so far: in
    one of `from_stages` (empty: any) and not left; a client not yet in the journey only when the rule enrolls
    new clients, and, for a journey meant for one persona, only a client of that persona."""
    rule = loaded.rule
    if enrollment is None:
        persona_id = rule.journey.persona_id
        return rule.enrolls_new_clients and not (persona_id and customer.persona_id != persona_id)
    return enrollment.exited_at is None and (
        not loaded.from_stage_ids or enrollment.stage_id in loaded.from_stage_ids
    )


# --- On an interaction ------------------------------------------------------------------------------------------


def _matching_pairs(loaded: list[_LoadedRule], ids: list[int], now: dt.datetime) -> set[tuple[int, int]]:
    """(rule, interaction) for every rule whose conditions an interaction of the batch meets: its own
    (_interactions_matching, every rule answered in one statement) and its client's (_clients_in_scope, one
    statement per scope the rules share: their tiers and segment)."""
    flags = {
        f"matches_rule_{item.rule.pk}": ExpressionWrapper(_interactions_matching(item), output_field=BooleanField())
        for item in loaded
    }
    rows = list(Interaction.objects.filter(pk__in=ids).order_by().annotate(**flags)
                .values_list("pk", "customer_id", *flags))
    customer_ids = {customer_id for _, customer_id, *_ in rows}
    scopes: dict[tuple[frozenset[str], int | None], set[int]] = {}
    pairs = set()
    for index, item in enumerate(loaded):
        scope = (item.tiers, item.rule.journey.segment_id)
        if scope not in scopes:
            scopes[scope] = set(_clients_in_scope(item, now=now, among=customer_ids).values_list("pk", flat=True))
        pairs.update((item.rule.pk, pk) for pk, customer_id, *matches in rows
                     if matches[index] and customer_id in scopes[scope])
    return pairs


def rules_apply_to_interactions(*, interaction_ids: Iterable[int], now: dt.datetime | None = None) -> RulesOutcome:
    """Run the active interaction rules on these interactions (in the order they happened), acting on each rule that
    matches: enroll or move the client (a Transition naming the rule and the interaction), schedule the rule's
    follow-up (followups_schedule_many). Interactions that are gone (a rolled-back savepoint) are skipped. Running it
    again for the same ids changes nothing.

    One transaction for the batch, set-based: the interactions with their clients, the rules, the enrollments
    (locked, in id order, so two workers never deadlock), the pauses, the recent manual moves and the conditions
    every rule checks (one statement) are read in a handful of queries; the moves are decided in memory in the order
    the interactions happened, then written by the one writer of stage moves (StageMoveBatch). Follow-ups go
    through followups_schedule_many (it owns their idempotency, variants and holdout).
    """
    now = now or timezone.now()
    for attempt in (1, 2):
        try:
            with transaction.atomic():
                return _apply_to_interactions(sorted(set(interaction_ids)), now)
        except EnrolledMeanwhile:
            # Another worker enrolled one of the clients after this batch read them: decide again, seeing it.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def _apply_to_interactions(ids: list[int], now: dt.datetime) -> RulesOutcome:
    outcome = RulesOutcome()
    loaded = _load(selectors.rules_active(triggers=[Rule.Trigger.INTERACTION]))
    if not ids or not loaded:
        return outcome
    watched_types = frozenset().union(*(item.type_ids for item in loaded))
    interactions = list(
        Interaction.objects.filter(pk__in=ids, touchpoint_type_id__in=watched_types)
        .select_related("customer")
        .order_by("occurred_at", "pk")
    )
    outcome.evaluated = len(interactions)
    if not interactions:
        return outcome

    customer_ids = {interaction.customer_id for interaction in interactions}
    journeys = {item.rule.journey_id: item.rule.journey for item in loaded}
    batch = StageMoveBatch.lock(customer_ids=customer_ids, journey_ids=journeys, now=now, journeys=journeys)
    paused = selectors.customers_on_hands_off(customer_ids=customer_ids, at=now)
    in_grace = selectors.enrollments_in_manual_grace(
        enrollment_ids=[enrollment.pk for enrollment in batch.enrollments.values()], since=grace_start(now)
    )
    done = set(
        Transition.objects.filter(interaction_id__in=ids, rule__isnull=False).values_list("rule_id", "interaction_id")
    )
    matching = _matching_pairs(loaded, [interaction.pk for interaction in interactions], now)
    by_journey: dict[int, list[_LoadedRule]] = defaultdict(list)
    for item in loaded:
        by_journey[item.rule.journey_id].append(item)

    plan = _Plan(batch=batch, in_grace=in_grace, now=now, outcome=outcome)
    for interaction in interactions:
        if interaction.customer.is_anonymized:
            continue
        if interaction.customer_id in paused:
            outcome.skipped_hands_off += 1
            continue
        for journey_id, journey_rules in by_journey.items():
            for item in journey_rules:
                key = (interaction.customer_id, journey_id)
                if (item.rule.pk, interaction.pk) not in matching or not _stage_allows(
                    item, batch.enrollments.get(key), interaction.customer
                ):
                    continue
                # A pair acted on by an earlier run of this batch counts as fired (for stop_processing) and is not
                # acted on again.
                fired = (item.rule.pk, interaction.pk) in done or plan.fire(item.rule, interaction, key)
                if fired and item.rule.stop_processing:
                    break
    plan.write()
    logger.info(
        "journeys.rules_applied interactions=%s fired=%s moved=%s followups=%s",
        outcome.evaluated, outcome.fired, outcome.moved, outcome.followups,
    )
    return outcome


@dataclass
class _Plan:
    """The moves and follow-ups a batch decided, in order: moves go to the StageMoveBatch at once (the next rules
    see the new stage), written together by write()."""

    batch: StageMoveBatch
    in_grace: set[int]
    now: dt.datetime
    outcome: RulesOutcome
    followups: list[tuple[Rule, Interaction, Transition | None]] = field(default_factory=list)

    def fire(self, rule: Rule, interaction: Interaction, key: tuple[int, int]) -> bool:
        """Plan one rule for one interaction; False when the grace period after a manual move holds it back."""
        enrollment = self.batch.enrollments.get(key)
        transition = None
        if rule.to_stage_id is not None:
            if enrollment is not None and enrollment.stage_id != rule.to_stage_id and enrollment.pk in self.in_grace:
                self.outcome.skipped_grace += 1
                return False
            result = self.batch.add(StageMove(
                customer_id=interaction.customer_id, journey_id=rule.journey_id, to_stage=rule.to_stage,
                cause=Transition.Cause.RULE, enroll=True, occurred_at=self.now, clamp_to_stage_entry=True,
                rule_id=rule.pk, interaction_id=interaction.pk,
            ))
            transition = result.transition
            if result.status == StageMoveResult.ENROLLED:
                self.outcome.enrolled += 1
            elif result.status == StageMoveResult.MOVED:
                self.outcome.moved += 1
        if rule.followup_template_id is not None:
            if not rule.followup_template.is_active:
                logger.warning("journeys.rule_template_inactive rule_id=%s", rule.pk)
            elif interaction.occurred_at < self.now - dt.timedelta(days=settings.JOURNEY_FOLLOWUP_MAX_AGE_DAYS):
                self.outcome.skipped_late_followups += 1
            else:
                self.followups.append((rule, interaction, transition))
        self.outcome.fired += 1
        return True

    def write(self) -> None:
        self.batch.write()
        self.outcome.followups += followups_schedule_many([
            FollowUpRequest(customer=interaction.customer, template=rule.followup_template,
                            key=f"rule:{rule.pk}:interaction:{interaction.pk}", trigger_at=interaction.occurred_at,
                            rule=rule, transition=transition)
            for rule, interaction, transition in self.followups
        ])


# --- On time ----------------------------------------------------------------------------------------------------


class _AtTimeZone(Func):
    """A moment on the wall clock of a zone given per row (PostgreSQL's AT TIME ZONE)."""

    output_field = DateTimeField()
    arg_joiner = " AT TIME ZONE "
    template = "(%(expressions)s)"


class _YearsLater(Func):
    """A date moved on by a whole number of years; a 29 February falls on the 28th in other years (PostgreSQL's
    date + interval does that)."""

    output_field = DateField()
    arg_joiner = " + make_interval(years => "
    template = "(%(expressions)s))::date"


class _DaysLater(Func):
    output_field = DateField()
    arg_joiner = " + "
    template = "(%(expressions)s)::date"


class _DayText(Func):
    """A date as YYYY-MM-DD, for the follow-up's key."""

    function = "to_char"
    template = "to_char(%(expressions)s, 'YYYY-MM-DD')"
    output_field = CharField()


def _on_time(loaded: _LoadedRule, *, now: dt.datetime) -> QuerySet[Enrollment]:
    """The enrollments of the rule's journey its trigger holds for at `now`, annotated with `anchor`: the date the
    rule looked at (the day of the last watched interaction or of entering the stage, or the date coming up)."""
    rule = loaded.rule
    enrollments = Enrollment.objects.filter(journey_id=rule.journey_id)
    cutoff = now - dt.timedelta(days=rule.days)
    utc = dt.UTC
    if rule.trigger == Rule.Trigger.TIME_IN_STAGE:
        return enrollments.filter(stage_entered_at__lte=cutoff).alias(anchor=TruncDate("stage_entered_at", tzinfo=utc))
    if rule.trigger == Rule.Trigger.INACTIVITY:
        watched = _interactions_of(loaded, customer=OuterRef("customer_id"))
        last_seen = watched.order_by().values("customer_id").annotate(last=Max("occurred_at")).values("last")
        return enrollments.filter(stage_entered_at__lte=cutoff).filter(
            ~Exists(watched.filter(occurred_at__gt=cutoff))
        ).alias(anchor=TruncDate(Greatest("stage_entered_at", Subquery(last_seen)), tzinfo=utc))
    # A date in the profile: its next occurrence (today or later) within `days`, on the calendar of the client's
    # home boutique (else the house's TIME_ZONE): a birthday is the client's day where they live, not in UTC.
    zone = Coalesce(F("customer__home_boutique__timezone"), Value(settings.TIME_ZONE), output_field=CharField())
    today = Cast(_AtTimeZone(Value(now), zone), DateField())
    source = (
        F("customer__birth_date") if rule.profile_date == Rule.ProfileDate.BIRTHDAY
        else Cast(_AtTimeZone(F("customer__first_order_at"), zone), DateField())
    )
    enrollments = enrollments.alias(today=today, source=source).filter(source__isnull=False)
    years_to_this = Cast(ExtractYear("today") - ExtractYear("source"), IntegerField())
    enrollments = enrollments.alias(
        this_year=_YearsLater(F("source"), years_to_this),
        next_year=_YearsLater(F("source"), years_to_this + 1),
    ).alias(anchor=Case(When(this_year__gte=F("today"), then=F("this_year")), default=F("next_year"),
                        output_field=DateField()))
    return enrollments.filter(anchor__lte=_DaysLater(F("today"), Value(rule.days)), anchor__gt=F("source"))


def _time_candidates(loaded: _LoadedRule, *, now: dt.datetime) -> QuerySet[Enrollment]:
    """The enrollments a time rule acts on: its trigger holds (_on_time), in the journey (not left), in one of
    `from_stages`, a client in scope (_clients_in_scope); for a move, not already in its stage nor moved by hand
    within the grace period; for a follow-up, its key (`key`) not scheduled yet."""
    rule = loaded.rule
    candidates = _on_time(loaded, now=now).filter(
        exited_at__isnull=True, customer__in=_clients_in_scope(loaded, now=now)
    ).annotate(
        key=Concat(Value(f"rule:{rule.pk}:customer:"), Cast("customer_id", CharField()), Value(":"),
                   _DayText("anchor"), output_field=CharField())
    )
    if loaded.from_stage_ids:
        candidates = candidates.filter(stage_id__in=sorted(loaded.from_stage_ids))
    if rule.to_stage_id is not None:
        candidates = candidates.exclude(stage_id=rule.to_stage_id).filter(~Exists(
            Transition.objects.filter(enrollment_id=OuterRef("pk"), cause=Transition.Cause.MANUAL,
                                      occurred_at__gte=grace_start(now))
        ))
    if rule.followup_template_id is not None:
        candidates = candidates.filter(~Exists(FollowUp.objects.filter(idempotency_key=OuterRef("key"))))
    return candidates


def rules_apply_time_based(
    *, now: dt.datetime | None = None, rule_ids: Iterable[int] | None = None, chunk_size: int = TIME_CHUNK_SIZE
) -> dict[int, RulesOutcome]:
    """Run the active time-based rules (all, or `rule_ids`) over every client in their journeys: the clients a rule
    selects are found by one query (_time_candidates), a chunk at a time (locked, skipping rows another run holds),
    moved by the one writer of stage moves (StageMoveBatch, a handful of statements per chunk) and given their
    follow-ups through followups_schedule_many. Within a journey, rules run by priority and a client a
    `stop_processing` rule acted on is left alone by the later ones in the same run.

    Returns the outcome per rule. Idempotent: a second run the same day finds nothing left to do.
    """
    now = now or timezone.now()
    rules = selectors.rules_active(triggers=[Rule.Trigger.INACTIVITY, Rule.Trigger.TIME_IN_STAGE, Rule.Trigger.DATE])
    if rule_ids is not None:
        rules = rules.filter(pk__in=list(rule_ids))
    outcomes: dict[int, RulesOutcome] = {}
    stopped: dict[int, set[int]] = defaultdict(set)
    for loaded in _load(rules):
        rule = loaded.rule
        outcomes[rule.pk] = outcome = RulesOutcome()
        if rule.followup_template_id is not None and not rule.followup_template.is_active:
            # Admin validation refuses this on save; a template switched off since leaves the rule doing nothing
            # rather than failing the whole run.
            logger.warning("journeys.rule_template_inactive rule_id=%s", rule.pk)
            continue
        candidates = (
            _time_candidates(loaded, now=now).select_related("customer").order_by("pk")
            .select_for_update(skip_locked=True, of=("self",))
        )
        after = 0
        while True:
            with transaction.atomic():
                rows = list(candidates.filter(pk__gt=after)[:chunk_size])
                if not rows:
                    break
                after = rows[-1].pk
                rows = [row for row in rows if row.customer_id not in stopped[rule.journey_id]]
                outcome.evaluated += len(rows)
                _act_on_chunk(loaded, rows, now, outcome)
                if rule.stop_processing:
                    stopped[rule.journey_id].update(row.customer_id for row in rows)
        logger.info("journeys.time_rule_applied rule_id=%s fired=%s moved=%s followups=%s", rule.pk, outcome.fired,
                    outcome.moved, outcome.followups)
    return outcomes


def _act_on_chunk(loaded: _LoadedRule, rows: list[Enrollment], now: dt.datetime, outcome: RulesOutcome) -> None:
    rule = loaded.rule
    transitions: dict[int, Transition] = {}
    if rule.to_stage_id is not None and rows:
        batch = StageMoveBatch(enrollments={(row.customer_id, row.journey_id): row for row in rows},
                               journeys={rule.journey_id: rule.journey}, now=now)
        for row in rows:
            result = batch.add(StageMove(
                customer_id=row.customer_id, journey_id=row.journey_id, to_stage=rule.to_stage,
                cause=Transition.Cause.RULE, occurred_at=now, clamp_to_stage_entry=True, rule_id=rule.pk,
            ))
            if result.status == StageMoveResult.MOVED:
                transitions[row.pk] = result.transition
        batch.write()
        outcome.moved += len(transitions)
    if rule.followup_template_id is not None and rows:
        outcome.followups += followups_schedule_many([
            FollowUpRequest(customer=row.customer, template=rule.followup_template, key=row.key, trigger_at=now,
                            rule=rule, transition=transitions.get(row.pk))
            for row in rows
        ])
    outcome.fired += len(rows)
