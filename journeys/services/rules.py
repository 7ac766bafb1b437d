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
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone

from core.client_changes import clients_changed
from customers.models import Boutique, Customer
from customers.selectors import segment_customers
from journeys import selectors
from journeys.models import TIER_ORDER, Enrollment, FollowUp, HandsOff, Rule, Transition
from journeys.services.enrollments import enrollment_enroll
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


def _score(interaction: Interaction) -> Decimal | None:
    value = (interaction.metadata or {}).get("score") if isinstance(interaction.metadata, dict) else None
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


# --- On an interaction ------------------------------------------------------------------------------------------


def _counts_in_window(loaded: _LoadedRule, interaction_ids: list[int]) -> dict[int, int]:
    """For a rule with a count condition: per interaction, how many interactions of the rule's types its client had
    in the window ending at it (itself included). One query for the batch."""
    if not interaction_ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT i.id, (
                SELECT count(*) FROM {Interaction._meta.db_table} j
                WHERE j.customer_id = i.customer_id AND j.touchpoint_type_id = ANY(%(types)s)
                  AND j.occurred_at > i.occurred_at - make_interval(days => %(days)s) AND j.occurred_at <= i.occurred_at
            )
            FROM {Interaction._meta.db_table} i WHERE i.id = ANY(%(ids)s)
            """,  # noqa: S608 (table names from the models; values are parameters)
            {"types": sorted(loaded.type_ids), "days": loaded.rule.window_days, "ids": interaction_ids},
        )
        return dict(cursor.fetchall())


def _matches(
    loaded: _LoadedRule, interaction: Interaction, enrollment: Enrollment | None, counts: dict[tuple[int, int], int]
) -> bool:
    rule = loaded.rule
    if interaction.touchpoint_type_id not in loaded.type_ids:
        return False
    if enrollment is None:
        # A journey for one persona enrolls only clients of that persona.
        persona_id = rule.journey.persona_id
        if not rule.enrolls_new_clients or (persona_id and interaction.customer.persona_id != persona_id):
            return False
    elif enrollment.exited_at is not None or (
        loaded.from_stage_ids and enrollment.stage_id not in loaded.from_stage_ids
    ):
        return False
    if rule.min_amount is not None and (interaction.amount is None or interaction.amount < rule.min_amount):
        return False
    if rule.channel and interaction.channel != rule.channel:
        return False
    if loaded.boutique_ids and interaction.boutique_id not in loaded.boutique_ids:
        return False
    if loaded.tiers and interaction.customer.value_tier not in loaded.tiers:
        return False
    if rule.min_score is not None:
        score = _score(interaction)
        if score is None or score < rule.min_score:
            return False
    return not (rule.min_count is not None and counts.get((rule.pk, interaction.pk), 0) < rule.min_count)


@transaction.atomic
def rules_apply_to_interactions(*, interaction_ids: Iterable[int], now: dt.datetime | None = None) -> RulesOutcome:
    """Run the active interaction rules on these interactions (in the order they happened), acting on each rule that
    matches: enroll or move the client (a Transition naming the rule and the interaction), schedule the rule's
    follow-up (followups_schedule_many). Interactions that are gone (a rolled-back savepoint) are skipped. Running it
    again for the same ids changes nothing.

    One transaction for the batch, set-based: the interactions with their clients, the rules, the enrollments
    (locked, in id order, so two workers never deadlock), the pauses, the recent manual moves and the counts are
    read in a handful of queries; the moves are decided in memory in the order the interactions happened, then
    written with one INSERT of their Transitions and one UPDATE of the enrollments. Follow-ups go through
    followups_schedule_many (it owns their idempotency, variants and holdout).
    """
    now = now or timezone.now()
    outcome = RulesOutcome()
    ids = sorted(set(interaction_ids))
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
    journey_ids = {item.rule.journey_id for item in loaded}
    enrollments = {
        (enrollment.customer_id, enrollment.journey_id): enrollment
        for enrollment in Enrollment.objects.select_for_update()
        .filter(customer_id__in=customer_ids, journey_id__in=journey_ids)
        .order_by("pk")
    }
    paused = selectors.customers_on_hands_off(customer_ids=customer_ids, at=now)
    in_grace = selectors.enrollments_in_manual_grace(
        enrollment_ids=[enrollment.pk for enrollment in enrollments.values()], since=grace_start(now)
    )
    done = set(
        Transition.objects.filter(interaction_id__in=ids, rule__isnull=False).values_list("rule_id", "interaction_id")
    )
    counts: dict[tuple[int, int], int] = {}
    for item in loaded:
        if item.rule.min_count is not None:
            candidates = [i.pk for i in interactions if i.touchpoint_type_id in item.type_ids]
            for interaction_id, count in _counts_in_window(item, candidates).items():
                counts[(item.rule.pk, interaction_id)] = count
    by_journey: dict[int, list[_LoadedRule]] = defaultdict(list)
    for item in loaded:
        by_journey[item.rule.journey_id].append(item)
    # A journey for a segment: who of the batch's clients it holds now, one query per such journey.
    members = {
        journey.pk: set(segment_customers(segment=journey.segment).filter(pk__in=customer_ids)
                        .values_list("pk", flat=True))
        for journey in {item.rule.journey for item in loaded if item.rule.journey.segment_id is not None}
    }

    plan = _Plan(enrollments=enrollments, in_grace=in_grace, now=now, outcome=outcome)
    for interaction in interactions:
        if interaction.customer.is_anonymized:
            continue
        if interaction.customer_id in paused:
            outcome.skipped_hands_off += 1
            continue
        for journey_id, journey_rules in by_journey.items():
            if journey_id in members and interaction.customer_id not in members[journey_id]:
                continue
            for item in journey_rules:
                key = (interaction.customer_id, journey_id)
                if not _matches(item, interaction, enrollments.get(key), counts):
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
    """The moves and follow-ups a batch decided, in order: moves applied to the enrollments in memory at once (the
    next rules see the new stage), written together by write()."""

    enrollments: dict[tuple[int, int], Enrollment]
    in_grace: set[int]
    now: dt.datetime
    outcome: RulesOutcome
    transitions: list[Transition] = field(default_factory=list)
    moved: dict[int, Enrollment] = field(default_factory=dict)
    followups: list[tuple[Rule, Interaction, Transition | None]] = field(default_factory=list)

    def fire(self, rule: Rule, interaction: Interaction, key: tuple[int, int]) -> bool:
        """Plan one rule for one interaction; False when the grace period after a manual move holds it back."""
        enrollment = self.enrollments.get(key)
        transition = None
        if rule.to_stage_id is not None:
            if enrollment is None:
                # A new client (rare): enrolled at once, so that the next interactions of the batch find them.
                enrollment, created = enrollment_enroll(
                    customer=interaction.customer, journey=rule.journey, stage=rule.to_stage,
                    cause=Transition.Cause.RULE, occurred_at=self.now, rule=rule, interaction=interaction,
                )
                self.enrollments[key] = enrollment
                if created:
                    transition = enrollment.transitions.get()
                    self.outcome.enrolled += 1
            elif enrollment.stage_id != rule.to_stage_id:
                if enrollment.pk in self.in_grace:
                    self.outcome.skipped_grace += 1
                    return False
                moment = max(self.now, enrollment.stage_entered_at)
                transition = Transition(
                    enrollment=enrollment, from_stage_id=enrollment.stage_id, to_stage_id=rule.to_stage_id,
                    occurred_at=moment, cause=Transition.Cause.RULE, rule=rule, interaction=interaction,
                )
                self.transitions.append(transition)
                enrollment.stage_id, enrollment.stage_entered_at, enrollment.updated_at = (
                    rule.to_stage_id, moment, self.now
                )
                self.moved[enrollment.pk] = enrollment
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
        Transition.objects.bulk_create(self.transitions)
        clients_changed(enrollment.customer_id for enrollment in self.moved.values())  # Insight's map follows.
        Enrollment.objects.bulk_update(list(self.moved.values()), ["stage", "stage_entered_at", "updated_at"])
        self.outcome.followups += followups_schedule_many([
            FollowUpRequest(customer=interaction.customer, template=rule.followup_template,
                            key=f"rule:{rule.pk}:interaction:{interaction.pk}", trigger_at=interaction.occurred_at,
                            rule=rule, transition=transition)
            for rule, interaction, transition in self.followups
        ])


# --- On time ----------------------------------------------------------------------------------------------------


def _time_condition(rule: Rule, loaded: _LoadedRule) -> tuple[str, str, dict]:
    """The rule's trigger in SQL over `e` (the enrollment) and `c` (the client): (condition, the date the rule
    looked at, parameters)."""
    interaction_table = Interaction._meta.db_table
    if rule.trigger == Rule.Trigger.TIME_IN_STAGE:
        return "e.stage_entered_at <= %(cutoff)s", "(e.stage_entered_at AT TIME ZONE 'UTC')::date", {}
    if rule.trigger == Rule.Trigger.INACTIVITY:
        last_seen = (
            f"(SELECT max(i.occurred_at) FROM {interaction_table} i WHERE i.customer_id = e.customer_id "  # noqa: S608
            "AND i.touchpoint_type_id = ANY(%(types)s))"
        )
        condition = (
            "e.stage_entered_at <= %(cutoff)s AND NOT EXISTS ("
            f"SELECT 1 FROM {interaction_table} i WHERE i.customer_id = e.customer_id "  # noqa: S608
            "AND i.touchpoint_type_id = ANY(%(types)s) AND i.occurred_at > %(cutoff)s)"
        )
        anchor = f"(GREATEST(e.stage_entered_at, {last_seen}) AT TIME ZONE 'UTC')::date"
        return condition, anchor, {"types": sorted(loaded.type_ids)}
    # A date in the profile: its next occurrence (today or later) within `days`, on the calendar of the client's
    # home boutique (else the house's TIME_ZONE): a birthday is the client's day where they live, not in UTC. A
    # 29 February falls on the 28th in other years (PostgreSQL's date + interval does that).
    zone = "COALESCE(b.timezone, %(house_zone)s)"
    today = f"(%(now)s AT TIME ZONE {zone})::date"
    source = (
        "c.birth_date" if rule.profile_date == Rule.ProfileDate.BIRTHDAY
        else f"(c.first_order_at AT TIME ZONE {zone})::date"
    )
    year = f"extract(year FROM {today})::int"
    this_year = f"({source} + make_interval(years => ({year} - extract(year FROM {source}))::int))::date"
    next_year = f"({source} + make_interval(years => ({year} + 1 - extract(year FROM {source}))::int))::date"
    occurrence = f"(CASE WHEN {this_year} >= {today} THEN {this_year} ELSE {next_year} END)"
    condition = f"{source} IS NOT NULL AND {occurrence} <= {today} + %(days)s AND {occurrence} > {source}"
    return condition, occurrence, {"house_zone": settings.TIME_ZONE, "days": rule.days or 0}


def _time_candidates_sql(rule: Rule, loaded: _LoadedRule) -> tuple[str, dict]:
    condition, anchor, params = _time_condition(rule, loaded)
    enrollment, customer, boutique = Enrollment._meta.db_table, Customer._meta.db_table, Boutique._meta.db_table
    hands_off, transition, followup = HandsOff._meta.db_table, Transition._meta.db_table, FollowUp._meta.db_table
    key = f"'rule:' || %(rule)s || ':customer:' || e.customer_id || ':' || to_char({anchor}, 'YYYY-MM-DD')"
    clauses = [
        "e.journey_id = %(journey)s", "e.exited_at IS NULL", "e.id > %(after)s", "NOT c.is_anonymized", condition,
        f"NOT EXISTS (SELECT 1 FROM {hands_off} h WHERE h.customer_id = e.customer_id AND h.lifted_at IS NULL "
        "AND h.starts_at <= %(now)s AND (h.until IS NULL OR h.until > %(now)s))",
    ]
    if loaded.from_stage_ids:
        clauses.append("e.stage_id = ANY(%(from_stages)s)")
    if loaded.tiers:
        clauses.append("c.value_tier = ANY(%(tiers)s)")
    if rule.journey.segment_id is not None:
        try:
            compiled = segment_customers(segment=rule.journey.segment).values("pk").query.sql_with_params()
        except EmptyResultSet:  # a segment that holds nobody (one that does not filter cleanly)
            clauses.append("FALSE")
        else:
            members, members_params = _as_named_parameters(compiled, prefix="segment")
            clauses.append(f"c.id IN ({members})")
            params = {**params, **members_params}
    if rule.to_stage_id is not None:
        clauses.append("e.stage_id <> %(to_stage)s")
        clauses.append(
            f"NOT EXISTS (SELECT 1 FROM {transition} t WHERE t.enrollment_id = e.id AND t.cause = 'manual' "
            "AND t.occurred_at >= %(grace)s)"
        )
    if rule.followup_template_id is not None:
        clauses.append(f"NOT EXISTS (SELECT 1 FROM {followup} f WHERE f.idempotency_key = {key})")
    sql = (
        f"SELECT e.id, e.customer_id, {key} FROM {enrollment} e JOIN {customer} c ON c.id = e.customer_id "  # noqa: S608
        f"LEFT JOIN {boutique} b ON b.id = c.home_boutique_id "
        f"WHERE {' AND '.join(clauses)} ORDER BY e.id LIMIT %(limit)s FOR UPDATE OF e SKIP LOCKED"
    )
    return sql, params


def _as_named_parameters(compiled: tuple[str, tuple], *, prefix: str) -> tuple[str, dict]:
    """A Django query's SQL (positional %s parameters) made fit to join a statement with named ones, so that a
    segment's filters run inside the time rule's own query (one home for the filters: CustomerFilterSet)."""
    sql, values = compiled
    names = iter(range(len(values)))
    # A literal % is doubled in Django's SQL and stays so; every lone %s is one parameter, in order.
    named = re.sub(r"%%|%s", lambda match: match.group(0) if match.group(0) == "%%" else f"%({prefix}_{next(names)})s",
                   sql)
    return named, {f"{prefix}_{index}": value for index, value in enumerate(values)}


def _move_all(rule: Rule, enrollment_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Move these enrollments to the rule's stage in one statement, each with its Transition; returns
    {enrollment id: transition id}."""
    enrollment, transition = Enrollment._meta.db_table, Transition._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH previous AS (
                SELECT id, stage_id, GREATEST(stage_entered_at, %(now)s) AS moment FROM {enrollment}
                WHERE id = ANY(%(ids)s) AND stage_id <> %(to_stage)s
            ), moved AS (
                UPDATE {enrollment} e SET stage_id = %(to_stage)s, stage_entered_at = previous.moment,
                    updated_at = %(now)s
                FROM previous WHERE e.id = previous.id
                RETURNING e.id, previous.stage_id AS from_stage_id, previous.moment
            )
            INSERT INTO {transition} (enrollment_id, from_stage_id, to_stage_id, occurred_at, cause, rule_id,
                                      actor_label, note)
            SELECT id, from_stage_id, %(to_stage)s, moment, 'rule', %(rule)s, '', '' FROM moved
            RETURNING enrollment_id, id
            """,  # noqa: S608 (table names from the models; values are parameters)
            {"ids": enrollment_ids, "to_stage": rule.to_stage_id, "now": now, "rule": rule.pk},
        )
        return dict(cursor.fetchall())


def rules_apply_time_based(
    *, now: dt.datetime | None = None, rule_ids: Iterable[int] | None = None, chunk_size: int = TIME_CHUNK_SIZE
) -> dict[int, RulesOutcome]:
    """Run the active time-based rules (all, or `rule_ids`) over every client in their journeys: the clients a rule
    selects are found in SQL, a chunk at a time (locked, skipping rows another run holds), moved with one statement
    per chunk and given their follow-ups through followups_schedule_many. Within a journey, rules run by priority and a
    client a `stop_processing` rule acted on is left alone by the later ones in the same run.

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
        sql, extra = _time_candidates_sql(rule, loaded)
        params = {
            "journey": rule.journey_id, "rule": str(rule.pk), "now": now, "grace": grace_start(now),
            "cutoff": now - dt.timedelta(days=rule.days), "from_stages": sorted(loaded.from_stage_ids),
            "tiers": sorted(loaded.tiers), "to_stage": rule.to_stage_id, "limit": chunk_size, "after": 0, **extra,
        }
        while True:
            with transaction.atomic():
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    rows = cursor.fetchall()
                if not rows:
                    break
                params["after"] = rows[-1][0]
                rows = [row for row in rows if row[1] not in stopped[rule.journey_id]]
                outcome.evaluated += len(rows)
                _act_on_chunk(loaded, rows, now, outcome)
                if rule.stop_processing:
                    stopped[rule.journey_id].update(customer_id for _, customer_id, _ in rows)
        logger.info("journeys.time_rule_applied rule_id=%s fired=%s moved=%s followups=%s", rule.pk, outcome.fired,
                    outcome.moved, outcome.followups)
    return outcomes


def _act_on_chunk(loaded: _LoadedRule, rows: list[tuple[int, int, str]], now: dt.datetime,
                  outcome: RulesOutcome) -> None:
    rule = loaded.rule
    transitions: dict[int, int] = {}
    if rule.to_stage_id is not None and rows:
        transitions = _move_all(rule, [enrollment_id for enrollment_id, _, _ in rows], now)
        clients_changed(customer_id for enrollment_id, customer_id, _ in rows if enrollment_id in transitions)
        outcome.moved += len(transitions)
    if rule.followup_template_id is not None and rows:
        customers = Customer.objects.in_bulk([customer_id for _, customer_id, _ in rows])
        outcome.followups += followups_schedule_many([
            FollowUpRequest(customer=customers[customer_id], template=rule.followup_template, key=key, trigger_at=now,
                            rule=rule, transition=Transition(pk=transitions[enrollment_id])
                            if enrollment_id in transitions else None)
            for enrollment_id, customer_id, key in rows
        ])
    outcome.fired += len(rows)
