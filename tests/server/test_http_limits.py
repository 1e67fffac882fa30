"""The HTTP server's own limits in front of the REST gateway (``protogw serve``), over real sockets:
slow and oversized heads, connection floods and bodies refused before they are read."""

from __future__ import annotations

import asyncio
import contextlib
import time
import types
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from websockets.asyncio.client import connect

from protogw.gateway.headers import IncomingConfig, incoming_metadata
from protogw.gateway.http import peer, request_head
from protogw.gateway.http_limits import HOLD_LIMIT, HttpLimits, _HeadWithBody, limited_protocol
from protogw.gateway.shutdown import GatewayServer
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


@contextlib.asynccontextmanager
async def limited_server(app: Any, limits: HttpLimits | None = None) -> AsyncIterator[int]:
    """``app`` on a real uvicorn with the limits' protocol; its port. The socket already listens: a
    connection waits in its backlog until uvicorn picks it up."""
    sock = listen("127.0.0.1", 0)
    config = uvicorn.Config(app, http=limited_protocol(limits or HttpLimits()), lifespan="off", log_level="error")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        server.force_exit = True
        await task


@pytest.mark.parametrize(("query", "body"), [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES])
async def test_the_response_head_is_never_held_back(query: bytes, body: bytes) -> None:
    async with limited_server(_head_then_body) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /?" + query + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        assert head.startswith(b"HTTP/1.1 200")
        if body:
            assert body in await asyncio.wait_for(reader.read(100), 5)
        writer.transport.abort()


# --- how responses are written: held to the end of the loop iteration, then one write ------------------


class _Transport:
    """Records what is written and when it is closed, in order."""

    def __init__(self, closing: bool = False) -> None:
        self.events: list[bytes | str] = []
        self.closing = closing

    def write(self, data: bytes) -> None:
        self.events.append(bytes(data))

    def close(self) -> None:
        self.closing = True
        self.events.append("close")

    def is_closing(self) -> bool:
        return self.closing


BIG_BODY = b"x" * HOLD_LIMIT

# (case, writes in one iteration, then close?, transport closing already, events before the iteration
# ends, events after it)
HOLD_CASES: list[tuple[str, list[bytes], bool, bool, list[bytes | str], list[bytes | str]]] = [
    ("head alone: written when the iteration ends", [b"H"], False, False, [], [b"H"]),
    ("head and body: one write when the iteration ends", [b"H", b"B"], False, False, [], [b"HB"]),
    ("head, body and chunk end: one write", [b"H", b"B", b"0\r\n\r\n"], False, False, [], [b"HB0\r\n\r\n"]),
    ("past the hold limit: written at once", [b"H", BIG_BODY], False, False, [b"H" + BIG_BODY], [b"H" + BIG_BODY]),
    (
        "past the hold limit, then more: that passes straight through",
        [b"H", BIG_BODY, b"T"],
        False,
        False,
        [b"H" + BIG_BODY, b"T"],
        [b"H" + BIG_BODY, b"T"],
    ),
    ("close writes what is held first", [b"H", b"B"], True, False, [b"HB", "close"], [b"HB", "close"]),
    ("a closing connection gets nothing", [b"H", b"B"], False, True, [], []),
]


@pytest.mark.parametrize(
    ("writes", "close", "closing", "before", "after"), [c[1:] for c in HOLD_CASES], ids=[c[0] for c in HOLD_CASES]
)
async def test_a_response_is_held_to_the_end_of_the_iteration(
    writes: list[bytes], close: bool, closing: bool, before: list[bytes | str], after: list[bytes | str]
) -> None:
    raw = _Transport(closing)
    wrapper = _HeadWithBody(raw, asyncio.get_running_loop())  # type: ignore[arg-type]
    for data in writes:
        wrapper.write(data)
    if close:
        wrapper.close()
    assert raw.events == before
    await asyncio.sleep(0)  # the iteration ends
    assert raw.events == after
    if not closing:
        wrapper.write(b"later")  # after the first iteration, writes pass straight through
        assert raw.events[-1] == b"later"


@pytest.mark.parametrize("action", ["shutdown", "send_400_response"])
def test_the_protocol_writes_a_held_response_before_its_own(action: str) -> None:
    """A server shutdown (or a bad next request) in the iteration that completed a response closes the
    connection itself: what the response holds goes first, not lost, not overtaken."""
    loop = asyncio.new_event_loop()
    try:
        raw = _Transport()
        wrapper = _HeadWithBody(raw, loop)  # type: ignore[arg-type]
        wrapper.write(b"HTTP/1.1 200 OK\r\n\r\n")
        protocol = object.__new__(limited_protocol(HttpLimits()))
        protocol.cycle = types.SimpleNamespace(transport=wrapper, response_complete=True, keep_alive=True)  # type: ignore[assignment]
        protocol._response_writer = wrapper
        protocol.transport = raw  # type: ignore[assignment]
        protocol._refused = False
        protocol._head_timer = None
        protocol.server_state = types.SimpleNamespace(default_headers=[])  # type: ignore[assignment]
        if action == "shutdown":
            protocol.shutdown()
        else:
            protocol.send_400_response("Invalid HTTP request received.")
        assert raw.events[0] == b"HTTP/1.1 200 OK\r\n\r\n"
        assert raw.events[-1] == "close"
        if action == "send_400_response":
            assert b"400 Bad Request" in raw.events[1]  # type: ignore[operator]
    finally:
        loop.close()


