"""The REST transport: client-side transcoding checked against ``google.api_core.path_template.transcode``
on every Determined rule, round trips through a real gateway (kitchen service), response_body, server
streams and errors."""

from __future__ import annotations

import copy
import urllib.parse
from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.api_core import path_template
from google.protobuf import any_pb2, empty_pb2, wrappers_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.rpc import error_details_pb2
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from protogw.clients import errors
from protogw.clients.rest import NO_BODY, RestTransport, TranscodeError, binding_for, transcode
from protogw.core.codec import JsonOptions, codec_for
from protogw.gen.determined.api.v1 import api_pb2, auth_pb2, experiment_pb2, master_pb2, user_pb2
from protogw.gen.determined.common.v1 import common_pb2
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2
from protogw.gen.determined.user.v1 import user_pb2 as userv1_pb2
from tests.clients.kitchen import ECHOES, METHODS, STREAMS, check_server_stream, kitchen_env
from tests.gateway.conftest import GatewayEnv
from tests.gen.kitchen.v1 import kitchen_pb2 as pb

DETERMINED = api_pb2.DESCRIPTOR.services_by_name["Determined"].methods_by_name
SPARSE = JsonOptions(emit_unpopulated=False, unset_message_as_null=False)


def _filtered() -> experiment_pb2.GetExperimentsRequest:
    request = experiment_pb2.GetExperimentsRequest(
        limit=5, offset=2, states=[experimentv1_pb2.STATE_ACTIVE, experimentv1_pb2.STATE_PAUSED], labels=["a", "b"]
    )
    request.archived.CopyFrom(wrappers_pb2.BoolValue(value=False))
    request.experiment_id_filter.CopyFrom(common_pb2.Int32FieldFilter(gt=3, incl=[4, 5]))
    request.sort_by = experiment_pb2.GetExperimentsRequest.SORT_BY_NAME
    return request


def _patch() -> experiment_pb2.PatchExperimentRequest:
    patch = experimentv1_pb2.PatchExperiment(id=12)
    patch.name.value = "new"
    patch.labels.extend(["x", "y"])
    return experiment_pb2.PatchExperimentRequest(experiment=patch)


# One request for every Determined method, with the fields each rule puts in the path, body and query.
DETERMINED_REQUESTS: list[tuple[str, Message]] = [
    ("Login", auth_pb2.LoginRequest(username="u", password="p", is_hashed=True)),
    ("CurrentUser", auth_pb2.CurrentUserRequest()),
    ("Logout", auth_pb2.LogoutRequest()),
    ("GetMe", user_pb2.GetMeRequest()),
    ("GetUsers", user_pb2.GetUsersRequest(name="a", limit=3, active=True)),
    ("GetUser", user_pb2.GetUserRequest(user_id=4)),
    ("GetUserByUsername", user_pb2.GetUserByUsernameRequest(username="some one")),
    ("PostUser", user_pb2.PostUserRequest(user=userv1_pb2.User(username="n", admin=True), password="x")),
    ("SetUserPassword", user_pb2.SetUserPasswordRequest(user_id=4, password="pw")),
    ("PatchUser", user_pb2.PatchUserRequest(user_id=4, user=userv1_pb2.PatchUser(display_name="D"))),
    ("GetMaster", master_pb2.GetMasterRequest()),
    ("MasterLogs", master_pb2.MasterLogsRequest(offset=-3, limit=2, follow=True)),
    ("GetExperiments", _filtered()),
    ("GetExperiment", experiment_pb2.GetExperimentRequest(experiment_id=7)),
    ("CreateExperiment", experiment_pb2.CreateExperimentRequest(config="name: x", activate=True)),
    ("PatchExperiment", _patch()),
    ("DeleteExperiment", experiment_pb2.DeleteExperimentRequest(experiment_id=7)),
    ("ArchiveExperiment", experiment_pb2.ArchiveExperimentRequest(id=7)),
    ("UnarchiveExperiment", experiment_pb2.UnarchiveExperimentRequest(id=7)),
    ("ActivateExperiment", experiment_pb2.ActivateExperimentRequest(id=7)),
    ("PauseExperiment", experiment_pb2.PauseExperimentRequest(id=7)),
    ("CancelExperiment", experiment_pb2.CancelExperimentRequest(id=7)),
    ("KillExperiment", experiment_pb2.KillExperimentRequest(id=7)),
    ("GetExperimentLabels", experiment_pb2.GetExperimentLabelsRequest(project_id=2)),
    ("PutExperimentLabel", experiment_pb2.PutExperimentLabelRequest(experiment_id=7, label="l")),
    ("DeleteExperimentLabel", experiment_pb2.DeleteExperimentLabelRequest(experiment_id=7, label="l")),
]


