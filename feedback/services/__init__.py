"""Writes to feedback: scheduling invitations after touchpoints, answering them, recording answers, merges."""

from feedback.services.answers import AnswerResult, InvitationClosed, invitation_answer, invitation_is_open
from feedback.services.invitations import ScheduleOutcome, invitations_schedule_many, is_sampled_in
from feedback.services.responses import SCORE_SCALES, move_feedback, response_record, response_score_check

__all__ = [
    "AnswerResult",
    "InvitationClosed",
    "SCORE_SCALES",
    "ScheduleOutcome",
    "invitation_answer",
    "invitation_is_open",
    "invitations_schedule_many",
    "is_sampled_in",
    "move_feedback",
    "response_record",
    "response_score_check",
]
