"""Service-level errors and the one table that turns any domain error into a gRPC status.

Servicers never call ``context.abort`` themselves: they raise ``ServiceError`` (or let a storage
error escape) and the error interceptor converts it with ``status_for``. Keeping the mapping here
means gRPC and REST callers always see the same code and message for the same failure.
"""

from __future__ import annotations

import sqlite3

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import grpc
import sqlalchemy.exc

from protogw.server.storage import errors as storage_errors


class ServiceError(Exception):
    """A failure to report to the caller with a specific gRPC code and a message safe to show."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_argument(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.NOT_FOUND, message)


def failed_precondition(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.FAILED_PRECONDITION, message)


def permission_denied(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.PERMISSION_DENIED, message)


def unauthenticated(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.UNAUTHENTICATED, message)


def already_exists(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.ALREADY_EXISTS, message)


# Storage error class -> gRPC code. Looked up along the exception's MRO, so a subclass the store adds
# later inherits its parent's code instead of falling through to INTERNAL.
_STORAGE_CODES: dict[type[storage_errors.StorageError], grpc.StatusCode] = {
    storage_errors.NotFound: grpc.StatusCode.NOT_FOUND,
    storage_errors.AlreadyExists: grpc.StatusCode.ALREADY_EXISTS,
    storage_errors.InvalidArgument: grpc.StatusCode.INVALID_ARGUMENT,
    # Determined reports state-rule violations as FailedPrecondition (HTTP 400 through the gateway).
    storage_errors.Conflict: grpc.StatusCode.FAILED_PRECONDITION,
}


#: What callers are told when the database cannot be reached; the call may be retried.
DATABASE_UNAVAILABLE = "the database is unavailable; try again later"
#: What callers are told when the database refuses a request for its size (a client's mistake).
DATABASE_TOO_LARGE = "the request is too large for the database; narrow its filters or shorten its values"

# PostgreSQL SQLSTATE classes that mean "not now", whoever asks: connection exception (08),
# insufficient resources such as too many connections (53), operator intervention such as
# cannot_connect_now or admin_shutdown (57), system error (58).
_UNAVAILABLE_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58"})
# ... and the class that means "this statement is too big" (program limit exceeded: 54).
_TOO_LARGE_SQLSTATE_CLASSES = frozenset({"54"})

# SQLite primary result codes that mean the file cannot be used right now (BUSY and LOCKED: the
# lock was not had within the busy timeout).
_SQLITE_UNAVAILABLE = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_READONLY,
    }
)
# SQLITE_ERROR messages a statement gets for its size rather than its meaning.
_SQLITE_TOO_LARGE_MESSAGES = ("too many SQL variables", "pattern too complex", "string or blob too big")
# asyncpg's client-side refusal of a statement with more bind parameters than the protocol allows.
_ASYNCPG_TOO_MANY_ARGUMENTS = "number of query arguments cannot exceed"


def _driver_errors(exc: BaseException) -> list[BaseException]:
    """``exc`` and the driver exceptions behind it (SQLAlchemy's ``orig``, an adapter's cause)."""
    chain: list[BaseException] = [exc]
    current: BaseException | None = exc.orig if isinstance(exc, sqlalchemy.exc.DBAPIError) else None
    while current is not None and current not in chain and len(chain) < 5:
        chain.append(current)
        current = current.__cause__
    return chain


def _too_large_for_database(exc: BaseException) -> bool:
    """Whether the database (or its driver) refused the statement for its size: a 400, never a 503."""
    for error in _driver_errors(exc):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _TOO_LARGE_SQLSTATE_CLASSES:
            return True
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int) and (
            code & 0xFF == sqlite3.SQLITE_TOOBIG or any(m in str(error) for m in _SQLITE_TOO_LARGE_MESSAGES)
        ):
            return True
        if isinstance(error, asyncpg.exceptions.InterfaceError) and _ASYNCPG_TOO_MANY_ARGUMENTS in str(error):
            return True
    return False


def _database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached or is busy, rather than a bug.

    Judged on the driver's own exception where there is one: asyncpg's connection errors (SQLSTATE
    classes 08, 53, 57, 58 such as ``CannotConnectNowError``, ``TooManyConnectionsError``,
    ``ConnectionDoesNotExistError``; its interface errors on a closed connection), SQLite's busy,
    locked, unopenable or failing file, and refused or reset sockets (OSError, timeouts), whether
    they come wrapped by SQLAlchemy or raw from a connect. Any DB-API error SQLAlchemy judged a
    disconnect counts too. SQLAlchemy's OperationalError and InterfaceError count unless the
    driver's error says otherwise.
    """
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    for error in _driver_errors(exc):
        sqlstate = getattr(error, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate[:2] in _UNAVAILABLE_SQLSTATE_CLASSES:
            return True
        code = getattr(error, "sqlite_errorcode", None)
        if isinstance(code, int):
            return code & 0xFF in _SQLITE_UNAVAILABLE
        if isinstance(error, OSError | TimeoutError | asyncpg.exceptions.InterfaceError):
            return True
    return isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError)


def status_for(exc: BaseException) -> tuple[grpc.StatusCode, str] | None:
    """The status to report for a known domain error, or None when ``exc`` is unexpected.

    >>> status_for(ServiceError(grpc.StatusCode.NOT_FOUND, "user not found"))
    (<StatusCode.NOT_FOUND: (5, 'not found')>, 'user not found')
    """
    if isinstance(exc, ServiceError):
        return exc.code, exc.message
    for cls in type(exc).__mro__:
        code = _STORAGE_CODES.get(cls)
        if code is not None:
            return code, str(exc)
    if _too_large_for_database(exc):
        return grpc.StatusCode.INVALID_ARGUMENT, DATABASE_TOO_LARGE
    if _database_unreachable(exc):
        return grpc.StatusCode.UNAVAILABLE, DATABASE_UNAVAILABLE
    return None