def test_every_determined_method_is_in_the_table() -> None:
    assert {name for name, _ in DETERMINED_REQUESTS} == set(DETERMINED)


def _query_of(descriptor: Any, message: Message | None) -> list[tuple[str, str]]:
    """api_core leaves the query as a message; write it the way a query string carries it."""
    if message is None:
        return []
    binding_request = type(message)
    assert binding_request.DESCRIPTOR.full_name == descriptor.full_name
    # Route through transcode itself would be circular; build the pairs from the JSON directly.
    pairs: list[tuple[str, str]] = []

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(f"{prefix}.{key}" if prefix else key, item)
        elif isinstance(value, list):
            for item in value:
                walk(prefix, item)
        else:
            pairs.append((prefix, "true" if value is True else "false" if value is False else str(value)))

    walk("", codec_for(descriptor, SPARSE).encode(message))
    return pairs


def _oracle(method: MethodDescriptor, request: Message) -> dict[str, Any]:
    binding = binding_for(method)
    option = {"method": binding.http_method.lower(), "uri": binding.template.source}
    if binding.body_text:
        option["body"] = binding.body_text
    result: dict[str, Any] = path_template.transcode([option], message=copy.deepcopy(request))  # type: ignore[no-untyped-call]
    return result


def _check_against_oracle(method: MethodDescriptor, request: Message) -> None:
    call = transcode(binding_for(method), request)
    expected = _oracle(method, request)
    assert call.verb.lower() == expected["method"]
    assert call.path == expected["uri"]
    assert sorted(call.query) == sorted(_query_of(request.DESCRIPTOR, expected["query_params"]))
    if "body" not in expected:
        assert call.body is NO_BODY
        return
    body = expected["body"]
    if isinstance(body, Message):
        # The body message as JSON: what we send must decode to the same message.
        assert codec_for(body.DESCRIPTOR).decode(call.body) == body
    else:
        assert call.body == body


@pytest.mark.parametrize(("name", "request_message"), DETERMINED_REQUESTS, ids=[n for n, _ in DETERMINED_REQUESTS])
def test_determined_rules_match_api_core(name: str, request_message: Message) -> None:
    _check_against_oracle(DETERMINED[name], request_message)


_ids = st.integers(min_value=1, max_value=2**31 - 1)
# api_core keeps "/" in values unescaped; everything else it escapes as we do.
_labels = st.text(st.characters(codec="utf-8", exclude_characters="/"), min_size=1, max_size=20)


@settings(max_examples=60, deadline=None)
@given(experiment_id=_ids, label=_labels, limit=st.integers(-2, 1000), archived=st.booleans() | st.none())
def test_property_matches_api_core(experiment_id: int, label: str, limit: int, archived: bool | None) -> None:
    # Dot segments are escaped here (URL normalisation would drop them), api_core sends them as is.
    assume(label not in (".", ".."))
    _check_against_oracle(
        DETERMINED["PutExperimentLabel"],
        experiment_pb2.PutExperimentLabelRequest(experiment_id=experiment_id, label=label),
    )
    _check_against_oracle(DETERMINED["ArchiveExperiment"], experiment_pb2.ArchiveExperimentRequest(id=experiment_id))
    listing = experiment_pb2.GetExperimentsRequest(limit=limit, labels=[label])
    if archived is not None:
        listing.archived.value = archived
    _check_against_oracle(DETERMINED["GetExperiments"], listing)


