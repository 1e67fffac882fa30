"""The single table from domain errors to gRPC statuses, and a lost database end to end."""

from __future__ import annotations

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import grpc
import grpc.aio
import pytest
import sqlalchemy.exc

from protogw.gen.determined.api.v1 import experiment_pb2
from protogw.server import errors
from protogw.server.storage import errors as storage_errors
from tests.server.harness import running
from tests.support.postgres import PostgresServer

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
    (sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("database is locked")),
     (grpc.StatusCode.UNAVAILABLE, errors.DATABASE_UNAVAILABLE)),
    (sqlalchemy.exc.InterfaceError("SELECT 1", {}, Exception("connection is closed")),
     (grpc.StatusCode.UNAVAILABLE, errors.DATABASE_UNAVAILABLE)),
    (ConnectionRefusedError(111, "Connection refused"), (grpc.StatusCode.UNAVAILABLE, errors.DATABASE_UNAVAILABLE)),
    # A driver error SQLAlchemy judged a disconnect (asyncpg's InternalClientError on a killed
    # connection arrives this way): retryable, not a bug.
    (sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("connection lost"), connection_invalidated=True),
     (grpc.StatusCode.UNAVAILABLE, errors.DATABASE_UNAVAILABLE)),
    (sqlalchemy.exc.DBAPIError("SELECT 1", {}, Exception("other")), None),
    (sqlalchemy.exc.ProgrammingError("SELECT", {}, Exception("syntax")), None),
    (ValueError("boom"), None),
    (KeyError("k"), None),
]  # fmt: skip


@pytest.mark.parametrize(("exc", "expected"), CASES)
def test_status_for(exc: BaseException, expected: tuple[grpc.StatusCode, str] | None) -> None:
    assert errors.status_for(exc) == expected


@pytest.mark.postgres
async def test_lost_database_connections_are_unavailable_then_recover(pg_server: PostgresServer) -> None:
    name = pg_server.create_database()
    try:
        async with running(pg_server.url(name)) as api:
            md = await api.login("determined")
            await api.stub.GetExperiments(experiment_pb2.GetExperimentsRequest(), metadata=md)
            admin = await asyncpg.connect(f"postgresql://{pg_server.user}@{pg_server.host}:{pg_server.port}/postgres")
            try:
                await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
            finally:
                await admin.close()
            # The pooled connection is dead: the next call reports it as retryable, never as INTERNAL.
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await api.stub.GetExperiments(experiment_pb2.GetExperimentsRequest(), metadata=md)
            assert (info.value.code(), info.value.details()) == (
                grpc.StatusCode.UNAVAILABLE,
                errors.DATABASE_UNAVAILABLE,
            )
            # ... and the pool reconnects for the one after.
            await api.stub.GetExperiments(experiment_pb2.GetExperimentsRequest(), metadata=md)
    finally:
        pg_server.drop_database(name)
