"""Fixtures for the gateway tests: the kitchen service behind either backend, and an HTTP client.

``gateway_env`` is parametrized over both backends: ``inprocess`` registers the servicer and its
interceptors with an :class:`InProcessBackend`; ``proxy`` starts a real ``grpc.aio`` server on port 0
with the same servicer and interceptors, and the gateway talks to it over one channel.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc.aio
import httpx
import pytest
from google.protobuf import descriptor_pool

from protogw.gateway.app import Gateway, GatewayOptions, RouteTable, create_app
from protogw.gateway.backend import Backend
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.proxy import ProxyBackend
from tests.gateway.kitchen_service import SERVICE, ThingStore, add_kitchen, kitchen_interceptors
from tests.gen.kitchen.v1 import kitchen_pb2  # noqa: F401  (loads the kitchen descriptors)

BACKENDS = ["inprocess", "proxy"]


@dataclass
class GatewayEnv:
    """A running kitchen service and a gateway in front of it."""

    kind: str
    store: ThingStore
    backend: Backend
    app: Gateway
    client: httpx.AsyncClient
    grpc_target: str | None


def kitchen_routes(options: GatewayOptions | None = None) -> RouteTable:
    return RouteTable.from_pool(descriptor_pool.Default(), [SERVICE], options)


async def start_grpc_server(store: ThingStore) -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server(interceptors=kitchen_interceptors())
    await add_kitchen(server, store)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


EnvFactory = Callable[..., "AsyncIterator[GatewayEnv]"]


async def kitchen_backend(kind: str, store: ThingStore) -> tuple[Backend, grpc.aio.Server | None, str | None]:
    """The kitchen service behind a backend of ``kind`` (see ``BACKENDS``): the backend, and for the proxy
    its real gRPC server (stop it when done) and that server's address."""
    if kind == "inprocess":
        inproc = InProcessBackend(kitchen_interceptors())
        await add_kitchen(inproc, store)
        return inproc, None, None
    server, port = await start_grpc_server(store)
    target = f"127.0.0.1:{port}"
    return ProxyBackend(target), server, target


async def _open_env(kind: str, options: GatewayOptions | None = None) -> AsyncIterator[GatewayEnv]:
    store = ThingStore()
    backend, server, target = await kitchen_backend(kind, store)
    app = create_app(kitchen_routes(options), backend)
    async with app_client(app, server, client=("10.0.0.7", 5555)) as client:
        yield GatewayEnv(kind, store, backend, app, client, target)


@contextlib.asynccontextmanager
async def app_client(
    app: Gateway, server: grpc.aio.Server | None = None, *, client: tuple[str, int] | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in-process (base URL ``http://gw.test``; ``client`` is the peer
    address the app sees, httpx's default if None); afterwards the app is shut down and ``server`` (a
    proxy backend's gRPC server) stopped."""
    transport = httpx.ASGITransport(app=app) if client is None else httpx.ASGITransport(app=app, client=client)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://gw.test") as http_client:
            yield http_client
    finally:
        await app.shutdown()
        if server is not None:
            await server.stop(None)


@pytest.fixture(params=BACKENDS)
async def env(request: pytest.FixtureRequest) -> AsyncIterator[GatewayEnv]:
    """The kitchen gateway with default options, once per backend."""
    async for e in _open_env(request.param):
        yield e


@pytest.fixture
def open_env() -> Callable[[str, GatewayOptions | None], AsyncIterator[GatewayEnv]]:
    """Open a gateway with custom options: ``async for env in open_env(kind, options)``."""
    return _open_env


@contextlib.asynccontextmanager
async def gateway_process(descriptors: Path, backend_port: int, *args: str) -> AsyncIterator[str]:
    """``protogw gateway`` (``python -m protogw.gateway.cli``) as its own process on port 0, serving
    ``descriptors`` in front of the gRPC server on ``backend_port``; yields its base URL."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "protogw.gateway.cli",
        "--descriptor-set",
        str(descriptors),
        "--http-addr",
        "127.0.0.1:0",
        *args,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PROTOGW_BACKEND": f"127.0.0.1:{backend_port}"},
    )
    try:
        assert proc.stderr is not None
        url = None
        async with asyncio.timeout(30):
            while url is None:
                line = (await proc.stderr.readline()).decode()
                assert line, "gateway exited before listening"
                m = re.search(r"gateway listening on (http://127\.0\.0\.1:(\d+))", line)
                if m:
                    assert m.group(2) != "0"
                    url = m.group(1)
        yield url
    finally:
        proc.terminate()
        await proc.wait()
