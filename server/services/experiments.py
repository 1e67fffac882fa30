"""The experiment lifecycle: create, list, read, patch, label, archive, pause/activate, stop, delete.

There is no scheduler behind this service, so nothing ever runs: an experiment is created ACTIVE or
PAUSED and stays there until a user acts. Stopping passes through Determined's intermediate state
and completes at once — cancel goes ACTIVE/PAUSED -> STOPPING_CANCELED -> CANCELED and kill goes
-> STOPPING_KILLED -> CANCELED, each step a checked transition, with ``end_time`` set on arrival.
Delete removes the experiment (labels and model definition included) immediately instead of
passing through DELETING.
"""

from __future__ import annotations

import math
import posixpath
import uuid
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time
from typing import Any

import grpc.aio
import orjson
import yaml

from protogw.gen.determined.api.v1 import experiment_pb2 as api_pb2
from protogw.server import convert
from protogw.server.clock import Clock
from protogw.server.context import current_user
from protogw.server.errors import failed_precondition, invalid_argument, not_found, permission_denied
from protogw.server.limits import (
    DEFAULT_LIMITS,
    Limits,
    check_config_text,
    check_experiment_limit,
    check_new_experiment,
)
from protogw.server.services._common import INT32_MAX, MAX_NAME, check_length, enum_value, experiment_id
from protogw.server.storage.errors import Conflict
from protogw.server.storage.models import (
    TERMINAL_STATES,
    Experiment,
    ExperimentPatch,
    ExperimentQuery,
    ExperimentSortBy,
    ExperimentState,
    IdFilter,
    ModelFile,
    NewExperiment,
    OrderBy,
)
from protogw.server.store_api import StoreAPI

Context = grpc.aio.ServicerContext[Any, Any]

#: Determined's default cap on the size of an uploaded model definition.
DEFAULT_MAX_MODEL_DEFINITION_BYTES = DEFAULT_LIMITS.max_model_definition_bytes
#: Upper bound on the number of values in a parsed configuration. YAML aliases can make a tiny
#: document expand into an enormous tree, so the walk that copies it stops here.
MAX_CONFIG_NODES = DEFAULT_LIMITS.max_config_nodes
#: Longest searcher name the database keeps.
MAX_SEARCHER_NAME = 64
#: The project experiments go to when the request names none (Determined's "Uncategorized").
DEFAULT_PROJECT_ID = 1
#: Name used when the configuration does not give one, as Determined does.
DEFAULT_NAME = "Experiment"

_STOPPING = frozenset(
    {
        ExperimentState.STOPPING_CANCELED,
        ExperimentState.STOPPING_KILLED,
        ExperimentState.STOPPING_COMPLETED,
        ExperimentState.STOPPING_ERROR,
    }
)
_DELETABLE = TERMINAL_STATES | {ExperimentState.DELETE_FAILED}

try:  # the C loader is much faster when PyYAML was built with libyaml
    _YamlLoader: Any = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _YamlLoader = yaml.SafeLoader


#: The servicer's size limits are the domain's (``protogw.server.limits.Limits``).
ExperimentLimits = Limits


def _plain(value: Any, budget: list[int]) -> Any:
    """Copy a YAML value into JSON-compatible data, charging each node against ``budget``."""
    budget[0] -= 1
    if budget[0] < 0:
        raise invalid_argument("experiment configuration is too large")
    if isinstance(value, Mapping):
        return {str(k): _plain(v, budget) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v, budget) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A one-line description of a YAML error with its position, without PyYAML's stream name."""
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return where + exc.problem
    return " ".join(str(exc).split())


def parse_config(text: str, max_nodes: int = MAX_CONFIG_NODES) -> dict[str, Any]:
    """Parse an experiment configuration: YAML whose top level must be a mapping.

    >>> parse_config("name: mnist\\nhyperparameters: {lr: 0.1}")
    {'name': 'mnist', 'hyperparameters': {'lr': 0.1}}
    """
    try:
        loaded = yaml.load(text, Loader=_YamlLoader)
    except yaml.YAMLError as exc:
        raise invalid_argument(f"invalid experiment configuration: {_yaml_problem(exc)}") from None
    except RecursionError:
        raise invalid_argument("invalid experiment configuration: nested too deeply") from None
    except ValueError as exc:
        # PyYAML converts scalars itself: an integer of thousands of digits exceeds Python's
        # int-from-string limit here, which is the document's fault, not the server's.
        raise invalid_argument(f"invalid experiment configuration: {' '.join(str(exc).split())}") from None
    if not isinstance(loaded, Mapping):
        kind = "empty document" if loaded is None else type(loaded).__name__
        raise invalid_argument(f"experiment configuration must be a YAML mapping, got {kind}")
    try:
        plain: dict[str, Any] = _plain(loaded, [max_nodes])
    except RecursionError:
        raise invalid_argument("invalid experiment configuration: nested too deeply") from None
    return plain


