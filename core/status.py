"""gRPC status codes and HTTP: the one table, and the rich status carried in trailers.

The table follows grpc-gateway v2 (``runtime/errors.go``) exactly; the gateway answers with it and the
clients read HTTP statuses back through it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import DecodeError
from google.rpc import status_pb2
from grpc_status import rpc_status

__all__ = [
    "code_number",
    "http_status_from_code",
    "status_code",
    "status_details_from_trailers",
    "status_details_of",
]

log = logging.getLogger(__name__)

# The one mapping table. Keys are gRPC code numbers; anything missing (including custom codes above 16)
# is a 500, as in grpc-gateway.
_HTTP_STATUS: dict[int, int] = {
    grpc.StatusCode.OK.value[0]: 200,
    # 499 is nginx's "Client Closed Request": the caller gave up, which is what CANCELLED means.
    grpc.StatusCode.CANCELLED.value[0]: 499,
    grpc.StatusCode.UNKNOWN.value[0]: 500,
    grpc.StatusCode.INVALID_ARGUMENT.value[0]: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED.value[0]: 504,
    grpc.StatusCode.NOT_FOUND.value[0]: 404,
    grpc.StatusCode.ALREADY_EXISTS.value[0]: 409,
    grpc.StatusCode.PERMISSION_DENIED.value[0]: 403,
    grpc.StatusCode.UNAUTHENTICATED.value[0]: 401,
    # 429 Too Many Requests: quota and rate limits are the common cause of RESOURCE_EXHAUSTED.
    grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]: 429,
    # Deliberately not 412 Precondition Failed: that status is about HTTP conditional headers
    # (If-Match, ...), while FAILED_PRECONDITION means the system is not in a state for the call.
    grpc.StatusCode.FAILED_PRECONDITION.value[0]: 400,
    # ABORTED is a concurrency conflict (e.g. a read-modify-write race), hence 409 like ALREADY_EXISTS.
    grpc.StatusCode.ABORTED.value[0]: 409,
    # OUT_OF_RANGE is a client error about the arguments (e.g. reading past the end), so 400, not 416.
    grpc.StatusCode.OUT_OF_RANGE.value[0]: 400,
    grpc.StatusCode.UNIMPLEMENTED.value[0]: 501,
    grpc.StatusCode.INTERNAL.value[0]: 500,
    grpc.StatusCode.UNAVAILABLE.value[0]: 503,
    grpc.StatusCode.DATA_LOSS.value[0]: 500,
}

_CODE_BY_NUMBER: dict[int, grpc.StatusCode] = {c.value[0]: c for c in grpc.StatusCode}


def http_status_from_code(code: grpc.StatusCode | int) -> int:
    """The HTTP status grpc-gateway uses for a gRPC code (500 for codes it does not know)."""
    number = code.value[0] if isinstance(code, grpc.StatusCode) else code
    return _HTTP_STATUS.get(number, 500)


def code_number(code: grpc.StatusCode | int) -> int:
    """The numeric value of a gRPC code."""
    return code.value[0] if isinstance(code, grpc.StatusCode) else code


def status_code(number: int) -> grpc.StatusCode:
    """The :class:`grpc.StatusCode` for a number (UNKNOWN for numbers gRPC does not define)."""
    return _CODE_BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)


def status_details_from_trailers(trailers: Sequence[tuple[str, str | bytes]]) -> tuple[any_pb2.Any, ...]:
    """The ``details`` of a rich status sent as ``grpc-status-details-bin`` trailing metadata.

    For a finished ``grpc`` call object use ``grpc_status.rpc_status.from_call``; this reads the same
    trailer from metadata the in-process backend collected itself.
    """
    for key, value in trailers:
        if key == rpc_status.GRPC_DETAILS_METADATA_KEY and isinstance(value, bytes):
            try:
                return tuple(status_pb2.Status.FromString(value).details)
            except DecodeError:
                log.warning("ignoring malformed %s", key)
    return ()


def status_details_of(call: grpc.Call | grpc.aio.AioRpcError) -> tuple[any_pb2.Any, ...]:
    """The ``details`` of a finished call's rich status (read by ``grpcio-status``); empty when the
    server sent none, or sent one that is malformed or disagrees with the call's own code and message."""
    try:
        status = rpc_status.from_call(call)
    except (ValueError, DecodeError):
        log.warning("ignoring malformed or inconsistent %s", rpc_status.GRPC_DETAILS_METADATA_KEY)
        return ()
    return tuple(status.details) if status is not None else ()
