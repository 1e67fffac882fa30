"""GetExperiments in SQL: the filters, Determined's sort orders, and the page statements.

Pure statement building, no I/O: ``Experiments.list`` runs these, and the storage benchmark runs
exactly the same SQL through the bare drivers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from protogw.server.storage import schema as t
from protogw.server.storage.models import ExperimentQuery, ExperimentSortBy, ExperimentState, OrderBy
from protogw.server.storage.rows import EXPERIMENT_COLUMNS, EXPERIMENT_FROM, e, lbl, owner_name, u
from protogw.server.storage.sql import contains_ci, ordered

#: ``page(start, size, with_total)`` -> SELECT; see ``experiment_statements``.
PageFactory = Callable[[int, "int | None", bool], "sa.Select[Any]"]

# Sort expressions, as Determined's ``orderColMap`` defines them. ``True`` marks expressions that
# can be NULL: those always sort their NULLs last, in both directions (Determined writes
# ``DESC NULLS LAST``, and PostgreSQL's plain ``ASC`` already puts NULLs last).
_EXPERIMENT_SORTS: dict[ExperimentSortBy, tuple[sa.ColumnElement[Any], bool]] = {
    ExperimentSortBy.UNSPECIFIED: (e.c.id, False),
    ExperimentSortBy.ID: (e.c.id, False),
    ExperimentSortBy.DESCRIPTION: (e.c.description, False),
    ExperimentSortBy.START_TIME: (e.c.start_time, False),
    ExperimentSortBy.END_TIME: (e.c.end_time, True),
    ExperimentSortBy.STATE: (e.c.state, False),
    ExperimentSortBy.NUM_TRIALS: (e.c.num_trials, False),
    ExperimentSortBy.PROGRESS: (sa.func.coalesce(e.c.progress, 0.0), False),
    ExperimentSortBy.USER: (owner_name, False),
    ExperimentSortBy.NAME: (e.c.name, False),
    ExperimentSortBy.FORKED_FROM: (e.c.parent_id, True),
    ExperimentSortBy.RESOURCE_POOL: (e.c.resource_pool, False),
    ExperimentSortBy.PROJECT_ID: (e.c.project_id, False),
    ExperimentSortBy.CHECKPOINT_SIZE: (e.c.checkpoint_size, False),
    ExperimentSortBy.CHECKPOINT_COUNT: (e.c.checkpoint_count, False),
    ExperimentSortBy.SEARCHER_METRIC_VAL: (e.c.best_searcher_metric, True),
}


def experiment_conditions(query: ExperimentQuery) -> list[sa.ColumnElement[bool]]:
    """The WHERE conditions of a listing, over the ``experiments`` alias ``e`` alone.

    Filters on other tables become subqueries so the count needs no join.
    """
    conds: list[sa.ColumnElement[bool]] = []
    if query.description:
        conds.append(contains_ci(e.c.description, query.description))
    if query.name:
        conds.append(contains_ci(e.c.name, query.name))
    if query.labels:
        # All-of: the experiments that carry every wanted label. Grouping the label index's
        # matches beats one correlated EXISTS per label and per experiment by far on SQLite.
        wanted = list(dict.fromkeys(query.labels))
        carriers = (
            sa.select(lbl.c.experiment_id)
            .where(lbl.c.label.in_(wanted))
            .group_by(lbl.c.experiment_id)
            .having(sa.func.count() == len(wanted))
        )
        conds.append(e.c.id.in_(carriers))
    if query.archived is not None:
        conds.append(e.c.archived == query.archived)
        if query.project_id == 0 and not query.archived:
            # Determined also hides experiments whose project or workspace is archived here.
            live_projects = (
                sa.select(t.projects.c.id)
                .join(t.workspaces, t.workspaces.c.id == t.projects.c.workspace_id)
                .where(sa.not_(t.projects.c.archived), sa.not_(t.workspaces.c.archived))
            )
            conds.append(e.c.project_id.in_(live_projects))
    if query.states:
        conds.append(e.c.state.in_([ExperimentState(s).value for s in query.states]))
    if query.usernames:
        owners = sa.select(t.users.c.id).where(t.users.c.username.in_(list(query.usernames)))
        conds.append(e.c.owner_id.in_(owners))
    if query.user_ids:
        conds.append(e.c.owner_id.in_(list(query.user_ids)))
    if query.project_id:
        conds.append(e.c.project_id == query.project_id)
    f = query.id_filter
    if f is not None:
        if f.lt is not None:
            conds.append(e.c.id < f.lt)
        if f.lte is not None:
            conds.append(e.c.id <= f.lte)
        if f.gt is not None:
            conds.append(e.c.id > f.gt)
        if f.gte is not None:
            conds.append(e.c.id >= f.gte)
        if f.incl:
            conds.append(e.c.id.in_(list(f.incl)))
        if f.not_in:
            conds.append(e.c.id.not_in(list(f.not_in)))
    return conds


def experiment_order(query: ExperimentQuery) -> list[sa.ColumnElement[Any]]:
    """ORDER BY for a listing: the sort key, then id in the same direction."""
    expr, nullable = _EXPERIMENT_SORTS[ExperimentSortBy(query.sort_by)]
    descending = OrderBy(query.order_by) == OrderBy.DESC
    order = [ordered(expr, descending, True if nullable else None)]
    if expr is not e.c.id:
        order.append(ordered(e.c.id, descending, None))
    return order


def experiment_statements(query: ExperimentQuery) -> tuple[sa.Select[int], PageFactory]:
    """The count statement and a factory for page statements.

    ``page(start, size, with_total)`` selects ``size`` rows (``None``: all the rest) from
    ``start``; with ``with_total`` every row also carries the filtered count in its last
    column, so one statement answers a whole listing.
    """
    conds = experiment_conditions(query)
    count = sa.select(sa.func.count()).select_from(e).where(*conds)
    order = experiment_order(query)

    # Pick the page's ids over the narrow experiments rows first (joining the owner only when
    # sorting by owner name), then join everything else for just those rows. Skipping 90,000
    # rows then costs an index or table scan, not 90,000 four-way joins.
    keys_from = e.join(u, u.c.id == e.c.owner_id) if query.sort_by == ExperimentSortBy.USER else e

    def page(start: int, size: int | None, with_total: bool = False) -> sa.Select[Any]:
        keys = (
            sa.select(e.c.id.label("page_id"))
            .select_from(keys_from)
            .where(*conds)
            .order_by(*order)
            .offset(start)
            .limit(size)
            .subquery("page")
        )
        columns = [*EXPERIMENT_COLUMNS, count.scalar_subquery().label("total")] if with_total else EXPERIMENT_COLUMNS
        return sa.select(*columns).select_from(EXPERIMENT_FROM.join(keys, keys.c.page_id == e.c.id)).order_by(*order)

    return count, page


def labels_statement(ids: list[int] | tuple[int, ...]) -> sa.Select[int, str]:
    """(experiment_id, label) rows for the given experiments, ordered by id then label."""
    return (
        sa.select(lbl.c.experiment_id, lbl.c.label)
        .where(lbl.c.experiment_id.in_(ids))
        .order_by(lbl.c.experiment_id, lbl.c.label)
    )
