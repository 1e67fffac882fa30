"""Conversions between the store's plain values and the Determined protobuf messages.

Everything here is pure: no I/O, no context. Responses fill every field Determined's swagger marks
required (``jobId``, ``projectOwnerId``, ``originalConfig`` and the rest) so its generated clients
can parse them.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

import orjson
from google.protobuf import struct_pb2, timestamp_pb2

from protogw.gen.determined.api.v1 import pagination_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2
from protogw.gen.determined.log.v1 import log_pb2
from protogw.gen.determined.user.v1 import user_pb2
from protogw.server.logbuffer import LogRecordEntry
from protogw.server.storage import models

#: Determined blanks out notes in list responses (they can be long); it sends this marker instead.
OMITTED_NOTES = "omitted"


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def set_timestamp(target: timestamp_pb2.Timestamp, value: datetime) -> None:
    """Write ``value`` into ``target`` in place, exactly as ``Timestamp.FromDatetime`` would.

    A naive value is taken to be UTC. Done with one datetime subtraction rather than through
    ``FromDatetime`` (a time tuple and ``calendar.timegm``), which costs several times more, and every
    experiment in a listing carries two timestamps.
    """
    delta = value - (_NAIVE_EPOCH if value.tzinfo is None else _EPOCH)
    target.seconds = delta.days * 86_400 + delta.seconds
    target.nanos = delta.microseconds * 1000


def timestamp(value: datetime) -> timestamp_pb2.Timestamp:
    ts = timestamp_pb2.Timestamp()
    set_timestamp(ts, value)
    return ts


def jsonable(value: Any) -> Any:
    """``value`` reduced to what JSON (and ``google.protobuf.Struct``) can carry.

    YAML can produce dates, non-string keys and non-finite floats; those become strings so the
    configuration survives a JSON round trip unchanged in meaning.

    >>> jsonable({1: date(2024, 1, 2), "x": [float("inf"), None, True]})
    {'1': '2024-01-02', 'x': ['inf', None, True]}
    """
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def struct(value: Mapping[str, Any]) -> struct_pb2.Struct:
    """A ``Struct`` of JSON data (from the store, or a configuration already passed through
    ``jsonable``-style cleaning); anything else raises rather than being silently altered."""
    result = struct_pb2.Struct()
    result.update(value)
    return result


class StructCache:
    """Remembers the ``Struct`` form of experiments' configurations, which never change once created.

    Building a ``Struct`` from a dict walks it in Python (tens of microseconds for a typical
    configuration); copying a built one is done in C. Entries are keyed by experiment id and the
    original configuration text, so a reused id or a changed configuration never hits a stale entry.
    The least recently used entries go once ``size`` is reached.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[tuple[int, str, str], struct_pb2.Struct] = OrderedDict()

    def get(self, experiment_id: int, part: str, source: str, text: str) -> struct_pb2.Struct:
        """The ``Struct`` of ``part`` (its JSON ``text``, decoded only when it is not remembered)."""
        key = (experiment_id, part, source)
        found = self._items.get(key)
        if found is None:
            found = struct(orjson.loads(text))
            self._items[key] = found
            if len(self._items) > self._size:
                self._items.popitem(last=False)
        else:
            self._items.move_to_end(key)
        return found


def pagination(page: models.Pagination) -> pagination_pb2.Pagination:
    return pagination_pb2.Pagination(
        offset=page.offset,
        limit=page.limit,
        start_index=page.start_index,
        end_index=page.end_index,
        total=page.total,
    )


def user(value: models.User) -> user_pb2.User:
    message = user_pb2.User(
        id=value.id,
        username=value.username,
        admin=value.admin,
        active=value.active,
        display_name=value.display_name or "",
        modified_at=timestamp(value.modified_at),
        remote=value.remote,
    )
    if value.last_auth_at is not None:
        message.last_auth_at.CopyFrom(timestamp(value.last_auth_at))
    group = value.agent_user_group
    if group is not None and not group.is_empty:
        message.agent_user_group.SetInParent()
        if group.uid is not None:
            message.agent_user_group.agent_uid = group.uid
        if group.gid is not None:
            message.agent_user_group.agent_gid = group.gid
        if group.user is not None:
            message.agent_user_group.agent_user = group.user
        if group.group is not None:
            message.agent_user_group.agent_group = group.group
    return message


def agent_user_group(message: user_pb2.AgentUserGroup) -> models.AgentUserGroup:
    return models.AgentUserGroup(
        uid=message.agent_uid if message.HasField("agent_uid") else None,
        gid=message.agent_gid if message.HasField("agent_gid") else None,
        user=message.agent_user if message.HasField("agent_user") else None,
        group=message.agent_group if message.HasField("agent_group") else None,
    )


#: Stored state -> proto enum number, computed once instead of a name lookup per experiment.
_STATE_NUMBERS: dict[models.ExperimentState, experiment_pb2.State.ValueType] = {
    s: experiment_pb2.State.Value(f"STATE_{s.value}") for s in models.ExperimentState
}


def state(value: models.ExperimentState) -> experiment_pb2.State.ValueType:
    return _STATE_NUMBERS[value]


def state_from_proto(value: int) -> models.ExperimentState:
    """The stored state for a proto enum number; ValueError for unknown or UNSPECIFIED numbers."""
    name = experiment_pb2.State.Name(
        experiment_pb2.State.ValueType(value)
    )  # raises ValueError for numbers the enum lacks
    if value == experiment_pb2.STATE_UNSPECIFIED:
        raise ValueError("STATE_UNSPECIFIED is not a state")
    return models.ExperimentState(name.removeprefix("STATE_"))


