"""The gRPC code -> HTTP status table (grpc-gateway's) and rich status details read from trailers."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from protogw.core.status import http_status_from_code, status_details_from_trailers

STATUS_TABLE = [
    (grpc.StatusCode.OK, 200),
    (grpc.StatusCode.CANCELLED, 499),
    (grpc.StatusCode.UNKNOWN, 500),
    (grpc.StatusCode.INVALID_ARGUMENT, 400),
    (grpc.StatusCode.DEADLINE_EXCEEDED, 504),
    (grpc.StatusCode.NOT_FOUND, 404),
    (grpc.StatusCode.ALREADY_EXISTS, 409),
    (grpc.StatusCode.PERMISSION_DENIED, 403),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, 429),
    (grpc.StatusCode.FAILED_PRECONDITION, 400),
    (grpc.StatusCode.ABORTED, 409),
    (grpc.StatusCode.OUT_OF_RANGE, 400),
    (grpc.StatusCode.UNIMPLEMENTED, 501),
    (grpc.StatusCode.INTERNAL, 500),
    (grpc.StatusCode.UNAVAILABLE, 503),
    (grpc.StatusCode.DATA_LOSS, 500),
    (grpc.StatusCode.UNAUTHENTICATED, 401),
    (17, 500),
    (99, 500),
]


@pytest.mark.parametrize(("code", "status"), STATUS_TABLE, ids=[str(c) for c, _ in STATUS_TABLE])
def test_status_table(code: grpc.StatusCode | int, status: int) -> None:
    assert http_status_from_code(code) == status


def bad_request_detail() -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.BadRequest(field_violations=[error_details_pb2.BadRequest.FieldViolation(field="x")]))
    return detail


@pytest.mark.parametrize(
    ("trailers", "count"),
    [
        (
            [
                (
                    "grpc-status-details-bin",
                    status_pb2.Status(code=3, details=[bad_request_detail()]).SerializeToString(),
                )
            ],
            1,
        ),
        ([("grpc-status-details-bin", b"\xff\xff")], 0),
        ([("other", "x")], 0),
        ([], 0),
    ],
)
def test_details_from_trailers(trailers: list[tuple[str, str | bytes]], count: int) -> None:
    assert len(status_details_from_trailers(trailers)) == count
