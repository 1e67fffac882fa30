"""Generic-transport test material: the gateway tests' kitchen service behind a real gRPC server and a
gateway (reached through ``httpx.ASGITransport``), plus round-trip cases both transport tests share.

The kitchen service echoes what it gets, so a case passes when the message that comes back equals the
one sent: proof that the transport carried every field intact.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from google.protobuf import duration_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from protogw.clients import errors
from protogw.clients.transport import Transport
from tests.gateway.conftest import GatewayEnv, _open_env
from tests.gen.kitchen.v1 import kitchen_pb2 as pb

SERVICE = pb.DESCRIPTOR.services_by_name["KitchenService"]
METHODS = SERVICE.methods_by_name


async def kitchen_env() -> AsyncIterator[GatewayEnv]:
    """The kitchen gateway in proxy mode: a gRPC target and an HTTP client for the same service."""
    async for env in _open_env("proxy"):
        yield env


def _everything(**fields: Any) -> pb.Everything:
    return pb.Everything(**fields)


# (method, request) pairs whose response must equal the request.
ECHOES: list[tuple[str, str, Message]] = [
    (
        "query scalars",
        "EchoQuery",
        _everything(int32_value=-3, int64_value=2**40, bool_value=True, string_value="a b&c=d"),
    ),
    (
        "query enums and repeated",
        "EchoQuery",
        _everything(color=pb.COLOR_BLUE, repeated_color=[1, 3], repeated_string=["x", "y"]),
    ),
    (
        "query nested",
        "EchoQuery",
        _everything(nested=pb.Nested(name="n", amount=5, kind=pb.Nested.KIND_LEAF, tags=["t"])),
    ),
    ("query map", "EchoQuery", _everything(string_map={"k": "v", "k2": "v 2"})),
    ("query bytes and floats", "EchoQuery", _everything(bytes_value=b"\x00\xff/+", double_value=1.5, float_value=0.25)),
    (
        "query well-known types",
        "EchoQuery",
        _everything(
            timestamp=timestamp_pb2.Timestamp(seconds=1_700_000_000, nanos=5000),
            duration=duration_pb2.Duration(seconds=3, nanos=500_000_000),
            wrapped_int32=wrappers_pb2.Int32Value(value=0),
            wrapped_bool=wrappers_pb2.BoolValue(value=False),
            wrapped_string=wrappers_pb2.StringValue(value=""),
        ),
    ),
    ("query optional zeroes", "EchoQuery", _everything(optional_int32=0, optional_bool=False, optional_string="")),
    ("query renamed field", "EchoQuery", _everything(renamed="r")),
    (
        "body with messages and maps",
        "EchoBody",
        _everything(
            repeated_nested=[pb.Nested(name="a"), pb.Nested(child=pb.Nested(name="b"))],
            int_map={1: pb.Nested(name="one")},
            choice_nested=pb.Nested(name="c"),
        ),
    ),
    (
        "path of every kind",
        "EchoPath",
        pb.EchoPathRequest(
            s="a b/c%d",
            i64=-7,
            b=True,
            color=pb.COLOR_GREEN,
            u32=9,
            d=2.5,
            nested=pb.Nested(name="x:y"),
            rest=_everything(int32_value=1, repeated_string=["q"]),
        ),
    ),
]


# Server stream cases: (count, fail_with_code) -> (sequence numbers received, error class or None).
STREAMS: list[tuple[int, int, list[int], type[errors.ApiError] | None]] = [
    (0, 0, [], None),
    (3, 0, [0, 1, 2], None),
    (2, 5, [0, 1], errors.NotFound),
    (0, 9, [], errors.FailedPrecondition),
]


async def check_server_stream(
    transport: Transport, count: int, code: int, seqs: list[int], error: type[errors.ApiError] | None
) -> None:
    """WatchThings over ``transport`` yields ``seqs``, then fails with ``error`` (or ends cleanly)."""
    received: list[int] = []
    request = pb.WatchThingsRequest(count=count, fail_with_code=code)

    async def consume() -> None:
        async for item in transport.server_stream(METHODS["WatchThings"], request):
            assert isinstance(item, pb.WatchThingsResponse)
            received.append(item.seq)

    if error is None:
        await consume()
    else:
        with pytest.raises(error, match=f"failed after {count}"):
            await consume()
    assert received == seqs
