"""Login sessions: issuing, resolving and revoking bearer tokens.

A token is shown to the client once, at login; the store keeps only its SHA-256. Resolving a token
checks, in order, that a session with that hash exists, is not revoked and has not expired, and
that its user is still active, answering with Determined's exact codes and messages.
"""

from __future__ import annotations

from datetime import timedelta

from protogw.server.clock import Clock
from protogw.server.context import Principal
from protogw.server.errors import permission_denied, unauthenticated
from protogw.server.security import new_token, token_hash
from protogw.server.storage.errors import NotFound
from protogw.server.storage.models import User
from protogw.server.store_api import StoreAPI

#: How long a session lasts, as in Determined.
SESSION_TTL = timedelta(days=7)


class Sessions:
    """Token issuing and checking over the store."""

    def __init__(self, store: StoreAPI, clock: Clock, ttl: timedelta = SESSION_TTL) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl

    async def start(self, user: User) -> str:
        """Open a session for ``user`` and return its token."""
        token = new_token()
        await self._store.create_session(user.id, token_hash(token), self._clock() + self._ttl)
        return token

    async def authenticate(self, token: str) -> Principal:
        try:
            session, user = await self._store.get_session(token_hash(token))
        except NotFound:
            raise unauthenticated("invalid credentials") from None
        if session.revoked_at is not None or session.expiry <= self._clock():
            raise unauthenticated("invalid credentials")
        if not user.active:
            raise permission_denied("user does not have permission")
        return Principal(user=user, session_id=session.id)

    async def end(self, session_id: int) -> None:
        """Revoke a session; its token is rejected from now on."""
        await self._store.revoke_session(session_id)
