"""grpc-gateway's own example protos through the gateway: every example service loads on its own, the
ones its example gateway serves together load jointly, and the streaming methods (client streams,
bidi streams, server streams) are served over REST exactly as grpc-gateway serves them, in both
backends, by a live HTTP server in front of a service built from the descriptor set alone."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import grpc
import httpx
import orjson
import pytest
import uvicorn
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from protogw.core.descriptors import services_in
from protogw.gateway.app import RouteTable, create_app
from protogw.gateway.backend import Backend
from protogw.gateway.cli import bind
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.proxy import ProxyBackend
from tests.gateway.upstream_service import (
    DESCRIPTORS,
    PACKAGE,
    POOL,
    SERVED,
    Recorder,
    add_upstream_services,
)

EXAMPLE_SERVICES = services_in(DESCRIPTORS, packages=[PACKAGE])


@pytest.mark.parametrize("service", EXAMPLE_SERVICES, ids=[s.rpartition(".")[2] for s in EXAMPLE_SERVICES])
def test_every_example_service_loads(service: str) -> None:
    assert len(RouteTable.from_descriptor_set(DESCRIPTORS, [service])) >= 0


def test_the_example_gateway_set_loads_jointly() -> None:
    table = RouteTable.from_descriptor_set(DESCRIPTORS, SERVED)
    streaming = {b.method.descriptor.name for b in table.bindings if b.method.client_streaming}
    assert {"BulkCreate", "BulkEcho", "BulkEchoDuration", "StreamEmptyRpc", "StreamEmptyStream"} <= streaming


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    """Poll ``condition`` (state another task or process changes) until it holds."""
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise TimeoutError("condition not reached")


@dataclass
class Live:
    url: str
    recorder: Recorder
    kind: str


@contextlib.asynccontextmanager
async def live_gateway(kind: str, recorder: Recorder) -> AsyncIterator[Live]:
    """The example services behind the gateway, served by uvicorn on a free port."""
    grpc_server: grpc.aio.Server | None = None
    backend: Backend
    if kind == "inprocess":
        inproc = InProcessBackend()
        add_upstream_services(inproc, recorder)
        backend = inproc
    else:
        grpc_server = grpc.aio.server()
        add_upstream_services(grpc_server, recorder)
        port = grpc_server.add_insecure_port("127.0.0.1:0")
        await grpc_server.start()
        backend = ProxyBackend(f"127.0.0.1:{port}")
    app = create_app(RouteTable.from_pool(POOL, SERVED), backend)
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, http="httptools", lifespan="on", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        await until(lambda: server.started)
        yield Live(f"http://127.0.0.1:{sock.getsockname()[1]}", recorder, kind)
    finally:
        server.should_exit = True
        await task
        sock.close()
        if grpc_server is not None:
            await grpc_server.stop(None)


@pytest.fixture(params=["inprocess", "proxy"])
async def live(request: pytest.FixtureRequest) -> AsyncIterator[Live]:
    async with live_gateway(request.param, Recorder()) as running:
        yield running


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


def lines(body: bytes) -> list[object]:
    return [orjson.loads(line) for line in body.splitlines() if line.strip()]


ABE = b'{"stringValue": "%d", "int32Value": %d, "singleNested": {"name": "n%d"}}'

# The three body forms a client stream accepts, each split across HTTP chunks at awkward places.
CLIENT_STREAM_BODIES = [
    ("concatenated", [ABE % (1, 1, 1) + ABE[:10], ABE[10:] % (2, 2, 2) + ABE % (3, 3, 3)]),
    ("newline-delimited", [ABE % (1, 1, 1) + b"\n", ABE % (2, 2, 2) + b"\n" + ABE % (3, 3, 3) + b"\n"]),
    ("json-array", [b"[" + ABE % (1, 1, 1) + b",", ABE % (2, 2, 2) + b" , " + ABE % (3, 3, 3) + b"]"]),
]


@pytest.mark.parametrize(("form", "parts"), CLIENT_STREAM_BODIES, ids=[c[0] for c in CLIENT_STREAM_BODIES])
async def test_bulk_create(live: Live, form: str, parts: list[bytes]) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post("/v1/example/a_bit_of_everything/bulk", content=chunks(*parts))
    assert response.status_code == 200, response.text
    assert response.json() == {}
    got = [(m.string_value, m.int32_value, m.single_nested.name) for m in live.recorder.created]  # type: ignore[attr-defined]
    assert got == [("1", 1, "n1"), ("2", 2, "n2"), ("3", 3, "n3")]


# A client's mistake mid-stream: 400, the bad message never reaches the service, and the call is
# cancelled. In-process the handler sees the cancellation; a grpc.aio server ends a client-cancelled
# request stream as if it were complete (its handler cannot tell), so over the proxy the test checks
# what the service can see: it got the good message and nothing after it.
BAD_STREAMS = [
    ("bad-json", [ABE % (1, 1, 1), b'{"stringValue": nope}'], "streamed message"),
    ("wrong-type", [ABE % (1, 1, 1), b'{"int32Value": "x"}'], "streamed message"),
    ("stray-bracket", [ABE % (1, 1, 1), b"]"], "invalid request stream"),
    ("truncated", [ABE % (1, 1, 1), b'{"stringValue": "x'], "invalid request stream"),
]


@pytest.mark.parametrize(("case", "parts", "message"), BAD_STREAMS, ids=[b[0] for b in BAD_STREAMS])
async def test_bad_client_stream(live: Live, case: str, parts: list[bytes], message: str) -> None:
    first, bad = parts

    async def body() -> AsyncIterator[bytes]:
        # The bad part goes out once the service holds the first message, so its stream is running.
        yield first
        await until(lambda: live.recorder.count >= 1)
        yield bad

    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post("/v1/example/a_bit_of_everything/bulk", content=body())
    assert response.status_code == 400, response.text
    assert message in response.json()["message"]
    if live.kind == "inprocess":
        await until(lambda: live.recorder.cancelled == 1)
    assert live.recorder.count == 1


STREAMS: list[tuple[str, str, bytes, Callable[[list[object]], bool]]] = [
    (
        "bulk-echo",
        "/v1/example/a_bit_of_everything/echo",
        b'{"value": "a"}\n{"value": "b"}',
        lambda got: got == [{"result": {"value": "a"}}, {"result": {"value": "b"}}],
    ),
    (
        "bulk-echo-duration",
        "/v1/example/a_bit_of_everything/echo_duration",
        b'"1s" "2.5s"',
        lambda got: got == [{"result": "1s"}, {"result": "2.500s"}],
    ),
    ("stream-empty-stream", "/stream/empty/stream", b"{}{}", lambda got: got == [{"result": {}}, {"result": {}}]),
    ("rpc-empty-stream", "/rpc/empty/stream", b"", lambda got: got == [{"result": {}}] * 3),
    ("bulk-echo-empty", "/v1/example/a_bit_of_everything/echo", b"", lambda got: got == []),
]


@pytest.mark.parametrize(("path", "body", "check"), [s[1:] for s in STREAMS], ids=[s[0] for s in STREAMS])
async def test_streams(live: Live, path: str, body: bytes, check: Callable[[list[object]], bool]) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post(path, content=body)
    assert response.status_code == 200, response.text
    assert check(lines(response.content)), response.content


async def test_client_stream_without_body_rule(live: Live) -> None:
    # FlowCombination.StreamEmptyRpc has no body in its rule: the body is still its stream of messages.
    async with httpx.AsyncClient(base_url=live.url) as client:
        response = await client.post("/stream/empty/rpc", content=b"{}\n{}\n")
    assert (response.status_code, response.json()) == (200, {})


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    """One NDJSON line from a chunked HTTP body (chunk-size lines skipped)."""
    while True:
        line = (await reader.readline()).strip()
        if line.startswith(b"{"):
            return line


async def test_bidi_answers_flow_while_the_request_streams(live: Live) -> None:
    """Each answer arrives before the next request message is sent: nothing waits for the whole body."""
    host, port = live.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(
        b"POST /v1/example/a_bit_of_everything/echo HTTP/1.1\r\nHost: x\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n"
    )
    try:
        async with asyncio.timeout(10):
            for word in (b"one", b"two", b"three"):
                message = b'{"value": "' + word + b'"}\n'
                writer.write(b"%x\r\n%s\r\n" % (len(message), message))
                await writer.drain()
                assert orjson.loads(await _read_line(reader)) == {"result": {"value": word.decode()}}
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            rest = await reader.read()
            assert b"0\r\n\r\n" in rest or rest == b""
    finally:
        writer.close()


async def test_server_stream_error_after_messages(live: Live) -> None:
    async with httpx.AsyncClient(base_url=live.url) as client:
        await client.post("/v1/example/a_bit_of_everything/bulk", content=ABE % (1, 1, 1))
        response = await client.get("/v1/example/a_bit_of_everything", params={"error": "true"})
    got = lines(response.content)
    assert response.status_code == 200
    assert got[0]["result"]["stringValue"] == "1"  # type: ignore[index]
    assert got[-1]["error"]["code"] == grpc.StatusCode.INVALID_ARGUMENT.value[0]  # type: ignore[index]


# --- WebSocket ----------------------------------------------------------------------------------------

WS_CALLS = [
    # path, frames sent (an empty frame half-closes), frames expected back, close code
    (
        "/v1/example/a_bit_of_everything/echo",
        ['{"value": "a"}', '{"value": "b"}', ""],
        [{"value": "a"}, {"value": "b"}],
        1000,
    ),
    ("/v1/example/a_bit_of_everything/echo_duration", ['"1s"', '"0.5s"', ""], ["1s", "0.500s"], 1000),
    ("/stream/empty/rpc", ["{}", "{}", ""], [{}], 1000),
    ("/rpc/empty/stream", ["{}"], [{}, {}, {}], 1000),
    ("/v1/example/a_bit_of_everything/echo", ['{"value": 5}'], [], 4003),
]


@pytest.mark.parametrize(("path", "frames", "expected", "code"), WS_CALLS, ids=[f"{c[0]}-{c[3]}" for c in WS_CALLS])
async def test_websocket(live: Live, path: str, frames: list[str], expected: list[object], code: int) -> None:
    url = live.url.replace("http://", "ws://") + path
    got: list[object] = []
    async with asyncio.timeout(10), connect(url) as ws:
        for frame in frames:
            await ws.send(frame)
        with contextlib.suppress(ConnectionClosed):
            async for text in ws:
                got.append(orjson.loads(text))
    assert got == expected
    assert ws.close_code == code, ws.close_reason


async def test_websocket_bidi_interleaves(live: Live) -> None:
    url = live.url.replace("http://", "ws://") + "/v1/example/a_bit_of_everything/echo"
    async with asyncio.timeout(10), connect(url) as ws:
        for word in ("one", "two", "three"):
            await ws.send(orjson.dumps({"value": word}).decode())
            assert orjson.loads(await ws.recv()) == {"value": word}
        await ws.send("")
        with contextlib.suppress(ConnectionClosed):
            await ws.recv()
    assert ws.close_code == 1000


async def test_websocket_refused_where_no_stream_is() -> None:
    async with live_gateway("inprocess", Recorder()) as running:
        url = running.url.replace("http://", "ws://") + "/v1/example/a_bit_of_everything/nope"
        with pytest.raises(InvalidStatus) as info:
            async with connect(url):
                pass
    assert info.value.response.status_code == 403


async def test_websocket_client_leaving_cancels_the_call(live: Live) -> None:
    url = live.url.replace("http://", "ws://") + "/v1/example/a_bit_of_everything/bulk"
    async with asyncio.timeout(10), connect(url) as ws:
        await ws.send(orjson.dumps({"stringValue": "x"}).decode())
        await until(lambda: live.recorder.count == 1)
    if live.kind == "inprocess":
        await until(lambda: live.recorder.cancelled == 1)
