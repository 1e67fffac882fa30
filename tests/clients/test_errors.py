"""The exception hierarchy: the code <-> class <-> HTTP table, error-body parsing, and the same server
answer giving the same class over gRPC and over REST."""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import pytest

from protogw.clients import errors
from protogw.clients.determined import DeterminedClient
from protogw.clients.determined_errors import read_determined_body
from protogw.core.status import http_status_from_code

# The whole table: gRPC code -> class -> the HTTP status grpc-gateway answers with.
TABLE: list[tuple[grpc.StatusCode, type[errors.ApiError], int]] = [
    (grpc.StatusCode.CANCELLED, errors.Cancelled, 499),
    (grpc.StatusCode.UNKNOWN, errors.Unknown, 500),
    (grpc.StatusCode.INVALID_ARGUMENT, errors.InvalidArgument, 400),
    (grpc.StatusCode.DEADLINE_EXCEEDED, errors.DeadlineExceeded, 504),
    (grpc.StatusCode.NOT_FOUND, errors.NotFound, 404),
    (grpc.StatusCode.ALREADY_EXISTS, errors.AlreadyExists, 409),
    (grpc.StatusCode.PERMISSION_DENIED, errors.PermissionDenied, 403),
    (grpc.StatusCode.RESOURCE_EXHAUSTED, errors.ResourceExhausted, 429),
    (grpc.StatusCode.FAILED_PRECONDITION, errors.FailedPrecondition, 400),
    (grpc.StatusCode.ABORTED, errors.Aborted, 409),
    (grpc.StatusCode.OUT_OF_RANGE, errors.OutOfRange, 400),
    (grpc.StatusCode.UNIMPLEMENTED, errors.Unimplemented, 501),
    (grpc.StatusCode.INTERNAL, errors.Internal, 500),
    (grpc.StatusCode.UNAVAILABLE, errors.Unavailable, 503),
    (grpc.StatusCode.DATA_LOSS, errors.DataLoss, 500),
    (grpc.StatusCode.UNAUTHENTICATED, errors.Unauthenticated, 401),
]


@pytest.mark.parametrize(("code", "cls", "status"), TABLE)
def test_class_table(code: grpc.StatusCode, cls: type[errors.ApiError], status: int) -> None:
    assert (cls.grpc_status_code, cls.http_status) == (code, status)
    # The client's table agrees with the gateway's, which is the project's one mapping.
    assert http_status_from_code(code) == status
    assert errors.error_class_for_grpc(code) is cls
    assert errors.error_class_for_grpc(code.value[0]) is cls
    assert type(errors.from_grpc_status(code, "boom")) is cls
    # The code in an error body decides the class, in either body shape.
    assert type(errors.from_http_response(status, {"code": code.value[0], "message": "m"})) is cls
    envelope = {"error": {"code": code.value[0], "error": "m"}}
    assert type(errors.from_http_response(status, envelope, read=read_determined_body)) is cls


def test_every_code_but_ok_has_a_class() -> None:
    assert {c for c, _, _ in TABLE} == set(grpc.StatusCode) - {grpc.StatusCode.OK}


# HTTP status alone (no code in the body) -> class: the first declared for a shared status.
HTTP_ONLY: list[tuple[int, type[errors.ApiError]]] = [
    (400, errors.InvalidArgument),
    (401, errors.Unauthenticated),
    (403, errors.PermissionDenied),
    (404, errors.NotFound),
    (409, errors.AlreadyExists),
    (429, errors.ResourceExhausted),
    (499, errors.Cancelled),
    (500, errors.Internal),
    (501, errors.Unimplemented),
    (502, errors.Unknown),
    (503, errors.Unavailable),
    (504, errors.DeadlineExceeded),
    (405, errors.TransportError),
    (302, errors.TransportError),
]


@pytest.mark.parametrize(("status", "cls"), HTTP_ONLY)
def test_http_status_alone(status: int, cls: type[errors.ApiError]) -> None:
    assert errors.error_class_for_http(status) is cls
    exc = errors.from_http_response(status, "<html>bad gateway</html>", reason="Reason")
    assert type(exc) is cls
    assert exc.message == "Reason"
    assert exc.response_status == status


# Body shapes -> (class, message, details).
BODIES: list[tuple[int, Any, tuple[type[errors.ApiError], str, tuple[Any, ...]]]] = [
    (400, {"code": 9, "message": "not archived", "details": []}, (errors.FailedPrecondition, "not archived", ())),
    (
        400,
        {"code": 9, "message": "m", "details": [{"@type": "x"}], "error": {"code": 9, "error": "m"}},
        (errors.FailedPrecondition, "m", ({"@type": "x"},)),
    ),
    (
        401,
        {"error": {"code": 16, "reason": "Unauthenticated", "error": "token missing"}},
        (errors.Unauthenticated, "token missing", ()),
    ),
    (404, {"error": "plain text error"}, (errors.NotFound, "plain text error", ())),
    (400, {"code": 99, "message": "custom code"}, (errors.Unknown, "custom code", ())),
    (404, None, (errors.NotFound, "HTTP 404", ())),
    (400, ["not", "an", "object"], (errors.InvalidArgument, "HTTP 400", ())),
]


