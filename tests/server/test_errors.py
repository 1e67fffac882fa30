"""The single table from domain errors to gRPC statuses, and a lost database end to end."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # asyncpg ships no type information
import grpc
import grpc.aio
import pytest
import sqlalchemy.dialects.postgresql.asyncpg
import sqlalchemy.exc
import sqlalchemy.ext.asyncio

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


# -- database errors, judged on the driver's own exception -------------------------------------------

_ASYNCPG_DBAPI: Any = sqlalchemy.dialects.postgresql.asyncpg.dialect.import_dbapi()  # type: ignore[no-untyped-call]


def _through_sqlalchemy_asyncpg(error: Exception) -> sqlalchemy.exc.StatementError:
    """``error`` as SQLAlchemy's asyncpg adapter and engine hand it over: adapted, then wrapped."""
    translate = _ASYNCPG_DBAPI._asyncpg_error_translate
    adapted_class = next(translate[cls] for cls in type(error).__mro__ if cls in translate)
    adapted = adapted_class(f"{type(error)}: {error}")
    adapted.__cause__ = error
    wrapped: sqlalchemy.exc.StatementError = sqlalchemy.exc.DBAPIError.instance(
        "SELECT 1", {}, adapted, _ASYNCPG_DBAPI.Error
    )
    return wrapped


def _through_sqlalchemy_sqlite(error: sqlite3.Error) -> sqlalchemy.exc.StatementError:
    return sqlalchemy.exc.DBAPIError.instance("SELECT 1", {}, error, sqlite3.Error)


def _sqlite_error(tmp: Path, case: str) -> sqlite3.Error:
    """A genuine error from SQLite itself for ``case``."""
    path = tmp / f"{case}.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    try:
        if case == "locked":
            holder.execute("BEGIN EXCLUSIVE")
            other = sqlite3.connect(path, timeout=0)
            try:
                other.execute("SELECT * FROM t")
            finally:
                other.close()
        elif case == "cannot-open":
            sqlite3.connect(tmp / "missing-folder" / "x.db").execute("SELECT 1")
        elif case == "pattern-too-complex":
            holder.execute("SELECT 'x' LIKE ?", ["%" + "_" * 60_000])
        elif case == "too-many-variables":
            n = holder.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) + 1
            holder.execute("SELECT 1 WHERE 1 IN (" + ",".join("?" * n) + ")", list(range(n)))
        elif case == "no-such-table":
            holder.execute("SELECT * FROM missing")
    except sqlite3.Error as exc:
        return exc
    finally:
        holder.close()
    raise AssertionError(f"SQLite did not fail for {case}")


UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, errors.DATABASE_UNAVAILABLE)
TOO_LARGE = (grpc.StatusCode.INVALID_ARGUMENT, errors.DATABASE_TOO_LARGE)

# (asyncpg exception, expected status) — each raw (as a failed connect raises it) and wrapped (as a
# failed statement arrives through SQLAlchemy).
ASYNCPG_CASES: list[tuple[Exception, tuple[grpc.StatusCode, str] | None]] = [
    (asyncpg.exceptions.CannotConnectNowError("the database system is starting up"), UNAVAILABLE),
    (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed in the middle of operation"), UNAVAILABLE),
    (asyncpg.exceptions.TooManyConnectionsError("sorry, too many clients already"), UNAVAILABLE),
    (asyncpg.exceptions.AdminShutdownError("terminating connection due to administrator command"), UNAVAILABLE),
    (asyncpg.exceptions.CrashShutdownError("terminating connection because of crash of another server process"),
     UNAVAILABLE),
    (asyncpg.exceptions.ConnectionFailureError("connection failure"), UNAVAILABLE),
    (asyncpg.exceptions.InterfaceError("connection is closed"), UNAVAILABLE),
    (asyncpg.exceptions.InternalClientError("cannot perform operation: connection is closed"), None),
    (asyncpg.exceptions.InterfaceError("the number of query arguments cannot exceed 32767"), TOO_LARGE),
    (asyncpg.exceptions.ProgramLimitExceededError("index row size exceeds maximum"), TOO_LARGE),
    (asyncpg.exceptions.UndefinedTableError('relation "x" does not exist'), None),
    (asyncpg.exceptions.UniqueViolationError("duplicate key"), None),
]  # fmt: skip


@pytest.mark.parametrize("wrapped", [False, True], ids=["raw", "via-sqlalchemy"])
@pytest.mark.parametrize(("error", "expected"), ASYNCPG_CASES, ids=[type(e).__name__ for e, _ in ASYNCPG_CASES])
def test_asyncpg_errors(error: Exception, expected: tuple[grpc.StatusCode, str] | None, wrapped: bool) -> None:
    if wrapped:
        assert errors.status_for(_through_sqlalchemy_asyncpg(error)) == expected
    elif isinstance(error, asyncpg.exceptions.InterfaceError | asyncpg.exceptions.PostgresError):
        assert errors.status_for(error) == expected


# (a genuine SQLite failure, expected status)
SQLITE_CASES = [
    ("locked", UNAVAILABLE),
    ("cannot-open", UNAVAILABLE),
    ("pattern-too-complex", TOO_LARGE),
    ("too-many-variables", TOO_LARGE),
    ("no-such-table", None),
]


@pytest.mark.parametrize(("case", "expected"), SQLITE_CASES)
def test_sqlite_errors(tmp_path: Path, case: str, expected: tuple[grpc.StatusCode, str] | None) -> None:
    error = _sqlite_error(tmp_path, case)
    assert errors.status_for(_through_sqlalchemy_sqlite(error)) == expected


# (socket-level failures raised by either driver while connecting)
SOCKET_CASES = [ConnectionRefusedError(111, "Connection refused"), ConnectionResetError(104, "reset"), TimeoutError()]


@pytest.mark.parametrize("error", SOCKET_CASES, ids=[type(e).__name__ for e in SOCKET_CASES])
def test_socket_errors_are_unavailable(error: Exception) -> None:
    assert errors.status_for(error) == UNAVAILABLE


@pytest.mark.postgres
async def test_a_refused_connection_is_unavailable(tmp_path: Path) -> None:
    # A genuine connect failure through the engine: nothing listens on the port.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    engine = sqlalchemy.ext.asyncio.create_async_engine(f"postgresql+asyncpg://x@127.0.0.1:{port}/db")
    try:
        with pytest.raises(Exception) as info:
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    assert errors.status_for(info.value) == UNAVAILABLE