def _experiment_scalars(value: models.Experiment, in_list: bool) -> dict[str, Any]:
    return {
        "id": value.id,
        "name": value.name,
        "description": value.description,
        "labels": value.labels,
        "state": _STATE_NUMBERS[value.state],
        "archived": value.archived,
        "num_trials": value.num_trials,
        "display_name": value.display_name,
        "user_id": value.user_id,
        "username": value.username,
        "resource_pool": value.resource_pool,
        "searcher_type": value.searcher_type,
        "searcher_metric": value.searcher_metric,
        "notes": (OMITTED_NOTES if value.notes else "") if in_list else value.notes,
        "job_id": value.job_id,
        "project_id": value.project_id,
        "project_name": value.project_name,
        "workspace_id": value.workspace_id,
        "workspace_name": value.workspace_name,
        "parent_archived": value.parent_archived,
        "original_config": value.original_config,
        "project_owner_id": value.project_owner_id,
        "checkpoint_size": value.checkpoint_size,
        "checkpoint_count": value.checkpoint_count,
    }


def _fill_experiment(message: experiment_pb2.Experiment, value: models.Experiment, structs: StructCache | None) -> None:
    """Set the message-typed and optional fields of an experiment already holding its scalars.

    Sub-messages are written in place (``SetInParent`` where a default value must still count as
    present) instead of being built apart and copied in.
    """
    set_timestamp(message.start_time, value.start_time)
    if structs is not None and value.id:
        message.config.CopyFrom(structs.get(value.id, "config", value.original_config, value.config_json))
        message.hyperparameters.CopyFrom(
            structs.get(value.id, "hyperparameters", value.original_config, value.hyperparameters_json)
        )
    else:
        message.config.CopyFrom(struct(value.config))
        message.hyperparameters.CopyFrom(struct(value.hyperparameters))
    if value.end_time is not None:
        set_timestamp(message.end_time, value.end_time)
        message.duration = max(0, int((value.end_time - value.start_time).total_seconds()))
    if value.parent_id is not None:
        message.forked_from.SetInParent()
        message.forked_from.value = value.parent_id
    if value.progress is not None:
        message.progress.SetInParent()
        message.progress.value = value.progress
    if value.best_searcher_metric is not None:
        message.best_trial_searcher_metric = value.best_searcher_metric
    if value.model_definition_size is not None:
        message.model_definition_size = value.model_definition_size


def experiment(
    value: models.Experiment, *, in_list: bool = False, structs: StructCache | None = None
) -> experiment_pb2.Experiment:
    """The proto form of an experiment; ``in_list`` applies Determined's list-response trimming.

    ``structs`` (optional) reuses the ``Struct`` forms of the configuration and hyperparameters.
    """
    message = experiment_pb2.Experiment(**_experiment_scalars(value, in_list))
    _fill_experiment(message, value, structs)
    return message


def experiment_into(
    target: experiment_pb2.Experiment,
    value: models.Experiment,
    *,
    in_list: bool = False,
    structs: StructCache | None = None,
) -> experiment_pb2.Experiment:
    """Like ``experiment``, but written into ``target`` (a sub-message of a response) and returned."""
    target.SetInParent()
    target.MergeFrom(experiment_pb2.Experiment(**_experiment_scalars(value, in_list)))
    _fill_experiment(target, value, structs)
    return target


def add_experiment(
    container: Any, value: models.Experiment, *, in_list: bool = False, structs: StructCache | None = None
) -> experiment_pb2.Experiment:
    """Like ``experiment``, but built directly as a new element of a repeated field (``container``).

    A listing of a hundred experiments would otherwise build each message and then copy it, whole,
    into the response.
    """
    message: experiment_pb2.Experiment = container.add(**_experiment_scalars(value, in_list))
    _fill_experiment(message, value, structs)
    return message


def trim_page(response: Any, max_bytes: int) -> int:
    """End a listing page early once its items pass ``max_bytes`` (protobuf bytes); returns the count kept.

    ``response`` has a repeated ``experiments`` field and a ``pagination``; the first item is always
    kept, and ``pagination.end_index`` is moved back to the last item kept, so a client that pages
    on ``endIndex`` (as Determined's ``read_paginated`` does) fetches the rest next. The common case
    costs one size computation of the whole response.
    """
    items = response.experiments
    if response.ByteSize() <= max_bytes:
        return len(items)
    used = 0
    keep = len(items)
    for i, item in enumerate(items):
        used += item.ByteSize()
        if used > max_bytes and i > 0:
            keep = i
            break
    del items[keep:]
    response.pagination.end_index = response.pagination.start_index + keep
    return keep


def log_level(levelno: int) -> log_pb2.LogLevel.ValueType:
    """Map a ``logging`` level number onto Determined's LogLevel (below DEBUG is TRACE)."""
    if levelno >= 50:
        return log_pb2.LOG_LEVEL_CRITICAL
    if levelno >= 40:
        return log_pb2.LOG_LEVEL_ERROR
    if levelno >= 30:
        return log_pb2.LOG_LEVEL_WARNING
    if levelno >= 20:
        return log_pb2.LOG_LEVEL_INFO
    if levelno >= 10:
        return log_pb2.LOG_LEVEL_DEBUG
    return log_pb2.LOG_LEVEL_TRACE


def log_entry(entry: LogRecordEntry) -> log_pb2.LogEntry:
    return log_pb2.LogEntry(
        id=entry.id, message=entry.message, timestamp=timestamp(entry.timestamp), level=log_level(entry.level)
    )
