"""``protogw.gateway.shutdown``: the registry of open streams, and uvicorn (a real server on port 0) ending
every kind of stream at shutdown, in front of either backend, while the grace period is long."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protogw.gateway.app import Gateway, create_app
from protogw.gateway.cli import bind
from protogw.gateway.shutdown import GatewayServer, OpenStreams
from tests.gateway.conftest import BACKENDS, kitchen_backend, kitchen_routes
from tests.gateway.kitchen_service import ThingStore

SHUTDOWN_ERROR = {"code": 14, "message": "server shutting down", "details": []}


# --- the registry ---------------------------------------------------------------------------------------------


def test_open_streams_end_all_and_later_arrivals() -> None:
    streams = OpenStreams()
    ended: list[str] = []
    first, second = (lambda: ended.append("first")), (lambda: ended.append("second"))
    streams.add(first)
    streams.add(second)
    streams.discard(second)  # finished before the shutdown
    assert not streams.closing
    assert streams.end_all() == 1
    assert ended == ["first"]
    assert streams.closing
    streams.add(second)  # opened during the shutdown: ended at once
    assert ended == ["first", "second"]


async def test_open_streams_wait_ended() -> None:
    streams = OpenStreams()
    await asyncio.wait_for(streams.wait_ended(), 1)  # nothing open
    end = lambda: None  # noqa: E731
    streams.add(end)
    waiter = asyncio.create_task(streams.wait_ended())
    await asyncio.sleep(0.05)
    assert not waiter.done()
    streams.discard(end)
    await asyncio.wait_for(waiter, 1)


# --- a real server ---------------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def served(kind: str) -> AsyncIterator[tuple[str, GatewayServer, asyncio.Task[None]]]:
    """The kitchen gateway under :class:`GatewayServer` on port 0, with a grace far longer than the tests
    wait: only the ending of the streams lets it stop promptly."""
    backend, grpc_server, _ = await kitchen_backend(kind, ThingStore())
    app: Gateway = create_app(kitchen_routes(), backend)
    sock = bind("127.0.0.1", 0)
    config = uvicorn.Config(app, lifespan="on", log_level="warning", http="httptools", timeout_graceful_shutdown=60)
    server = GatewayServer(config, app.streams)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"127.0.0.1:{sock.getsockname()[1]}", server, task
    finally:
        server.should_exit = True
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 10)
        sock.close()
        if grpc_server is not None:
            await grpc_server.stop(None)


# A case opens its stream, sets ``open`` once the gateway serves it, and returns how the stream ended.
Case = Callable[[str, asyncio.Event], Awaitable[Any]]


async def ndjson_stream(addr: str, opened: asyncio.Event) -> Any:
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", f"http://{addr}/v1/things:watch?count=100000&intervalMs=20") as response,
    ):
        lines = [json.loads(line) async for line in _opened(response.aiter_lines(), opened)]
    return response.status_code, lines[-1]


async def sse_stream(addr: str, opened: asyncio.Event) -> Any:
    headers = {"Accept": "text/event-stream"}
    async with (
        httpx.AsyncClient(timeout=30) as client,
        client.stream("GET", f"http://{addr}/v1/things:watch?count=100000&intervalMs=20", headers=headers) as response,
    ):
        events = [line async for line in _opened(response.aiter_lines(), opened) if line.startswith("data: ")]
    return response.status_code, json.loads(events[-1].removeprefix("data: "))


async def _opened(items: AsyncIterator[str], opened: asyncio.Event) -> AsyncIterator[str]:
    async for item in items:
        opened.set()
        yield item


async def client_stream(addr: str, opened: asyncio.Event) -> Any:
    """A client-streaming POST whose body never ends (raw HTTP: the answer comes before the body is done)."""
    host, port = addr.split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    chunk = b'{"displayName": "a"}\n'
    writer.write(
        b"POST /v1/things:count HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + b"%x\r\n%s\r\n" % (len(chunk), chunk)
    )
    await writer.drain()
    await asyncio.sleep(0.2)  # the gateway has the call going
    opened.set()
    try:
        answer = await reader.read()  # the server closes the connection after its answer
    finally:
        writer.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


async def ws_server_stream(addr: str, opened: asyncio.Event) -> Any:
    async with connect(f"ws://{addr}/v1/things:watch?count=100000&intervalMs=20") as ws:
        await ws.send("{}")
        await ws.recv()
        opened.set()
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


async def ws_client_stream(addr: str, opened: asyncio.Event) -> Any:
    async with connect(f"ws://{addr}/v1/things:count") as ws:
        await ws.send('{"displayName": "a"}')
        await asyncio.sleep(0.2)  # the gateway has the call going
        opened.set()
        with contextlib.suppress(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


# (case, how the stream ends)
CASES: list[tuple[Case, Any]] = [
    (ndjson_stream, (200, {"error": SHUTDOWN_ERROR})),
    (sse_stream, (200, {"error": SHUTDOWN_ERROR})),
    (client_stream, (503, SHUTDOWN_ERROR)),
    (ws_server_stream, (4014, "server shutting down")),
    (ws_client_stream, (4014, "server shutting down")),
]


@pytest.mark.parametrize("kind", BACKENDS)
@pytest.mark.parametrize(("case", "expected"), CASES, ids=[c[0].__name__ for c in CASES])
async def test_shutdown_ends_open_streams(kind: str, case: Case, expected: Any) -> None:
    async with served(kind) as (addr, server, serving):
        opened = asyncio.Event()
        stream = asyncio.create_task(case(addr, opened))
        await asyncio.wait_for(opened.wait(), 10)
        began = time.monotonic()
        server.should_exit = True
        assert await asyncio.wait_for(stream, 5) == expected
        await asyncio.wait_for(serving, 5)
        assert time.monotonic() - began < 3
