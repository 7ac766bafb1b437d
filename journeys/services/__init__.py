"""Writes to journeys. One module per concern; import from here.

- enrollments: enrolling clients and moving them between stages (always with a Transition);
- followups: scheduling follow-ups (holdout included), what staff may change on them, advisor task outcomes;
- rendering: templates over the fixed, safe context; dispatch: sending due follow-ups; attribution: orders.
"""

from journeys.services.enrollments import (
    NOTE_MAX_LENGTH,
    customers_enroll,
    customers_place_in_stage,
    enrollment_enroll,
    enrollment_move,
    enrollment_place,
    move_journeys,
)
from journeys.services.followups import (
    STAFF_STATUS_CHANGES,
    followup_check_status_change,
    followup_record_outcome,
    followup_schedule,
    followup_snooze,
    followup_update_by_staff,
    is_held_out,
    variant_for,
)

__all__ = [
    "NOTE_MAX_LENGTH",
    "STAFF_STATUS_CHANGES",
    "customers_enroll",
    "customers_place_in_stage",
    "enrollment_enroll",
    "enrollment_move",
    "enrollment_place",
    "followup_check_status_change",
    "followup_record_outcome",
    "followup_schedule",
    "followup_snooze",
    "followup_update_by_staff",
    "is_held_out",
    "move_journeys",
    "variant_for",
]
