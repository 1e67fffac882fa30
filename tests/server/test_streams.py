"""Server streams under stress, through real sockets: followers that vanish end and free everything,
and the per-user and total stream caps answer RESOURCE_EXHAUSTED / 429."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import grpc
import grpc.aio
import httpx
import pytest

from protogw.gen.determined.api.v1 import master_pb2
from tests.support.rest_backends import BACKENDS, rest_api

log = logging.getLogger("protogw.test.streams")


@pytest.fixture
def database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'protogw.db'}"


async def wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def open_follower(base_url: str, token: str, accept: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A raw HTTP/1.1 follow request whose response has started (the first record arrived)."""
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        f"GET /api/v1/master/logs?follow=true&offset=-1 HTTP/1.1\r\nHost: x\r\n"
        f"Authorization: Bearer {token}\r\nAccept: {accept}\r\n\r\n".encode()
    )
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    assert head.startswith(b"HTTP/1.1 200"), head
    await asyncio.wait_for(reader.read(1), 10)
    return reader, writer


FOLLOWERS = 40
# (backend, Accept, how the client goes: FIN or RST)
VANISHING = [
    (backend, accept, how)
    for backend in BACKENDS
    for accept, how in (("application/json", "close"), ("text/event-stream", "close"), ("application/json", "abort"))
]


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("backend", "accept", "how"), VANISHING)
async def test_followers_that_vanish_end(
    database_url: str, backend: str, accept: str, how: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    async with rest_api(backend, database_url, max_streams_per_user=FOLLOWERS) as rest:
        logs = rest.api.service.logs
        token = dict(await rest.api.login("admin"))["authorization"].removeprefix("Bearer ")
        log.warning("first record")
        clients = [await open_follower(rest.base_url, token, accept) for _ in range(FOLLOWERS)]
        await wait_for(lambda: logs.followers >= FOLLOWERS, "every follower to attach")
        # Give them a backlog they cannot have sent yet, then go while it is being written.
        for i in range(500):
            log.warning("busy %d", i)
        for _, writer in clients:
            if how == "abort":
                writer.transport.abort()
            else:
                writer.close()
        for i in range(200):
            log.warning("after %d", i)
            if i % 20 == 0:
                await asyncio.sleep(0.01)
        await wait_for(lambda: logs.followers == 0, "every vanished follower to end")
        assert rest.api.service.master._streams.total == 0
    flood = [r for r in caplog.records if "socket.send() raised exception" in r.getMessage()]
    assert len(flood) < 5, f"{len(flood)} writes into dead sockets were logged"


@pytest.mark.parametrize("backend", BACKENDS)
async def test_stream_caps(database_url: str, backend: str) -> None:
    async with rest_api(backend, database_url, max_streams_per_user=2, max_streams=3) as rest:
        api = rest.api
        admin, user = await api.login("admin"), await api.login("determined")
        opened: list[grpc.aio.UnaryStreamCall[master_pb2.MasterLogsRequest, master_pb2.MasterLogsResponse]] = []

        async def follow(md: tuple[tuple[str, str], ...]) -> grpc.StatusCode:
            call = api.stub.MasterLogs(master_pb2.MasterLogsRequest(offset=-1, follow=True), metadata=md)
            try:
                await call.read()
            except grpc.aio.AioRpcError as exc:
                return exc.code()
            opened.append(call)
            return grpc.StatusCode.OK

        log.warning("a record to read")
        # (who opens one more stream, expected status) in order; caps: 2 per user, 3 in total.
        steps = [
            (admin, grpc.StatusCode.OK),
            (admin, grpc.StatusCode.OK),
            (admin, grpc.StatusCode.RESOURCE_EXHAUSTED),  # admin's own cap
            (user, grpc.StatusCode.OK),
            (user, grpc.StatusCode.RESOURCE_EXHAUSTED),  # the total cap
        ]
        for md, expected in steps:
            assert await follow(md) is expected
        # The same over REST: 429 with the reason.
        async with httpx.AsyncClient(base_url=rest.base_url, timeout=10) as client:
            headers = {"Authorization": dict(user)["authorization"]}
            response = await client.get("/api/v1/master/logs?follow=true", headers=headers)
            assert response.status_code == 429, response.text
            assert "too many open streams" in response.text
            # A finished stream frees its slot.
            opened.pop().cancel()
            await wait_for(lambda: api.service.master._streams.total == 2, "the cancelled stream to free its slot")
            async with client.stream("GET", "/api/v1/master/logs?follow=true&offset=-1", headers=headers) as response:
                assert response.status_code == 200
                lines = aiter(response.aiter_lines())
                assert "result" in await anext(lines)
        for call in opened:
            call.cancel()
        await wait_for(lambda: api.service.master._streams.total == 0, "every slot to be free")
