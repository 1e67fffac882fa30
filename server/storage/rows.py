"""Rows -> values: the column lists the reads select and the functions that turn a row into an
``Experiment``, a ``User`` or a ``UserSession``.

A column list and its mapper sit side by side because the mapper reads by position.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row

from protogw.server.storage import schema as t
from protogw.server.storage.models import AgentUserGroup, Experiment, ExperimentState, User, UserSession
from protogw.server.storage.sql import labels_of, labels_value

#: A result row of any width (SQLAlchemy 2.1 types rows by a variadic tuple of column types).
AnyRow = Row[*tuple[Any, ...]]

# Aliases used in the experiment queries.
e = t.experiments.alias("e")
u = t.users.alias("u")
p = t.projects.alias("p")
w = t.workspaces.alias("w")
lbl = t.experiment_labels.alias("l")
c = t.experiment_configs.alias("c")

#: An experiment owner's name as Determined shows and sorts it.
owner_name = sa.func.coalesce(u.c.display_name, u.c.username)

# The columns of an experiment listing, in the order ``experiment_from_row`` reads them.
EXPERIMENT_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    e.c.id,
    e.c.name,
    e.c.description,
    e.c.state,
    e.c.archived,
    e.c.start_time,
    e.c.end_time,
    e.c.owner_id,
    u.c.username,
    owner_name.label("display_name"),
    e.c.project_id,
    p.c.name.label("project_name"),
    p.c.user_id.label("project_owner_id"),
    w.c.id.label("workspace_id"),
    w.c.name.label("workspace_name"),
    sa.or_(p.c.archived, w.c.archived).label("parent_archived"),
    e.c.parent_id,
    e.c.notes,
    # As text (see ``Experiment.config_json``): no JSON decoding while the rows are read.
    sa.cast(c.c.config, sa.Text).label("config"),
    c.c.original_config,
    sa.cast(c.c.hyperparameters, sa.Text).label("hyperparameters"),
    e.c.searcher_type,
    e.c.searcher_metric,
    e.c.resource_pool,
    e.c.num_trials,
    e.c.progress,
    e.c.checkpoint_size,
    e.c.checkpoint_count,
    e.c.best_searcher_metric,
    e.c.job_id,
    e.c.model_definition_size,
    labels_of(e.c.id).label("labels"),
)
#: Index of the optional ``total`` column that follows the experiment columns in a page row.
TOTAL_INDEX = len(EXPERIMENT_COLUMNS)

EXPERIMENT_FROM = (
    e.join(u, u.c.id == e.c.owner_id)
    .join(p, p.c.id == e.c.project_id)
    .join(w, w.c.id == p.c.workspace_id)
    .join(c, c.c.experiment_id == e.c.id)
)

# The hot reads (every GetExperiment, every token check) use statements built once here with a bind
# parameter: building a 32-column, five-table SELECT and computing its cache key anew costs more
# than running it. The compiled form then comes straight from the engine's statement cache, or from
# the fast path's own (``fastpath.py``).
EXPERIMENT_BY_ID = (
    sa.select(*EXPERIMENT_COLUMNS).select_from(EXPERIMENT_FROM).where(e.c.id == sa.bindparam("experiment_id"))
)

_users = t.users
_sessions = t.user_sessions
#: Session columns then user columns, so one statement (one round trip) resolves a token.
_SESSION_NAMES = tuple(col.name for col in _sessions.c)
_USER_NAMES = tuple(col.name for col in _users.c)
_SESSION_WITH_USER = sa.select(*_sessions.c, *_users.c).join_from(_sessions, _users, _users.c.id == _sessions.c.user_id)
SESSION_BY_HASH = _SESSION_WITH_USER.where(_sessions.c.token_hash == sa.bindparam("token_hash"))
SESSION_BY_ID = _SESSION_WITH_USER.where(_sessions.c.id == sa.bindparam("session_id"))

#: Stored state text -> enum member; a dict lookup is cheaper than calling the enum per row.
_STATES = {s.value: s for s in ExperimentState}


def experiment_from_row(row: Sequence[Any]) -> Experiment:
    """An ``Experiment`` from a row of ``EXPERIMENT_COLUMNS`` (extra trailing columns are ignored)."""
    return Experiment(
        id=row[0],
        name=row[1],
        description=row[2],
        state=_STATES[row[3]],
        archived=row[4],
        start_time=row[5],
        end_time=row[6],
        user_id=row[7],
        username=row[8],
        display_name=row[9],
        project_id=row[10],
        project_name=row[11],
        project_owner_id=row[12],
        workspace_id=row[13],
        workspace_name=row[14],
        parent_archived=bool(row[15]),
        parent_id=row[16],
        notes=row[17],
        config_json=row[18],
        original_config=row[19],
        hyperparameters_json=row[20],
        searcher_type=row[21],
        searcher_metric=row[22],
        resource_pool=row[23],
        num_trials=row[24],
        progress=row[25],
        checkpoint_size=row[26],
        checkpoint_count=row[27],
        best_searcher_metric=row[28],
        job_id=row[29],
        model_definition_size=row[30],
        labels=labels_value(row[31]),
    )


def user_from_row(row: AnyRow) -> User:
    return user_from_mapping(row._mapping)


def user_from_mapping(m: Mapping[Any, Any]) -> User:
    group = AgentUserGroup(uid=m["agent_uid"], gid=m["agent_gid"], user=m["agent_user"], group=m["agent_group"])
    return User(
        id=m["id"],
        username=m["username"],
        display_name=m["display_name"],
        admin=m["admin"],
        active=m["active"],
        remote=m["remote"],
        modified_at=m["modified_at"],
        last_auth_at=m["last_auth_at"],
        agent_user_group=None if group.is_empty else group,
        password_hash=m["password_hash"],
    )


def session_from_row(row: AnyRow) -> UserSession:
    return session_from_mapping(row._mapping)


def session_from_mapping(m: Mapping[Any, Any]) -> UserSession:
    return UserSession(
        id=m["id"],
        user_id=m["user_id"],
        token_hash=m["token_hash"],
        created_at=m["created_at"],
        expiry=m["expiry"],
        revoked_at=m["revoked_at"],
    )


def session_and_user(values: Sequence[Any]) -> tuple[UserSession, User]:
    """Split a ``SESSION_BY_*`` row (session columns, then user columns) into its two parts."""
    split = len(_SESSION_NAMES)
    session = session_from_mapping(dict(zip(_SESSION_NAMES, values[:split], strict=True)))
    user = user_from_mapping(dict(zip(_USER_NAMES, values[split:], strict=True)))
    return session, user


def agent_columns(group: AgentUserGroup | None) -> dict[str, Any]:
    """The ``users`` columns that hold an agent user group (all None for none)."""
    group = group or AgentUserGroup()
    return {"agent_uid": group.uid, "agent_gid": group.gid, "agent_user": group.user, "agent_group": group.group}