async def _answer(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    if scope["path"] == "/slow":
        await asyncio.sleep(0.05)  # still being served when the requests behind it are parsed
    body = scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


_GET = b"GET %s HTTP/1.1\r\nHost: x\r\n\r\n"
_BAD = b"NOT HTTP AT ALL\r\n\r\n"
_TOO_LARGE = b"POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" + b"x" * 100
_BAD_CHUNK = b"POST /own HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\n"

# (case, limits, what the client sends in one write, the answers it must get in order, whether the
# server then closes the connection). A request refused behind good ones (a 400 from the parser, a
# refusal of ours) is answered after them: it never costs them their answers.
PIPELINES = [
    ("two requests", HttpLimits(), _GET % b"/one" + _GET % b"/two", [b"/one", b"/two"], False),
    ("three requests", HttpLimits(), _GET % b"/a" + _GET % b"/b" + _GET % b"/c", [b"/a", b"/b", b"/c"], False),
    ("a bad request behind a good one", HttpLimits(), _GET % b"/one" + _BAD, [b"/one", b" 400 "], True),
    (
        "a bad request behind a slow one and a queued one",
        HttpLimits(),
        _GET % b"/slow" + _GET % b"/two" + _BAD,
        [b"/slow", b"/two", b" 400 "],
        True,
    ),
    (
        "a body too large behind a good one",
        HttpLimits(max_body_bytes=10),
        _GET % b"/one" + _TOO_LARGE,
        [b"/one", b" 413 "],
        True,
    ),
    (
        "a body too large behind a slow one",
        HttpLimits(max_body_bytes=10),
        _GET % b"/slow" + _TOO_LARGE,
        [b"/slow", b" 413 "],
        True,
    ),
    # The bad bytes are the request's own body: it can have no answer but the 400, at once.
    ("a bad chunk in the request's own body", HttpLimits(), _BAD_CHUNK, [b" 400 "], True),
]


@pytest.mark.parametrize(
    ("limits", "sent", "answers", "closes"), [c[1:] for c in PIPELINES], ids=[c[0] for c in PIPELINES]
)
async def test_pipelined_answers_keep_their_order(
    limits: HttpLimits, sent: bytes, answers: list[bytes], closes: bool
) -> None:
    async with limited_server(_answer, limits) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(sent)
        received = b""
        ended = False
        with contextlib.suppress(asyncio.TimeoutError):
            while not ended and (closes or not all(a in received for a in answers)):
                chunk = await asyncio.wait_for(reader.read(4096), 5)
                ended = not chunk
                received += chunk
        positions = [received.find(a) for a in answers]
        assert all(p >= 0 for p in positions), received
        assert positions == sorted(positions), received
        assert received.count(b"HTTP/1.1 ") == len(answers), received
        assert ended is closes, received
        writer.transport.abort()


async def _forwarding(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers (over HTTP, or as a WebSocket's one text message) with the X-Forwarded-For metadata
    and the peer the gateway makes of the request."""
    if scope["type"] == "lifespan":
        for step in ("startup", "shutdown"):
            await receive()
            await send({"type": f"lifespan.{step}.complete"})
        return
    head = request_head({"method": "GET", **scope})
    metadata, _, _ = incoming_metadata(head, IncomingConfig())
    answer = f"{dict(metadata)['x-forwarded-for']}|{peer(head.client)}"
    if scope["type"] == "websocket":
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": answer})
        await send({"type": "websocket.close", "code": 1000})
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": answer.encode()})


#: (how the request arrives, X-Forwarded-For sent from 127.0.0.1 - a proxy uvicorn trusts by default;
#: the metadata's X-Forwarded-For, which ends with the TCP peer as grpc-gateway's does; the start of
#: the call's peer: the address the trusted proxy forwarded, as uvicorn reports the client).
FORWARDED = [
    ("http", None, "127.0.0.1", "ipv4:127.0.0.1:"),
    ("http", "1.2.3.4", "1.2.3.4, 127.0.0.1", "ipv4:1.2.3.4:0"),
    ("http", "5.6.7.8, 1.2.3.4", "5.6.7.8, 1.2.3.4, 127.0.0.1", "ipv4:1.2.3.4:0"),
    ("websocket", None, "127.0.0.1", "ipv4:127.0.0.1:"),
    ("websocket", "1.2.3.4", "1.2.3.4, 127.0.0.1", "ipv4:1.2.3.4:0"),
]


@pytest.mark.parametrize(("kind", "sent", "metadata", "peer_prefix"), FORWARDED)
async def test_forwarded_for_ends_with_the_tcp_peer(
    kind: str, sent: str | None, metadata: str, peer_prefix: str
) -> None:
    """Through the server every protogw HTTP port runs (GatewayServer.for_app)."""
    headers = {"X-Forwarded-For": sent} if sent is not None else {}
    sock = listen("127.0.0.1", 0)
    server = GatewayServer.for_app(_forwarding, None, HttpLimits(), log_level="error", grace=1)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        url = f"127.0.0.1:{sock.getsockname()[1]}/"
        if kind == "http":
            async with httpx.AsyncClient() as client:
                text = (await client.get(f"http://{url}", headers=headers)).text
        else:
            async with connect(f"ws://{url}", additional_headers=headers) as ws:
                text = str(await ws.recv())
    finally:
        server.should_exit = True
        await task
    forwarded, _, call_peer = text.partition("|")
    assert forwarded == metadata
    assert call_peer.startswith(peer_prefix)
