"""protogw's storage layer: SQLAlchemy 2 (async) over SQLite or PostgreSQL, migrated by Alembic.

The service layer needs only what this package exports: ``Store`` (one per database URL), the
value types it takes and returns, and the domain errors it raises.
"""

from protogw.server.clock import utc_now
from protogw.server.storage.errors import AlreadyExists, Conflict, InvalidArgument, NotFound, StorageError
from protogw.server.storage.models import (
    TERMINAL_STATES,
    TRANSITIONS,
    AgentUserGroup,
    Experiment,
    ExperimentPage,
    ExperimentPatch,
    ExperimentQuery,
    ExperimentSortBy,
    ExperimentState,
    IdFilter,
    LabelUsage,
    ModelFile,
    NewExperiment,
    NewUser,
    OrderBy,
    Pagination,
    Project,
    User,
    UserPage,
    UserPatch,
    UserQuery,
    UserSession,
    UserSortBy,
    Workspace,
    sources_of,
)
from protogw.server.storage.store import Store

__all__ = [
    "TERMINAL_STATES",
    "TRANSITIONS",
    "AgentUserGroup",
    "AlreadyExists",
    "Conflict",
    "Experiment",
    "ExperimentPage",
    "ExperimentPatch",
    "ExperimentQuery",
    "ExperimentSortBy",
    "ExperimentState",
    "IdFilter",
    "InvalidArgument",
    "LabelUsage",
    "ModelFile",
    "NewExperiment",
    "NewUser",
    "NotFound",
    "OrderBy",
    "Pagination",
    "Project",
    "StorageError",
    "Store",
    "User",
    "UserPage",
    "UserPatch",
    "UserQuery",
    "UserSession",
    "UserSortBy",
    "Workspace",
    "sources_of",
    "utc_now",
]
