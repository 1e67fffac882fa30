"""The client's exception hierarchy, declared once and indexed both ways.

Each class names the gRPC status code it stands for and the HTTP status grpc-gateway answers with
for that code. :func:`from_grpc_status` picks the class from a gRPC code; :func:`from_http_response`
from an HTTP status and an error body, which may be ``google.rpc.Status`` JSON
(``{"code": 5, "message": ...}``), Determined's envelope (``{"error": {"code": 5, "error": ...}}``)
or both at once. The code in the body wins over the HTTP status, since several codes share one status
(400 is INVALID_ARGUMENT, FAILED_PRECONDITION and OUT_OF_RANGE alike).

Example::

    >>> from_grpc_status(grpc.StatusCode.NOT_FOUND, "experiment '9' not found")
    NotFound("experiment '9' not found")
    >>> type(from_http_response(400, {"code": 9, "message": "Experiment is not archived."}))
    <class 'protogw.clients.errors.FailedPrecondition'>
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import grpc
from google.protobuf import any_pb2

from protogw.core.codec import CodecError, codec_for
from protogw.core.status import http_status_from_code

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "ErrorBody",
    "ErrorBodyReader",
    "FailedPrecondition",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "error_class_for_grpc",
    "error_class_for_http",
    "from_grpc_status",
    "from_http_response",
    "read_status_body",
]


class ApiError(Exception):
    """A call the server (or the transport on its behalf) answered with an error status.

    ``message`` is the server's own text; ``details`` holds the ``google.rpc.Status`` details that came
    along, as ``google.protobuf.Any`` messages over either transport (over REST, a detail whose type
    this process does not know stays the JSON object it arrived as).
    """

    grpc_status_code: ClassVar[grpc.StatusCode | None] = None
    http_status: ClassVar[int | None] = None

    def __init__(self, message: str, *, details: tuple[Any, ...] = (), http_status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        # The status actually seen on the wire, when the call went over HTTP (it may differ from the
        # class default, e.g. an error line inside a 200 stream).
        self.response_status = http_status

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"


class TransportError(ApiError):
    """The call failed for a reason that has no gRPC status (e.g. a non-JSON error page from a proxy)."""


# Registry filled by ``__init_subclass__`` so each class is declared exactly once, with its codes.
_BY_GRPC: dict[grpc.StatusCode, type[ApiError]] = {}
_BY_HTTP: dict[int, type[ApiError]] = {}


class _Coded(ApiError):
    """Base of the classes that stand for one gRPC code; subclasses register themselves."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        code = cls.grpc_status_code
        if code is None or cls.http_status is None:
            raise TypeError(f"{cls.__name__} must declare grpc_status_code and http_status")
        if cls.http_status != http_status_from_code(code):
            raise TypeError(f"{cls.__name__}: {code.name} is HTTP {http_status_from_code(code)} in core.status")
        if code in _BY_GRPC:
            raise TypeError(f"{code.name} is already {_BY_GRPC[code].__name__}")
        _BY_GRPC[code] = cls
        # The first class declared for a status is the one an HTTP status alone maps to, so the
        # declaration order below puts the most common meaning of a shared status first.
        _BY_HTTP.setdefault(cls.http_status, cls)


class InvalidArgument(_Coded):
    """The request is malformed or a value is out of its allowed set (HTTP 400)."""

    grpc_status_code = grpc.StatusCode.INVALID_ARGUMENT
    http_status = 400


class FailedPrecondition(_Coded):
    """The target is not in a state that allows the call, e.g. archiving a running experiment (400)."""

    grpc_status_code = grpc.StatusCode.FAILED_PRECONDITION
    http_status = 400


class OutOfRange(_Coded):
    """A value is past the valid range (400)."""

    grpc_status_code = grpc.StatusCode.OUT_OF_RANGE
    http_status = 400


class Unauthenticated(_Coded):
    """No token, or a token the server does not accept (401)."""

    grpc_status_code = grpc.StatusCode.UNAUTHENTICATED
    http_status = 401


class PermissionDenied(_Coded):
    """The caller is known but may not do this (403)."""

    grpc_status_code = grpc.StatusCode.PERMISSION_DENIED
    http_status = 403


class NotFound(_Coded):
    """The resource does not exist, or the caller may not see it (404)."""

    grpc_status_code = grpc.StatusCode.NOT_FOUND
    http_status = 404


