"""How follow-ups leave the house: the SMS provider adapters (email goes through Django's email backend).

Every adapter raises one of two errors, so the dispatcher decides retries in one place:
TransientSendError (try again later: a timeout, the provider busy) or PermanentSendError (trying again cannot
help: an invalid number, refused credentials).
"""

from __future__ import annotations


class SendError(Exception):
    """A message the provider did not accept; `reason` is what staff read on the follow-up."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientSendError(SendError):
    """Worth another attempt later."""


class PermanentSendError(SendError):
    """Another attempt would fail the same way."""


class RecipientOptedOutError(PermanentSendError):
    """The provider refuses the number because its owner replied STOP (Twilio's error 21610): the provider's own
    report of an opt-out, recorded as a withdrawal by the dispatcher."""
