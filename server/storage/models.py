"""Plain typed values that the store takes and returns.

Nothing here depends on SQLAlchemy or on protobuf: the service layer converts these to and from
messages. Enum numbers that mirror a Determined proto enum use the proto's numbers, so a servicer
can convert with ``ExperimentSortBy(request.sort_by)``; unknown numbers raise ``ValueError``.
All datetimes are timezone-aware UTC.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

JSONMapping = Mapping[str, Any]


class ExperimentState(enum.StrEnum):
    """An experiment's state as stored: Determined's ``experiment.v1.State`` name without ``STATE_``."""

    ACTIVE = "ACTIVE"
    PAUSED = "PAUSED"
    STOPPING_COMPLETED = "STOPPING_COMPLETED"
    STOPPING_CANCELED = "STOPPING_CANCELED"
    STOPPING_ERROR = "STOPPING_ERROR"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"
    ERROR = "ERROR"
    DELETED = "DELETED"
    DELETING = "DELETING"
    DELETE_FAILED = "DELETE_FAILED"
    STOPPING_KILLED = "STOPPING_KILLED"
    QUEUED = "QUEUED"
    PULLING = "PULLING"
    STARTING = "STARTING"
    RUNNING = "RUNNING"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


TERMINAL_STATES: frozenset[ExperimentState] = frozenset(
    {ExperimentState.COMPLETED, ExperimentState.CANCELED, ExperimentState.ERROR}
)

_STOPPING = (
    ExperimentState.STOPPING_KILLED,
    ExperimentState.STOPPING_CANCELED,
    ExperimentState.STOPPING_COMPLETED,
    ExperimentState.STOPPING_ERROR,
)

#: Determined's legal state transitions (``model.ExperimentTransitions``). Moving to the current
#: state is always allowed and changes nothing.
TRANSITIONS: Mapping[ExperimentState, frozenset[ExperimentState]] = {
    ExperimentState.ACTIVE: frozenset({ExperimentState.PAUSED, *_STOPPING, ExperimentState.ERROR}),
    ExperimentState.PAUSED: frozenset({ExperimentState.ACTIVE, *_STOPPING, ExperimentState.ERROR}),
    ExperimentState.STOPPING_CANCELED: frozenset(
        {
            ExperimentState.CANCELED,
            ExperimentState.STOPPING_KILLED,
            ExperimentState.STOPPING_ERROR,
            ExperimentState.ERROR,
        }
    ),
    ExperimentState.STOPPING_KILLED: frozenset(
        {ExperimentState.CANCELED, ExperimentState.STOPPING_ERROR, ExperimentState.ERROR}
    ),
    ExperimentState.STOPPING_COMPLETED: frozenset(
        {ExperimentState.COMPLETED, ExperimentState.STOPPING_ERROR, ExperimentState.ERROR}
    ),
    ExperimentState.STOPPING_ERROR: frozenset({ExperimentState.ACTIVE, ExperimentState.ERROR}),
    ExperimentState.CANCELED: frozenset({ExperimentState.DELETING}),
    ExperimentState.COMPLETED: frozenset({ExperimentState.DELETING}),
    ExperimentState.ERROR: frozenset({ExperimentState.DELETING}),
    ExperimentState.DELETING: frozenset({ExperimentState.DELETED, ExperimentState.DELETE_FAILED}),
    ExperimentState.DELETE_FAILED: frozenset({ExperimentState.DELETING}),
}


def sources_of(target: ExperimentState) -> frozenset[ExperimentState]:
    """Every state from which ``target`` may be reached, ``target`` itself included."""
    return frozenset({s for s, targets in TRANSITIONS.items() if target in targets} | {target})


class OrderBy(enum.IntEnum):
    """``determined.api.v1.OrderBy``; UNSPECIFIED sorts ascending."""

    UNSPECIFIED = 0
    ASC = 1
    DESC = 2


class ExperimentSortBy(enum.IntEnum):
    """``GetExperimentsRequest.SortBy``; UNSPECIFIED sorts by id. 3 and 7 are unused in the proto."""

    UNSPECIFIED = 0
    ID = 1
    DESCRIPTION = 2
    START_TIME = 4
    END_TIME = 5
    STATE = 6
    NUM_TRIALS = 8
    PROGRESS = 9
    USER = 10
    NAME = 11
    FORKED_FROM = 12
    RESOURCE_POOL = 13
    PROJECT_ID = 14
    CHECKPOINT_SIZE = 15
    CHECKPOINT_COUNT = 16
    SEARCHER_METRIC_VAL = 17


class UserSortBy(enum.IntEnum):
    """``GetUsersRequest.SortBy``; UNSPECIFIED sorts by id."""

    UNSPECIFIED = 0
    DISPLAY_NAME = 1
    USER_NAME = 2
    ADMIN = 3
    ACTIVE = 4
    MODIFIED_TIME = 5
    NAME = 6
    LAST_AUTH_TIME = 7
    REMOTE = 8


@dataclass(frozen=True, slots=True)
class Pagination:
    """Determined's ``Pagination`` message: the request's offset and limit echoed back, and the window.

    ``end_index`` is one past the last returned row; ``total`` counts every row that matched.
    """

    offset: int
    limit: int
    start_index: int
    end_index: int
    total: int


@dataclass(frozen=True, slots=True)
class AgentUserGroup:
    """The POSIX identity an agent runs a user's tasks as; every part is optional."""

    uid: int | None = None
    gid: int | None = None
    user: str | None = None
    group: str | None = None

    @property
    def is_empty(self) -> bool:
        return self.uid is None and self.gid is None and self.user is None and self.group is None


