"""Store values to Determined messages and back."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import orjson
import pytest

from protogw.gen.determined.experiment.v1 import experiment_pb2
from protogw.gen.determined.log.v1 import log_pb2
from protogw.gen.determined.user.v1 import user_pb2
from protogw.server import convert
from protogw.server.storage import models

NOW = datetime(2026, 1, 2, 3, 4, 5, 600000, tzinfo=UTC)

# (value, JSON-safe form)
JSONABLE: list[tuple[Any, Any]] = [
    ({"a": 1, "b": [1.5, None, True, "x"]}, {"a": 1, "b": [1.5, None, True, "x"]}),
    ({1: "int key", None: "none key"}, {"1": "int key", "None": "none key"}),
    ({"when": date(2024, 5, 6), "at": NOW}, {"when": "2024-05-06", "at": "2026-01-02T03:04:05.600000+00:00"}),
    ([math.inf, -math.inf, math.nan], ["inf", "-inf", "nan"]),
    ((1, 2), [1, 2]),
    (b"bytes", "bytes"),
]


@pytest.mark.parametrize(("value", "expected"), JSONABLE)
def test_jsonable(value: Any, expected: Any) -> None:
    assert convert.jsonable(value) == expected


# (logging level number, LogLevel)
LEVELS = [
    (5, log_pb2.LOG_LEVEL_TRACE),
    (10, log_pb2.LOG_LEVEL_DEBUG),
    (20, log_pb2.LOG_LEVEL_INFO),
    (25, log_pb2.LOG_LEVEL_INFO),
    (30, log_pb2.LOG_LEVEL_WARNING),
    (40, log_pb2.LOG_LEVEL_ERROR),
    (50, log_pb2.LOG_LEVEL_CRITICAL),
]


@pytest.mark.parametrize(("levelno", "expected"), LEVELS)
def test_log_level(levelno: int, expected: int) -> None:
    assert convert.log_level(levelno) == expected


@pytest.mark.parametrize("state", list(models.ExperimentState))
def test_state_round_trip(state: models.ExperimentState) -> None:
    assert convert.state_from_proto(convert.state(state)) is state


@pytest.mark.parametrize("number", [0, 99, -1])
def test_state_from_proto_rejects(number: int) -> None:
    with pytest.raises(ValueError):
        convert.state_from_proto(number)


def user(**overrides: Any) -> models.User:
    fields: dict[str, Any] = {
        "id": 7, "username": "ann", "display_name": None, "admin": False, "active": True, "remote": False,
        "modified_at": NOW, "last_auth_at": None, "agent_user_group": None, "password_hash": None,
    }  # fmt: skip
    fields.update(overrides)
    return models.User(**fields)


USERS = [
    (user(), user_pb2.User(id=7, username="ann", active=True, modified_at=convert.timestamp(NOW))),
    (
        user(display_name="Ann", last_auth_at=NOW, agent_user_group=models.AgentUserGroup(uid=1, group="g")),
        user_pb2.User(
            id=7,
            username="ann",
            active=True,
            display_name="Ann",
            modified_at=convert.timestamp(NOW),
            last_auth_at=convert.timestamp(NOW),
            agent_user_group=user_pb2.AgentUserGroup(agent_uid=1, agent_group="g"),
        ),
    ),
    (
        user(agent_user_group=models.AgentUserGroup()),
        user_pb2.User(id=7, username="ann", active=True, modified_at=convert.timestamp(NOW)),
    ),
]


@pytest.mark.parametrize(("value", "expected"), USERS)
def test_user(value: models.User, expected: user_pb2.User) -> None:
    assert convert.user(value) == expected


def experiment(**overrides: Any) -> models.Experiment:
    fields: dict[str, Any] = {
        "id": 3, "name": "e", "description": "", "state": models.ExperimentState.ACTIVE, "archived": False,
        "start_time": NOW, "end_time": None, "user_id": 2, "username": "determined", "display_name": "determined",
        "project_id": 1, "project_name": "Uncategorized", "project_owner_id": 1, "workspace_id": 1,
        "workspace_name": "Uncategorized", "parent_archived": False, "parent_id": None, "notes": "", "config_json": "{}",
        "original_config": "name: e", "hyperparameters_json": "{}", "searcher_type": "", "searcher_metric": "",
        "resource_pool": "", "num_trials": 0, "progress": None, "checkpoint_size": 0, "checkpoint_count": 0,
        "best_searcher_metric": None, "job_id": "j", "model_definition_size": None, "labels": [],
    }  # fmt: skip
    fields.update(overrides)
    return models.Experiment(**fields)


# (experiment, in a list?, fields that must be set / have these values)
EXPERIMENTS: list[tuple[models.Experiment, bool, dict[str, Any], list[str]]] = [
    (experiment(), False, {"state": experiment_pb2.STATE_ACTIVE, "notes": ""}, []),
    (experiment(notes="long notes"), True, {"notes": "omitted"}, []),
    (experiment(notes="long notes"), False, {"notes": "long notes"}, []),
    (experiment(end_time=NOW + timedelta(seconds=90), state=models.ExperimentState.COMPLETED), False,
     {"duration": 90, "state": experiment_pb2.STATE_COMPLETED}, ["end_time", "duration"]),
    (experiment(parent_id=2, progress=0.5, best_searcher_metric=0.1, model_definition_size=10), False,
     {"best_trial_searcher_metric": 0.1, "model_definition_size": 10},
     ["forked_from", "progress", "best_trial_searcher_metric"]),
]  # fmt: skip


@pytest.mark.parametrize(("value", "in_list", "values", "present"), EXPERIMENTS)
def test_experiment(value: models.Experiment, in_list: bool, values: dict[str, Any], present: list[str]) -> None:
    message = convert.experiment(value, in_list=in_list)
    for key, expected in values.items():
        assert getattr(message, key) == expected
    for key in ("end_time", "forked_from", "progress", "best_trial_searcher_metric", "duration"):
        assert cast(Any, message).HasField(key) is (key in present)
    assert message.HasField("config")
    assert message.HasField("start_time")


# (lookups as (id, source, value), expected number of distinct Struct objects built)
STRUCT_CACHE = [
    ([(1, "a: 1", {"a": 1}), (1, "a: 1", {"a": 1})], 1),
    ([(1, "a: 1", {"a": 1}), (1, "a: 2", {"a": 2})], 2),
    ([(1, "a: 1", {"a": 1}), (2, "a: 1", {"a": 1})], 2),
    # size 2: the third entry evicts the first, which is then rebuilt
    ([(1, "x", {"x": 1}), (2, "x", {"x": 2}), (3, "x", {"x": 3}), (1, "x", {"x": 1})], 4),
]


@pytest.mark.parametrize(("lookups", "built"), STRUCT_CACHE)
def test_struct_cache(lookups: list[tuple[int, str, dict[str, Any]]], built: int) -> None:
    cache = convert.StructCache(size=2)
    seen: list[Any] = []  # holding the objects keeps their ids from being reused
    for experiment_id, source, value in lookups:
        result = cache.get(experiment_id, "config", source, orjson.dumps(value).decode())
        assert dict(result) == value
        seen.append(result)
    assert len({id(r) for r in seen}) == built


def test_experiment_with_struct_cache_matches_without() -> None:
    value = experiment(config_json='{"name": "e", "hp": {"lr": 0.1}}', hyperparameters_json='{"lr": 0.1}')
    cache = convert.StructCache()
    assert convert.experiment(value, structs=cache) == convert.experiment(value)
    assert convert.experiment(value, structs=cache) == convert.experiment(value)
