"""Service-level errors and the one table that turns any domain error into a gRPC status.

Servicers never call ``context.abort`` themselves: they raise ``ServiceError`` (or let a storage
error escape) and the error interceptor converts it with ``status_for``. Keeping the mapping here
means gRPC and REST callers always see the same code and message for the same failure.
"""

from __future__ import annotations

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


def _database_unreachable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database could not be reached or is busy, rather than a bug.

    SQLAlchemy reports lost connections and SQLite's "database is locked" as OperationalError or
    InterfaceError; a refused or reset connection can also escape as a plain OSError. Any other
    DB-API error that SQLAlchemy judged a disconnect (it then invalidates the connection) counts too:
    asyncpg reports a connection killed mid-query in several classes of its own.
    """
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError | OSError)


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
    if _database_unreachable(exc):
        return grpc.StatusCode.UNAVAILABLE, DATABASE_UNAVAILABLE
    return None