@dataclass(frozen=True, slots=True)
class User:
    id: int
    username: str
    display_name: str | None
    admin: bool
    active: bool
    remote: bool
    modified_at: datetime
    last_auth_at: datetime | None
    agent_user_group: AgentUserGroup | None
    #: The stored password hash, or None when the account has no password (empty password logs in).
    password_hash: str | None


@dataclass(frozen=True, slots=True)
class NewUser:
    username: str
    display_name: str | None = None
    admin: bool = False
    active: bool = True
    remote: bool = False
    password_hash: str | None = None
    agent_user_group: AgentUserGroup | None = None


@dataclass(frozen=True, slots=True)
class UserPatch:
    """Fields to change on a user; ``None`` leaves a field alone.

    ``clear_display_name`` / ``clear_agent_user_group`` set those to NULL, since ``None`` already
    means "unchanged". Passwords change through ``Store.set_password_hash``.
    """

    username: str | None = None
    display_name: str | None = None
    clear_display_name: bool = False
    admin: bool | None = None
    active: bool | None = None
    remote: bool | None = None
    agent_user_group: AgentUserGroup | None = None
    clear_agent_user_group: bool = False


@dataclass(frozen=True, slots=True)
class UserQuery:
    """GetUsers' filters, sort and pagination (Determined's generic in-memory pagination rules)."""

    name: str = ""
    active: bool | None = None
    admin: bool | None = None
    sort_by: UserSortBy = UserSortBy.UNSPECIFIED
    order_by: OrderBy = OrderBy.UNSPECIFIED
    offset: int = 0
    limit: int = 0


@dataclass(frozen=True, slots=True)
class UserPage:
    users: list[User]
    pagination: Pagination


@dataclass(frozen=True, slots=True)
class UserSession:
    id: int
    user_id: int
    token_hash: str
    created_at: datetime
    expiry: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Workspace:
    id: int
    name: str
    archived: bool
    user_id: int


@dataclass(frozen=True, slots=True)
class Project:
    id: int
    name: str
    description: str
    archived: bool
    workspace_id: int
    workspace_name: str
    workspace_archived: bool
    user_id: int


@dataclass(frozen=True, slots=True)
class ModelFile:
    """One file of an experiment's model definition (Determined's ``util.v1.File``)."""

    path: str
    content: bytes
    type: int = 0
    mtime: int = 0
    mode: int = 0
    uid: int = 0
    gid: int = 0


