"""Small ASGI helpers the gateway's endpoints share: the request head, body and query string, peers,
stream framing and error responses."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from urllib.parse import parse_qsl

import grpc
from google.protobuf.message import Message

from protogw.gateway.errors import ErrorRenderer, GatewayError, Headers, render_error
from protogw.gateway.headers import TCP_PEER_KEY, RawHeaders, RequestHead, outgoing_headers
from protogw.gateway.types import ASGIApp, Receive, Scope, Send

__all__ = ["TcpPeerRecorder", "frame", "http_body", "parse_query", "peer", "read_body", "request_head", "send_error"]

JSON = b"application/json"
SSE = b"text/event-stream"


def request_head(scope: Scope) -> RequestHead:
    """The request line and headers as text, for header mapping and hooks (the headers are decoded
    only if a hook iterates them; header mapping reads their bytes)."""
    client = scope.get("client")
    tcp_peer = scope.get(TCP_PEER_KEY)
    return RequestHead(
        scope["method"],
        scope["path"],
        scope.get("query_string", b"").decode("latin-1"),
        RawHeaders(scope["headers"]),
        tuple(client) if client else None,
        scope.get("scheme", "http"),
        tuple(tcp_peer) if tcp_peer and tcp_peer != client else None,
    )


def parse_query(scope: Scope) -> tuple[list[tuple[str, str]], bool]:
    """The query parameters (UTF-8, strict) and whether ``pretty`` asks for indented JSON."""
    qs: bytes = scope.get("query_string", b"")
    if not qs:
        return [], False
    try:
        pairs = parse_qsl(qs.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
    except (UnicodeDecodeError, ValueError) as exc:
        raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid query string: {exc}") from None
    pretty = False
    for key, value in pairs:
        if key == "pretty":
            pretty = value not in ("0", "false", "False")
    return pairs, pretty


def _too_large(limit: int) -> GatewayError:
    return GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, f"request body larger than {limit} bytes", http_status=413)


async def read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole body; 413 as soon as it (or its declared length) exceeds ``limit``."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                declared = int(value)
            except ValueError:
                raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "invalid Content-Length") from None
            if declared > limit:
                raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise asyncio.CancelledError("client went away")
        chunk = message.get("body", b"")
        if chunk:
            size += len(chunk)
            if size > limit:
                raise _too_large(limit)
            chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class TcpPeerRecorder:
    """ASGI middleware that keeps a request's TCP peer (``scope["client"]`` as the server reports it)
    under :data:`~protogw.gateway.headers.TCP_PEER_KEY`, for HTTP requests and WebSocket handshakes:
    put it in front of a proxy-headers step, which replaces ``client`` with the address a trusted
    proxy forwarded."""

    __slots__ = ("app",)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The app's own coroutine, not one of this step's around it.
        if scope["type"] != "lifespan":
            scope[TCP_PEER_KEY] = scope.get("client")
        return self.app(scope, receive, send)


def peer(client: tuple[str, int] | None) -> str:
    """The HTTP client in gRPC's peer format (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    if client is None:
        return ""
    host, port = client
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def frame(data: bytes, sse: bool) -> bytes:
    """One stream item: a line of newline-delimited JSON, or one server-sent event."""
    if sse:
        return b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"
    return data + b"\n"


def http_body(message: Message) -> tuple[bytes, bytes]:
    """Content type and bytes of a ``google.api.HttpBody``."""
    content_type = message.content_type or "application/octet-stream"  # type: ignore[attr-defined]
    return content_type.encode("latin-1"), bytes(message.data)  # type: ignore[attr-defined]


async def send_error(
    send: Send,
    renderer: ErrorRenderer,
    err: GatewayError,
    *,
    pretty: bool = False,
    extra: Sequence[tuple[bytes, bytes]] = (),
    te_trailers: bool = False,
) -> None:
    """Answer with ``err`` rendered by ``renderer``, its headers and metadata, and ``extra`` headers."""
    status, headers, body = render_error(renderer, err, pretty=pretty)
    headers.extend(err.headers)
    headers.extend(outgoing_headers(err.header_metadata, err.trailing_metadata if te_trailers else None))
    headers.extend(extra)
    headers.append((b"content-length", b"%d" % len(body)))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def stream_error(renderer: ErrorRenderer, err: GatewayError, pretty: bool) -> tuple[int, Headers, bytes]:
    """An error that ends a stream: its status, headers and ``{"error": ...}`` body."""
    status, headers, body = render_error(renderer, err, pretty=pretty)
    return status, headers, b'{"error":' + body + b"}"