@settings(max_examples=60, deadline=None)
@given(label=st.text(st.characters(codec="utf-8"), min_size=1, max_size=20))
def test_path_values_round_trip(label: str) -> None:
    # Any text, "/" included, stays inside its one segment and decodes back to itself.
    call = transcode(
        binding_for(DETERMINED["DeleteExperimentLabel"]),
        experiment_pb2.DeleteExperimentLabelRequest(experiment_id=1, label=label),
    )
    prefix = "/api/v1/experiments/1/labels/"
    assert call.path.startswith(prefix)
    segment = call.path.removeprefix(prefix)
    assert "/" not in segment
    assert urllib.parse.unquote(segment) == label


# Requests that cannot be written as their HTTP call.
UNWRITABLE: list[tuple[MethodDescriptor, Message, str]] = [
    (DETERMINED["GetUserByUsername"], user_pb2.GetUserByUsernameRequest(), "'username' is empty"),
    (DETERMINED["PutExperimentLabel"], experiment_pb2.PutExperimentLabelRequest(experiment_id=1), "'label' is empty"),
    (METHODS["GetThingByName"], pb.GetThingByNameRequest(name="projects/p/other/t"), "does not match"),
    (METHODS["GetThingByName"], pb.GetThingByNameRequest(name="projects//things/t"), "does not match"),
    (METHODS["GetFile"], pb.GetFileRequest(path="a?b/c"), "cannot be sent"),
    (METHODS["GetFile"], pb.GetFileRequest(path="a/b#c"), "cannot be sent"),
    (METHODS["EchoQuery"], pb.Everything(repeated_nested=[pb.Nested(name="a")]), "repeated messages"),
    (METHODS["EchoQuery"], pb.Everything(int_map={1: pb.Nested()}), "map of messages"),
    (METHODS["GetThing"], experiment_pb2.GetExperimentRequest(), "takes kitchen.v1.GetThingRequest"),
]


@pytest.mark.parametrize(("method", "request_message", "message"), UNWRITABLE)
def test_unwritable_requests(method: MethodDescriptor, request_message: Message, message: str) -> None:
    with pytest.raises(TranscodeError, match=message):
        transcode(binding_for(method), request_message)


# Paths of the kitchen rules, which use multi-segment variables, verbs and zero path values.
KITCHEN_PATHS: list[tuple[str, Message, str]] = [
    ("GetThing", pb.GetThingRequest(id=0), "/v1/things/0"),
    ("GetThingByName", pb.GetThingByNameRequest(name="projects/p 1/things/t"), "/v1/projects/p%201/things/t"),
    ("GetFile", pb.GetFileRequest(path="a/b c/d.txt"), "/v1/files/a/b%20c/d.txt"),
    ("GetFile", pb.GetFileRequest(path="a:b/@+"), "/v1/files/a:b/@+"),
    ("GetFileContent", pb.GetFileRequest(path="x/y"), "/v1/content/x/y:raw"),
    ("ArchiveThing", pb.ArchiveThingRequest(id=5), "/v1/things/5:archive"),
]


@pytest.mark.parametrize(("method", "request_message", "path"), KITCHEN_PATHS)
def test_kitchen_paths(method: str, request_message: Message, path: str) -> None:
    assert transcode(binding_for(METHODS[method]), request_message).path == path


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[GatewayEnv]:
    async for running in kitchen_env():
        yield running


@pytest.fixture
def rest(env: GatewayEnv) -> RestTransport:
    return RestTransport(env.client)


@pytest.mark.parametrize(("method", "request_message"), [pytest.param(m, r, id=n) for n, m, r in ECHOES])
async def test_round_trip_through_gateway(rest: RestTransport, method: str, request_message: Message) -> None:
    assert await rest.unary(METHODS[method], request_message) == request_message


