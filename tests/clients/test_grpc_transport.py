"""The gRPC transport against a real gRPC server (the gateway tests' kitchen service): echo round trips,
server streams, every status code, metadata and deadlines, and channel ownership."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from google.protobuf import any_pb2, empty_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from protogw.clients import errors
from protogw.clients.grpc_transport import GrpcTransport
from tests.clients.kitchen import ECHOES, METHODS, STREAMS, check_server_stream, kitchen_env
from tests.gateway.conftest import GatewayEnv
from tests.gen.kitchen.v1 import kitchen_pb2 as pb


@pytest.fixture(scope="module")
async def env() -> AsyncIterator[GatewayEnv]:
    async for running in kitchen_env():
        yield running


@pytest.fixture
async def transport(env: GatewayEnv) -> AsyncIterator[GrpcTransport]:
    assert env.grpc_target is not None
    owned = GrpcTransport(target=env.grpc_target)
    yield owned
    await owned.close()


@pytest.mark.parametrize(("method", "request_message"), [pytest.param(m, r, id=n) for n, m, r in ECHOES])
async def test_round_trip(transport: GrpcTransport, method: str, request_message: Message) -> None:
    assert await transport.unary(METHODS[method], request_message) == request_message


@pytest.mark.parametrize(("count", "code", "seqs", "error"), STREAMS)
async def test_server_stream(
    transport: GrpcTransport, count: int, code: int, seqs: list[int], error: type[errors.ApiError] | None
) -> None:
    await check_server_stream(transport, count, code, seqs, error)


@pytest.mark.parametrize("code", range(1, 17))
async def test_every_code(transport: GrpcTransport, code: int) -> None:
    with pytest.raises(errors.ApiError) as caught:
        await transport.unary(METHODS["Fail"], pb.FailRequest(code=code, message=f"failure {code}"))
    assert type(caught.value) is errors.error_class_for_grpc(code)
    assert caught.value.message == f"failure {code}"
    assert caught.value.response_status is None


# (metadata, deadline) -> what the service saw.
METADATA: list[tuple[list[tuple[str, str]], float | None, dict[str, str], bool]] = [
    ([], None, {}, False),
    ([("authorization", "Bearer t0k")], None, {"authorization": "Bearer t0k"}, False),
    ([("x-custom", "v1")], 30.0, {"x-custom": "v1"}, True),
]


@pytest.mark.parametrize(("metadata", "deadline", "seen", "has_deadline"), METADATA)
async def test_metadata_and_deadline(
    transport: GrpcTransport,
    metadata: list[tuple[str, str]],
    deadline: float | None,
    seen: dict[str, str],
    has_deadline: bool,
) -> None:
    got = await transport.unary(METHODS["EchoMetadata"], empty_pb2.Empty(), metadata=metadata, deadline=deadline)
    assert isinstance(got, pb.MetadataEcho)
    assert {k: v for k, v in got.metadata.items() if k in seen} == seen
    assert got.has_deadline is has_deadline


async def test_deadline_exceeded(transport: GrpcTransport) -> None:
    request = pb.WatchThingsRequest(count=3, interval_ms=2000)
    with pytest.raises(errors.DeadlineExceeded):
        async for _ in transport.server_stream(METHODS["WatchThings"], request, deadline=0.2):
            pass


async def test_injected_channel_stays_open(env: GatewayEnv) -> None:
    assert env.grpc_target is not None
    async with grpc.aio.insecure_channel(env.grpc_target) as channel:
        shared = GrpcTransport(channel)
        await shared.close()
        # Still usable: the transport does not own an injected channel.
        assert await shared.unary(METHODS["EchoQuery"], pb.Everything(int32_value=1)) == pb.Everything(int32_value=1)


@pytest.mark.parametrize("kwargs", [{}, {"channel": "x", "target": "y"}])
def test_needs_exactly_one_of_channel_and_target(kwargs: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="exactly one"):
        GrpcTransport(**kwargs)  # type: ignore[arg-type]


async def test_status_details(transport: GrpcTransport) -> None:
    # The kitchen service sends a BadRequest detail with INVALID_ARGUMENT; it arrives as the same Any.
    with pytest.raises(errors.InvalidArgument) as caught:
        await transport.unary(METHODS["Fail"], pb.FailRequest(code=3, message="bad code"))
    (detail,) = caught.value.details
    assert isinstance(detail, any_pb2.Any)
    bad_request = error_details_pb2.BadRequest()
    assert detail.Unpack(bad_request)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [("code", "bad code")]
