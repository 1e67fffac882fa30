"""Login sessions: issuing, resolving and revoking bearer tokens.

A token is shown to the client once, at login; the store keeps only its SHA-256. Resolving a token
checks, in order, that a session with that hash exists, is not revoked and has not expired, and
that its user is still active, answering with Determined's exact codes and messages.

Every authenticated RPC resolves its token, so successful lookups are remembered for a short time
(``cache_seconds``, 2 s by default; 0 turns it off). Changes made through this process take effect
at once — Logout drops the session's entry and user changes drop the user's — while a change made by
another replica is seen within ``cache_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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
#: How long a successful token lookup is reused.
DEFAULT_CACHE_SECONDS = 2.0
#: Upper bound on remembered lookups; past it the cache starts over rather than grow.
MAX_CACHED = 10_000


class Sessions:
    """Token issuing and checking over the store."""

    def __init__(
        self,
        store: StoreAPI,
        clock: Clock,
        ttl: timedelta = SESSION_TTL,
        *,
        cache_seconds: float = DEFAULT_CACHE_SECONDS,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._cache_seconds = cache_seconds
        # token hash -> (principal, monotonic time until which it may be reused)
        self._cache: dict[str, tuple[Principal, float]] = {}

    async def start(self, user: User) -> str:
        """Open a session for ``user`` and return its token."""
        token = new_token()
        await self._store.create_session(user.id, token_hash(token), self._clock() + self._ttl)
        return token

    async def authenticate(self, token: str) -> Principal:
        digest = token_hash(token)
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > time.monotonic():
            return cached[0]
        try:
            session, user = await self._store.get_session(digest)
        except NotFound:
            raise unauthenticated("invalid credentials") from None
        now = self._clock()
        if session.revoked_at is not None or session.expiry <= now:
            raise unauthenticated("invalid credentials")
        if not user.active:
            raise permission_denied("user does not have permission")
        principal = Principal(user=user, session_id=session.id)
        if self._cache_seconds > 0:
            if len(self._cache) >= MAX_CACHED:
                self._cache.clear()
            # Never reuse a lookup past the session's own expiry.
            remaining = (session.expiry - now).total_seconds()
            self._cache[digest] = (principal, time.monotonic() + min(self._cache_seconds, remaining))
        return principal

    async def end(self, session_id: int) -> None:
        """Revoke a session; its token is rejected from now on."""
        self._forget(lambda p: p.session_id == session_id)
        await self._store.revoke_session(session_id)

    def forget_user(self, user_id: int) -> None:
        """Drop remembered lookups of a user whose account just changed (deactivated, renamed...)."""
        self._forget(lambda p: p.user.id == user_id)

    def _forget(self, matches: Callable[[Principal], bool]) -> None:
        for digest in [d for d, (p, _) in self._cache.items() if matches(p)]:
            self._cache.pop(digest, None)
