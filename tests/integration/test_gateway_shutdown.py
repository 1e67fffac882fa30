"""SIGTERM to ``protogw rest-proxy`` / ``protogw gateway`` (real processes in front of a real ``serve``):
open streams end at once with UNAVAILABLE, a unary request in flight still finishes, the process
stops accepting connections and exits 0 well within its grace."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import grpc.aio
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from protogw.gen.determined.api.v1 import api_pb2_grpc, master_pb2
from tests.support.serve import PROTOGW, read_ports, stop

pytestmark = pytest.mark.timeout(180)

GRPC_LISTENING = re.compile(rb"gRPC server listening on 127\.0\.0\.1:(\d+)")
# One process: "gateway listening on http://..."; --workers N: the parent's "gateway: N workers on http://...".
HTTP_LISTENING = re.compile(rb"gateway(?: listening|: \d+ workers) on http://127\.0\.0\.1:(\d+)")

# (case, command line after `protogw` ("{descriptors}": Determined's descriptor set), workers, the
# follow stream as server-sent events rather than NDJSON)
CASES = [
    ("rest-proxy", ["rest-proxy"], 1, False),
    ("gateway-sse", ["gateway", "--descriptor-set", "{descriptors}"], 1, True),
    ("rest-proxy-2-workers", ["rest-proxy"], 2, False),
]

#: The proxy's grace: far longer than the test waits, so a prompt exit proves the streams did not hold it.
GRACE = 30


@contextlib.asynccontextmanager
async def process(args: list[str], pattern: re.Pattern[bytes]) -> AsyncIterator[tuple[asyncio.subprocess.Process, int]]:
    """``protogw ARGS`` with its port read from the log; SIGTERM (then SIGKILL) if still running at the end."""
    proc = await asyncio.create_subprocess_exec(PROTOGW, *args, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        (port,) = (await read_ports(proc, pattern, 1)).values()
        drain = asyncio.create_task(proc.stderr.read())
        yield proc, port
    finally:
        await stop(proc)
        if drain is not None:
            await asyncio.wait_for(drain, 30)


async def slow_login(url: str) -> httpx.Response:
    """A Login whose body takes 2.5 s to arrive: a unary request in flight when SIGTERM comes."""

    async def body() -> AsyncIterator[bytes]:
        yield b'{"username": "determined", '
        await asyncio.sleep(2.5)
        yield b'"password": ""}'

    async with httpx.AsyncClient(timeout=30) as client:
        return await client.post(f"{url}/api/v1/auth/login", content=body())


async def items(lines: AsyncIterator[str], sse: bool) -> AsyncIterator[str]:
    """A stream's items: its lines (NDJSON), or the data of its events (SSE)."""
    async for line in lines:
        if not sse:
            yield line
        elif line.startswith("data: "):
            yield line.removeprefix("data: ")


async def follow_directly(grpc_port: int, token: str) -> grpc.StatusCode:
    """Open a MasterLogs follow on the backend itself: OK, or the code it was refused with."""
    async with grpc.aio.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        call = api_pb2_grpc.DeterminedStub(channel).MasterLogs(
            master_pb2.MasterLogsRequest(follow=True), metadata=[("authorization", f"Bearer {token}")], timeout=10
        )
        try:
            await call.read()
        except grpc.aio.AioRpcError as exc:
            return exc.code()
        call.cancel()
        return grpc.StatusCode.OK


async def refused(port: int) -> bool:
    """Whether a new connection to ``port`` is refused."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


@pytest.mark.parametrize(("case", "args", "workers", "sse"), CASES, ids=[c[0] for c in CASES])
async def test_sigterm_ends_streams_and_lets_unary_calls_finish(
    case: str, args: list[str], workers: int, sse: bool, tmp_path: Path
) -> None:
    descriptors = tmp_path / "determined.binpb"
    descriptors.write_bytes(
        importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    )
    args = [arg.format(descriptors=descriptors) for arg in args]
    database = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    serve = ["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "", "--database", database, "--grace", "1"]
    # Two follow streams per user: the HTTP one and the WebSocket; a third is refused while they last.
    serve += ["--max-streams-per-user", "2"]
    async with process(serve, GRPC_LISTENING) as (_, grpc_port):
        proxy_args = [*args, "--backend", f"127.0.0.1:{grpc_port}", "--http-addr", "127.0.0.1:0"]
        proxy_args += ["--grace", str(GRACE), "--workers", str(workers)]
        async with process(proxy_args, HTTP_LISTENING) as (proxy, port):
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                for _ in range(100):  # with workers the parent logs the port before they listen
                    with contextlib.suppress(httpx.TransportError):
                        login = await client.post("/api/v1/auth/login", json={"username": "determined", "password": ""})
                        break
                    await asyncio.sleep(0.1)
                assert login.status_code == 200, login.text
                token = login.json()["token"]
                auth = {"Authorization": f"Bearer {token}"}
                client.cookies.clear()
                if workers > 1:  # both workers up: the stream, the socket and the Login may go to either
                    await asyncio.sleep(1)

                accept = {"Accept": "text/event-stream"} if sse else {}
                async with client.stream("GET", "/api/v1/master/logs?follow=true", headers=auth | accept) as stream:
                    assert stream.status_code == 200
                    lines = items(stream.aiter_lines(), sse)
                    assert "result" in json.loads(await anext(lines))
                    # A GET binding has no body: the request comes from the query, the frame is empty JSON.
                    ws_url = f"ws://127.0.0.1:{port}/api/v1/master/logs?follow=true"
                    async with connect(ws_url, additional_headers=auth) as ws:
                        await ws.send("{}")
                        assert "logEntry" in json.loads(await ws.recv())
                        assert await follow_directly(grpc_port, token) == grpc.StatusCode.RESOURCE_EXHAUSTED
                        unary = asyncio.create_task(slow_login(url))
                        await asyncio.sleep(0.5)  # its head and first chunk have arrived

                        proxy.send_signal(signal.SIGTERM)
                        signalled = time.monotonic()
                        async with asyncio.timeout(3):
                            rest = [line async for line in lines]
                        ended = json.loads(rest[-1])
                        assert ended["error"]["code"] == 14, ended  # UNAVAILABLE
                        assert ended["error"]["message"] == "server shutting down"
                        async with asyncio.timeout(3):
                            with contextlib.suppress(ConnectionClosed):
                                while True:
                                    await ws.recv()
                        assert (ws.close_code, ws.close_reason) == (4014, "server shutting down")
                        assert time.monotonic() - signalled < 3
                        # The backend's calls were cancelled: their stream slots are free again.
                        for _ in range(30):
                            if await follow_directly(grpc_port, token) == grpc.StatusCode.OK:
                                break
                            await asyncio.sleep(0.1)
                        else:
                            pytest.fail("the backend still holds the proxied streams")

                # No new connections while the unary call finishes.
                for _ in range(30):
                    if await refused(port):
                        break
                    await asyncio.sleep(0.1)
                else:
                    pytest.fail("still accepting connections")
                answer = await asyncio.wait_for(unary, 10)
                assert answer.status_code == 200, answer.text
                assert answer.json()["token"]
            assert await asyncio.wait_for(proxy.wait(), 5) == 0
            assert time.monotonic() - signalled < GRACE / 2
