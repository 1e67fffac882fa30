"""Table definitions (SQLAlchemy Core).

These describe the schema that the Alembic migrations build; ``tests/server/test_storage_schema.py``
compares the two so they cannot drift. Table and column names follow Determined's where a
counterpart exists.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect

from protogw.server.storage.models import ExperimentState

# Deterministic constraint names, so migrations can refer to them on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp that always comes back timezone-aware in UTC.

    PostgreSQL keeps ``timestamptz`` values as instants, but SQLite stores text without an offset
    and returns naive values. Values are converted to UTC before they are bound (a naive value is
    taken to be UTC already) and tagged as UTC when read, so both databases round-trip the same
    instant and SQLite's text sorts chronologically.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite's text format has no offset: store the UTC wall time.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is UTC:
            return value
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], datetime | None] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # SQLite hands back the stored text: parse it and tag it UTC in one step rather than
        # through the generic DateTime parser and then ``process_result_value`` (listings read
        # two timestamps per row, so this is on the hot path).
        def parse(value: Any) -> datetime | None:
            if value is None:
                return None
            if isinstance(value, datetime):
                return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
            # Parsing with an explicit zero offset yields the UTC singleton directly, several
            # times faster than parsing and then calling ``replace(tzinfo=UTC)``.
            return datetime.fromisoformat(value + "+00:00")

        return parse


def json_type() -> sa.types.TypeEngine[Any]:
    """JSON on SQLite, JSONB on PostgreSQL."""
    return sa.JSON().with_variant(JSONB(), "postgresql")


STATE_NAMES = tuple(s.value for s in ExperimentState)

cluster_meta = sa.Table(
    "cluster_meta",
    metadata,
    # A single row: the CHECK keeps a second one from ever appearing.
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("cluster_id", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(255), nullable=False, unique=True),
    sa.Column("display_name", sa.String(255), nullable=True),
    sa.Column("password_hash", sa.Text, nullable=True),
    sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("remote", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("modified_at", UTCDateTime(), nullable=False),
    sa.Column("last_auth_at", UTCDateTime(), nullable=True),
    sa.Column("agent_uid", sa.Integer, nullable=True),
    sa.Column("agent_gid", sa.Integer, nullable=True),
    sa.Column("agent_user", sa.String(255), nullable=True),
    sa.Column("agent_group", sa.String(255), nullable=True),
)

user_sessions = sa.Table(
    "user_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(128), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime(), nullable=False),
    sa.Column("expiry", UTCDateTime(), nullable=False, index=True),
    sa.Column("revoked_at", UTCDateTime(), nullable=True),
    sqlite_autoincrement=True,
)

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
)

projects = sa.Table(
    "projects",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(255), nullable=False),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("workspace_id", sa.Integer, sa.ForeignKey("workspaces.id"), nullable=False),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False),
    sa.UniqueConstraint("workspace_id", "name"),
)

experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.Text, nullable=False, index=True),
    sa.Column("description", sa.Text, nullable=False, server_default=""),
    sa.Column("state", sa.String(32), nullable=False, index=True),
    sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false(), index=True),
    sa.Column("start_time", UTCDateTime(), nullable=False, index=True),
    sa.Column("end_time", UTCDateTime(), nullable=True),
    sa.Column("owner_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("project_id", sa.Integer, sa.ForeignKey("projects.id"), nullable=False, index=True),
    sa.Column("parent_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="SET NULL"), nullable=True, index=True),
    sa.Column("notes", sa.Text, nullable=False, server_default=""),
    sa.Column("searcher_type", sa.String(64), nullable=False, server_default=""),
    sa.Column("searcher_metric", sa.String(255), nullable=False, server_default=""),
    sa.Column("resource_pool", sa.String(255), nullable=False, server_default=""),
    sa.Column("num_trials", sa.Integer, nullable=False, server_default="0"),
    sa.Column("progress", sa.Float, nullable=True),
    sa.Column("checkpoint_size", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("checkpoint_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("best_searcher_metric", sa.Float, nullable=True),
    sa.Column("job_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("model_definition_size", sa.Integer, nullable=True),
    sa.CheckConstraint("state IN (" + ", ".join(f"'{s}'" for s in STATE_NAMES) + ")", name="state"),
    # Never reuse the id of a deleted experiment (SQLite would otherwise reuse the highest one).
    sqlite_autoincrement=True,
)

# The bulky per-experiment documents live beside the row, one-to-one, so that filtering, counting
# and skipping over experiments scans narrow rows; only a page's worth of configs is ever read.
experiment_configs = sa.Table(
    "experiment_configs",
    metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("config", json_type(), nullable=False),
    sa.Column("original_config", sa.Text, nullable=False, server_default=""),
    sa.Column("hyperparameters", json_type(), nullable=False),
)

experiment_labels = sa.Table(
    "experiment_labels",
    metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("label", sa.String(255), primary_key=True, index=True),
)

model_definition_files = sa.Table(
    "model_definition_files",
    metadata,
    sa.Column("experiment_id", sa.Integer, sa.ForeignKey("experiments.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("path", sa.Text, primary_key=True),
    sa.Column("type", sa.Integer, nullable=False, server_default="0"),
    sa.Column("content", sa.LargeBinary, nullable=False),
    sa.Column("mtime", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("mode", sa.Integer, nullable=False, server_default="0"),
    sa.Column("uid", sa.Integer, nullable=False, server_default="0"),
    sa.Column("gid", sa.Integer, nullable=False, server_default="0"),
)
