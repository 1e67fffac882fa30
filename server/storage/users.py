"""The users aggregate: accounts, their listing (GetUsers) and their password hashes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from protogw.server import limits
from protogw.server.clock import Clock
from protogw.server.limits import DEFAULT_LIMITS, Limits
from protogw.server.storage import schema as t
from protogw.server.storage.engine import Database
from protogw.server.storage.errors import AlreadyExists, NotFound
from protogw.server.storage.models import NewUser, OrderBy, User, UserPage, UserPatch, UserQuery, UserSortBy
from protogw.server.storage.pagination import generic_window
from protogw.server.storage.rows import AnyRow, agent_columns, user_from_row
from protogw.server.storage.sql import contains_ci, ordered

_users = t.users
_user_name = sa.func.coalesce(_users.c.display_name, _users.c.username)

# GetUsers' sort columns. Determined sorts with PostgreSQL's defaults (ASC NULLS LAST, DESC NULLS
# FIRST) and breaks ties by ascending id whatever the direction; nullable columns get those NULL
# rules spelled out so SQLite orders them the same way.
_USER_SORTS: dict[UserSortBy, tuple[sa.ColumnElement[Any], bool]] = {
    UserSortBy.UNSPECIFIED: (_users.c.id, False),
    UserSortBy.DISPLAY_NAME: (_users.c.display_name, True),
    UserSortBy.USER_NAME: (_users.c.username, False),
    UserSortBy.ADMIN: (_users.c.admin, False),
    UserSortBy.ACTIVE: (_users.c.active, False),
    UserSortBy.MODIFIED_TIME: (_users.c.modified_at, False),
    UserSortBy.NAME: (_user_name, False),
    UserSortBy.LAST_AUTH_TIME: (_users.c.last_auth_at, True),
    UserSortBy.REMOTE: (_users.c.remote, False),
}


class Users:
    """Reads and writes of the ``users`` table."""

    def __init__(self, db: Database, clock: Clock, limits: Limits = DEFAULT_LIMITS) -> None:
        self._db = db
        self._clock = clock
        self._limits = limits

    async def create(self, new: NewUser) -> User:
        """Insert a user. Raises ``AlreadyExists`` when the username is taken."""
        limits.check_username(new.username)
        values = {
            "username": new.username,
            "display_name": new.display_name,
            "admin": new.admin,
            "active": new.active,
            "remote": new.remote,
            "password_hash": new.password_hash,
            "modified_at": self._clock(),
            **agent_columns(new.agent_user_group),
        }
        limits.reject_nul(values)
        try:
            async with self._db.write() as conn:
                row = (await conn.execute(sa.insert(_users).values(values).returning(*_users.c))).one()
        except IntegrityError as exc:
            raise AlreadyExists(f"user {new.username!r} already exists") from exc
        return user_from_row(row)

    async def get(self, user_id: int) -> User:
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_users).where(_users.c.id == user_id))).one_or_none()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return user_from_row(row)

    async def get_by_username(self, username: str) -> User:
        if "\x00" in username:
            raise NotFound(f"user {username!r} not found")
        async with self._db.read() as conn:
            row = (await conn.execute(sa.select(_users).where(_users.c.username == username))).one_or_none()
        if row is None:
            raise NotFound(f"user {username!r} not found")
        return user_from_row(row)

    async def list(self, query: UserQuery) -> UserPage:
        """GetUsers: filter, sort and window in SQL with Determined's generic pagination rules.

        ``name`` matches a case-insensitive substring of the username or the display name. Raises
        ``InvalidArgument`` for an offset outside the result or a negative limit.
        """
        limits.check_user_query(query, self._limits)
        conditions: list[sa.ColumnElement[bool]] = []
        if query.name:
            conditions.append(
                sa.or_(contains_ci(_users.c.username, query.name), contains_ci(_users.c.display_name, query.name))
            )
        if query.active is not None:
            conditions.append(_users.c.active == query.active)
        if query.admin is not None:
            conditions.append(_users.c.admin == query.admin)
        expr, nullable = _USER_SORTS[UserSortBy(query.sort_by)]
        descending = OrderBy(query.order_by) == OrderBy.DESC
        order = [ordered(expr, descending, (not descending) if nullable else None)]
        if expr is not _users.c.id:
            order.append(_users.c.id.asc())
        async with self._db.read() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(_users).where(*conditions)) or 0
            window = generic_window(total, query.offset, query.limit)
            rows: Sequence[AnyRow] = []
            if window.end_index > window.start_index:
                stmt = (
                    sa.select(_users)
                    .where(*conditions)
                    .order_by(*order)
                    .offset(window.start_index)
                    .limit(window.end_index - window.start_index)
                )
                rows = (await conn.execute(stmt)).all()
        return UserPage(users=[user_from_row(r) for r in rows], pagination=window)

    async def update(self, user_id: int, patch: UserPatch) -> User:
        """Change the fields ``patch`` sets and bump ``modified_at``."""
        values: dict[str, Any] = {"modified_at": self._clock()}
        if patch.username is not None:
            limits.check_username(patch.username)
            values["username"] = patch.username
        if patch.clear_display_name:
            values["display_name"] = None
        elif patch.display_name is not None:
            values["display_name"] = patch.display_name
        for name in ("admin", "active", "remote"):
            if (value := getattr(patch, name)) is not None:
                values[name] = value
        if patch.clear_agent_user_group:
            values.update(agent_columns(None))
        elif patch.agent_user_group is not None:
            values.update(agent_columns(patch.agent_user_group))
        return await self._update_row(user_id, values)

    async def set_password_hash(self, user_id: int, password_hash: str | None) -> User:
        """Replace the stored hash; ``None`` removes the password (an empty one then logs in)."""
        return await self._update_row(user_id, {"password_hash": password_hash, "modified_at": self._clock()})

    async def touch_last_auth(self, user_id: int, when: datetime | None = None) -> None:
        """Record a successful login (does not change ``modified_at``)."""
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(_users).where(_users.c.id == user_id).values(last_auth_at=when or self._clock())
            )
        if result.rowcount == 0:
            raise NotFound(f"user {user_id} not found")

    async def _update_row(self, user_id: int, values: dict[str, Any]) -> User:
        limits.reject_nul(values)
        try:
            async with self._db.write() as conn:
                stmt = sa.update(_users).where(_users.c.id == user_id).values(values).returning(*_users.c)
                row = (await conn.execute(stmt)).one_or_none()
        except IntegrityError as exc:
            raise AlreadyExists(f"user {values.get('username')!r} already exists") from exc
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return user_from_row(row)