class AlreadyExists(_Coded):
    """A resource with that identity exists already (409)."""

    grpc_status_code = grpc.StatusCode.ALREADY_EXISTS
    http_status = 409


class Aborted(_Coded):
    """A concurrency conflict; retrying the whole operation may succeed (409)."""

    grpc_status_code = grpc.StatusCode.ABORTED
    http_status = 409


class ResourceExhausted(_Coded):
    """A quota or rate limit was hit (429)."""

    grpc_status_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    http_status = 429


class Cancelled(_Coded):
    """The call was cancelled, usually by the caller (499)."""

    grpc_status_code = grpc.StatusCode.CANCELLED
    http_status = 499


class Internal(_Coded):
    """The server broke an invariant (500)."""

    grpc_status_code = grpc.StatusCode.INTERNAL
    http_status = 500


class Unknown(_Coded):
    """An error the server did not classify (500)."""

    grpc_status_code = grpc.StatusCode.UNKNOWN
    http_status = 500


class DataLoss(_Coded):
    """Unrecoverable data loss or corruption (500)."""

    grpc_status_code = grpc.StatusCode.DATA_LOSS
    http_status = 500


class Unimplemented(_Coded):
    """The server does not offer this method (501)."""

    grpc_status_code = grpc.StatusCode.UNIMPLEMENTED
    http_status = 501


class Unavailable(_Coded):
    """The service cannot be reached or is shutting down; usually worth a retry (503)."""

    grpc_status_code = grpc.StatusCode.UNAVAILABLE
    http_status = 503


class DeadlineExceeded(_Coded):
    """The deadline passed before the call finished (504)."""

    grpc_status_code = grpc.StatusCode.DEADLINE_EXCEEDED
    http_status = 504


_CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def error_class_for_grpc(code: grpc.StatusCode | int) -> type[ApiError]:
    """The class for a gRPC code (enum or number); codes without a class give :class:`Unknown`."""
    if isinstance(code, int):
        code = _CODE_BY_NUMBER.get(code, grpc.StatusCode.UNKNOWN)
    return _BY_GRPC.get(code, Unknown)


def error_class_for_http(status: int) -> type[ApiError]:
    """The class an HTTP status alone points to: the first declared for it, else by status range."""
    if status in _BY_HTTP:
        return _BY_HTTP[status]
    return Unknown if 500 <= status < 600 else TransportError


def from_grpc_status(code: grpc.StatusCode | int, message: str, *, details: tuple[Any, ...] = ()) -> ApiError:
    """An exception instance for a failed gRPC call."""
    return error_class_for_grpc(code)(message, details=details)


def _detail(item: Any) -> Any:
    """A JSON status detail as an ``Any`` message, so REST and gRPC errors carry the same objects."""
    try:
        return codec_for(any_pb2.Any.DESCRIPTOR).decode(item)
    except (CodecError, TypeError, KeyError):
        return item


ErrorBody = tuple[int | None, str | None, tuple[Any, ...]]
#: Reads an HTTP error body (parsed JSON, or anything else) into (gRPC code, message, details).
ErrorBodyReader = Callable[[object], ErrorBody]


def read_status_body(body: object) -> ErrorBody:
    """The generic reader: a ``google.rpc.Status`` JSON body (``{"code", "message", "details"}``)."""
    if not isinstance(body, Mapping):
        return None, None, ()
    code = body["code"] if isinstance(body.get("code"), int) else None
    message = body["message"] if isinstance(body.get("message"), str) else None
    details = tuple(_detail(item) for item in body["details"]) if isinstance(body.get("details"), list) else ()
    return code, message, details


def from_http_response(
    status: int, body: object, *, reason: str = "", read: ErrorBodyReader = read_status_body
) -> ApiError:
    """An exception instance for an HTTP error answer; ``body`` is the parsed JSON (or anything else),
    read by ``read`` (``google.rpc.Status`` by default; a service with its own envelope passes its reader,
    e.g. ``protogw.clients.determined_errors.read_determined_body``).

    A status code in the body decides the class; without one the HTTP status does.
    """
    code, message, details = read(body)
    cls = error_class_for_grpc(code) if code is not None else error_class_for_http(status)
    if message is None:
        message = reason or f"HTTP {status}"
    return cls(message, details=details, http_status=status)
