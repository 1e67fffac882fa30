"""Login, Logout and CurrentUser."""

from __future__ import annotations

from typing import Any

import grpc.aio

from protogw.gen.determined.api.v1 import auth_pb2
from protogw.server import convert
from protogw.server.clock import Clock
from protogw.server.context import current_principal
from protogw.server.errors import invalid_argument, permission_denied, unauthenticated
from protogw.server.security import Passwords, client_side_hash
from protogw.server.sessions import Sessions
from protogw.server.storage.errors import NotFound
from protogw.server.store_api import StoreAPI

Context = grpc.aio.ServicerContext[Any, Any]


class AuthServicer:
    """Sessions: logging in and out, and asking who the caller is."""

    def __init__(self, store: StoreAPI, sessions: Sessions, passwords: Passwords, clock: Clock) -> None:
        self._store = store
        self._sessions = sessions
        self._passwords = passwords
        self._clock = clock

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginResponse:
        if not request.username:
            raise invalid_argument("missing argument: username")
        try:
            user = await self._store.get_user_by_username(request.username)
        except NotFound:
            raise unauthenticated("invalid credentials") from None
        # Remote (SSO) users have no password here; they get the same answer as an unknown user.
        if user.remote:
            raise unauthenticated("invalid credentials")
        client_hash = request.password if request.is_hashed else client_side_hash(request.password)
        if not await self._passwords.verify(user.password_hash, client_hash):
            raise unauthenticated("invalid credentials")
        if not user.active:
            raise permission_denied("user is not active")
        token = await self._sessions.start(user)
        await self._store.touch_last_auth(user.id, self._clock())
        user = await self._store.get_user(user.id)
        return auth_pb2.LoginResponse(token=token, user=convert.user(user))

    async def Logout(self, request: auth_pb2.LogoutRequest, context: Context) -> auth_pb2.LogoutResponse:
        await self._sessions.end(current_principal().session_id)
        return auth_pb2.LogoutResponse()

    async def CurrentUser(self, request: auth_pb2.CurrentUserRequest, context: Context) -> auth_pb2.CurrentUserResponse:
        # The principal was loaded when the token was checked, at the start of this very call.
        return auth_pb2.CurrentUserResponse(user=convert.user(current_principal().user))
