"""Login, Logout and CurrentUser over real gRPC, with Determined's codes and messages."""

from __future__ import annotations

import contextlib
from datetime import timedelta
from typing import Any

import grpc
import grpc.aio
import httpx
import pytest

from protogw.gen.determined.api.v1 import auth_pb2
from protogw.server.security import client_side_hash
from tests.server.harness import Metadata, Running, bearer, running
from tests.support.rest_backends import BACKENDS, rest_api

OK = grpc.StatusCode.OK
UNAUTH = grpc.StatusCode.UNAUTHENTICATED

# (case, which account, password sent, is_hashed, expected code, expected message)
LOGIN_CASES = [
    ("empty username", "", "", False, grpc.StatusCode.INVALID_ARGUMENT, "missing argument: username"),
    ("unknown user", "nobody-at-all", "", False, UNAUTH, "invalid credentials"),
    ("blank account, blank password", "determined", "", False, OK, ""),
    ("blank account, blank hashed password", "determined", "", True, OK, ""),
    ("blank account, some password", "determined", "guess", False, UNAUTH, "invalid credentials"),
    ("password account, right clear text", "secured", "s3cret!", False, OK, ""),
    ("password account, client-side hash", "secured", client_side_hash("s3cret!"), True, OK, ""),
    ("password account, clear text flagged hashed", "secured", "s3cret!", True, UNAUTH, "invalid credentials"),
    ("password account, wrong password", "secured", "s3cret?", False, UNAUTH, "invalid credentials"),
    ("password account, blank password", "secured", "", False, UNAUTH, "invalid credentials"),
    ("inactive account, right password", "inactive", "pw", False, grpc.StatusCode.PERMISSION_DENIED, "user is not active"),
    ("inactive account, wrong password", "inactive", "nope", False, UNAUTH, "invalid credentials"),
    ("remote account", "remote", "", False, UNAUTH, "invalid credentials"),
    # A non-ASCII "client-side hash" is only a wrong password, not a server error.
    ("blank account, non-ASCII hashed password", "determined", "pässwörd", True, UNAUTH, "invalid credentials"),
    ("password account, non-ASCII hashed password", "secured", "pässwörd", True, UNAUTH, "invalid credentials"),
    ("unknown user, non-ASCII hashed password", "nobody-at-all", "пароль", True, UNAUTH, "invalid credentials"),
]  # fmt: skip


@pytest.fixture(scope="module")
async def accounts(api: Running, admin_md: Metadata) -> dict[str, str]:
    """Role name -> username of the accounts the login table refers to."""
    _, secured = await api.new_user(admin_md, password="s3cret!")
    inactive_id, inactive = await api.new_user(admin_md, password="pw")
    await api.deactivate(admin_md, inactive_id)
    _, remote = await api.new_user(admin_md, remote=True)
    return {"secured": secured, "inactive": inactive, "remote": remote, "determined": "determined", "": ""}


@pytest.mark.parametrize(("case", "account", "password", "is_hashed", "code", "message"), LOGIN_CASES)
async def test_login(
    api: Running,
    accounts: dict[str, str],
    case: str,
    account: str,
    password: str,
    is_hashed: bool,
    code: grpc.StatusCode,
    message: str,
) -> None:
    username = accounts.get(account, account)
    request = auth_pb2.LoginRequest(username=username, password=password, is_hashed=is_hashed)
    if code is OK:
        response = await api.stub.Login(request)
        assert response.user.username == username
        assert response.user.HasField("last_auth_at")
        assert len(response.token) >= 40
        me = await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=bearer(response.token))
        assert me.user.id == response.user.id
        return
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await api.stub.Login(request)
    assert (info.value.code(), info.value.details()) == (code, message), case


async def test_tokens_are_distinct_per_login(api: Running) -> None:
    first = await api.stub.Login(auth_pb2.LoginRequest(username="determined"))
    second = await api.stub.Login(auth_pb2.LoginRequest(username="determined"))
    assert first.token != second.token


# (metadata key, value prefix) pairs Determined's various clients use to send the token.
TOKEN_CARRIERS = [("authorization", "Bearer "), ("x-user-token", "Bearer "), ("grpcgateway-authorization", "Bearer ")]


@pytest.mark.parametrize(("key", "prefix"), TOKEN_CARRIERS)
async def test_token_carriers(api: Running, key: str, prefix: str) -> None:
    login = await api.stub.Login(auth_pb2.LoginRequest(username="determined"))
    me = await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=((key, prefix + login.token),))
    assert me.user.username == "determined"


async def test_logout_revokes_only_that_token(api: Running) -> None:
    one = await api.login("determined")
    two = await api.login("determined")
    assert await api.stub.Logout(auth_pb2.LogoutRequest(), metadata=one) == auth_pb2.LogoutResponse()
    for md, code in ((one, UNAUTH), (two, OK)):
        if code is OK:
            await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
            continue
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
        assert (info.value.code(), info.value.details()) == (UNAUTH, "invalid credentials")


async def test_expired_session_is_rejected(module_database_url: str) -> None:
    # A zero lifetime makes every session expire the moment it is created.
    async with running(module_database_url, session_ttl=timedelta(0)) as api:
        md = await api.login("determined")
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
        assert (info.value.code(), info.value.details()) == (UNAUTH, "invalid credentials")


