"""Domain errors raised by the storage layer.

The service layer maps each class to one gRPC status code; nothing here knows about gRPC. Every
message is written so it can be shown to an API caller as-is.
"""

from __future__ import annotations


class StorageError(Exception):
    """Base class of every error the store raises on purpose."""


class NotFound(StorageError):
    """The addressed row does not exist (maps to NOT_FOUND)."""


class AlreadyExists(StorageError):
    """A unique key is already taken, such as a username (maps to ALREADY_EXISTS)."""


class InvalidArgument(StorageError):
    """The caller passed a value the store cannot accept (maps to INVALID_ARGUMENT)."""


class Conflict(StorageError):
    """The row exists but its current state forbids the change (maps to FAILED_PRECONDITION).

    ``current_state`` carries the experiment state (without the ``STATE_`` prefix) when the
    conflict is about a state transition, so the caller can word its own message.
    """

    def __init__(self, message: str, *, current_state: str | None = None) -> None:
        super().__init__(message)
        self.current_state = current_state
