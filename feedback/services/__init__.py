"""Writes to feedback: scheduling invitations after touchpoints, recording and completing answers, merges."""

from feedback.services.invitations import ScheduleOutcome, invitations_schedule_many, is_sampled_in
from feedback.services.responses import SCORE_SCALES, move_feedback, response_record, response_score_check

__all__ = [
    "SCORE_SCALES",
    "ScheduleOutcome",
    "invitations_schedule_many",
    "is_sampled_in",
    "move_feedback",
    "response_record",
    "response_score_check",
]
