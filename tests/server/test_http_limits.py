"""The HTTP server's own limits in front of the REST gateway (``protogw serve``), over real sockets:
slow and oversized heads, connection floods and bodies refused before they are read."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from protogw.gateway.http_limits import HttpLimits, limited_protocol
from protogw.gateway.workers import listen
from protogw.server.rest import RestGateway, http_limits
from tests.server.harness import Running


@contextlib.asynccontextmanager
async def gateway(api: Running, **overrides: object) -> AsyncIterator[int]:
    rest = RestGateway("127.0.0.1:0", docs=False, limits=http_limits(**overrides))  # type: ignore[arg-type]
    await rest.start(api.service)
    try:
        yield rest.port
    finally:
        await rest.stop()


async def exchange(port: int, head: bytes, body_chunks: int = 0, chunk: bytes = b"") -> tuple[bytes, float]:
    """Send ``head`` (then up to ``body_chunks`` chunks, stopping once the server answers); return the
    first bytes of the answer and how long it took."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        writer.write(head)
        answer = asyncio.ensure_future(reader.read(4096))
        for _ in range(body_chunks):
            if answer.done():
                break
            writer.write(chunk)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        return await asyncio.wait_for(answer, 10), time.monotonic() - started
    finally:
        writer.transport.abort()


BIG = 100 * 1024 * 1024
# (case, head, body chunks of 1 MiB sent while waiting, expected status line start)
REFUSED = [
    (
        "oversized header",
        b"GET /api/v1/master HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024 * 1024),
        0,
        b"HTTP/1.1 431",
    ),
    (
        "100 MB body without a token",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n" % BIG,
        100,
        b"HTTP/1.1 401",
    ),
    (
        "100 MB body without a token, Expect: 100-continue",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: %d\r\n\r\n" % BIG,
        0,
        b"HTTP/1.1 401",
    ),
    (
        "a cookie that is not the auth cookie is no credential",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nCookie: other=1\r\nContent-Length: %d\r\n\r\n" % BIG,
        0,
        b"HTTP/1.1 401",
    ),
    # A token that is not valid: the gateway checks it before reading (its body gate), so even a body
    # under every size limit is refused without being read and without "100 Continue".
    (
        "invalid token, Expect: 100-continue",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        b"Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n",
        0,
        b"HTTP/1.1 401",
    ),
    (
        "invalid auth cookie, 2 MiB body, Expect: 100-continue",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nCookie: auth=nope\r\n"
        b"Expect: 100-continue\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (2 << 20),
        0,
        b"HTTP/1.1 401",
    ),
    (
        "body over the limit with a token, Expect: 100-continue",
        b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n"
        b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (BIG * 2),
        0,
        b"HTTP/1.1 413",
    ),
]


@pytest.mark.parametrize(("case", "head", "chunks", "status"), REFUSED)
async def test_refused_before_reading(api: Running, case: str, head: bytes, chunks: int, status: bytes) -> None:
    async with gateway(api) as port:
        answer, took = await exchange(port, head, chunks, b"x" * 1024 * 1024)
    # Answered at once, and never with "100 Continue" first.
    assert answer.startswith(status), answer[:200]
    assert took < 1.0, f"{case}: {took:.2f} s"


async def test_a_small_anonymous_body_still_reaches_the_gateway(api: Running) -> None:
    async with gateway(api) as port, httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        response = await client.post("/api/v1/auth/login", json={"username": "determined", "password": ""})
        assert response.status_code == 200
        # Over the anonymous limit but with a token: the gateway's own checks answer.
        token = response.json()["token"]
        response = await client.post(
            "/api/v1/experiments",
            content=b'{"config": "' + b"x" * (2 * 1024 * 1024) + b'"}',
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert response.status_code == 400


async def test_slow_head_times_out(api: Running) -> None:
    async with gateway(api, head_timeout=0.3) as port:
        answer, took = await exchange(port, b"GET /api/v1/master HTTP/1.1\r\nHost")
        assert answer.startswith(b"HTTP/1.1 408")
        assert 0.2 < took < 3
        # A connection that sends nothing is closed without an answer.
        answer, took = await exchange(port, b"")
        assert (answer, took < 3) == (b"", True)


# (idle partial connections, connection cap)
FLOODS = [(300, 100), (2000, 1000)]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("idle", "cap"), FLOODS)
async def test_idle_partial_connections_do_not_lock_out_clients(api: Running, idle: int, cap: int) -> None:
    async with gateway(api, max_connections=cap, head_timeout=60) as port:
        held = []
        try:
            for _ in range(idle):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /api/v1/master HTTP/1.1\r\nHo")
                held.append(writer)
            await asyncio.sleep(0.2)
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                started = time.monotonic()
                response = await client.get("/api/v1/master")
                took = time.monotonic() - started
            assert response.status_code == 200
            assert took < 1.0, f"served after {took:.2f} s"
        finally:
            for writer in held:
                writer.transport.abort()


def test_limits_default_to_the_gateway_body_limit() -> None:
    limits = http_limits(3 * 1024 * 1024)
    assert isinstance(limits, HttpLimits)
    assert limits.max_body_bytes == 8 * 1024 * 1024
    assert limits.credential_cookies == (b"auth",)


async def _head_then_body(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """An app that starts its answer, then writes the body only when asked to (``?body``) or never."""
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    if scope["query_string"] == b"body":
        await send({"type": "http.response.body", "body": b"done"})
    else:
        await asyncio.sleep(30)


# (case, query) -> what arrives: the head alone, at once, when no body follows it in the same loop
# iteration (the server holds a response's head only until then), or head and body together.
HEAD_CASES = [("head without a body yet", b"", b""), ("head and body", b"body", b"done")]


@pytest.mark.parametrize(("query", "body"), [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES])
async def test_the_response_head_is_never_held_back(query: bytes, body: bytes) -> None:
    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(_head_then_body, http=limited_protocol(HttpLimits()), lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # The socket already listens: the connection waits in its backlog until uvicorn picks it up.
        reader, writer = await asyncio.open_connection("127.0.0.1", sock.getsockname()[1])
        writer.write(b"GET /?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        if body:
            assert body in await asyncio.wait_for(reader.read(100), 5)
        writer.transport.abort()
    finally:
        server.should_exit = True
        server.force_exit = True
        await task
