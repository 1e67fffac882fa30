"""The experiments aggregate: create (one or in bulk), read, list, patch, state changes, delete."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from protogw.server import limits
from protogw.server.clock import Clock
from protogw.server.limits import DEFAULT_LIMITS, Limits
from protogw.server.storage import schema as t
from protogw.server.storage.engine import Database
from protogw.server.storage.errors import Conflict, InvalidArgument, NotFound
from protogw.server.storage.listing import experiment_statements
from protogw.server.storage.models import (
    TERMINAL_STATES,
    Experiment,
    ExperimentPage,
    ExperimentPatch,
    ExperimentQuery,
    ExperimentState,
    ModelFile,
    NewExperiment,
    sources_of,
)
from protogw.server.storage.pagination import (
    DEFAULT_EXPERIMENT_PAGE,
    LIMIT_ALL,
    LIMIT_COUNT_ONLY,
    experiments_window,
)
from protogw.server.storage.rows import EXPERIMENT_BY_ID, TOTAL_INDEX, experiment_from_row

_experiments = t.experiments


async def require_experiment(conn: AsyncConnection, experiment_id: int) -> None:
    """``NotFound`` unless experiment ``experiment_id`` exists (read on ``conn``)."""
    if await conn.scalar(sa.select(_experiments.c.id).where(_experiments.c.id == experiment_id)) is None:
        raise NotFound(f"experiment '{experiment_id}' not found")


async def insert_children(
    conn: AsyncConnection, items: Sequence[tuple[int, Sequence[str], Sequence[ModelFile]]]
) -> None:
    """Insert the labels and model definition files of experiments: ``(id, labels, files)`` each."""
    labels = [{"experiment_id": i, "label": label} for i, ls, _ in items for label in ls]
    files = [
        {
            "experiment_id": i,
            "path": f.path,
            "type": f.type,
            "content": f.content,
            "mtime": f.mtime,
            "mode": f.mode,
            "uid": f.uid,
            "gid": f.gid,
        }
        for i, _, fs in items
        for f in fs
    ]
    if labels:
        await conn.execute(sa.insert(t.experiment_labels), labels)
    if files:
        await conn.execute(sa.insert(t.model_definition_files), files)


def _config_values(experiment_id: int, new: NewExperiment) -> dict[str, Any]:
    return {
        "experiment_id": experiment_id,
        "config": dict(new.config),
        "original_config": new.original_config,
        "hyperparameters": dict(new.hyperparameters),
    }


def _experiment_values(new: NewExperiment, now: datetime) -> dict[str, Any]:
    return {
        "name": new.name,
        "description": new.description,
        "state": ExperimentState(new.state).value,
        "archived": new.archived,
        "start_time": new.start_time or now,
        "end_time": new.end_time,
        "owner_id": new.owner_id,
        "project_id": new.project_id,
        "parent_id": new.parent_id,
        "notes": new.notes,
        "searcher_type": new.searcher_type,
        "searcher_metric": new.searcher_metric,
        "resource_pool": new.resource_pool,
        "num_trials": new.num_trials,
        "progress": new.progress,
        "checkpoint_size": new.checkpoint_size,
        "checkpoint_count": new.checkpoint_count,
        "best_searcher_metric": new.best_searcher_metric,
        "job_id": new.job_id or str(uuid.uuid4()),
        "model_definition_size": limits.model_definition_size(new),
    }


class Experiments:
    """Reads and writes of ``experiments`` with their configurations, labels and files."""

    def __init__(self, db: Database, clock: Clock, limits: Limits = DEFAULT_LIMITS) -> None:
        self._db = db
        self._clock = clock
        self._limits = limits

    # -- create ------------------------------------------------------------------------------------

    async def create(self, new: NewExperiment) -> Experiment:
        """Insert an experiment with its labels and model definition files.

        Raises ``NotFound`` when the owner, project or parent does not exist and ``InvalidArgument``
        for any value ``limits.check_new_experiment`` refuses. ``job_id`` defaults to a new UUID.
        """
        labels = limits.check_new_experiment(new, self._limits)
        async with self._db.write() as conn:
            await self._require_refs(conn, new.owner_id, new.project_id, new.parent_id)
            stmt = sa.insert(_experiments).values(_experiment_values(new, self._clock()))
            experiment_id = (await conn.execute(stmt.returning(_experiments.c.id))).scalar_one()
            await conn.execute(sa.insert(t.experiment_configs).values(_config_values(experiment_id, new)))
            await insert_children(conn, [(experiment_id, labels, new.model_definition)])
        return await self.get(experiment_id)

    async def insert_many(self, items: Sequence[NewExperiment], *, batch_size: int = 2000) -> list[int]:
        """Bulk-load experiments (demo data, imports) in one transaction; returns their ids in order.

        Rows go in as multi-row batches; a missing owner, project or parent fails the whole load
        with ``InvalidArgument``.
        """
        ids: list[int] = []
        now = self._clock()
        stmt = sa.insert(_experiments).returning(_experiments.c.id, sort_by_parameter_order=True)
        try:
            async with self._db.write() as conn:
                for start in range(0, len(items), batch_size):
                    chunk = items[start : start + batch_size]
                    labels = [limits.check_new_experiment(new, self._limits) for new in chunk]
                    values = [_experiment_values(new, now) for new in chunk]
                    if self._db.sqlite:
                        # SQLite cannot return ids of a multi-row INSERT in order, so SQLAlchemy
                        # would send one INSERT per row. The write lock (BEGIN IMMEDIATE) is held,
                        # so the next ids are known: assign them and insert in one executemany.
                        first = await self._db.next_sqlite_id(conn, "experiments")
                        chunk_ids = list(range(first, first + len(values)))
                        for experiment_id, row in zip(chunk_ids, values, strict=True):
                            row["id"] = experiment_id
                        await conn.execute(sa.insert(_experiments), values)
                    else:
                        chunk_ids = list((await conn.execute(stmt, values)).scalars())
                    ids.extend(chunk_ids)
                    configs = [_config_values(i, n) for i, n in zip(chunk_ids, chunk, strict=True)]
                    await conn.execute(sa.insert(t.experiment_configs), configs)
                    await insert_children(
                        conn,
                        [(i, ls, n.model_definition) for i, ls, n in zip(chunk_ids, labels, chunk, strict=True)],
                    )
        except IntegrityError as exc:
            raise InvalidArgument(f"bulk insert rejected: {exc.orig}") from exc
        return ids

    async def _require_refs(self, conn: AsyncConnection, owner_id: int, project_id: int, parent_id: int | None) -> None:
        checks = sa.select(
            sa.select(t.users.c.id).where(t.users.c.id == owner_id).scalar_subquery(),
            sa.select(t.projects.c.id).where(t.projects.c.id == project_id).scalar_subquery(),
            sa.select(_experiments.c.id).where(_experiments.c.id == (parent_id or 0)).scalar_subquery(),
        )
        owner, project, parent = (await conn.execute(checks)).one()
        if owner is None:
            raise NotFound(f"user {owner_id} not found")
        if project is None:
            raise NotFound(f"project {project_id} not found")
        if parent_id is not None and parent is None:
            raise NotFound(f"experiment '{parent_id}' not found")

    # -- read --------------------------------------------------------------------------------------

    async def get(self, experiment_id: int) -> Experiment:
        """One experiment with owner, project and workspace names and its labels."""
        row = await self._db.fetch_one(EXPERIMENT_BY_ID, {"experiment_id": experiment_id})
        if row is None:
            raise NotFound(f"experiment '{experiment_id}' not found")
        return experiment_from_row(row)

    async def get_model_definition(self, experiment_id: int) -> list[ModelFile]:
        """The experiment's model definition files, ordered by path."""
        f = t.model_definition_files
        async with self._db.read() as conn:
            await require_experiment(conn, experiment_id)
            rows = (
                await conn.execute(
                    sa.select(f.c.path, f.c.content, f.c.type, f.c.mtime, f.c.mode, f.c.uid, f.c.gid)
                    .where(f.c.experiment_id == experiment_id)
                    .order_by(f.c.path)
                )
            ).all()
        return [ModelFile(*r) for r in rows]

    async def list(self, query: ExperimentQuery) -> ExperimentPage:
        """GetExperiments: every filter, the sort and Determined's pagination, all in SQL.

        Raises ``InvalidArgument`` for what ``limits.check_experiment_query`` refuses.
        """
        limits.check_experiment_query(query, self._limits)
        count, page = experiment_statements(query)
        async with self._db.read() as conn:
            if query.offset >= 0 and query.limit != LIMIT_COUNT_ONLY:
                # The common case: OFFSET/LIMIT straight from the request select exactly the
                # window Determined's rule gives, so one statement returns rows and total. Only
                # an empty page needs the count asked separately.
                size = None if query.limit == LIMIT_ALL else (query.limit or DEFAULT_EXPERIMENT_PAGE)
                rows = (await conn.execute(page(query.offset, size, True))).all()
                total = rows[0][TOTAL_INDEX] if rows else (await conn.execute(count)).scalar_one()
                window = experiments_window(total, query.offset, query.limit)
            else:
                # A negative offset counts from the end, so the total must be known first.
                total = (await conn.execute(count)).scalar_one()
                window = experiments_window(total, query.offset, query.limit)
                rows = []
                if window.end_index > window.start_index:
                    stmt = page(window.start_index, window.end_index - window.start_index, False)
                    rows = list((await conn.execute(stmt)).all())
        return ExperimentPage(experiments=[experiment_from_row(r) for r in rows], pagination=window)

    # -- write -------------------------------------------------------------------------------------

    async def update(self, experiment_id: int, patch: ExperimentPatch) -> Experiment:
        """Change only the fields ``patch`` sets; ``labels`` replaces the label set (deduplicated)."""
        values = limits.check_experiment_patch(patch, self._limits)
        labels = None if patch.labels is None else limits.unique_labels(patch.labels, self._limits)
        async with self._db.write() as conn:
            await require_experiment(conn, experiment_id)
            if values:
                await conn.execute(sa.update(_experiments).where(_experiments.c.id == experiment_id).values(values))
            if labels is not None:
                await conn.execute(
                    sa.delete(t.experiment_labels).where(t.experiment_labels.c.experiment_id == experiment_id)
                )
                await insert_children(conn, [(experiment_id, labels, ())])
        return await self.get(experiment_id)

    async def set_state(
        self,
        experiment_id: int,
        state: ExperimentState,
        *,
        allowed_from: Iterable[ExperimentState] | None = None,
        unarchived_only: bool = False,
    ) -> Experiment:
        """Move an experiment to ``state`` atomically; entering a terminal state sets ``end_time``.

        ``allowed_from`` defaults to Determined's transition table (the current state included, so
        repeating a transition is a no-op). Raises ``Conflict`` (with ``current_state``) when the
        experiment is in any other state, and ``NotFound`` when it does not exist or, with
        ``unarchived_only``, is archived (Determined's "editable" rule for pause/activate/kill).
        """
        target = ExperimentState(state)
        sources = sources_of(target) if allowed_from is None else frozenset(allowed_from)
        e = _experiments
        values: dict[str, Any] = {"state": target.value}
        if target in TERMINAL_STATES:
            values["end_time"] = sa.func.coalesce(
                e.c.end_time, sa.bindparam("now", self._clock(), type_=t.UTCDateTime())
            )
        conds = [e.c.id == experiment_id, e.c.state.in_([s.value for s in sources])]
        if unarchived_only:
            conds.append(sa.not_(e.c.archived))
        async with self._db.write() as conn:
            result = await conn.execute(sa.update(e).where(*conds).values(values))
            if result.rowcount == 0:
                row = (
                    await conn.execute(sa.select(e.c.state, e.c.archived).where(e.c.id == experiment_id))
                ).one_or_none()
                if row is None or (unarchived_only and row.archived):
                    raise NotFound(f"experiment '{experiment_id}' not found")
                raise Conflict(f"experiment in incompatible state {row.state}", current_state=row.state)
        return await self.get(experiment_id)

    async def set_archived(self, experiment_id: int, archived: bool) -> Experiment:
        """Archive or unarchive a terminal experiment, with Determined's (HEAD) error rules.

        Raises ``Conflict`` with "Experiment is already archived." / "Experiment is not archived."
        when there is nothing to change, "Experiment is not in terminal state." when the state
        forbids it, and ``NotFound`` for an unknown id.
        """
        e = _experiments
        terminal = [s.value for s in TERMINAL_STATES]
        async with self._db.write() as conn:
            result = await conn.execute(
                sa.update(e)
                .where(e.c.id == experiment_id, e.c.archived == (not archived), e.c.state.in_(terminal))
                .values(archived=archived)
            )
            if result.rowcount == 0:
                row = (
                    await conn.execute(sa.select(e.c.state, e.c.archived).where(e.c.id == experiment_id))
                ).one_or_none()
                if row is None:
                    raise NotFound(f"experiment '{experiment_id}' not found")
                if row.archived == archived:
                    message = "Experiment is already archived." if archived else "Experiment is not archived."
                    raise Conflict(message, current_state=row.state)
                raise Conflict("Experiment is not in terminal state.", current_state=row.state)
        return await self.get(experiment_id)

    async def move(self, experiment_id: int, project_id: int) -> Experiment:
        """Move an experiment to another project."""
        async with self._db.write() as conn:
            await require_experiment(conn, experiment_id)
            if await conn.scalar(sa.select(t.projects.c.id).where(t.projects.c.id == project_id)) is None:
                raise NotFound(f"project {project_id} not found")
            await conn.execute(
                sa.update(_experiments).where(_experiments.c.id == experiment_id).values(project_id=project_id)
            )
        return await self.get(experiment_id)

    async def delete(self, experiment_id: int) -> None:
        """Delete the row with its labels and files; children forked from it keep living, unparented."""
        async with self._db.write() as conn:
            result = await conn.execute(sa.delete(_experiments).where(_experiments.c.id == experiment_id))
        if result.rowcount == 0:
            raise NotFound(f"experiment '{experiment_id}' not found")
