"""The storage value types (protogw.server.storage.models): enums against the protos, state rules."""

from __future__ import annotations

import enum
from typing import Any

import pytest

from protogw.gen.determined.api.v1 import experiment_pb2 as api_experiment
from protogw.gen.determined.api.v1 import pagination_pb2, user_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2
from protogw.server.storage.models import (
    TERMINAL_STATES,
    TRANSITIONS,
    ExperimentSortBy,
    ExperimentState,
    OrderBy,
    UserSortBy,
    sources_of,
)

# (our enum, the generated proto enum, the prefix the proto puts on each name)
ENUM_PAIRS: list[Any] = [
    pytest.param(ExperimentSortBy, api_experiment.GetExperimentsRequest.SortBy, "SORT_BY_", id="experiment-sort"),
    pytest.param(UserSortBy, user_pb2.GetUsersRequest.SortBy, "SORT_BY_", id="user-sort"),
    pytest.param(OrderBy, pagination_pb2.OrderBy, "ORDER_BY_", id="order-by"),
]


@pytest.mark.parametrize(("ours", "proto", "prefix"), ENUM_PAIRS)
def test_int_enums_match_the_protos(ours: type[enum.IntEnum], proto: Any, prefix: str) -> None:
    # The servicer converts with ``Ours(request.field)``: names and numbers must agree exactly.
    assert {m.name: m.value for m in ours} == {k.removeprefix(prefix): v for k, v in proto.items()}


def test_states_are_the_proto_names_without_prefix() -> None:
    proto = {k.removeprefix("STATE_") for k, v in experiment_pb2.State.items() if v != 0}
    assert {s.value for s in ExperimentState} == proto


SOURCES = [
    pytest.param(ExperimentState.PAUSED, {"ACTIVE", "PAUSED"}, id="pause"),
    pytest.param(ExperimentState.ACTIVE, {"ACTIVE", "PAUSED", "STOPPING_ERROR"}, id="activate"),
    pytest.param(ExperimentState.STOPPING_CANCELED, {"ACTIVE", "PAUSED", "STOPPING_CANCELED"}, id="cancel"),
    pytest.param(
        ExperimentState.STOPPING_KILLED,
        {"ACTIVE", "PAUSED", "STOPPING_CANCELED", "STOPPING_KILLED"},
        id="kill",
    ),
    pytest.param(ExperimentState.CANCELED, {"STOPPING_CANCELED", "STOPPING_KILLED", "CANCELED"}, id="canceled"),
    pytest.param(
        ExperimentState.DELETING, {"COMPLETED", "CANCELED", "ERROR", "DELETE_FAILED", "DELETING"}, id="delete"
    ),
    pytest.param(ExperimentState.RUNNING, {"RUNNING"}, id="enriched-state-only-itself"),
]


@pytest.mark.parametrize(("target", "expected"), SOURCES)
def test_sources_of(target: ExperimentState, expected: set[str]) -> None:
    assert {s.value for s in sources_of(target)} == expected


@pytest.mark.parametrize("state", list(ExperimentState))
def test_terminal_flag_and_transitions_are_consistent(state: ExperimentState) -> None:
    assert state.terminal == (state in {ExperimentState.COMPLETED, ExperimentState.CANCELED, ExperimentState.ERROR})
    # Terminal states only lead on to deletion; nothing leads back into ACTIVE from them.
    if state in TERMINAL_STATES:
        assert TRANSITIONS[state] == {ExperimentState.DELETING}
    assert state not in TRANSITIONS.get(state, frozenset())
