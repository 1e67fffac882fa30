"""An edition-2023 API through the gateway, in both backends: what comes back is byte for byte what
json_format writes for the same message (the reference for protobuf's JSON mapping), presence, open and
closed enums and DELIMITED messages included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import orjson
import pytest
from google.protobuf import descriptor_pool, json_format

from protogw.core.codec import JsonOptions
from protogw.gateway.app import GatewayOptions, RouteTable, create_app
from protogw.gateway.backend import Backend
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.proxy import ProxyBackend
from tests.gateway.conftest import app_client
from tests.gen.editions.v1 import editions_pb2 as pb
from tests.gen.editions.v1 import editions_pb2_grpc as pb_grpc

SERVICE = "editions.v1.EditionsService"


class Editions(pb_grpc.EditionsServiceServicer):
    async def Echo(self, request: pb.Sample, context: Any) -> pb.Sample:
        return request

    async def Get(self, request: pb.Sample, context: Any) -> pb.Sample:
        return request

    async def Repeat(self, request: pb.Sample, context: Any) -> AsyncIterator[pb.Sample]:
        for _ in range(request.int32_value):
            yield request


@pytest.fixture(params=["inprocess", "proxy"])
async def client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    server = None
    backend: Backend
    if request.param == "inprocess":
        inproc = InProcessBackend()
        pb_grpc.add_EditionsServiceServicer_to_server(Editions(), inproc)  # type: ignore[arg-type]
        backend = inproc
    else:
        server = grpc.aio.server()
        pb_grpc.add_EditionsServiceServicer_to_server(Editions(), server)
        port = server.add_insecure_port("127.0.0.1:0")
        await server.start()
        backend = ProxyBackend(f"127.0.0.1:{port}")
    # Unset messages as json_format writes them (omitted) rather than grpc-gateway's null, so the output
    # can be compared byte for byte.
    options = GatewayOptions(json=JsonOptions(unset_message_as_null=False))
    app = create_app(RouteTable.from_pool(descriptor_pool.Default(), [SERVICE], options), backend)
    async with app_client(app, server) as c:
        yield c


def reference(message: pb.Sample) -> bytes:
    """json_format's output with the gateway's defaults (unpopulated fields without presence written)."""
    return orjson.dumps(json_format.MessageToDict(message, always_print_fields_with_no_presence=True))


SAMPLES = [
    ("empty", pb.Sample()),
    ("explicit-zero-is-written", pb.Sample(int32_value=0, bool_value=False, uint64_value=0)),
    ("implicit-zero-is-not-set", pb.Sample(int64_value=0, text="")),
    (
        "scalars",
        pb.Sample(
            name="samples/1",
            int32_value=-7,
            int64_value=2**53 + 1,
            uint32_value=2**32 - 1,
            uint64_value=2**64 - 1,
            sint32_value=-5,
            sint64_value=-(2**62),
            fixed32_value=7,
            fixed64_value=8,
            sfixed32_value=-9,
            sfixed64_value=-10,
            float_value=1.5,
            double_value=-2.25,
            bool_value=True,
            text="héllo",
            data=b"\x00\xff",
        ),
    ),
    ("enums", pb.Sample(shade=pb.SHADE_DARK, size=pb.SIZE_LARGE, size_list=[pb.SIZE_SMALL, pb.SIZE_LARGE])),
    ("open-enum-unknown-number", pb.Sample(shade=7)),  # type: ignore[arg-type]
    (
        "messages",
        pb.Sample(
            part=pb.Part(name="p", count=1),
            delimited_part=pb.Part(name="d"),
            parts=[pb.Part(name="a"), pb.Part()],
            parts_by_name={"x": pb.Part(count=2)},
            shades={1: pb.SHADE_LIGHT},
        ),
    ),
    ("oneof-message", pb.Sample(boxed=pb.Part(name="b"))),
    ("oneof-string", pb.Sample(label="l")),
    ("repeated", pb.Sample(packed=[1, 2, 3], expanded=[4, 5])),
]


@pytest.mark.parametrize("message", [s[1] for s in SAMPLES], ids=[s[0] for s in SAMPLES])
async def test_echo_is_json_format(client: httpx.AsyncClient, message: pb.Sample) -> None:
    body = json_format.MessageToJson(message)
    response = await client.post("/v1/samples:echo", content=body)
    assert response.status_code == 200, response.text
    assert response.content == reference(message)


QUERIES = [
    ("/v1/samples/1?int32Value=0", pb.Sample(name="samples/1", int32_value=0)),
    ("/v1/samples/1?size=SIZE_SMALL&shade=2", pb.Sample(name="samples/1", size=pb.SIZE_SMALL, shade=pb.SHADE_DARK)),
]


@pytest.mark.parametrize(("url", "expected"), QUERIES, ids=["explicit-zero", "enums"])
async def test_path_and_query(client: httpx.AsyncClient, url: str, expected: pb.Sample) -> None:
    response = await client.get(url)
    assert response.status_code == 200, response.text
    assert response.content == reference(expected)


async def test_delimited_message_in_query(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/samples/1", params={"delimitedPart.name": "x"})
    assert response.status_code == 200, response.text
    assert response.content == reference(pb.Sample(name="samples/1", delimited_part=pb.Part(name="x")))


async def test_closed_enum_refuses_unknown_numbers(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/samples:echo", content=b'{"size": 9}')
    assert response.status_code == 400


async def test_server_stream(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/samples/1:repeat", params={"int32Value": "2"})
    expected = pb.Sample(name="samples/1", int32_value=2)
    lines = response.content.splitlines()
    assert lines == [b'{"result":' + reference(expected) + b"}"] * 2
