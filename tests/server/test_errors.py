"""The single table from domain errors to gRPC statuses."""

from __future__ import annotations

import grpc
import pytest

from protogw.server import errors
from protogw.server.storage import errors as storage_errors

# (exception, expected (code, message) or None for "unexpected")
CASES: list[tuple[BaseException, tuple[grpc.StatusCode, str] | None]] = [
    (errors.invalid_argument("bad"), (grpc.StatusCode.INVALID_ARGUMENT, "bad")),
    (errors.not_found("gone"), (grpc.StatusCode.NOT_FOUND, "gone")),
    (errors.failed_precondition("state"), (grpc.StatusCode.FAILED_PRECONDITION, "state")),
    (errors.permission_denied("no"), (grpc.StatusCode.PERMISSION_DENIED, "no")),
    (errors.unauthenticated("who"), (grpc.StatusCode.UNAUTHENTICATED, "who")),
    (errors.already_exists("dup"), (grpc.StatusCode.ALREADY_EXISTS, "dup")),
    (storage_errors.NotFound("experiment '3' not found"), (grpc.StatusCode.NOT_FOUND, "experiment '3' not found")),
    (storage_errors.AlreadyExists("taken"), (grpc.StatusCode.ALREADY_EXISTS, "taken")),
    (storage_errors.InvalidArgument("offset out of bounds"), (grpc.StatusCode.INVALID_ARGUMENT, "offset out of bounds")),
    (storage_errors.Conflict("Experiment is already archived.", current_state="COMPLETED"),
     (grpc.StatusCode.FAILED_PRECONDITION, "Experiment is already archived.")),
    (type("LaterNotFound", (storage_errors.NotFound,), {})("sub"), (grpc.StatusCode.NOT_FOUND, "sub")),
    (storage_errors.StorageError("base class"), None),
    (ValueError("boom"), None),
    (KeyError("k"), None),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "expected"), CASES)
def test_status_for(exc: BaseException, expected: tuple[grpc.StatusCode, str] | None) -> None:
    assert errors.status_for(exc) == expected
