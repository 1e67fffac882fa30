"""The transcoding endpoint: finds the route of a REST request, builds the request message, runs the call
on the backend and writes the JSON answer (or the stream of them).

Routing errors follow grpc-gateway: an unknown path is 404 ``{"code":5,"message":"Not Found"}``; a
known path with the wrong method is **501** ``{"code":12,"message":"Method Not Allowed"}`` by default,
because grpc-gateway turns the 405 into gRPC UNIMPLEMENTED. ``GatewayOptions(method_not_allowed=405)``
answers with a plain 405 and an ``Allow`` header instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any
from urllib.parse import parse_qsl

import grpc
from google.protobuf.message import Message

from protogw.core.codec import MemoLane, WireMemo, dumps
from protogw.core.receipt import SCOPE_KEY, receiving
from protogw.gateway.backend import Backend, Call, StreamCall, UnaryResult
from protogw.gateway.errors import GatewayError, Headers
from protogw.gateway.headers import IncomingConfig, MetadataError, RequestHead, incoming_metadata, outgoing_headers
from protogw.gateway.http import (
    JSON,
    SSE,
    frame,
    http_body,
    parse_query,
    peer,
    read_body,
    request_head,
    send_error,
    stream_error,
)
from protogw.gateway.jsonstream import JsonStream, JsonStreamError
from protogw.gateway.request import RequestError
from protogw.gateway.router import MalformedPathError, Match, MatchResult, UnescapingMode
from protogw.gateway.routes import Route, RouteTable
from protogw.gateway.shutdown import OpenStreams, shutting_down
from protogw.gateway.types import ASGIApp, Receive, Scope, Send

__all__ = ["Transcoder"]

Query = list[tuple[str, str]]

#: Unary response bodies remembered (``GatewayOptions.response_memo_bytes`` bounds their bytes); larger
#: bodies (long listing pages) are encoded every time.
RESPONSE_MEMO_ENTRIES = 4096
RESPONSE_MEMO_MAX_BYTES = 64 * 1024


class Transcoder:
    """Serves every route of a :class:`RouteTable` through a backend; ``fallback`` gets unknown paths.

    Its streams (server, client and bidi) register in ``streams``, which ends them at shutdown.
    """

    def __init__(
        self,
        routes: RouteTable,
        backend: Backend,
        fallback: ASGIApp | None = None,
        streams: OpenStreams | None = None,
    ) -> None:
        self.routes = routes
        self.backend = backend
        self.fallback = fallback
        self.streams = streams if streams is not None else OpenStreams()
        self.options = routes.options
        self.incoming = IncomingConfig(
            self.options.header_matcher, tuple(self.options.annotators), self.options.request_id_header
        )
        self._renderer = routes.error_renderer
        budget = self.options.response_memo_bytes
        self._bodies = (
            WireMemo(entries=RESPONSE_MEMO_ENTRIES, budget=budget, max_bytes=RESPONSE_MEMO_MAX_BYTES)
            if budget > 0
            else None
        )
        self._lanes: dict[Route, MemoLane] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if self.options.unescaping is not UnescapingMode.LEGACY:
            raw = scope.get("raw_path")
            if raw:
                path = raw.decode("latin-1").partition("?")[0]
        if not path.startswith("/"):
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "Bad Request")
        try:
            found = self.routes.router.lookup(method, path)
        except MalformedPathError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc), http_status=400) from None
        form: Query | None = None
        if not isinstance(found, Match) and method == "POST" and self._is_form(scope):
            found, form = await self._form_fallback(scope, receive, path, found)
        if not isinstance(found, Match):
            if self.fallback is not None and found is MatchResult.NOT_FOUND:
                await self.fallback(scope, receive, send)
                return
            raise self._routing_error(found, path)
        await self._serve(scope, receive, send, found, form)

    # -- routing ------------------------------------------------------------------------------------------

    def _is_form(self, scope: Scope) -> bool:
        if not self.options.form_fallback:
            return False
        for name, value in scope["headers"]:
            if name == b"content-type":
                return bool(value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded")
        return False

    async def _form_fallback(
        self, scope: Scope, receive: Receive, path: str, found: MatchResult
    ) -> tuple[Match[Route] | MatchResult, Query | None]:
        """grpc-gateway's path-length fallback: a form POST to a path with no POST route is served by
        its GET route (or by the method in ``X-HTTP-Method-Override``), the form fields joining the
        query parameters - for clients whose query strings would be too long."""
        override = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"x-http-method-override"), "")
        alternative = self.routes.router.lookup(override.upper() or "GET", path)
        if not isinstance(alternative, Match):
            return found, None
        body = await read_body(scope, receive, self.options.max_body_bytes)
        try:
            form = parse_qsl(body.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid form body: {exc}") from None
        return alternative, form

    def _routing_error(self, found: MatchResult, path: str) -> GatewayError:
        if found is MatchResult.NOT_FOUND:
            return GatewayError(grpc.StatusCode.NOT_FOUND, "Not Found")
        if self.options.method_not_allowed == 405:
            allowed = ", ".join(sorted(self.routes.router.all_methods_at(path)))
            return GatewayError(
                grpc.StatusCode.UNIMPLEMENTED,
                "Method Not Allowed",
                http_status=405,
                headers=((b"allow", allowed.encode("latin-1")),),
            )
        return GatewayError(grpc.StatusCode.UNIMPLEMENTED, "Method Not Allowed")

    @staticmethod
    def _without_pretty(route: Route, query: Query, pretty: bool) -> tuple[Query, bool]:
        """``pretty`` is the gateway's switch unless the request message has a field of that name, in
        which case it is data; as a switch it is not a query parameter of the message."""
        if "pretty" in route.binding.method.descriptor.input_type.fields_by_name:
            return query, False
        if pretty or any(k == "pretty" for k, _ in query):
            return [(k, v) for k, v in query if k != "pretty"], pretty
        return query, pretty

    # -- one call -----------------------------------------------------------------------------------------

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, match: Match[Route], form: Query | None = None
    ) -> None:
        route = match.value
        binding = route.binding
        if route.unservable is not None:
            raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, f"{binding.method.full_name}: {route.unservable}")
        head = request_head(scope)
        query, pretty = parse_query(scope)
        if query:
            query, pretty = self._without_pretty(route, query, pretty)
        if form is not None:
            query = query + form
        try:
            metadata, timeout, request_id = incoming_metadata(head, self.incoming)
        except MetadataError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        # The deadline runs from the arrival of the headers, as grpc-gateway's request context does.
        call = Call.with_timeout(metadata, timeout, peer(head.client), request_id, binding)
        extra: Headers = []
        if request_id is not None and self.options.request_id_header:
            extra.append((self.options.request_id_header.encode("latin-1"), request_id.encode("latin-1")))
        te_trailers = _wants_trailers(scope["headers"])
        result: UnaryResult | None
        request: Message | None = None
        try:
            if self.options.body_gate is not None and (binding.body is not None or binding.method.client_streaming):
                await self.options.body_gate(binding.method, call.metadata)
            if binding.method.client_streaming:
                pump = _RequestPump(route, receive, self.options.max_body_bytes, head.header("content-type") or "")
                if binding.method.server_streaming:
                    stream = self.backend.bidi_stream(binding.method, pump.messages(), call)
                    await self._stream(scope, send, route, stream, extra, pretty, pump.run)
                    return
                result = await pump.drive(
                    self.backend.client_stream(binding.method, pump.messages(), call), self.streams
                )
            else:
                result, request = await self._unary_or_server_stream(
                    scope, receive, send, match, form, query, head, call, extra, pretty
                )
            if result is None:
                return
        except GatewayError as err:
            await send_error(send, self._renderer, err, pretty=pretty, extra=extra, te_trailers=te_trailers)
            return
        headers = outgoing_headers(result.header_metadata, result.trailing_metadata if te_trailers else None)
        if route.http_body:
            content_type, payload = http_body(result.response)
        else:
            content_type, payload = JSON, self._encode(route, result.response, pretty)
        headers.append((b"content-type", content_type))
        # A length lets HTTP/1.1 answer without chunked framing (what Go's net/http does for a body
        # written at once, as grpc-gateway's is).
        headers.append((b"content-length", b"%d" % len(payload)))
        headers.extend(extra)
        if request is not None:
            for hook in self.options.response_hooks:
                headers.extend(
                    (k.encode("latin-1"), v.encode("latin-1"))
                    for k, v in hook(binding.method, request, result.response)
                )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _unary_or_server_stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        match: Match[Route],
        form: Query | None,
        query: Query,
        head: RequestHead,
        call: Call,
        extra: Headers,
        pretty: bool,
    ) -> tuple[UnaryResult | None, Message | None]:
        """Build the one request; a server stream is answered here (None), a unary call's result returned."""
        route = match.value
        binding = route.binding
        body = b""
        if binding.body is not None and form is None:
            body = await read_body(scope, receive, self.options.max_body_bytes)
        try:
            # The content type only matters to a body (one of type google.api.HttpBody is kept with it).
            content_type = (head.header("content-type") or "") if binding.body is not None else ""
            request = route.builder.build(match.params, query, body, content_type=content_type)
        except RequestError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        if binding.method.server_streaming:
            stream = self.backend.server_stream(binding.method, request, call)
            await self._stream(
                scope, send, route, stream, extra, pretty, functools.partial(_disconnect_watcher, receive)
            )
            return None, None
        # A unary call's reads may share a freshness check made after its request was received
        # (protogw.core.receipt); a stream's later reads must make their own, so it gets no stamp.
        with receiving(scope.get(SCOPE_KEY)):
            return await self.backend.unary(binding.method, request, call), request

    @staticmethod
    def _value(route: Route, response: Message, pretty: bool = False) -> object:
        # Compact output takes the codec whose values may hold remembered JSON (written as it is).
        value = (route.codec if pretty else route.compact).encode(response)
        if route.response_key is not None:
            value = value.get(route.response_key) if isinstance(value, dict) else None
        return value

    def _encode(self, route: Route, response: Message, pretty: bool) -> bytes:
        memo = self._bodies
        if memo is None or pretty:
            return dumps(self._value(route, response, pretty), pretty=pretty)
        lane = self._lanes.get(route)
        if lane is None:
            # Tagged with the route: two routes of one method may answer with different parts.
            lane = self._lanes[route] = memo.lane(route)
        key, body = lane.recall(response)
        if body is None:
            body = dumps(self._value(route, response))
            if key is not None:
                memo.remember(key, body)
        return body

    # -- server streams -----------------------------------------------------------------------------------

    async def _stream(
        self,
        scope: Scope,
        send: Send,
        route: Route,
        call: StreamCall,
        extra: Headers,
        pretty: bool,
        source: Callable[[], Coroutine[Any, Any, None]],
    ) -> None:
        """Write the answers of a stream as NDJSON (or SSE when asked) while ``source()`` reads the client:
        it returns when the client has gone (the call is then cancelled quietly) and raises a
        :class:`GatewayError` for a bad request mid-stream (the call is cancelled and the error sent).
        A shutdown (``self.streams``) ends it the same way, with UNAVAILABLE as the last item."""
        sse = any(n == b"accept" and SSE in v for n, v in scope["headers"])
        task = asyncio.current_task()
        assert task is not None
        ended: list[GatewayError | None] = []

        def end(reason: GatewayError | None) -> None:
            if not ended:
                ended.append(reason)
                task.cancel()

        async def watch() -> None:
            try:
                await source()
                end(None)
            except GatewayError as err:
                end(err)

        def stop() -> None:
            end(shutting_down())

        watcher = asyncio.create_task(watch())
        started = False
        iterator = aiter(call)
        self.streams.add(stop)
        try:
            try:
                async for message in iterator:
                    if not started:
                        started = True
                        await self._start_stream(send, call, route, extra, sse)
                    await send(
                        {
                            "type": "http.response.body",
                            "body": self._chunk(route, message, sse, pretty),
                            "more_body": True,
                        }
                    )
                    # A server's send() may neither fail nor wait when the peer has gone (uvicorn's
                    # returns at once; the transport drops the bytes with a warning): the loss is
                    # reported a loop iteration later, to the watcher as http.disconnect. Yield once
                    # per message so it is noticed before the next write, rather than after a whole
                    # backlog has been written into a dead socket.
                    await asyncio.sleep(0)
            except GatewayError as err:
                self.streams.discard(stop)
                started = await self._stream_failed(send, err, started, extra, sse, pretty)
            self.streams.discard(stop)  # the call is over: only its end is left to write
            if not started:
                await self._start_stream(send, call, route, extra, sse)
            await send({"type": "http.response.body", "body": b""})
        except (asyncio.CancelledError, OSError):
            if not ended:
                raise
            task.uncancel()
            await call.cancel()
            failure = ended[0]
            if failure is None:
                return  # the client left: there is nobody to answer
            started = await self._stream_failed(send, failure, started, extra, sse, pretty)
            await send({"type": "http.response.body", "body": b""})
        finally:
            self.streams.discard(stop)
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def _stream_failed(
        self, send: Send, err: GatewayError, started: bool, extra: Headers, sse: bool, pretty: bool
    ) -> bool:
        """Write ``err`` as the stream's last item (starting the response with its status if needed)."""
        status, headers, value = stream_error(self._renderer, err, pretty)
        if not started:
            headers.extend(outgoing_headers(err.header_metadata, None))
            headers.extend(extra)
            if sse:
                headers = [(k, v) for k, v in headers if k != b"content-type"] + [(b"content-type", SSE)]
            await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": frame(value, sse), "more_body": True})
        return True

    async def _start_stream(self, send: Send, call: StreamCall, route: Route, extra: Headers, sse: bool) -> None:
        headers = outgoing_headers(call.header_metadata(), None)
        if sse:
            headers.append((b"content-type", SSE))
            headers.append((b"cache-control", b"no-cache"))
        elif route.http_body:
            headers.append((b"content-type", b"application/octet-stream"))
        else:
            headers.append((b"content-type", JSON))
        headers.extend(extra)
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    def _chunk(self, route: Route, message: Message, sse: bool, pretty: bool) -> bytes:
        if route.http_body and not sse:
            return bytes(message.data)  # type: ignore[attr-defined]
        return frame(dumps({"result": self._value(route, message, pretty)}, pretty=pretty), sse)


