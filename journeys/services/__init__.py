"""Writes to journeys. One module per concern; import from here.

- enrollments: enrolling clients and moving them between stages (always with a Transition);
- followups: scheduling follow-ups and what staff may change on them.
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
    followup_schedule,
    followup_update_by_staff,
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
    "followup_schedule",
    "followup_update_by_staff",
    "move_journeys",
    "variant_for",
]
