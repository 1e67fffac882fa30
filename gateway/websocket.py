"""Streaming methods over WebSocket, at the same paths as over HTTP.

A WebSocket handshake (``GET`` with ``Upgrade: websocket``) on the path of a streaming method opens the
call; ``?method=POST`` picks the binding when several HTTP methods share the path (by default the one
streaming binding there). The conventions, in both directions one JSON message per **text** frame:

* client frames are request messages, decoded like a request body (``body: "*"`` or the body field);
  an **empty text frame** half-closes the request stream (no more requests; answers keep coming).
  A server-streaming method takes exactly one request frame (path and query values are merged in, as
  over HTTP); a client-streaming or bidi method takes any number.
* server frames are the answers, each the JSON of one response message (no ``{"result": ...}``
  wrapper: the frame is the boundary).
* the call's status is the close frame: ``1000`` for OK, ``4000 + code`` for a gRPC error (``4005``
  NOT_FOUND, ``4016`` UNAUTHENTICATED, ...) with the status message as the reason (cut to the 123
  bytes a close reason may hold). Closing the socket from the client cancels the call. When the server
  shuts down, open sockets close with ``4014`` (UNAVAILABLE) ``server shutting down`` and their calls
  are cancelled.
* auth and metadata come from the handshake's headers (``Authorization``, ``Grpc-Metadata-*``,
  cookies, as the gateway's header matcher and annotators map them), like any other request;
  browsers, which cannot set headers on a WebSocket, can send a cookie the service accepts.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from protogw.core.codec import dumps
from protogw.gateway.backend import Backend, Call, StreamCall
from protogw.gateway.errors import GatewayError
from protogw.gateway.headers import IncomingConfig, MetadataError, incoming_metadata
from protogw.gateway.http import parse_query, peer, request_head
from protogw.gateway.request import RequestError
from protogw.gateway.router import MalformedPathError, Match
from protogw.gateway.routes import Route, RouteTable
from protogw.gateway.shutdown import SHUTTING_DOWN, OpenStreams
from protogw.gateway.types import Receive, Scope, Send

__all__ = ["WebSocketEndpoint", "close_code"]

_HALF_CLOSE = ""
_MAX_REASON = 123


def close_code(code: grpc.StatusCode) -> int:
    """The close code for a call's status: 1000 for OK, else 4000 plus the gRPC code number."""
    number = code.value[0]
    return 1000 if number == 0 else 4000 + number


def _reason(message: str) -> str:
    data = message.encode("utf-8")[:_MAX_REASON]
    return data.decode("utf-8", errors="ignore")


class _Gone(Exception):
    """The client closed the socket."""


class WebSocketEndpoint:
    """Serves the streaming routes of a :class:`RouteTable` over WebSocket; see the module docstring."""

    def __init__(
        self, routes: RouteTable, backend: Backend, incoming: IncomingConfig, streams: OpenStreams | None = None
    ) -> None:
        self.routes = routes
        self.backend = backend
        self.incoming = incoming
        self.options = routes.options
        self.streams = streams if streams is not None else OpenStreams()

    def serves(self, scope: Scope) -> bool:
        """Whether a streaming method is at this path (else a fallback app may take the socket)."""
        return self._route(scope) is not None

    def _route(self, scope: Scope) -> Match[Route] | None:
        path: str = scope["path"]
        raw = scope.get("raw_path")
        if raw:
            path = raw.decode("latin-1").partition("?")[0]
        query, _ = parse_query(scope)
        wanted = next((v.upper() for k, v in query if k == "method"), None)
        methods = [wanted] if wanted else sorted(self.routes.router.all_methods_at(path))
        for method in methods:
            try:
                found = self.routes.router.lookup(method, path)
            except MalformedPathError:
                return None
            if isinstance(found, Match):
                m = found.value.binding.method
                if (m.client_streaming or m.server_streaming) and found.value.unservable is None:
                    return found
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connect = await receive()
        if connect["type"] != "websocket.connect":
            return
        match = self._route(scope)
        if match is None:
            # No streaming method here: refuse the handshake (the server answers 403).
            await send({"type": "websocket.close", "code": 1008})
            return
        try:
            metadata, timeout, request_id = incoming_metadata(request_head_ws(scope), self.incoming)
        except MetadataError:
            await send({"type": "websocket.close", "code": 1008})
            return
        route = match.value
        call = Call.with_timeout(
            metadata, timeout, peer=peer(scope.get("client")), request_id=request_id, binding=route.binding
        )
        await send({"type": "websocket.accept"})
        session = _Session(route, match, scope, receive, send, self.backend, call)
        self.streams.add(session.stop)
        try:
            code, message = await session.run()
            with contextlib.suppress(Exception):
                await send({"type": "websocket.close", "code": close_code(code), "reason": _reason(message)})
        finally:
            self.streams.discard(session.stop)