async def test_inactive_users_token_is_refused(api: Running, admin_md: Metadata) -> None:
    user_id, name = await api.new_user(admin_md)
    md = await api.login(name)
    await api.deactivate(admin_md, user_id)
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
    assert (info.value.code(), info.value.details()) == (
        grpc.StatusCode.PERMISSION_DENIED,
        "user does not have permission",
    )


async def test_logout_on_another_replica(api: Running, module_database_url: str) -> None:
    # Replica B shares the database but remembers no lookups, so a logout on A reaches it at once.
    async with running(module_database_url, auth_cache_seconds=0) as replica:
        md = await api.login("determined")
        await replica.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
        await api.stub.Logout(auth_pb2.LogoutRequest(), metadata=md)
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await replica.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)
        assert (info.value.code(), info.value.details()) == (UNAUTH, "invalid credentials")


async def test_user_changes_show_in_current_user(api: Running, admin_md: Metadata) -> None:
    from protogw.gen.determined.api.v1 import user_pb2
    from protogw.gen.determined.user.v1 import user_pb2 as model_pb2

    user_id, name = await api.new_user(admin_md)
    md = await api.login(name)
    assert (await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)).user.display_name == ""
    patch = model_pb2.PatchUser(display_name="Shown")
    await api.stub.PatchUser(user_pb2.PatchUserRequest(user_id=user_id, user=patch), metadata=md)
    assert (await api.stub.CurrentUser(auth_pb2.CurrentUserRequest(), metadata=md)).user.display_name == "Shown"


# (case, account, password) -> whether the attempt is checked against the dummy hash. Every attempt
# costs one argon2 verification; only those with no real hash to check use the dummy.
DUMMY_CASES = [
    ("unknown user", "nobody-at-all", "x", True),
    ("remote account", "remote", "x", True),
    ("blank account", "determined", "x", True),
    ("password account, blank password", "secured", "", True),
    ("password account, wrong password", "secured", "wrong", False),
    ("password account, right password", "secured", "s3cret!", False),
]


@pytest.mark.parametrize(("case", "account", "password", "dummy"), DUMMY_CASES)
async def test_every_login_costs_one_verification(
    api: Running, accounts: dict[str, str], case: str, account: str, password: str, dummy: bool
) -> None:
    before = api.service.passwords.dummy_checks
    with contextlib.suppress(grpc.aio.AioRpcError):
        await api.stub.Login(auth_pb2.LoginRequest(username=accounts.get(account, account), password=password))
    assert api.service.passwords.dummy_checks - before == (1 if dummy else 0)


# (limits, attempts as (username, password), the code each gets)
THROTTLE_CASES = [
    (
        "the 11th bad attempt for one username is refused, even with the right password",
        {"login_failures_per_user": 10, "login_failures_per_address": 100},
        [("secured", "bad")] * 10 + [("secured", "s3cret!"), ("determined", "")],
        [UNAUTH] * 10 + [grpc.StatusCode.RESOURCE_EXHAUSTED, OK],
    ),
    (
        "unknown usernames count too",
        {"login_failures_per_user": 2, "login_failures_per_address": 100},
        [("ghost", "a"), ("ghost", "b"), ("ghost", "c")],
        [UNAUTH, UNAUTH, grpc.StatusCode.RESOURCE_EXHAUSTED],
    ),
    (
        "a success clears the username's count",
        {"login_failures_per_user": 2, "login_failures_per_address": 100},
        [("secured", "bad"), ("secured", "s3cret!"), ("secured", "bad"), ("secured", "bad"), ("secured", "x")],
        [UNAUTH, OK, UNAUTH, UNAUTH, grpc.StatusCode.RESOURCE_EXHAUSTED],
    ),
    (
        "one address trying many usernames",
        {"login_failures_per_user": 100, "login_failures_per_address": 3},
        [("a1", "x"), ("a2", "x"), ("a3", "x"), ("determined", "")],
        [UNAUTH, UNAUTH, UNAUTH, grpc.StatusCode.RESOURCE_EXHAUSTED],
    ),
]


@pytest.mark.parametrize(("case", "limits", "attempts", "codes"), THROTTLE_CASES)
async def test_login_throttle(
    database_url: str, case: str, limits: dict[str, int], attempts: list[tuple[str, str]], codes: list[Any]
) -> None:
    async with running(database_url, **limits) as api:
        admin = await api.login("admin")
        secured = await api.new_user(admin, password="s3cret!")
        got = []
        refusals = []
        for username, password in attempts:
            name = secured[1] if username == "secured" else username
            try:
                await api.stub.Login(auth_pb2.LoginRequest(username=name, password=password))
                got.append(OK)
            except grpc.aio.AioRpcError as exc:
                got.append(exc.code())
                if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                    refusals.append(exc.details() or "")
        assert got == codes
        assert all("too many failed logins" in r for r in refusals)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_throttled_login_is_429_over_rest(database_url: str, backend: str) -> None:
    async with (
        rest_api(backend, database_url, login_failures_per_user=1) as rest,
        httpx.AsyncClient(base_url=rest.base_url, timeout=10) as client,
    ):
        body = {"username": "determined", "password": "wrong"}
        assert (await client.post("/api/v1/auth/login", json=body)).status_code == 401
        response = await client.post("/api/v1/auth/login", json=body)
        assert response.status_code == 429
        assert "too many failed logins for this user" in response.json()["message"]
