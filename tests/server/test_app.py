"""The server process pieces: health, reflection, binding errors and graceful shutdown."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import httpx
import orjson
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from protogw.gen.determined.api.v1 import api_pb2_grpc, auth_pb2, master_pb2
from protogw.server.app import AddressInUse, bound_address, create_server, run
from protogw.server.rest import RestGateway
from protogw.server.service import SERVICE_NAME, ServiceConfig, build_service
from tests.server.harness import CHEAP_HASHER, Running, bearer


@pytest.mark.parametrize("service", ["", SERVICE_NAME])
async def test_health_is_public_and_serving(api: Running, service: str) -> None:
    response = await health_pb2_grpc.HealthStub(api.channel).Check(health_pb2.HealthCheckRequest(service=service))
    assert response.status == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_the_services(api: Running) -> None:
    stub = reflection_pb2_grpc.ServerReflectionStub(api.channel)

    async def one() -> AsyncIterator[reflection_pb2.ServerReflectionRequest]:
        yield reflection_pb2.ServerReflectionRequest(list_services="")

    names = set()
    async for response in stub.ServerReflectionInfo(one()):
        names |= {s.name for s in response.list_services_response.service}
    assert {SERVICE_NAME, "grpc.health.v1.Health", "grpc.reflection.v1alpha.ServerReflection"} <= names


async def test_taken_port_is_a_clear_error(api: Running) -> None:
    with pytest.raises(AddressInUse, match="cannot listen on"):
        create_server(api.service, f"127.0.0.1:{api.port}")


@pytest.mark.parametrize(
    ("address", "port", "expected"), [("127.0.0.1:0", 5, "127.0.0.1:5"), ("[::1]:0", 7, "[::1]:7")]
)
def test_bound_address(address: str, port: int, expected: str) -> None:
    assert bound_address(address, port) == expected


async def drain(call: grpc.aio.UnaryStreamCall[Any, Any]) -> grpc.StatusCode:
    """Read a stream to its end (the final status only arrives after the messages before it)."""
    try:
        while await call.read() is not grpc.aio.EOF:
            pass
    except grpc.aio.AioRpcError as exc:
        return exc.code()
    return await call.code()


async def test_run_serves_and_shuts_down_gracefully(module_database_url: str, unused_tcp_port: int) -> None:
    service = build_service(ServiceConfig(database_url=module_database_url), password_hasher=CHEAP_HASHER)
    stop = asyncio.Event()
    rest = RestGateway("127.0.0.1:0")
    grace = 20.0
    runner = asyncio.create_task(run(service, f"127.0.0.1:{unused_tcp_port}", addons=[rest], grace=grace, stop=stop))
    async with grpc.aio.insecure_channel(f"127.0.0.1:{unused_tcp_port}") as channel:
        await asyncio.wait_for(channel.channel_ready(), 10)
        stub = api_pb2_grpc.DeterminedStub(channel)
        assert (await stub.GetMaster(master_pb2.GetMasterRequest())).cluster_name == "protogw"
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest.port}") as client:
            assert (await client.get("/api/v1/master")).status_code == 200
        token = (await stub.Login(auth_pb2.LoginRequest(username="determined"))).token
        # Follow streams in flight at shutdown, over gRPC and over REST: none may hold the shutdown for
        # the grace period; each ends at once, at a message boundary, with UNAVAILABLE.
        followers = [
            stub.MasterLogs(master_pb2.MasterLogsRequest(offset=-1, limit=1000, follow=True), metadata=bearer(token)),
            stub.MasterLogs(master_pb2.MasterLogsRequest(offset=-1, follow=True), metadata=bearer(token)),
        ]
        for call in followers:
            await call.read()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{rest.port}", timeout=10) as client:
            async with client.stream(
                "GET", "/api/v1/master/logs?follow=true&offset=-1", headers={"Authorization": f"Bearer {token}"}
            ) as response:
                lines = aiter(response.aiter_lines())
                assert "result" in orjson.loads(await anext(lines))
                started = time.monotonic()
                stop.set()
                rest_tail = [orjson.loads(line) async for line in lines if line]
            await asyncio.wait_for(runner, 10)
            took = time.monotonic() - started
        assert took < 3, f"shutdown took {took:.1f} s with follow streams open (grace {grace} s)"
        # Every REST line is whole JSON; the stream ends with the shutdown error, not a cut.
        assert rest_tail
        assert rest_tail[-1]["error"]["message"] == "the server is shutting down"
        for call in followers:
            assert await asyncio.wait_for(drain(call), 10) is grpc.StatusCode.UNAVAILABLE
    health = await service.health.Check(health_pb2.HealthCheckRequest(service=""), None)
    assert health.status == health_pb2.HealthCheckResponse.NOT_SERVING


# (method, raw request bytes) that do not parse: corrupt, truncated, groups nested 200 deep.
UNPARSABLE = [
    ("Login", b"\xff\xff\xff"),
    ("Login", b"\x0a\x05ab"),
    ("Login", b"\x7b" * 200 + b"\x7c" * 200),
    ("GetExperiments", b"\x0a\xff"),
    ("MasterLogs", b"\x0a\xff"),
]


@pytest.mark.parametrize(("method", "payload"), UNPARSABLE)
async def test_unparsable_requests_are_invalid_argument(api: Running, method: str, payload: bytes) -> None:
    path = f"/{SERVICE_NAME}/{method}"

    async def call() -> None:
        if method == "MasterLogs":
            async for _ in api.channel.unary_stream(path)(payload):
                pass
        else:
            await api.channel.unary_unary(path)(payload)

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call()
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "cannot parse the request" in (caught.value.details() or "")