# Awkward path values: each must reach the service exactly as sent, in a one-segment variable ({s})
# and in a multi-segment one ({path=**}).
PATH_TEXTS = ["a b", "a/b", "a:b@c", "!$&'()*+,;=", "%41", "100%", "ü/é", "..", "x.y~z_-", "?#[]"]


@pytest.mark.parametrize("text", PATH_TEXTS)
async def test_path_values_reach_the_service(rest: RestTransport, text: str) -> None:
    echoed = await rest.unary(METHODS["EchoPath"], pb.EchoPathRequest(s=text, nested=pb.Nested(name="n")))
    assert isinstance(echoed, pb.EchoPathRequest)
    assert echoed.s == text
    if set(text) & set("?#[]"):
        return  # not sendable in a multi-segment variable (see test_unwritable_requests)
    got = await rest.unary(METHODS["GetFile"], pb.GetFileRequest(path=f"dir/{text}"))
    assert isinstance(got, pb.File)
    assert got.path == f"dir/{text}"


async def test_response_body(rest: RestTransport) -> None:
    got = await rest.unary(METHODS["GetFileContent"], pb.GetFileRequest(path="a/b"))
    # Only the content field comes over REST: the rule's response_body.
    assert got == pb.File(content=b"content of a/b")


@pytest.mark.parametrize(("count", "code", "seqs", "error"), STREAMS)
async def test_server_stream(
    rest: RestTransport, count: int, code: int, seqs: list[int], error: type[errors.ApiError] | None
) -> None:
    await check_server_stream(rest, count, code, seqs, error)


@pytest.mark.parametrize("code", range(1, 17))
async def test_every_code_over_rest(rest: RestTransport, code: int) -> None:
    cls = errors.error_class_for_grpc(code)
    with pytest.raises(errors.ApiError) as caught:
        await rest.unary(METHODS["Fail"], pb.FailRequest(code=code, message=f"failure {code}"))
    assert type(caught.value) is cls
    assert caught.value.message == f"failure {code}"
    assert caught.value.response_status == cls.http_status


# (metadata, deadline) -> what the service saw: the metadata it got and whether it had a deadline.
METADATA: list[tuple[list[tuple[str, str]], float | None, dict[str, str], bool]] = [
    ([], None, {}, False),
    ([("authorization", "Bearer t0k")], None, {"authorization": "Bearer t0k"}, False),
    ([("x-custom", "v1"), ("X-Other", "v2")], 30.0, {"x-custom": "v1", "x-other": "v2"}, True),
]


@pytest.mark.parametrize(("metadata", "deadline", "seen", "has_deadline"), METADATA)
async def test_metadata_and_deadline(
    rest: RestTransport,
    metadata: list[tuple[str, str]],
    deadline: float | None,
    seen: dict[str, str],
    has_deadline: bool,
) -> None:
    got = await rest.unary(METHODS["EchoMetadata"], empty_pb2.Empty(), metadata=metadata, deadline=deadline)
    assert isinstance(got, pb.MetadataEcho)
    assert {k: v for k, v in got.metadata.items() if k in seen} == seen
    assert got.has_deadline is has_deadline


async def test_deadline_exceeded(rest: RestTransport) -> None:
    request = pb.WatchThingsRequest(count=3, interval_ms=2000)
    with pytest.raises(errors.DeadlineExceeded):
        async for _ in rest.server_stream(METHODS["WatchThings"], request, deadline=0.2):
            pass


async def test_unknown_route(rest: RestTransport) -> None:
    # The kitchen gateway has no Determined routes: the gateway's own 404 maps to NotFound.
    with pytest.raises(errors.NotFound):
        await rest.unary(DETERMINED["GetMaster"], master_pb2.GetMasterRequest())


async def test_status_details(rest: RestTransport) -> None:
    # The kitchen service sends a BadRequest detail with INVALID_ARGUMENT; it arrives as the same Any.
    with pytest.raises(errors.InvalidArgument) as caught:
        await rest.unary(METHODS["Fail"], pb.FailRequest(code=3, message="bad code"))
    (detail,) = caught.value.details
    assert isinstance(detail, any_pb2.Any)
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [("code", "bad code")]
