"""User RPCs over real gRPC: reads, creation, password changes and patches, with basic authz."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import wrappers_pb2

from protogw.gen.determined.api.v1 import auth_pb2, pagination_pb2, user_pb2
from protogw.gen.determined.user.v1 import user_pb2 as model_pb2
from tests.server.harness import Metadata, Running

DENIED = grpc.StatusCode.PERMISSION_DENIED
INVALID = grpc.StatusCode.INVALID_ARGUMENT


async def expect(call: Awaitable[Any], code: grpc.StatusCode, message: str) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await call
    assert (info.value.code(), info.value.details()) == (code, message)


async def test_get_me_and_lookups(api: Running, user_md: Metadata) -> None:
    me = (await api.stub.GetMe(user_pb2.GetMeRequest(), metadata=user_md)).user
    assert (me.username, me.admin, me.active, me.HasField("agent_user_group")) == ("determined", False, True, False)
    by_id = await api.stub.GetUser(user_pb2.GetUserRequest(user_id=me.id), metadata=user_md)
    by_name = await api.stub.GetUserByUsername(user_pb2.GetUserByUsernameRequest(username="admin"), metadata=user_md)
    assert by_id.user == me
    assert by_name.user.admin


# (request, expected code, expected message) for lookups that must fail cleanly, never INTERNAL.
MISSING_USERS = [
    (user_pb2.GetUserRequest(user_id=987654), grpc.StatusCode.NOT_FOUND, "user not found"),
    (user_pb2.GetUserRequest(user_id=-3), grpc.StatusCode.NOT_FOUND, "user not found"),
    (user_pb2.GetUserRequest(user_id=0), grpc.StatusCode.NOT_FOUND, "user not found"),
    (user_pb2.GetUserByUsernameRequest(username="ghost"), grpc.StatusCode.NOT_FOUND, "user not found"),
    (user_pb2.GetUserByUsernameRequest(username=""), grpc.StatusCode.NOT_FOUND, "user not found"),
]


@pytest.mark.parametrize(("request_", "code", "message"), MISSING_USERS)
async def test_missing_users(
    api: Running, user_md: Metadata, request_: Any, code: grpc.StatusCode, message: str
) -> None:
    rpc = api.stub.GetUser if isinstance(request_, user_pb2.GetUserRequest) else api.stub.GetUserByUsername
    await expect(rpc(request_, metadata=user_md), code, message)


# (GetUsers request fields, check on the result)
GET_USERS_CASES: list[tuple[dict[str, Any], Callable[[user_pb2.GetUsersResponse], bool]]] = [
    ({}, lambda r: {"admin", "determined"} <= {u.username for u in r.users}),
    ({"name": "DETERM"}, lambda r: [u.username for u in r.users] == ["determined"]),
    ({"admin": True}, lambda r: all(u.admin for u in r.users) and "admin" in {u.username for u in r.users}),
    ({"sort_by": user_pb2.GetUsersRequest.SORT_BY_USER_NAME, "order_by": pagination_pb2.ORDER_BY_DESC},
     lambda r: [u.username for u in r.users] == sorted((u.username for u in r.users), reverse=True)),
    ({"limit": 1}, lambda r: len(r.users) == 1 and r.pagination.end_index == 1 and r.pagination.total >= 2),
    ({"offset": -1, "limit": 0}, lambda r: len(r.users) == 1 and r.pagination.start_index == r.pagination.total - 1),
    # No roles exist here, so a role filter matches nobody: an empty page whose pagination says so.
    ({"role_id_assigned_directly_to_user": [1]},
     lambda r: not r.users and (r.pagination.total, r.pagination.start_index, r.pagination.end_index) == (0, 0, 0)),
    ({"role_id_assigned_directly_to_user": [1, 2], "admin": True, "limit": 5},
     lambda r: not r.users and (r.pagination.limit, r.pagination.total, r.pagination.end_index) == (5, 0, 0)),
    ({"role_id_assigned_directly_to_user": []}, lambda r: {"admin", "determined"} <= {u.username for u in r.users}),
]  # fmt: skip


@pytest.mark.parametrize(("fields", "check"), GET_USERS_CASES)
async def test_get_users(
    api: Running, user_md: Metadata, fields: dict[str, Any], check: Callable[[user_pb2.GetUsersResponse], bool]
) -> None:
    response = await api.stub.GetUsers(user_pb2.GetUsersRequest(**fields), metadata=user_md)
    assert check(response), response


BAD_GET_USERS = [
    ({"sort_by": 99}, "unknown value 99 for sort_by"),
    ({"order_by": 7}, "unknown value 7 for order_by"),
    ({"offset": 100000}, "offset out of bounds"),
    ({"limit": -1}, "limit must not be negative, got -1"),
    ({"role_id_assigned_directly_to_user": [1], "offset": 1}, "offset out of bounds"),
    ({"role_id_assigned_directly_to_user": [1], "limit": -1}, "limit must not be negative, got -1"),
]


@pytest.mark.parametrize(("fields", "message"), BAD_GET_USERS)
async def test_get_users_rejects(api: Running, user_md: Metadata, fields: dict[str, Any], message: str) -> None:
    await expect(api.stub.GetUsers(user_pb2.GetUsersRequest(**fields), metadata=user_md), INVALID, message)


async def test_post_user_creates_and_rejects_duplicates(api: Running, admin_md: Metadata) -> None:
    name = api.unique("carol")
    request = user_pb2.PostUserRequest(
        user=model_pb2.User(username=f"  {name} ", display_name="Carol", active=True), password="pw"
    )
    created = (await api.stub.PostUser(request, metadata=admin_md)).user
    assert (created.username, created.display_name, created.admin, created.id > 0) == (name, "Carol", False, True)
    await api.stub.Login(auth_pb2.LoginRequest(username=name, password="pw"))
    await expect(api.stub.PostUser(request, metadata=admin_md), grpc.StatusCode.ALREADY_EXISTS, "user already exists")


# (who posts, user spec, password, code, message)
BAD_POST_USER = [
    ("admin", None, "", INVALID, "must specify user to create"),
    ("admin", {"username": "x"}, "", INVALID, "Display name or username value has minimum length."),
    ("admin", {"username": "   "}, "", INVALID, "Display name or username value has minimum length."),
    ("admin", {"username": "émile"}, "", INVALID, "Display name and username cannot contain non-ASCII characters."),
    ("admin", {"username": "Admin"}, "", INVALID, "Non-admin user cannot be renamed 'admin'"),
    ("admin", {"username": "u" * 256}, "", INVALID, "a username or display name must be at most 255 characters"),
    ("admin", {"username": "nul\x00byte"}, "", INVALID, "Display name and username cannot contain non-ASCII characters."),
    ("admin", {"username": "longdisplay", "display_name": "d" * 300}, "", INVALID,
     "a username or display name must be at most 255 characters"),
    ("admin", {"username": "determined", "admin": True}, "", INVALID, "User cannot be renamed 'determined'"),
    ("admin", {"username": "remote-pw", "remote": True}, "pw", INVALID, "cannot set password for remote user"),
    ("user", {"username": "sneaky"}, "", DENIED, "only admin privileged users can create users"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "spec", "password", "code", "message"), BAD_POST_USER)
async def test_post_user_rejects(
    api: Running,
    admin_md: Metadata,
    user_md: Metadata,
    who: str,
    spec: dict[str, Any] | None,
    password: str,
    code: grpc.StatusCode,
    message: str,
) -> None:
    request = user_pb2.PostUserRequest(password=password)
    if spec is not None:
        request.user.CopyFrom(model_pb2.User(active=True, **spec))
    md = admin_md if who == "admin" else user_md
    await expect(api.stub.PostUser(request, metadata=md), code, message)


async def test_set_user_password_self_and_admin(api: Running, admin_md: Metadata) -> None:
    user_id, name = await api.new_user(admin_md)
    own = await api.login(name)
    await api.stub.SetUserPassword(user_pb2.SetUserPasswordRequest(user_id=user_id, password="mine"), metadata=own)
    await api.stub.Login(auth_pb2.LoginRequest(username=name, password="mine"))
    await api.stub.SetUserPassword(
        user_pb2.SetUserPasswordRequest(user_id=user_id, password="admins"), metadata=admin_md
    )
    await api.stub.Login(auth_pb2.LoginRequest(username=name, password="admins"))
    await expect(
        api.stub.Login(auth_pb2.LoginRequest(username=name, password="mine")),
        grpc.StatusCode.UNAUTHENTICATED,
        "invalid credentials",
    )


async def test_set_user_password_rejects(api: Running, admin_md: Metadata, user_md: Metadata) -> None:
    other_id, _ = await api.new_user(admin_md)
    await expect(
        api.stub.SetUserPassword(user_pb2.SetUserPasswordRequest(user_id=other_id, password="x"), metadata=user_md),
        DENIED,
        "only admin privileged users can change other user's passwords",
    )
    await expect(
        api.stub.SetUserPassword(user_pb2.SetUserPasswordRequest(user_id=424242, password="x"), metadata=admin_md),
        grpc.StatusCode.NOT_FOUND,
        "user not found",
    )


def _patch(**fields: Any) -> model_pb2.PatchUser:
    patch = model_pb2.PatchUser()
    for key, value in fields.items():
        if key in ("admin", "active"):
            getattr(patch, key).CopyFrom(wrappers_pb2.BoolValue(value=value))
        elif key == "agent_user_group":
            patch.agent_user_group.CopyFrom(model_pb2.AgentUserGroup(**value))
        else:
            setattr(patch, key, value)
    return patch


# (who patches: "admin" | "self" | "other", patch fields, code, message or "")
PATCH_CASES = [
    ("admin", {"admin": True}, grpc.StatusCode.OK, ""),
    ("admin", {"active": False}, grpc.StatusCode.OK, ""),
    ("admin", {"username": "renamed"}, grpc.StatusCode.OK, ""),
    ("admin", {"agent_user_group": {"agent_uid": 1000, "agent_gid": 1000, "agent_user": "u", "agent_group": "g"}},
     grpc.StatusCode.OK, ""),
    ("self", {"display_name": "Me Myself"}, grpc.StatusCode.OK, ""),
    ("self", {"password": "newpw"}, grpc.StatusCode.OK, ""),
    ("self", {"admin": True}, DENIED, "only admin privileged users can update users"),
    ("self", {"active": False}, DENIED, "only admin privileged users can update users"),
    ("self", {"username": "newname"}, DENIED, "only admin privileged users can update other users"),
    ("self", {"remote": True}, DENIED, "only admin privileged users can update other users"),
    ("self", {"agent_user_group": {"agent_uid": 1}}, DENIED, "only admin privileged users can update users"),
    ("other", {"display_name": "Hacker"}, DENIED, "only admin privileged users can set another user's display name"),
    ("other", {"password": "pwned"}, DENIED, "only admin privileged users can change other user's passwords"),
    ("admin", {"username": "x"}, INVALID, "Display name or username value has minimum length."),
    ("admin", {"username": "determined"}, INVALID, "User cannot be renamed 'determined'"),
    ("admin", {"username": "admin"}, INVALID, "Non-admin user cannot be renamed 'admin'"),
    ("admin", {"agent_user_group": {"agent_user": "a" * 256}}, INVALID, "agent user and group names must be at most 255 characters"),
]  # fmt: skip


@pytest.mark.parametrize(("who", "fields", "code", "message"), PATCH_CASES)
async def test_patch_user(
    api: Running, admin_md: Metadata, who: str, fields: dict[str, Any], code: grpc.StatusCode, message: str
) -> None:
    target_id, target_name = await api.new_user(admin_md)
    if who == "admin":
        md = admin_md
    elif who == "self":
        md = await api.login(target_name)
    else:
        md = await api.login((await api.new_user(admin_md))[1])
    if "username" in fields and fields["username"] == "renamed":
        fields = {"username": api.unique("renamed")}
    call = api.stub.PatchUser(user_pb2.PatchUserRequest(user_id=target_id, user=_patch(**fields)), metadata=md)
    if code is not grpc.StatusCode.OK:
        await expect(call, code, message)
        return
    user = (await call).user
    for key, value in fields.items():
        if key == "password":
            await api.stub.Login(auth_pb2.LoginRequest(username=user.username, password=value))
        elif key == "agent_user_group":
            assert user.agent_user_group == model_pb2.AgentUserGroup(**value)
        else:
            assert getattr(user, key) == value


async def test_patch_user_duplicate_username(api: Running, admin_md: Metadata) -> None:
    target_id, _ = await api.new_user(admin_md)
    _, taken = await api.new_user(admin_md)
    request = user_pb2.PatchUserRequest(user_id=target_id, user=_patch(username=taken))
    await expect(api.stub.PatchUser(request, metadata=admin_md), grpc.StatusCode.ALREADY_EXISTS, "user already exists")


async def test_patch_user_needs_a_user(api: Running, admin_md: Metadata) -> None:
    await expect(
        api.stub.PatchUser(user_pb2.PatchUserRequest(user_id=1), metadata=admin_md), INVALID, "must provide user"
    )
