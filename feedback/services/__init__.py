"""Writes to feedback: scheduling invitations after touchpoints, answering them, recording answers, opening
service recovery for detractors, merges."""

from feedback.services.answers import AnswerResult, InvitationClosed, invitation_answer, invitation_is_open
from feedback.services.invitations import ScheduleOutcome, invitations_schedule_many, is_sampled_in
from feedback.services.provider_answers import ResponseOutcome, ResponseUpsertResult, response_upsert
from feedback.services.recovery import is_detractor, recovery_cases_open_many
from feedback.services.responses import SCORE_SCALES, move_feedback, response_record, response_score_check

__all__ = [
    "AnswerResult",
    "InvitationClosed",
    "ResponseOutcome",
    "ResponseUpsertResult",
    "SCORE_SCALES",
    "ScheduleOutcome",
    "invitation_answer",
    "invitation_is_open",
    "invitations_schedule_many",
    "is_detractor",
    "is_sampled_in",
    "move_feedback",
    "recovery_cases_open_many",
    "response_record",
    "response_score_check",
    "response_upsert",
]
