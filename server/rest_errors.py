"""Determined's REST error body, as a renderer for the gateway.

Determined's gateway answers errors with its own envelope::

    {"error": {"code": 16, "reason": "Unauthenticated", "error": "token missing"}}

``DeterminedErrorRenderer`` writes the gateway's default ``google.rpc.Status`` fields
(``code``, ``message``, ``details``) *and* that ``error`` object, so both Determined's clients
(which read ``error.error``) and generic grpc-gateway clients (which read ``message``) understand it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import any_pb2

from protogw.core.status import code_number
from protogw.gateway.errors import StatusRenderer

#: gRPC code -> the name Determined prints as ``reason``: Go's ``codes.Code.String()``. Note Go
#: spells CANCELLED with one L.
REASONS: dict[grpc.StatusCode, str] = {
    grpc.StatusCode.OK: "OK",
    grpc.StatusCode.CANCELLED: "Canceled",
    grpc.StatusCode.UNKNOWN: "Unknown",
    grpc.StatusCode.INVALID_ARGUMENT: "InvalidArgument",
    grpc.StatusCode.DEADLINE_EXCEEDED: "DeadlineExceeded",
    grpc.StatusCode.NOT_FOUND: "NotFound",
    grpc.StatusCode.ALREADY_EXISTS: "AlreadyExists",
    grpc.StatusCode.PERMISSION_DENIED: "PermissionDenied",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "ResourceExhausted",
    grpc.StatusCode.FAILED_PRECONDITION: "FailedPrecondition",
    grpc.StatusCode.ABORTED: "Aborted",
    grpc.StatusCode.OUT_OF_RANGE: "OutOfRange",
    grpc.StatusCode.UNIMPLEMENTED: "Unimplemented",
    grpc.StatusCode.INTERNAL: "Internal",
    grpc.StatusCode.UNAVAILABLE: "Unavailable",
    grpc.StatusCode.DATA_LOSS: "DataLoss",
    grpc.StatusCode.UNAUTHENTICATED: "Unauthenticated",
}


@dataclass(frozen=True, slots=True)
class DeterminedErrorRenderer(StatusRenderer):
    """The gateway's default error body plus Determined's ``error`` envelope."""

    def status_json(self, code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any]) -> dict[str, Any]:
        body = StatusRenderer.status_json(self, code, message, details)
        # Determined's gateway reports UNKNOWN as INTERNAL; do the same so clients see one code.
        shown = grpc.StatusCode.INTERNAL if code is grpc.StatusCode.UNKNOWN else code
        body["error"] = {"code": code_number(shown), "reason": REASONS[shown], "error": message}
        return body
