"""Domain errors raised by services; the API and the UI translate them into 400/403/412 answers."""

from django.core.exceptions import PermissionDenied, ValidationError


class DomainError(Exception):
    """Base class for rule violations a caller can show to a person."""


class ConflictError(DomainError):
    """The object changed since the caller read it (optimistic concurrency)."""

    def __init__(self, current_version: int):
        super().__init__(f"This item was changed by someone else (now version {current_version}).")
        self.current_version = current_version


class PermissionDeniedError(DomainError, PermissionDenied):
    """The actor may not do this: the one refusal every service raises (through
    `tracker.core.permissions.authorize`). The API answers it with 403 and its message; being a
    Django `PermissionDenied` too, a page that does not catch it answers with the 403 page,
    which shows the message."""


class StateConflictError(DomainError):
    """The request is valid, but the current state forbids it (HTTP 409), e.g. removing the
    last active staff account."""


class AlreadyExistsError(StateConflictError):
    """What the caller would create is already there (409, as every state conflict)."""


__all__ = [
    "AlreadyExistsError",
    "ConflictError",
    "DomainError",
    "PermissionDeniedError",
    "StateConflictError",
    "ValidationError",
]