def _optional_str(config: Mapping[str, Any], key: str, section: str = "", limit: int | None = None) -> str:
    value = config.get(key)
    if value is None:
        return ""
    where = f"{section}.{key}" if section else key
    if not isinstance(value, str):
        raise invalid_argument(f"experiment configuration: `{where}` must be a string")
    return value if limit is None else check_length(value, limit, f"experiment configuration: `{where}`")


def _optional_mapping(config: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = config.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise invalid_argument(f"experiment configuration: `{key}` must be a mapping")
    return dict(value)


def _labels(values: Iterable[Any], where: str) -> list[str]:
    labels: list[str] = []
    for value in values:
        if not isinstance(value, str) or not value.strip():
            raise invalid_argument(f"{where} must be non-empty strings")
        labels.append(check_length(value, MAX_NAME, "a label"))
    return list(dict.fromkeys(labels))


def _model_files(files: Iterable[Any], limit: int) -> list[ModelFile]:
    out: list[ModelFile] = []
    total = 0
    for f in files:
        total += len(f.content)
        path = f.path
        normal = posixpath.normpath(path) if path else ""
        if not path or path.startswith("/") or normal == ".." or normal.startswith("../") or "\x00" in path:
            raise invalid_argument(f"model definition file path {path!r} must be relative and stay inside the tree")
        out.append(
            ModelFile(path=path, content=f.content, type=f.type, mtime=f.mtime, mode=f.mode, uid=f.uid, gid=f.gid)
        )
    if total > limit:
        raise invalid_argument(f"model definition is {total} bytes, over the limit of {limit} bytes")
    if len({f.path for f in out}) != len(out):
        raise invalid_argument("model definition has duplicate file paths")
    return out


class ExperimentsServicer:
    """Experiment RPCs over the store."""

    def __init__(self, store: StoreAPI, clock: Clock, limits: Limits | None = None) -> None:
        self._store = store
        self._clock = clock
        self._limits = limits or DEFAULT_LIMITS
        self._structs = convert.StructCache()

    # -- reading -----------------------------------------------------------------------------

    async def GetExperiments(
        self, request: api_pb2.GetExperimentsRequest, context: Context
    ) -> api_pb2.GetExperimentsResponse:
        check_experiment_limit(request.limit)
        states = []
        # Repeats change nothing; dropping them first keeps a flood of one value cheap.
        for number in dict.fromkeys(request.states):
            try:
                states.append(convert.state_from_proto(number))
            except ValueError:
                raise invalid_argument(f"unknown value {number} for states") from None
        id_filter = None
        if request.HasField("experiment_id_filter"):
            f = request.experiment_id_filter
            id_filter = IdFilter(
                lt=f.lt if f.HasField("lt") else None,
                lte=f.lte if f.HasField("lte") else None,
                gt=f.gt if f.HasField("gt") else None,
                gte=f.gte if f.HasField("gte") else None,
                incl=list(f.incl),
                not_in=list(f.not_in),
            )
        query = ExperimentQuery(
            description=request.description,
            name=request.name,
            labels=list(request.labels),
            archived=request.archived.value if request.HasField("archived") else None,
            states=states,
            usernames=list(request.users),
            user_ids=list(request.user_ids),
            project_id=request.project_id,
            id_filter=id_filter,
            sort_by=enum_value(ExperimentSortBy, request.sort_by, "sort_by"),
            order_by=enum_value(OrderBy, request.order_by, "order_by"),
            offset=request.offset,
            limit=request.limit,
        )
        page = await self._store.list_experiments(query)
        response = api_pb2.GetExperimentsResponse(pagination=convert.pagination(page.pagination))
        # Each experiment is built inside the response rather than copied into it afterwards.
        for item in page.experiments:
            message = convert.add_experiment(response.experiments, item, in_list=True, structs=self._structs)
            if not request.show_trial_data:
                message.ClearField("best_trial_searcher_metric")
        convert.trim_page(response, self._limits.max_page_bytes)
        return response

    async def GetExperiment(
        self, request: api_pb2.GetExperimentRequest, context: Context
    ) -> api_pb2.GetExperimentResponse:
        found = await self._store.get_experiment(experiment_id(request.experiment_id))
        response = api_pb2.GetExperimentResponse()
        # Built inside the response, then only its configuration is copied to the top level.
        message = convert.experiment_into(response.experiment, found, structs=self._structs)
        response.config.CopyFrom(message.config)
        return response

    async def GetExperimentLabels(
        self, request: api_pb2.GetExperimentLabelsRequest, context: Context
    ) -> api_pb2.GetExperimentLabelsResponse:
        usage = await self._store.label_usage(request.project_id)
        return api_pb2.GetExperimentLabelsResponse(labels=[u.label for u in usage])

    # -- creating and editing ----------------------------------------------------------------------

    async def CreateExperiment(
        self, request: api_pb2.CreateExperimentRequest, context: Context
    ) -> api_pb2.CreateExperimentResponse:
        if request.HasField("template") and request.template:
            raise invalid_argument("configuration templates are not supported by this server")
        if request.HasField("unmanaged") and request.unmanaged:
            raise invalid_argument("unmanaged experiments are not supported by this server")
        files = _model_files(request.model_definition, self._limits.max_model_definition_bytes)
        check_config_text(request.config, self._limits)
        config = parse_config(request.config, self._limits.max_config_nodes)
        name = config.get("name", DEFAULT_NAME)
        if not isinstance(name, str):
            raise invalid_argument("experiment configuration: `name` must be a string")
        raw_labels = config.get("labels") or []
        if not isinstance(raw_labels, list):
            raise invalid_argument("experiment configuration: `labels` must be a list of strings")
        labels = _labels(raw_labels, "experiment configuration: `labels`")
        searcher = _optional_mapping(config, "searcher")
        resources = _optional_mapping(config, "resources")
        if not 0 <= request.parent_id <= INT32_MAX or not 0 <= request.project_id <= INT32_MAX:
            raise invalid_argument("parent_id and project_id must be non-negative")
        owner = current_user()
        new = NewExperiment(
            owner_id=owner.id,
            name=name,
            config=config,
            original_config=request.config,
            description=_optional_str(config, "description"),
            project_id=request.project_id or DEFAULT_PROJECT_ID,
            state=ExperimentState.ACTIVE if request.activate else ExperimentState.PAUSED,
            labels=labels,
            hyperparameters=_optional_mapping(config, "hyperparameters"),
            searcher_type=_optional_str(searcher, "name", "searcher", MAX_SEARCHER_NAME),
            searcher_metric=_optional_str(searcher, "metric", "searcher", MAX_NAME),
            resource_pool=_optional_str(resources, "resource_pool", "resources", MAX_NAME),
            parent_id=request.parent_id or None,
            job_id=str(uuid.uuid4()),
            model_definition=files,
        )
        # The same checks as the store's, before anything is looked up: a validateOnly create
        # answers exactly as a real one would.
        check_new_experiment(new, self._limits)
        project = await self._store.get_project(new.project_id)
        if request.parent_id:
            await self._store.get_experiment(request.parent_id)
        if request.validate_only:
            created = Experiment(
                id=0,
                name=new.name,
                description=new.description,
                state=new.state,
                archived=False,
                start_time=self._clock(),
                end_time=None,
                user_id=owner.id,
                username=owner.username,
                display_name=owner.display_name or owner.username,
                project_id=project.id,
                project_name=project.name,
                project_owner_id=project.user_id,
                workspace_id=project.workspace_id,
                workspace_name=project.workspace_name,
                parent_archived=project.archived or project.workspace_archived,
                parent_id=new.parent_id,
                notes="",
                config_json=orjson.dumps(config).decode(),
                original_config=new.original_config,
                hyperparameters_json=orjson.dumps(dict(new.hyperparameters)).decode(),
                searcher_type=new.searcher_type,
                searcher_metric=new.searcher_metric,
                resource_pool=new.resource_pool,
                num_trials=0,
                progress=None,
                checkpoint_size=0,
                checkpoint_count=0,
                best_searcher_metric=None,
                job_id=new.job_id,
                model_definition_size=sum(len(f.content) for f in files),
                labels=sorted(labels),
            )
        else:
            created = await self._store.create_experiment(new)
        return api_pb2.CreateExperimentResponse(experiment=convert.experiment(created), config=convert.struct(config))

    async def PatchExperiment(
        self, request: api_pb2.PatchExperimentRequest, context: Context
    ) -> api_pb2.PatchExperimentResponse:
        patch = request.experiment
        target = experiment_id(patch.id)
        name = patch.name.value if patch.HasField("name") else None
        labels = None
        if patch.HasField("labels"):
            values = [v.string_value if v.WhichOneof("kind") == "string_value" else v for v in patch.labels.values]
            labels = _labels(values, "labels")
        changes = ExperimentPatch(
            name=name,
            description=patch.description.value if patch.HasField("description") else None,
            notes=patch.notes.value if patch.HasField("notes") else None,
            labels=labels,
        )
        updated = await self._store.update_experiment(target, changes)
        return api_pb2.PatchExperimentResponse(experiment=convert.experiment(updated))

    async def PutExperimentLabel(
        self, request: api_pb2.PutExperimentLabelRequest, context: Context
    ) -> api_pb2.PutExperimentLabelResponse:
        if not request.label.strip():
            raise invalid_argument("label must not be empty")
        labels = await self._store.add_label(experiment_id(request.experiment_id), request.label)
        return api_pb2.PutExperimentLabelResponse(labels=labels)

    async def DeleteExperimentLabel(
        self, request: api_pb2.DeleteExperimentLabelRequest, context: Context
    ) -> api_pb2.DeleteExperimentLabelResponse:
        labels = await self._store.remove_label(experiment_id(request.experiment_id), request.label)
        return api_pb2.DeleteExperimentLabelResponse(labels=labels)

    # -- archiving ---------------------------------------------------------------------------------

    async def ArchiveExperiment(
        self, request: api_pb2.ArchiveExperimentRequest, context: Context
    ) -> api_pb2.ArchiveExperimentResponse:
        # The store applies Determined's rules atomically and words the errors as Determined does.
        await self._store.set_archived(experiment_id(request.id), True)
        return api_pb2.ArchiveExperimentResponse()

    async def UnarchiveExperiment(
        self, request: api_pb2.UnarchiveExperimentRequest, context: Context
    ) -> api_pb2.UnarchiveExperimentResponse:
        await self._store.set_archived(experiment_id(request.id), False)
        return api_pb2.UnarchiveExperimentResponse()

    # -- lifecycle ---------------------------------------------------------------------------------

    async def _move(self, target_id: int, state: ExperimentState) -> None:
        """Pause or activate: a checked transition on an unarchived experiment."""
        try:
            await self._store.set_experiment_state(target_id, state, unarchived_only=True)
        except Conflict as exc:
            current = ExperimentState(exc.current_state) if exc.current_state else None
            if current in TERMINAL_STATES:
                raise failed_precondition("experiment in terminal state") from None
            shown = f"STATE_{current.value}" if current else "STATE_UNSPECIFIED"
            raise failed_precondition(f"experiment in incompatible state {shown}") from None

    async def _stop(self, target_id: int, stopping: ExperimentState) -> None:
        """Cancel or kill: through ``stopping`` to CANCELED; a no-op on stopped or stopping ones."""
        found = await self._store.get_experiment(target_id)
        if found.archived:
            raise not_found(f"experiment '{target_id}' not found")
        if found.state in TERMINAL_STATES or found.state in _STOPPING:
            return
        try:
            await self._store.set_experiment_state(target_id, stopping, unarchived_only=True)
        except Conflict as exc:
            # Someone else stopped it between our read and our write: that is the outcome we wanted.
            if exc.current_state is not None and (ExperimentState(exc.current_state) in TERMINAL_STATES | _STOPPING):
                return
            raise failed_precondition(f"experiment in incompatible state STATE_{exc.current_state}") from None
        await self._store.set_experiment_state(target_id, ExperimentState.CANCELED, allowed_from=[stopping])

    async def ActivateExperiment(
        self, request: api_pb2.ActivateExperimentRequest, context: Context
    ) -> api_pb2.ActivateExperimentResponse:
        await self._move(experiment_id(request.id), ExperimentState.ACTIVE)
        return api_pb2.ActivateExperimentResponse()

    async def PauseExperiment(
        self, request: api_pb2.PauseExperimentRequest, context: Context
    ) -> api_pb2.PauseExperimentResponse:
        await self._move(experiment_id(request.id), ExperimentState.PAUSED)
        return api_pb2.PauseExperimentResponse()

    async def CancelExperiment(
        self, request: api_pb2.CancelExperimentRequest, context: Context
    ) -> api_pb2.CancelExperimentResponse:
        await self._stop(experiment_id(request.id), ExperimentState.STOPPING_CANCELED)
        return api_pb2.CancelExperimentResponse()

    async def KillExperiment(
        self, request: api_pb2.KillExperimentRequest, context: Context
    ) -> api_pb2.KillExperimentResponse:
        await self._stop(experiment_id(request.id), ExperimentState.STOPPING_KILLED)
        return api_pb2.KillExperimentResponse()

    async def DeleteExperiment(
        self, request: api_pb2.DeleteExperimentRequest, context: Context
    ) -> api_pb2.DeleteExperimentResponse:
        target = await self._store.get_experiment(experiment_id(request.experiment_id))
        caller = current_user()
        if not caller.admin and caller.id != target.user_id:
            raise permission_denied("non admin users may not delete other user's experiments")
        if target.state not in _DELETABLE:
            raise failed_precondition(f"cannot delete experiment in STATE_{target.state.value} state")
        await self._store.delete_experiment(target.id)
        return api_pb2.DeleteExperimentResponse()
