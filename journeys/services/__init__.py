"""Writes to journeys. One module per concern; import from here.

- enrollments: enrolling clients and moving them between stages (always with a Transition), batch first:
  enrollments_move_many, the one writer of stage moves;
- followups: scheduling follow-ups (holdout included), what staff may change on them, advisor task outcomes;
- rendering: templates over the fixed, safe context; dispatch: sending due follow-ups; attribution: orders;
- rules: the rule engine (on new interactions, and the time-based rules from beat);
- hands_off: advisors pausing automation for a client.
"""

from journeys.services.enrollments import (
    NOTE_MAX_LENGTH,
    StageMove,
    StageMoveBatch,
    StageMoveResult,
    customers_enroll,
    customers_place_in_stage,
    enrollment_enroll,
    enrollment_move,
    enrollment_place,
    enrollments_move_many,
    move_journeys,
)
from journeys.services.followups import (
    STAFF_STATUS_CHANGES,
    FollowUpRequest,
    followup_check_status_change,
    followup_record_outcome,
    followup_schedule,
    followup_snooze,
    followup_update_by_staff,
    followups_schedule_many,
    is_held_out,
    variant_for,
)
from journeys.services.hands_off import hands_off_lift, hands_off_set
from journeys.services.rules import RulesOutcome, rules_apply_time_based, rules_apply_to_interactions

__all__ = [
    "FollowUpRequest",
    "NOTE_MAX_LENGTH",
    "RulesOutcome",
    "STAFF_STATUS_CHANGES",
    "StageMove",
    "StageMoveBatch",
    "StageMoveResult",
    "customers_enroll",
    "customers_place_in_stage",
    "enrollment_enroll",
    "enrollment_move",
    "enrollment_place",
    "enrollments_move_many",
    "followup_check_status_change",
    "followup_record_outcome",
    "followup_schedule",
    "followup_snooze",
    "followup_update_by_staff",
    "followups_schedule_many",
    "is_held_out",
    "hands_off_lift",
    "hands_off_set",
    "move_journeys",
    "rules_apply_time_based",
    "rules_apply_to_interactions",
    "variant_for",
]