def _wants_trailers(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether the client said it takes trailers (``TE: trailers``): trailing metadata is then sent
    as ``Grpc-Trailer-*`` headers, as grpc-gateway does. A loop, not ``any()`` over a generator: a
    third of the time, on every request."""
    for name, value in headers:  # noqa: SIM110
        if name == b"te" and b"trailers" in value.lower():
            return True
    return False


async def _disconnect_watcher(receive: Receive) -> None:
    """Return when the client goes away (the request body has been read already)."""
    while (await receive())["type"] != "http.disconnect":
        pass


class _ClientGone(Exception):
    """The client disconnected while its request stream was being read."""


class _RequestPump:
    """Reads a streamed request body, message by message, into the backend's request iterator.

    The body is split as it arrives (:class:`JsonStream`) and each message built and queued; the queue
    is small, so a slow backend slows the reading down instead of the body piling up in memory.
    """

    def __init__(self, route: Route, receive: Receive, max_message_bytes: int, content_type: str) -> None:
        self._route = route
        self._receive = receive
        self._limit = max_message_bytes
        self._content_type = content_type
        self._queue: asyncio.Queue[Message | None] = asyncio.Queue(maxsize=16)

    async def messages(self) -> AsyncIterator[Message]:
        """The request iterator the backend consumes."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            yield item

    def _build(self, value: bytes) -> Message:
        try:
            return self._route.builder.build({}, (), value, content_type=self._content_type)
        except RequestError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"streamed message {exc}") from None

    async def _read(self) -> None:
        stream = JsonStream(self._limit)
        try:
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    raise _ClientGone
                for value in stream.feed(message.get("body", b"")):
                    await self._queue.put(self._build(value))
                if not message.get("more_body", False):
                    break
            for value in stream.close():
                await self._queue.put(self._build(value))
        except JsonStreamError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request stream: {exc}") from None
        await self._queue.put(None)

    async def run(self) -> None:
        """Bidi streams: read the whole body, then return when the client goes (raises on bad input)."""
        try:
            await self._read()
        except _ClientGone:
            return
        await _disconnect_watcher(self._receive)

    async def drive(self, call: Coroutine[Any, Any, UnaryResult], streams: OpenStreams) -> UnaryResult:
        """Client streams: run ``call`` while the body is read into it; bad input cancels the call, and so
        does a shutdown (``streams``; the answer is then UNAVAILABLE)."""
        backend = asyncio.ensure_future(call)
        reader = asyncio.ensure_future(self._read())
        stopping = asyncio.get_running_loop().create_future()

        def stop() -> None:
            if not stopping.done():
                stopping.set_result(None)

        streams.add(stop)
        try:
            await asyncio.wait({backend, reader, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not backend.done():
                if not reader.done():  # the shutdown came while the client was still sending
                    raise shutting_down()
                failure = reader.exception()
                if isinstance(failure, _ClientGone):
                    raise asyncio.CancelledError("client went away")
                if failure is not None:
                    raise failure
            streams.discard(stop)  # the request is whole: the call finishes like a unary one
            return await backend
        finally:
            streams.discard(stop)
            stopping.cancel()
            for task in (reader, backend):
                if not task.done():
                    task.cancel()
                with contextlib.suppress(BaseException):
                    await task
