"""The workspaces and projects aggregate: the folders experiments live in."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from protogw.server import limits
from protogw.server.storage import schema as t
from protogw.server.storage.engine import Database
from protogw.server.storage.errors import AlreadyExists, NotFound
from protogw.server.storage.models import Project, Workspace


async def _require_user(conn: AsyncConnection, user_id: int) -> None:
    if await conn.scalar(sa.select(t.users.c.id).where(t.users.c.id == user_id)) is None:
        raise NotFound(f"user {user_id} not found")


class Projects:
    """Reads and writes of the ``workspaces`` and ``projects`` tables."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def create_workspace(self, name: str, owner_id: int) -> Workspace:
        """Add a workspace; names are unique (``AlreadyExists``)."""
        if not name.strip():
            raise limits.invalid("workspace name must not be empty")
        limits.reject_nul({"workspace name": name})
        w = t.workspaces
        try:
            async with self._db.write() as conn:
                await _require_user(conn, owner_id)
                stmt = (
                    sa.insert(w)
                    .values(name=name, user_id=owner_id)
                    .returning(w.c.id, w.c.name, w.c.archived, w.c.user_id)
                )
                row = (await conn.execute(stmt)).one()
        except IntegrityError as exc:
            raise AlreadyExists(f"workspace {name!r} already exists") from exc
        return Workspace(*row)

    async def create_project(self, name: str, workspace_id: int, owner_id: int, description: str = "") -> Project:
        """Add a project to a workspace; names are unique within the workspace (``AlreadyExists``)."""
        if not name.strip():
            raise limits.invalid("project name must not be empty")
        limits.reject_nul({"project name": name, "project description": description})
        p = t.projects
        try:
            async with self._db.write() as conn:
                await _require_user(conn, owner_id)
                if await conn.scalar(sa.select(t.workspaces.c.id).where(t.workspaces.c.id == workspace_id)) is None:
                    raise NotFound(f"workspace {workspace_id} not found")
                stmt = sa.insert(p).values(
                    name=name, description=description, workspace_id=workspace_id, user_id=owner_id
                )
                project_id = (await conn.execute(stmt.returning(p.c.id))).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"project {name!r} already exists in workspace {workspace_id}") from exc
        return await self.get_project(project_id)

    async def set_workspace_archived(self, workspace_id: int, archived: bool) -> None:
        async with self._db.write() as conn:
            stmt = sa.update(t.workspaces).where(t.workspaces.c.id == workspace_id).values(archived=archived)
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFound(f"workspace {workspace_id} not found")

    async def set_project_archived(self, project_id: int, archived: bool) -> None:
        async with self._db.write() as conn:
            stmt = sa.update(t.projects).where(t.projects.c.id == project_id).values(archived=archived)
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFound(f"project {project_id} not found")

    async def get_project(self, project_id: int) -> Project:
        p, w = t.projects, t.workspaces
        stmt = sa.select(
            p.c.id, p.c.name, p.c.description, p.c.archived, p.c.workspace_id, w.c.name, w.c.archived, p.c.user_id
        ).join_from(p, w, w.c.id == p.c.workspace_id)
        async with self._db.read() as conn:
            row = (await conn.execute(stmt.where(p.c.id == project_id))).one_or_none()
        if row is None:
            raise NotFound(f"project {project_id} not found")
        return Project(*row)