def request_head_ws(scope: Scope) -> Any:
    """The handshake as a request head (method ``GET``), for header mapping."""
    ws_scope = dict(scope)
    ws_scope.setdefault("method", "GET")
    return request_head(ws_scope)


class _Session:
    """One WebSocket call: frames in, frames out, the status as the close frame."""

    def __init__(
        self,
        route: Route,
        match: Match[Route],
        scope: Scope,
        receive: Receive,
        send: Send,
        backend: Backend,
        call: Call,
    ) -> None:
        self.route = route
        self.match = match
        self.scope = scope
        self.receive = receive
        self.send = send
        self.backend = backend
        self.call = call
        self.queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=16)
        self.stopping: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def stop(self) -> None:
        """End the call: the server is shutting down."""
        if not self.stopping.done():
            self.stopping.set_result(None)

    def _build(self, text: str, *, first: bool) -> Message:
        query, _ = parse_query(self.scope)
        query = [(k, v) for k, v in query if k != "method"]
        params = self.match.params if first else {}
        try:
            return self.route.builder.build(params, query if first else (), text.encode("utf-8"))
        except RequestError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"message frame {exc}") from None

    async def _frame(self) -> str | None:
        """The next text frame (None: the client half-closed); _Gone when the socket closed."""
        while True:
            event = await self.receive()
            if event["type"] == "websocket.disconnect":
                raise _Gone
            text = event.get("text")
            if text is None:
                raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "binary frames are not accepted; send JSON text")
            return None if text == _HALF_CLOSE else text

    async def _pump(self) -> None:
        """Read request frames into the queue, then wait for the socket to close."""
        first = True
        while True:
            text = await self._frame()
            if text is None:
                break
            await self.queue.put(self._build(text, first=first))
            first = False
        await self.queue.put(None)
        while True:
            await self._frame()

    async def _requests(self) -> AsyncIterator[Message]:
        while True:
            item = await self.queue.get()
            if item is None:
                return
            yield item

    async def _send_message(self, message: Message) -> None:
        value = self.route.codec.encode(message)
        if self.route.response_key is not None:
            value = value.get(self.route.response_key) if isinstance(value, dict) else None
        await self.send({"type": "websocket.send", "text": dumps(value).decode("utf-8")})

    async def run(self) -> tuple[grpc.StatusCode, str]:
        method = self.route.binding.method
        pump = asyncio.create_task(self._pump())
        work = asyncio.create_task(self._work(method))
        try:
            await asyncio.wait({pump, work, self.stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                shutdown = not pump.done()  # else the client closed the socket or sent a bad frame
                failure = None if shutdown else pump.exception()
                work.cancel()
                with contextlib.suppress(BaseException):
                    await work
                if shutdown:
                    return grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN
                if isinstance(failure, GatewayError):
                    return failure.code, failure.message
                return grpc.StatusCode.CANCELLED, "the client closed the socket"
            try:
                work.result()
            except GatewayError as err:
                return err.code, err.message
            return grpc.StatusCode.OK, ""
        finally:
            self.stopping.cancel()
            for task in (pump, work):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _work(self, method: Any) -> None:
        if method.client_streaming and method.server_streaming:
            await self._relay(self.backend.bidi_stream(method, self._requests(), self.call))
        elif method.client_streaming:
            result = await self.backend.client_stream(method, self._requests(), self.call)
            await self._send_message(result.response)
        else:
            requests = self._requests()
            request = await anext(requests, None)
            if request is None:
                raise GatewayError(
                    grpc.StatusCode.INVALID_ARGUMENT, "a server-streaming method needs one request frame"
                )
            await self._relay(self.backend.server_stream(method, request, self.call))

    async def _relay(self, stream: StreamCall) -> None:
        try:
            async for message in stream:
                await self._send_message(message)
        except asyncio.CancelledError:
            await stream.cancel()
            raise
