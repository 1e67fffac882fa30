"""Request checks shared by the servicers."""

from __future__ import annotations

import enum
from typing import TypeVar

from protogw.server.errors import invalid_argument, not_found
from protogw.server.limits import INT32_MAX, MAX_NAME, check_length

E = TypeVar("E", bound=enum.IntEnum)


def enum_value(enum_type: type[E], value: int, field: str) -> E:
    """Convert a proto enum number, rejecting numbers the enum does not define with 400.

    proto3 enums are open, so an unknown number reaches the server intact; it must not turn into an
    INTERNAL error further down.
    """
    try:
        return enum_type(value)
    except ValueError:
        raise invalid_argument(f"unknown value {value} for {field}") from None


# The value rules live once, in the domain layer; servicers import them from here as before.
__all__ = ["INT32_MAX", "MAX_NAME", "check_length", "enum_value", "experiment_id", "user_id"]


def experiment_id(value: int) -> int:
    """An experiment id that can exist, else Determined's not-found error.

    Ids are positive int32s; anything else (zero, negative, or too large when a REST client sends a
    64-bit number) cannot name a row, so it gets the same 404 as an unknown id.
    """
    if not 0 < value <= INT32_MAX:
        raise not_found(f"experiment '{value}' not found")
    return value


def user_id(value: int) -> int:
    """A user id that can exist, else Determined's "user not found"."""
    if not 0 < value <= INT32_MAX:
        raise not_found("user not found")
    return value
