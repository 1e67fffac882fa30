"""The sessions aggregate: login sessions, looked up by token hash on every authenticated call."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from protogw.server import limits
from protogw.server.clock import Clock
from protogw.server.storage import schema as t
from protogw.server.storage.engine import Database
from protogw.server.storage.errors import AlreadyExists, NotFound
from protogw.server.storage.models import User, UserSession
from protogw.server.storage.rows import SESSION_BY_HASH, SESSION_BY_ID, session_and_user, session_from_row

_sessions = t.user_sessions


class Sessions:
    """Reads and writes of the ``user_sessions`` table."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def create(self, user_id: int, token_hash: str, expiry: datetime) -> UserSession:
        """Start a login session. ``token_hash`` must be unique (hash the token; never store it)."""
        values = {"user_id": user_id, "token_hash": token_hash, "created_at": self._clock(), "expiry": expiry}
        limits.reject_nul(values)
        try:
            async with self._db.write() as conn:
                row = (await conn.execute(sa.insert(_sessions).values(values).returning(*_sessions.c))).one()
        except IntegrityError as exc:
            # Either the user is gone or the token hash collides; tell them apart for the message.
            async with self._db.read() as conn:
                if await conn.scalar(sa.select(t.users.c.id).where(t.users.c.id == user_id)) is None:
                    raise NotFound(f"user {user_id} not found") from exc
            raise AlreadyExists("a session with this token hash already exists") from exc
        return session_from_row(row)

    async def get(self, token_hash: str) -> tuple[UserSession, User]:
        """The session with this token hash and its user. Expiry and revocation are the caller's call."""
        if "\x00" in token_hash:
            raise NotFound("session not found")
        return await self._where(SESSION_BY_HASH, {"token_hash": token_hash})

    async def get_by_id(self, session_id: int) -> tuple[UserSession, User]:
        return await self._where(SESSION_BY_ID, {"session_id": session_id})

    async def _where(self, stmt: sa.Select[Any], params: dict[str, Any]) -> tuple[UserSession, User]:
        row = await self._db.fetch_one(stmt, params)
        if row is None:
            raise NotFound("session not found")
        return session_and_user(row)

    async def revoke(self, session_id: int) -> None:
        """Mark a session revoked (kept for auditing; ``get`` still returns it)."""
        s = _sessions
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(s).where(s.c.id == session_id, s.c.revoked_at.is_(None)).values(revoked_at=self._clock())
            )
            if result.rowcount == 0 and await conn.scalar(sa.select(s.c.id).where(s.c.id == session_id)) is None:
                raise NotFound("session not found")

    async def delete(self, session_id: int) -> None:
        """Remove a session (logout). Raises ``NotFound`` if it is already gone."""
        async with self._db.write() as conn:
            result = await conn.execute(sa.delete(_sessions).where(_sessions.c.id == session_id))
        if result.rowcount == 0:
            raise NotFound("session not found")

    async def purge_expired(self, now: datetime | None = None) -> int:
        """Delete sessions whose expiry has passed; returns how many went."""
        async with self._db.write() as conn:
            result = await conn.execute(sa.delete(_sessions).where(_sessions.c.expiry <= (now or self._clock())))
        return int(result.rowcount)
