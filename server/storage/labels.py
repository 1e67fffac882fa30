"""The labels aggregate: one experiment's labels, and label usage across experiments."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from protogw.server import limits
from protogw.server.limits import DEFAULT_LIMITS, Limits
from protogw.server.storage import schema as t
from protogw.server.storage.engine import Database
from protogw.server.storage.experiments import require_experiment
from protogw.server.storage.listing import labels_statement
from protogw.server.storage.models import LabelUsage
from protogw.server.storage.rows import e, lbl


async def labels_of(conn: AsyncConnection, ids: Sequence[int]) -> dict[int, list[str]]:
    """Labels per experiment id, each list sorted by label."""
    out: dict[int, list[str]] = {}
    if not ids:
        return out
    for experiment_id, label in await conn.execute(labels_statement(list(ids))):
        out.setdefault(experiment_id, []).append(label)
    return out


class Labels:
    """Reads and writes of ``experiment_labels``."""

    def __init__(self, db: Database, limits: Limits = DEFAULT_LIMITS) -> None:
        self._db = db
        self._limits = limits

    async def add(self, experiment_id: int, label: str) -> list[str]:
        """Add one label (no-op if present); returns the experiment's labels, sorted."""
        (label,) = limits.unique_labels([label], self._limits)
        lt = t.experiment_labels
        async with self._db.write() as conn:
            await require_experiment(conn, experiment_id)
            others = sa.select(sa.func.count()).where(lt.c.experiment_id == experiment_id, lt.c.label != label)
            limits.check_label_count(int(await conn.scalar(others) or 0) + 1, self._limits)
            await conn.execute(
                self._db.insert_ignore(t.experiment_labels).values(experiment_id=experiment_id, label=label)
            )
            labels = await labels_of(conn, [experiment_id])
        return labels.get(experiment_id, [])

    async def remove(self, experiment_id: int, label: str) -> list[str]:
        """Remove one label (no-op if absent); returns the remaining labels, sorted."""
        limits.reject_nul({"label": label})
        lt = t.experiment_labels
        async with self._db.write() as conn:
            await require_experiment(conn, experiment_id)
            await conn.execute(sa.delete(lt).where(lt.c.experiment_id == experiment_id, lt.c.label == label))
            labels = await labels_of(conn, [experiment_id])
        return labels.get(experiment_id, [])

    async def usage(self, project_id: int = 0) -> list[LabelUsage]:
        """Distinct labels with how many experiments carry each: most used first, then by name."""
        uses = sa.func.count().label("uses")
        stmt = sa.select(lbl.c.label, uses).group_by(lbl.c.label).order_by(uses.desc(), lbl.c.label.asc())
        if project_id:
            stmt = stmt.join(e, e.c.id == lbl.c.experiment_id).where(e.c.project_id == project_id)
        async with self._db.read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [LabelUsage(label, int(n)) for label, n in rows]
