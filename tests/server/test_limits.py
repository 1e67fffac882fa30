"""protogw.server.limits end to end: every client mistake of the reliability probe is a 400 naming
the field (and the limit), over gRPC and over REST through both gateway backends, on SQLite and on
PostgreSQL; and a GetExperiments page keeps to its byte budget.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from google.protobuf.message import Message

from protogw.clients.errors import ApiError
from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport
from protogw.clients.transport import Transport
from protogw.gen.determined.api.v1 import api_pb2
from protogw.gen.determined.api.v1 import experiment_pb2 as exp_api
from protogw.gen.determined.api.v1 import user_pb2 as user_api
from protogw.gen.determined.common.v1 import common_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as exp_model
from protogw.gen.determined.user.v1 import user_pb2 as user_model
from protogw.server.limits import DEFAULT_LIMITS, MIB
from tests.server.harness import running
from tests.support.rest_backends import gateway_for, serve_asgi

METHODS = api_pb2.DESCRIPTOR.services_by_name["Determined"].methods_by_name
L = DEFAULT_LIMITS
TRANSPORTS = ["grpc", "rest-in-process", "rest-proxy"]


@dataclass
class World:
    """One service (on one database) reachable three ways, with the rows the table refers to."""

    transports: dict[str, Transport]
    admin_token: str
    user_token: str
    experiment_id: int
    full_experiment_id: int
    user_id: int


@pytest.fixture(scope="module")
async def world(module_database_url: str) -> AsyncIterator[World]:
    async with running(module_database_url) as api, contextlib.AsyncExitStack() as stack:
        urls = {
            kind: await stack.enter_async_context(serve_asgi(gateway_for(kind, api)))
            for kind in ("in-process", "proxy")
        }
        transports: dict[str, Transport] = {
            "grpc": GrpcTransport(api.channel),
            "rest-in-process": RestTransport(base_url=urls["in-process"]),
            "rest-proxy": RestTransport(base_url=urls["proxy"]),
        }
        for transport in transports.values():
            stack.push_async_callback(transport.close)
        md = await api.login("determined")
        admin_md = await api.login("admin")
        created = await api.create_experiment(md, config="name: target\n")
        full_labels = "".join(f"\n  - l{i}" for i in range(L.max_labels))
        full = await api.create_experiment(md, config=f"name: full\nlabels:{full_labels}\n")
        user_id, _ = await api.new_user(admin_md)
        yield World(
            transports,
            admin_token=admin_md[0][1].removeprefix("Bearer "),
            user_token=md[0][1].removeprefix("Bearer "),
            experiment_id=created.experiment.id,
            full_experiment_id=full.experiment.id,
            user_id=user_id,
        )


# -- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Mistake:
    """A request a careless client sends, and the 400 it gets: the message contains ``fragment``."""

    rpc: str
    request: Callable[[World], Message]
    fragment: str
    admin: bool = False
    #: Only over gRPC: inputs too large to send as one URL (the REST rows use the limit plus one).
    grpc_only: bool = False


def create(config: str, **fields: Any) -> Callable[[World], Message]:
    return lambda w: exp_api.CreateExperimentRequest(config=config, **fields)


def patch(**fields: Any) -> Callable[[World], Message]:
    def build(w: World) -> Message:
        message = exp_model.PatchExperiment(id=w.experiment_id)
        for name, value in fields.items():
            if name == "labels":
                message.labels.CopyFrom(struct_pb2.ListValue(values=[struct_pb2.Value(string_value=v) for v in value]))
            else:
                getattr(message, name).value = value
        return exp_api.PatchExperimentRequest(experiment=message)

    return build


def listing(**fields: Any) -> Callable[[World], Message]:
    return lambda w: exp_api.GetExperimentsRequest(**fields)


def ids(**fields: Any) -> Callable[[World], Message]:
    return lambda w: exp_api.GetExperimentsRequest(experiment_id_filter=common_pb2.Int32FieldFilter(**fields))


BIG_INT = "9" * 5000  # Python refuses to read more than 4,300 digits
HUGE_INT = "1" + "0" * 400  # readable, but beyond every database's integers (and a double's range)
UNDERSCORES = "_" * 25_000  # SQLite: "LIKE or GLOB pattern too complex" once escaped
OVER = L.max_filter_values + 1
MANY = 40_000  # past PostgreSQL's 32,767 bind parameters and SQLite's 32,766 variables
TOO_LONG_CONFIG = "name: big\nblob: '" + "x" * L.max_config_bytes + "'\n"
CONFIG_LIMIT = f"over the limit of {L.max_config_bytes} bytes"
FILTER_LIMIT = f"over the limit of {L.max_filter_values}"
NUL_NAME = 'name: "a\\0b"\n'  # YAML's escape: the parsed name holds a NUL character

MISTAKES = {
    # -- experiment configuration, on create and on validateOnly alike ------------------------------
    "config-too-large": Mistake("CreateExperiment", create(TOO_LONG_CONFIG), CONFIG_LIMIT),
    "config-too-large-validate-only": Mistake("CreateExperiment", create(TOO_LONG_CONFIG, validate_only=True), CONFIG_LIMIT),
    "config-5000-digit-int": Mistake("CreateExperiment", create(f"name: n\nx: {BIG_INT}\n"), "invalid experiment configuration"),
    "config-5000-digit-int-validate-only": Mistake(
        "CreateExperiment", create(f"name: n\nx: {BIG_INT}\n", validate_only=True), "invalid experiment configuration"
    ),
    "config-huge-int": Mistake("CreateExperiment", create(f"name: n\nx: {HUGE_INT}\n"), "config holds an integer beyond 64 bits"),
    "config-huge-int-validate-only": Mistake(
        "CreateExperiment", create(f"name: n\nhyperparameters: {{lr: {HUGE_INT}}}\n", validate_only=True),
        "config holds an integer beyond 64 bits",
    ),
    "nul-name-validate-only": Mistake("CreateExperiment", create(NUL_NAME, validate_only=True), "name must not contain NUL"),
    "nul-name": Mistake("CreateExperiment", create(NUL_NAME), "name must not contain NUL"),
    "nul-in-config-validate-only": Mistake(
        "CreateExperiment", create('name: ok\nx: ["\\0"]\n', validate_only=True), "config must not contain NUL"
    ),
    "name-too-long": Mistake(
        "CreateExperiment", create(f"name: {'n' * (L.max_experiment_name + 1)}\n"),
        f"`name` must be at most {L.max_experiment_name} characters",
    ),
    "description-too-long-validate-only": Mistake(
        "CreateExperiment", create(f"name: d\ndescription: {'d' * (L.max_description + 1)}\n", validate_only=True),
        f"`description` must be at most {L.max_description} characters",
    ),
    "too-many-labels": Mistake(
        "CreateExperiment", create("name: l\nlabels: [" + ", ".join(f"l{i}" for i in range(L.max_labels + 1)) + "]\n"),
        f"at most {L.max_labels} labels",
    ),
    "label-too-long": Mistake(
        "CreateExperiment", create(f"name: l\nlabels: [{'l' * (L.max_label + 1)}]\n"),
        f"a label must be at most {L.max_label} characters",
    ),
    # -- patching ----------------------------------------------------------------------------------
    "patch-description-too-long": Mistake(
        "PatchExperiment", patch(description="d" * (L.max_description + 1)),
        f"`description` must be at most {L.max_description} characters",
    ),
    "patch-notes-too-long": Mistake(
        "PatchExperiment", patch(notes="n" * (L.max_notes + 1)), f"`notes` must be at most {L.max_notes} characters"
    ),
    "patch-name-too-long": Mistake(
        "PatchExperiment", patch(name="n" * (L.max_experiment_name + 1)),
        f"`name` must be at most {L.max_experiment_name} characters",
    ),
    "patch-too-many-labels": Mistake(
        "PatchExperiment", patch(labels=[f"l{i}" for i in range(L.max_labels + 1)]), f"at most {L.max_labels} labels"
    ),
    "put-label-past-the-count": Mistake(
        "PutExperimentLabel", lambda w: exp_api.PutExperimentLabelRequest(experiment_id=w.full_experiment_id, label="one-more"),
        f"at most {L.max_labels} labels, got {L.max_labels + 1}",
    ),
    "put-label-too-long": Mistake(
        "PutExperimentLabel",
        lambda w: exp_api.PutExperimentLabelRequest(experiment_id=w.experiment_id, label="l" * (L.max_label + 1)),
        f"a label must be at most {L.max_label} characters",
    ),
    # -- listing filters ---------------------------------------------------------------------------
    "name-filter-underscores": Mistake(
        "GetExperiments", listing(name=UNDERSCORES), f"the `name` filter must be at most {L.max_filter_length} characters"
    ),
    "description-filter-underscores": Mistake(
        "GetExperiments", listing(description=UNDERSCORES),
        f"the `description` filter must be at most {L.max_filter_length} characters",
    ),
    "label-filter-too-long": Mistake("GetExperiments", listing(labels=[UNDERSCORES]), "the `labels` filter must be at most"),
    "too-many-labels-filter": Mistake("GetExperiments", listing(labels=[f"l{i}" for i in range(OVER)]), FILTER_LIMIT),
    "too-many-users-filter": Mistake("GetExperiments", listing(users=[f"u{i}" for i in range(OVER)]), FILTER_LIMIT),
    "too-many-user-ids-filter": Mistake("GetExperiments", listing(user_ids=list(range(1, OVER + 1))), FILTER_LIMIT),
    "too-many-incl-ids": Mistake("GetExperiments", ids(incl=list(range(1, OVER + 1))), "`experimentIdFilter.incl`"),
    "too-many-not-in-ids": Mistake("GetExperiments", ids(not_in=list(range(1, OVER + 1))), "`experimentIdFilter.notIn`"),
    "bind-limit-labels": Mistake("GetExperiments", listing(labels=[f"l{i}" for i in range(MANY)]), FILTER_LIMIT, grpc_only=True),
    "bind-limit-users": Mistake("GetExperiments", listing(users=[f"u{i}" for i in range(MANY)]), FILTER_LIMIT, grpc_only=True),
    "bind-limit-user-ids": Mistake("GetExperiments", listing(user_ids=list(range(1, MANY + 1))), FILTER_LIMIT, grpc_only=True),
    "bind-limit-ids": Mistake("GetExperiments", ids(incl=list(range(1, MANY + 1))), FILTER_LIMIT, grpc_only=True),
    "limit-below-minus-2": Mistake("GetExperiments", listing(limit=-3), "limit must be -2, -1, 0 or positive"),
    # -- users -------------------------------------------------------------------------------------
    "users-name-filter-underscores": Mistake(
        "GetUsers", lambda w: user_api.GetUsersRequest(name=UNDERSCORES), "the `name` filter must be at most"
    ),
    "post-user-password-too-long": Mistake(
        "PostUser",
        lambda w: user_api.PostUserRequest(
            user=user_model.User(username="long-password", active=True), password="p" * (L.max_password + 1)
        ),
        f"password must be at most {L.max_password} characters",
        admin=True,
    ),
    "set-password-too-long": Mistake(
        "SetUserPassword", lambda w: user_api.SetUserPasswordRequest(user_id=w.user_id, password="p" * (L.max_password + 1)),
        f"password must be at most {L.max_password} characters", admin=True,
    ),
    "username-too-long": Mistake(
        "PostUser", lambda w: user_api.PostUserRequest(user=user_model.User(username="u" * 256, active=True)),
        "must be at most 255 characters", admin=True,
    ),
}  # fmt: skip

CASES = [
    pytest.param(transport, mistake, id=f"{transport}-{name}")
    for name, mistake in MISTAKES.items()
    for transport in TRANSPORTS
    if transport == "grpc" or not mistake.grpc_only
]


@pytest.mark.parametrize(("transport", "mistake"), CASES)
async def test_client_mistakes_are_400(world: World, transport: str, mistake: Mistake) -> None:
    token = world.admin_token if mistake.admin else world.user_token
    with pytest.raises(ApiError) as info:
        await world.transports[transport].unary(
            METHODS[mistake.rpc], mistake.request(world), metadata=(("authorization", f"Bearer {token}"),), deadline=60
        )
    error = info.value
    assert type(error).grpc_status_code == grpc.StatusCode.INVALID_ARGUMENT, repr(error)
    if transport != "grpc":
        assert error.response_status == 400
    assert mistake.fragment in error.message, error.message


async def test_nothing_was_stored_by_the_mistakes(world: World) -> None:
    # validateOnly rows and refused creates alike left no experiment behind.
    response = await world.transports["grpc"].unary(
        METHODS["GetExperiments"],
        exp_api.GetExperimentsRequest(limit=-1),
        metadata=(("authorization", f"Bearer {world.user_token}"),),
    )
    assert isinstance(response, exp_api.GetExperimentsResponse)
    assert sorted(e.name for e in response.experiments) == ["full", "target"]


# -- list pages keep to their byte budget ------------------------------------------------------------

BIG_CONFIG = "name: sized\nlabels: [sized]\nblob: '" + "b" * (L.max_page_bytes // 4 + 16 * 1024) + "'\n"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_page_ends_early_past_its_byte_budget(world: World, transport: str) -> None:
    client = world.transports[transport]
    md = (("authorization", f"Bearer {world.user_token}"),)
    label = f"sized-{transport}"
    for _ in range(2):
        config = BIG_CONFIG.replace("[sized]", f"[{label}]")
        await client.unary(METHODS["CreateExperiment"], exp_api.CreateExperimentRequest(config=config), metadata=md)
    seen: list[int] = []
    offset = 0
    pages = 0
    while True:
        response = await client.unary(
            METHODS["GetExperiments"],
            exp_api.GetExperimentsRequest(labels=[label], offset=offset, limit=10),
            metadata=md,
        )
        assert isinstance(response, exp_api.GetExperimentsResponse)
        pages += 1
        p = response.pagination
        # Each experiment carries its configuration twice (text and Struct): over half the budget.
        assert len(response.experiments) == 1
        assert (p.start_index, p.end_index, p.total) == (offset, offset + 1, 2)
        assert all(e.original_config == config for e in response.experiments)
        seen.extend(e.id for e in response.experiments)
        if p.end_index >= p.total:
            break
        offset = p.end_index
    assert pages == 2
    assert len(set(seen)) == 2
    assert L.max_page_bytes < 4 * MIB  # a page stays under gRPC's default message limit
