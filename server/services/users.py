"""User management: GetMe, GetUsers, GetUser, GetUserByUsername, PostUser, SetUserPassword, PatchUser.

Permissions follow Determined's basic (non-RBAC) rules: everyone may read users; creating users and
changing the admin, active, remote, username or agent-group fields needs an administrator; a
password or display name may be changed by an administrator or by the user themself.
"""

from __future__ import annotations

import re
from typing import Any

import grpc.aio

from protogw.gen.determined.api.v1 import user_pb2 as api_user_pb2
from protogw.gen.determined.user.v1 import user_pb2 as user_model_pb2
from protogw.server import convert
from protogw.server.context import current_user
from protogw.server.errors import already_exists, invalid_argument, not_found, permission_denied
from protogw.server.limits import DEFAULT_LIMITS, Limits, check_password
from protogw.server.security import Passwords, client_side_hash
from protogw.server.services._common import MAX_NAME, check_length, enum_value, user_id
from protogw.server.sessions import Sessions
from protogw.server.storage.errors import AlreadyExists, NotFound
from protogw.server.storage.models import (
    AgentUserGroup,
    NewUser,
    OrderBy,
    User,
    UserPatch,
    UserQuery,
    UserSortBy,
)
from protogw.server.storage.pagination import generic_window
from protogw.server.store_api import StoreAPI

Context = grpc.aio.ServicerContext[Any, Any]

# Anything but printable ASCII and whitespace: Determined refuses such names to avoid look-alike
# letters and hidden characters.
_NON_ASCII = re.compile(r"[^\x21-\x7e\s]")

#: The built-in users whose names Determined protects.
ADMIN_NAME = "admin"
DETERMINED_NAME = "determined"


def clean_name(target: User | None, name: str, min_length: int, *, admin: bool) -> str:
    """A username or display name trimmed and checked the way Determined checks it.

    ``target`` is the user being renamed (None when creating) and ``admin`` whether that user is or
    will be an administrator.
    """
    clean = check_length(name.strip(), MAX_NAME, "a username or display name")
    if _NON_ASCII.search(clean):
        raise invalid_argument("Display name and username cannot contain non-ASCII characters.")
    if len(clean) < min_length:
        raise invalid_argument("Display name or username value has minimum length.")
    if not admin and clean.lower() == ADMIN_NAME:
        raise invalid_argument("Non-admin user cannot be renamed 'admin'")
    if (target is None or target.username != DETERMINED_NAME) and clean.lower() == DETERMINED_NAME:
        raise invalid_argument("User cannot be renamed 'determined'")
    return clean


def _agent_group(message: user_model_pb2.AgentUserGroup) -> AgentUserGroup:
    group = convert.agent_user_group(message)
    for name in (group.user, group.group):
        if name is not None:
            check_length(name, MAX_NAME, "agent user and group names")
    return group


