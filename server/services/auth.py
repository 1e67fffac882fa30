"""Login, Logout and CurrentUser."""

from __future__ import annotations

import urllib.parse
from typing import Any

import grpc.aio

from protogw.gen.determined.api.v1 import auth_pb2
from protogw.server import convert
from protogw.server.clock import Clock
from protogw.server.context import current_principal
from protogw.server.errors import invalid_argument, permission_denied, unauthenticated
from protogw.server.security import HashingBusy, Passwords, client_side_hash
from protogw.server.sessions import Sessions
from protogw.server.storage.errors import NotFound
from protogw.server.store_api import StoreAPI
from protogw.server.throttle import LoginThrottle, resource_exhausted

Context = grpc.aio.ServicerContext[Any, Any]


def client_address(peer: str) -> str:
    """The address part of a gRPC peer (``ipv4:1.2.3.4:5`` -> ``1.2.3.4``, ``ipv6:[::1]:5`` -> ``::1``;
    gRPC itself writes the brackets percent-encoded).

    >>> client_address("ipv6:%5B::1%5D:5050"), client_address("ipv4:10.0.0.7:80"), client_address("")
    ('::1', '10.0.0.7', '')
    """
    _, _, rest = urllib.parse.unquote(peer).partition(":")
    host = rest.rpartition(":")[0] if rest.count(":") and not rest.startswith("/") else rest
    return host.strip("[]")


class AuthServicer:
    """Sessions: logging in and out, and asking who the caller is.

    Login answers every failure the same way and in the same time: an unknown or remote user costs
    one argon2 verification against a dummy hash, like a wrong password does. Failed attempts are
    counted per username and per client address (``throttle``); past the limit, attempts are refused
    with RESOURCE_EXHAUSTED before any password is checked.
    """

    def __init__(
        self,
        store: StoreAPI,
        sessions: Sessions,
        passwords: Passwords,
        clock: Clock,
        throttle: LoginThrottle | None = None,
    ) -> None:
        self._store = store
        self._sessions = sessions
        self._passwords = passwords
        self._clock = clock
        self._throttle = throttle or LoginThrottle()

    async def Login(self, request: auth_pb2.LoginRequest, context: Context) -> auth_pb2.LoginResponse:
        if not request.username:
            raise invalid_argument("missing argument: username")
        username = request.username
        address = client_address(context.peer() or "")
        self._throttle.check(username, address)
        client_hash = request.password if request.is_hashed else client_side_hash(request.password)
        try:
            try:
                user = await self._store.get_user_by_username(username)
            except NotFound:
                user = None
            # Remote (SSO) users have no password here; they get the same answer as an unknown user.
            if user is None or user.remote:
                await self._passwords.verify_nobody(client_hash)
                accepted = False
            else:
                accepted = await self._passwords.verify(user.password_hash, client_hash)
        except HashingBusy as exc:
            raise resource_exhausted(str(exc)) from None
        if not accepted or user is None:
            self._throttle.failed(username, address)
            raise unauthenticated("invalid credentials")
        self._throttle.succeeded(username)
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