@dataclass(frozen=True, slots=True)
class NewExperiment:
    """What ``Store.create_experiment`` needs. ``start_time`` defaults to the store's clock."""

    owner_id: int
    name: str
    config: JSONMapping = field(default_factory=dict)
    original_config: str = ""
    description: str = ""
    project_id: int = 1
    state: ExperimentState = ExperimentState.PAUSED
    labels: Sequence[str] = ()
    notes: str = ""
    hyperparameters: JSONMapping = field(default_factory=dict)
    searcher_type: str = ""
    searcher_metric: str = ""
    resource_pool: str = ""
    num_trials: int = 0
    progress: float | None = None
    parent_id: int | None = None
    job_id: str = ""
    archived: bool = False
    start_time: datetime | None = None
    end_time: datetime | None = None
    checkpoint_size: int = 0
    checkpoint_count: int = 0
    best_searcher_metric: float | None = None
    model_definition: Sequence[ModelFile] = ()
    #: Defaults to the summed size of ``model_definition`` contents.
    model_definition_size: int | None = None


# Not frozen, unlike the other values here: listings build thousands of these and a frozen
# dataclass pays an ``object.__setattr__`` per field (about 40% more per row).
@dataclass(slots=True)
class Experiment:
    """An experiment row joined with its owner, project and workspace, and its labels."""

    id: int
    name: str
    description: str
    state: ExperimentState
    archived: bool
    start_time: datetime
    end_time: datetime | None
    user_id: int
    username: str
    #: ``COALESCE(display_name, username)`` of the owner, as Determined reports and sorts it.
    display_name: str
    project_id: int
    project_name: str
    project_owner_id: int
    workspace_id: int
    workspace_name: str
    #: True when the experiment's project or workspace is archived.
    parent_archived: bool
    parent_id: int | None
    notes: str
    #: The configuration and hyperparameters as the JSON text the database holds: decoded only by
    #: whoever reads ``config`` / ``hyperparameters`` (a page built from remembered ``Struct``s
    #: never does, and decoding them was most of a listing row's cost).
    config_json: str
    original_config: str
    hyperparameters_json: str
    searcher_type: str
    searcher_metric: str
    resource_pool: str
    num_trials: int
    progress: float | None
    checkpoint_size: int
    checkpoint_count: int
    best_searcher_metric: float | None
    job_id: str
    model_definition_size: int | None
    labels: list[str]

    @property
    def config(self) -> dict[str, Any]:
        """The expanded configuration, decoded afresh on each read (callers may change it)."""
        value: dict[str, Any] = orjson.loads(self.config_json)
        return value

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The hyperparameters, decoded afresh on each read."""
        value: dict[str, Any] = orjson.loads(self.hyperparameters_json)
        return value


@dataclass(frozen=True, slots=True)
class ExperimentPatch:
    """Presence-based update: ``None`` leaves a field alone. ``labels`` replaces the whole set."""

    name: str | None = None
    description: str | None = None
    notes: str | None = None
    labels: Sequence[str] | None = None
    progress: float | None = None
    num_trials: int | None = None
    checkpoint_size: int | None = None
    checkpoint_count: int | None = None
    best_searcher_metric: float | None = None


@dataclass(frozen=True, slots=True)
class IdFilter:
    """``common.v1.Int32FieldFilter``: every bound given must hold; ``incl`` empty means no constraint."""

    lt: int | None = None
    lte: int | None = None
    gt: int | None = None
    gte: int | None = None
    incl: Sequence[int] = ()
    not_in: Sequence[int] = ()


@dataclass(frozen=True, slots=True)
class ExperimentQuery:
    """GetExperiments' filters, sort and pagination. Empty strings and sequences mean "no filter"."""

    description: str = ""
    name: str = ""
    labels: Sequence[str] = ()
    archived: bool | None = None
    states: Sequence[ExperimentState] = ()
    usernames: Sequence[str] = ()
    user_ids: Sequence[int] = ()
    #: 0 lists every project.
    project_id: int = 0
    id_filter: IdFilter | None = None
    sort_by: ExperimentSortBy = ExperimentSortBy.UNSPECIFIED
    order_by: OrderBy = OrderBy.UNSPECIFIED
    offset: int = 0
    #: 0 = a page of 100, -1 = every row, -2 = pagination only; below -2 is rejected.
    limit: int = 0


@dataclass(frozen=True, slots=True)
class ExperimentPage:
    experiments: list[Experiment]
    pagination: Pagination


@dataclass(frozen=True, slots=True)
class LabelUsage:
    label: str
    count: int