class UsersServicer:
    """Reading and managing user accounts."""

    def __init__(
        self, store: StoreAPI, passwords: Passwords, sessions: Sessions, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self._store = store
        self._passwords = passwords
        self._sessions = sessions
        self._limits = limits

    async def _target(self, raw_id: int) -> User:
        try:
            return await self._store.get_user(user_id(raw_id))
        except NotFound:
            raise not_found("user not found") from None

    async def GetMe(self, request: api_user_pb2.GetMeRequest, context: Context) -> api_user_pb2.GetMeResponse:
        return api_user_pb2.GetMeResponse(user=convert.user(current_user()))

    async def GetUsers(self, request: api_user_pb2.GetUsersRequest, context: Context) -> api_user_pb2.GetUsersResponse:
        query = UserQuery(
            name=request.name,
            active=request.active if request.HasField("active") else None,
            admin=request.admin if request.HasField("admin") else None,
            sort_by=enum_value(UserSortBy, request.sort_by, "sort_by"),
            order_by=enum_value(OrderBy, request.order_by, "order_by"),
            offset=request.offset,
            limit=request.limit,
        )
        if request.role_id_assigned_directly_to_user:
            # No roles exist here, so no user has one assigned directly: an empty page, with the
            # pagination (and offset/limit checks) Determined gives an empty list.
            return api_user_pb2.GetUsersResponse(
                pagination=convert.pagination(generic_window(0, request.offset, request.limit))
            )
        page = await self._store.list_users(query)
        return api_user_pb2.GetUsersResponse(
            users=[convert.user(u) for u in page.users], pagination=convert.pagination(page.pagination)
        )

    async def GetUser(self, request: api_user_pb2.GetUserRequest, context: Context) -> api_user_pb2.GetUserResponse:
        return api_user_pb2.GetUserResponse(user=convert.user(await self._target(request.user_id)))

    async def GetUserByUsername(
        self, request: api_user_pb2.GetUserByUsernameRequest, context: Context
    ) -> api_user_pb2.GetUserByUsernameResponse:
        try:
            user = await self._store.get_user_by_username(request.username)
        except NotFound:
            raise not_found("user not found") from None
        return api_user_pb2.GetUserByUsernameResponse(user=convert.user(user))

    async def PostUser(self, request: api_user_pb2.PostUserRequest, context: Context) -> api_user_pb2.PostUserResponse:
        if not request.HasField("user"):
            raise invalid_argument("must specify user to create")
        spec = request.user
        if request.password and spec.remote:
            raise invalid_argument("cannot set password for remote user")
        check_password(request.password, self._limits)
        username = clean_name(None, spec.username, 2, admin=spec.admin)
        display_name = clean_name(None, spec.display_name, 0, admin=spec.admin) if spec.display_name else None
        if not current_user().admin:
            raise permission_denied("only admin privileged users can create users")
        client_hash = request.password if request.is_hashed else client_side_hash(request.password)
        new = NewUser(
            username=username,
            display_name=display_name,
            admin=spec.admin,
            active=spec.active,
            remote=spec.remote,
            password_hash=await self._passwords.hash(client_hash),
            agent_user_group=_agent_group(spec.agent_user_group) if spec.HasField("agent_user_group") else None,
        )
        try:
            created = await self._store.create_user(new)
        except AlreadyExists:
            raise already_exists("user already exists") from None
        return api_user_pb2.PostUserResponse(user=convert.user(created))

    async def SetUserPassword(
        self, request: api_user_pb2.SetUserPasswordRequest, context: Context
    ) -> api_user_pb2.SetUserPasswordResponse:
        target = await self._target(request.user_id)
        caller = current_user()
        if not caller.admin and caller.id != target.id:
            raise permission_denied("only admin privileged users can change other user's passwords")
        if target.remote:
            raise invalid_argument("Cannot set password for remote users")
        check_password(request.password, self._limits)
        # Unlike PostUser and PatchUser this RPC has no is_hashed flag: the password is clear text.
        stored = await self._passwords.hash(client_side_hash(request.password))
        updated = await self._store.set_password_hash(target.id, stored)
        self._sessions.forget_user(target.id)
        return api_user_pb2.SetUserPasswordResponse(user=convert.user(updated))

    async def PatchUser(
        self, request: api_user_pb2.PatchUserRequest, context: Context
    ) -> api_user_pb2.PatchUserResponse:
        if not request.HasField("user"):
            raise invalid_argument("must provide user")
        target = await self._target(request.user_id)
        caller = current_user()
        patch = request.user
        is_self = caller.id == target.id
        changes: dict[str, Any] = {}

        def require_admin(message: str) -> None:
            if not caller.admin:
                raise permission_denied(message)

        if patch.HasField("admin"):
            require_admin("only admin privileged users can update users")
            changes["admin"] = patch.admin.value
        will_be_remote = target.remote
        if patch.HasField("remote"):
            require_admin("only admin privileged users can update other users")
            changes["remote"] = will_be_remote = patch.remote
        if patch.HasField("active"):
            require_admin("only admin privileged users can update users")
            changes["active"] = patch.active.value
        if patch.HasField("username") and patch.username != target.username:
            require_admin("only admin privileged users can update other users")
            if will_be_remote:
                raise invalid_argument("Cannot set username for remote users")
            changes["username"] = clean_name(target, patch.username, 2, admin=changes.get("admin", target.admin))
        if patch.HasField("display_name") and patch.display_name != (target.display_name or ""):
            if not (caller.admin or is_self):
                raise permission_denied("only admin privileged users can set another user's display name")
            display_name = clean_name(target, patch.display_name, 0, admin=changes.get("admin", target.admin))
            if display_name:
                changes["display_name"] = display_name
            else:
                changes["clear_display_name"] = True
        new_hash: str | None = None
        set_password = False
        if patch.HasField("password"):
            if not (caller.admin or is_self):
                raise permission_denied("only admin privileged users can change other user's passwords")
            if will_be_remote:
                raise invalid_argument("Cannot set password for remote users")
            check_password(patch.password, self._limits)
            client_hash = patch.password if patch.is_hashed else client_side_hash(patch.password)
            new_hash = await self._passwords.hash(client_hash)
            set_password = True
        elif will_be_remote != target.remote:
            # Switching between remote and local login drops the old password: a remote user cannot
            # use one, and a user made local again starts with a blank password, as in Determined.
            set_password = True
        if patch.HasField("agent_user_group"):
            require_admin("only admin privileged users can update users")
            group = _agent_group(patch.agent_user_group)
            if group.is_empty:
                changes["clear_agent_user_group"] = True
            else:
                changes["agent_user_group"] = group
        try:
            updated = await self._store.update_user(target.id, UserPatch(**changes)) if changes else target
        except AlreadyExists:
            raise already_exists("user already exists") from None
        if set_password:
            updated = await self._store.set_password_hash(target.id, new_hash)
        # Cached token lookups carry the old account (its active flag above all): drop them.
        self._sessions.forget_user(target.id)
        return api_user_pb2.PatchUserResponse(user=convert.user(updated))
