"""The one error services raise for a business rule that refuses the input."""

from __future__ import annotations

from typing import Any


class ApplicationError(Exception):
    """A refusal a person can read: `message` says what is wrong, `extra` names the fields and values.

    Field-level problems go under `extra["fields"]` as `{field: [message, ...]}`, the shape the API returns.
    """

    def __init__(self, message: str, extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra or {}

    @classmethod
    def for_field(cls, field: str, message: str, **extra: Any) -> ApplicationError:
        return cls(message, extra={"fields": {field: [message]}, **extra})

    @property
    def fields(self) -> dict[str, list[str]]:
        return self.extra.get("fields", {})