@pytest.mark.parametrize(("status", "body", "expected"), BODIES)
def test_error_bodies(status: int, body: Any, expected: tuple[type[errors.ApiError], str, tuple[Any, ...]]) -> None:
    exc = errors.from_http_response(status, body, read=read_determined_body)
    assert (type(exc), exc.message, exc.details) == expected


# The generic reader knows google.rpc.Status only: Determined's envelope leaves the HTTP status to decide.
GENERIC = [
    (400, {"code": 9, "message": "m"}, (errors.FailedPrecondition, "m")),
    (400, {"error": {"code": 9, "error": "m"}}, (errors.InvalidArgument, "HTTP 400")),
    (404, {"error": "plain"}, (errors.NotFound, "HTTP 404")),
]


@pytest.mark.parametrize(("status", "body", "expected"), GENERIC)
def test_generic_reader(status: int, body: Any, expected: tuple[type[errors.ApiError], str]) -> None:
    exc = errors.from_http_response(status, body)
    assert (type(exc), exc.message) == expected


def test_a_class_registers_once() -> None:
    with pytest.raises(TypeError, match="already NotFound"):
        type("Again", (errors._Coded,), {"grpc_status_code": grpc.StatusCode.NOT_FOUND, "http_status": 404})
    with pytest.raises(TypeError, match="must declare"):
        type("Bare", (errors._Coded,), {})


Call = Callable[[DeterminedClient], Awaitable[Any]]


# Real server answers -> class and message, the same over both transports.
LIVE: list[tuple[str, bool, Call, type[errors.ApiError], str]] = [
    ("no token", False, lambda c: c.me(), errors.Unauthenticated, "token missing"),
    ("bad token", False, lambda c: _with_token(c, "nope"), errors.Unauthenticated, "invalid credentials"),
    (
        "wrong password",
        False,
        lambda c: c.login(username="admin", password="x"),
        errors.Unauthenticated,
        "invalid credentials",
    ),
    (
        "empty username",
        False,
        lambda c: c.login(username="", password=""),
        errors.InvalidArgument,
        "missing argument: username",
    ),
    ("unknown experiment", True, lambda c: c.experiment(id=9999), errors.NotFound, "experiment '9999' not found"),
    (
        "unarchive unarchived",
        True,
        lambda c: c.unarchive(id=2),
        errors.FailedPrecondition,
        "Experiment is not archived.",
    ),
    (
        "archive running",
        True,
        lambda c: c.archive(id=3),
        errors.FailedPrecondition,
        "Experiment is not in terminal state.",
    ),
    ("archive archived", True, lambda c: c.archive(id=1), errors.FailedPrecondition, "Experiment is already archived."),
    (
        "blank name",
        True,
        lambda c: c.patch_experiment(id=2, name=" "),
        errors.InvalidArgument,
        "`name` must not be an empty or whitespace string",
    ),
    (
        "non-admin creates a user",
        True,
        lambda c: _create_as_determined(c),
        errors.PermissionDenied,
        "only admin privileged users can create users",
    ),
    ("duplicate user", True, lambda c: _create_twice(c), errors.AlreadyExists, ""),
]


async def _with_token(client: DeterminedClient, token: str) -> Any:
    client.token = token
    return await client.me()


_twice = itertools.count()


async def _create_twice(client: DeterminedClient) -> Any:
    # Each run (one per transport) needs its own name, so the first creation succeeds.
    username = f"twice-{next(_twice)}"
    await client.create_user(username=username)
    return await client.create_user(username=username)


async def _create_as_determined(client: DeterminedClient) -> Any:
    await client.login(username="determined", password="")
    return await client.create_user(username="nobody-new")


@pytest.mark.parametrize(
    ("login", "call", "cls", "message"), [pytest.param(lo, c, k, m, id=n) for n, lo, c, k, m in LIVE]
)
async def test_live_errors(
    anonymous: DeterminedClient, login: bool, call: Call, cls: type[errors.ApiError], message: str
) -> None:
    if login:
        await anonymous.login(username="admin", password="")
    with pytest.raises(errors.ApiError) as caught:
        await call(anonymous)
    assert type(caught.value) is cls
    assert message in caught.value.message
    # Over REST the status on the wire is the class's; over gRPC there is none.
    assert caught.value.response_status in (None, cls.http_status)
