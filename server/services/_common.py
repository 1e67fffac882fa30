"""Request checks shared by the servicers."""

from __future__ import annotations

import enum
from typing import TypeVar

from protogw.server.errors import invalid_argument, not_found

E = TypeVar("E", bound=enum.IntEnum)

#: Largest value an int32 id can take; the database columns are 32-bit on PostgreSQL.
INT32_MAX = 2**31 - 1


def enum_value(enum_type: type[E], value: int, field: str) -> E:
    """Convert a proto enum number, rejecting numbers the enum does not define with 400.

    proto3 enums are open, so an unknown number reaches the server intact; it must not turn into an
    INTERNAL error further down.
    """
    try:
        return enum_type(value)
    except ValueError:
        raise invalid_argument(f"unknown value {value} for {field}") from None


#: Longest names, labels and similar short strings the database keeps (its VARCHAR(255) columns).
MAX_NAME = 255


def check_length(value: str, limit: int, what: str) -> str:
    """``value`` if it has at most ``limit`` characters, else a 400 naming ``what``.

    The limits mirror the database's column sizes; checking here gives the same answer on SQLite
    (which does not enforce them) as on PostgreSQL.
    """
    if len(value) > limit:
        raise invalid_argument(f"{what} must be at most {limit} characters")
    return value


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
