"""Determined's REST error envelope for every gRPC code."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2, wrappers_pb2

from protogw.gateway.errors import bind
from protogw.server.rest_errors import REASONS, DeterminedErrorRenderer
from tests.gateway import errdemo

# (code, reason Determined prints, code number shown in the envelope)
TABLE = [
    (grpc.StatusCode.CANCELLED, "Canceled", 1),
    (grpc.StatusCode.UNKNOWN, "Internal", 13),
    (grpc.StatusCode.INVALID_ARGUMENT, "InvalidArgument", 3),
    (grpc.StatusCode.DEADLINE_EXCEEDED, "DeadlineExceeded", 4),
    (grpc.StatusCode.NOT_FOUND, "NotFound", 5),
    (grpc.StatusCode.ALREADY_EXISTS, "AlreadyExists", 6),
    (grpc.StatusCode.PERMISSION_DENIED, "PermissionDenied", 7),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, "ResourceExhausted", 8),
    (grpc.StatusCode.FAILED_PRECONDITION, "FailedPrecondition", 9),
    (grpc.StatusCode.ABORTED, "Aborted", 10),
    (grpc.StatusCode.OUT_OF_RANGE, "OutOfRange", 11),
    (grpc.StatusCode.UNIMPLEMENTED, "Unimplemented", 12),
    (grpc.StatusCode.INTERNAL, "Internal", 13),
    (grpc.StatusCode.UNAVAILABLE, "Unavailable", 14),
    (grpc.StatusCode.DATA_LOSS, "DataLoss", 15),
    (grpc.StatusCode.UNAUTHENTICATED, "Unauthenticated", 16),
]


def test_every_code_has_a_reason() -> None:
    assert set(REASONS) == set(grpc.StatusCode)


@pytest.mark.parametrize(("code", "reason", "number"), TABLE)
def test_envelope(code: grpc.StatusCode, reason: str, number: int) -> None:
    detail = any_pb2.Any()
    detail.Pack(wrappers_pb2.StringValue(value="why"))
    headers, body = DeterminedErrorRenderer()(code, "it broke", [detail], 400)
    assert body["error"] == {"code": number, "reason": reason, "error": "it broke"}
    # The gateway's own google.rpc.Status fields stay, with the real code.
    assert (body["code"], body["message"]) == (code.value[0], "it broke")
    assert body["details"] == [{"@type": "type.googleapis.com/google.protobuf.StringValue", "value": "why"}]
    assert (b"content-type", b"application/json") in headers


def test_details_from_the_gateways_pools() -> None:
    """Bound to a pool (as the gateway binds it to its routes'), the envelope's details of a type only
    that pool defines are written with their fields, not as raw bytes."""
    pool = errdemo.demo_pool()
    limit = errdemo.message(pool, "LimitDetail", resource="cpu", limit="3")
    renderer = bind(DeterminedErrorRenderer(), pools=[pool])
    assert isinstance(renderer, DeterminedErrorRenderer)
    _, body = renderer(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", [errdemo.packed(limit)], 429)
    assert body["details"] == [errdemo.expected_json(limit)]
    assert body["error"] == {"code": 8, "reason": "ResourceExhausted", "error": "slow down"}
