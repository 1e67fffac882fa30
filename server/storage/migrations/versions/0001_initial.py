"""Initial schema: users, sessions, workspaces, projects, experiments (+ configs, labels, files), cluster meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATES = (
    "ACTIVE",
    "PAUSED",
    "STOPPING_COMPLETED",
    "STOPPING_CANCELED",
    "STOPPING_ERROR",
    "COMPLETED",
    "CANCELED",
    "ERROR",
    "DELETED",
    "DELETING",
    "DELETE_FAILED",
    "STOPPING_KILLED",
    "QUEUED",
    "PULLING",
    "STARTING",
    "RUNNING",
)


def _ts() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "cluster_meta",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("cluster_id", sa.String(64), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_cluster_meta_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cluster_meta")),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=True),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("admin", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("remote", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("modified_at", _ts(), nullable=False),
        sa.Column("last_auth_at", _ts(), nullable=True),
        sa.Column("agent_uid", sa.Integer, nullable=True),
        sa.Column("agent_gid", sa.Integer, nullable=True),
        sa.Column("agent_user", sa.String(255), nullable=True),
        sa.Column("agent_group", sa.String(255), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )
    op.create_table(
        "user_sessions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.Column("token_hash", sa.String(128), nullable=False),
        sa.Column("created_at", _ts(), nullable=False),
        sa.Column("expiry", _ts(), nullable=False),
        sa.Column("revoked_at", _ts(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_sessions")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_user_sessions_user_id_users"), ondelete="CASCADE"
        ),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_sessions_token_hash")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_user_sessions_user_id"), "user_sessions", ["user_id"])
    op.create_index(op.f("ix_user_sessions_expiry"), "user_sessions", ["expiry"])
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspaces")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_workspaces_user_id_users")),
        sa.UniqueConstraint("name", name=op.f("uq_workspaces_name")),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("workspace_id", sa.Integer, nullable=False),
        sa.Column("user_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], name=op.f("fk_projects_workspace_id_workspaces")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_projects_user_id_users")),
        sa.UniqueConstraint("workspace_id", "name", name=op.f("uq_projects_workspace_id_name")),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("state", sa.String(32), nullable=False),
        sa.Column("archived", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("start_time", _ts(), nullable=False),
        sa.Column("end_time", _ts(), nullable=True),
        sa.Column("owner_id", sa.Integer, nullable=False),
        sa.Column("project_id", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer, nullable=True),
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
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_experiments_owner_id_users")),
        sa.ForeignKeyConstraint(["project_id"], ["projects.id"], name=op.f("fk_experiments_project_id_projects")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["experiments.id"], name=op.f("fk_experiments_parent_id_experiments"), ondelete="SET NULL"
        ),
        sa.CheckConstraint(
            "state IN (" + ", ".join(f"'{s}'" for s in _STATES) + ")", name=op.f("ck_experiments_state")
        ),
        # Ids of deleted experiments are never reused, as with a PostgreSQL sequence.
        sqlite_autoincrement=True,
    )
    for column in ("name", "state", "archived", "start_time", "owner_id", "project_id", "parent_id"):
        op.create_index(op.f(f"ix_experiments_{column}"), "experiments", [column])
    op.create_table(
        "experiment_configs",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("config", _json(), nullable=False),
        sa.Column("original_config", sa.Text, nullable=False, server_default=""),
        sa.Column("hyperparameters", _json(), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_experiment_configs")),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_configs_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "experiment_labels",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("label", sa.String(255), nullable=False),
        sa.PrimaryKeyConstraint("experiment_id", "label", name=op.f("pk_experiment_labels")),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_labels_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
    )
    op.create_index(op.f("ix_experiment_labels_label"), "experiment_labels", ["label"])
    op.create_table(
        "model_definition_files",
        sa.Column("experiment_id", sa.Integer, nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("type", sa.Integer, nullable=False, server_default="0"),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("mtime", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("mode", sa.Integer, nullable=False, server_default="0"),
        sa.Column("uid", sa.Integer, nullable=False, server_default="0"),
        sa.Column("gid", sa.Integer, nullable=False, server_default="0"),
        sa.PrimaryKeyConstraint("experiment_id", "path", name=op.f("pk_model_definition_files")),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_model_definition_files_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
    )
    _seed()


def _seed() -> None:
    """The rows every Determined master starts with, plus this cluster's identity."""
    now = datetime.now(UTC)
    users = sa.table(
        "users",
        sa.column("username", sa.String),
        sa.column("admin", sa.Boolean),
        sa.column("active", sa.Boolean),
        sa.column("modified_at", _ts()),
    )
    # Both built-in accounts start without a password hash, so an empty password logs in.
    op.bulk_insert(
        users,
        [
            {"username": "admin", "admin": True, "active": True, "modified_at": now},
            {"username": "determined", "admin": False, "active": True, "modified_at": now},
        ],
    )
    admin_id: sa.Select[Any] = (
        sa.select(sa.column("id")).select_from(sa.table("users")).where(sa.column("username") == "admin")
    )
    op.execute(
        sa.table("workspaces", sa.column("name"), sa.column("user_id"))
        .insert()
        .from_select(["name", "user_id"], sa.select(sa.literal("Uncategorized"), admin_id.scalar_subquery()))
    )
    op.execute(
        sa.table("projects", sa.column("name"), sa.column("workspace_id"), sa.column("user_id"))
        .insert()
        .from_select(
            ["name", "workspace_id", "user_id"],
            sa.select(
                sa.literal("Uncategorized"),
                sa.select(sa.column("id"))
                .select_from(sa.table("workspaces"))
                .where(sa.column("name") == "Uncategorized")
                .scalar_subquery(),
                admin_id.scalar_subquery(),
            ),
        )
    )
    op.bulk_insert(
        sa.table(
            "cluster_meta",
            sa.column("id", sa.Integer),
            sa.column("cluster_id", sa.String),
            sa.column("created_at", _ts()),
        ),
        [{"id": 1, "cluster_id": str(uuid.uuid4()), "created_at": now}],
    )


def downgrade() -> None:
    for table in (
        "model_definition_files",
        "experiment_labels",
        "experiment_configs",
        "experiments",
        "projects",
        "workspaces",
        "user_sessions",
        "users",
        "cluster_meta",
    ):
        op.drop_table(table)
