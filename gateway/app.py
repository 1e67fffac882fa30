"""The gateway as a raw ASGI application.

``create_app(routes, backend)`` serves every binding of ``routes`` through ``backend``::

    routes = RouteTable.from_pool(descriptor_pool.Default(), ["kitchen.v1.KitchenService"])
    app = create_app(routes, InProcessBackend(interceptors=[...]), mounts=[("/docs", docs_app)])

Other ASGI apps sit beside the routes: ``mounts`` (path prefix -> app, tried first, called with
``root_path`` extended by the prefix and ``path`` unchanged, as Starlette's ``Mount`` does) and a
``fallback`` app that gets every request no route matches (instead of the 404).

Routing errors follow grpc-gateway: an unknown path is 404 ``{"code":5,"message":"Not Found"}``; a
known path with the wrong method is **501** ``{"code":12,"message":"Method Not Allowed"}`` by default,
because grpc-gateway turns the 405 into gRPC UNIMPLEMENTED. ``GatewayOptions(method_not_allowed=405)``
answers with a plain 405 and an ``Allow`` header instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from protogw.gateway.backend import Backend, CallInfo, StreamCall
from protogw.gateway.codec import Codec, JsonOptions, codec_for, dumps
from protogw.gateway.errors import DEFAULT_RENDERER, ErrorRenderer, GatewayError, Headers, render_error
from protogw.gateway.headers import (
    HeaderMatcher,
    IncomingConfig,
    MetadataAnnotator,
    MetadataError,
    RequestHead,
    default_header_matcher,
    incoming_metadata,
    outgoing_headers,
)
from protogw.gateway.request import RequestBuilder, RequestError
from protogw.gateway.router import ConflictError, MalformedPathError, Match, MatchResult, Router, UnescapingMode
from protogw.gateway.routes import Binding, MethodInfo, RouteConfigError, bindings_for, load_descriptor_set, services_in
from protogw.gateway.types import ASGIApp, Receive, Scope, Send

__all__ = ["Gateway", "GatewayOptions", "Route", "RouteTable", "create_app"]

log = logging.getLogger(__name__)

_JSON = b"application/json"
_SSE = b"text/event-stream"


#: ``hook(method, request, response) -> extra headers`` for a successful unary call.
ResponseHook = Callable[[MethodInfo, Message, Message], Iterable[tuple[str, str]]]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Everything about the gateway that can be switched. Defaults follow grpc-gateway v2."""

    json: JsonOptions = field(default_factory=JsonOptions)
    # Answer unknown query parameters with 400 instead of ignoring them.
    reject_unknown_query: bool = False
    # 501 (grpc-gateway: the 405 becomes gRPC UNIMPLEMENTED) or 405 (with an Allow header).
    method_not_allowed: int = 501
    unescaping: UnescapingMode = UnescapingMode.ALL_EXCEPT_RESERVED
    # Larger request bodies get 413.
    max_body_bytes: int = 4 * 1024 * 1024
    header_matcher: HeaderMatcher = default_header_matcher
    annotators: Sequence[MetadataAnnotator] = ()
    # Echoed or generated, forwarded as metadata of the same name; None turns it off.
    request_id_header: str | None = "x-request-id"
    error_renderer: ErrorRenderer = DEFAULT_RENDERER
    # GET here runs grpc.health.v1.Health/Check on the backend; None turns it off.
    healthz_path: str | None = "/healthz"
    # A form-encoded POST to a path that only has a GET route is served as that GET (grpc-gateway's
    # path-length fallback; X-HTTP-Method-Override picks another method).
    form_fallback: bool = True
    # Methods without an http rule are served as POST /pkg.Service/Method with body "*" (grpc-gateway's
    # generate_unbound_methods, Envoy's auto_mapping).
    unbound_methods: bool = False
    # Called after a unary call succeeds, before the response is written; each returns extra
    # (name, value) headers. grpc-gateway's WithForwardResponseOption: e.g. set a cookie on login.
    response_hooks: Sequence[ResponseHook] = ()


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A binding with what serving it needs, prepared once at start-up."""

    binding: Binding
    builder: RequestBuilder
    codec: Codec
    response_key: str | None
    http_body: bool


class RouteTable:
    """All routes of a set of services, in a :class:`Router`."""

    def __init__(self, bindings: Sequence[Binding], options: GatewayOptions | None = None) -> None:
        self.options = options or GatewayOptions()
        self.router: Router[Route] = Router(self.options.unescaping)
        self.bindings = tuple(bindings)
        for binding in self.bindings:
            route = self._route(binding)
            try:
                self.router.add(binding.http_method, binding.template, route)
            except ConflictError as exc:
                other = self.router.existing(binding.http_method, binding.template)
                clash = other.binding.describe() if other is not None else "another binding"
                raise RouteConfigError(f"{binding.describe()} conflicts with {clash}") from exc

    def _route(self, binding: Binding) -> Route:
        opts = self.options.json
        method = binding.method
        out = method.descriptor.output_type
        response_key: str | None = None
        if binding.response_body:
            leaf = binding.response_body[-1]
            response_key = leaf.name if opts.use_proto_names else leaf.json_name
            if len(binding.response_body) > 1:
                raise RouteConfigError(f"{binding.describe()}: response_body must be a top-level field")
        http_body = not binding.response_body and out.full_name == "google.api.HttpBody"
        builder = RequestBuilder(binding, opts, reject_unknown_query=self.options.reject_unknown_query)
        return Route(binding, builder, codec_for(out, opts), response_key, http_body)

    @classmethod
    def from_pool(
        cls, pool: descriptor_pool.DescriptorPool, services: Sequence[str], options: GatewayOptions | None = None
    ) -> RouteTable:
        """Routes for ``services`` (full names) found in ``pool`` (e.g. the default pool)."""
        unbound = options.unbound_methods if options is not None else False
        return cls(bindings_for(pool, services, unbound_methods=unbound), options)

    @classmethod
    def from_descriptor_set(
        cls, source: bytes | str, services: Sequence[str] | None = None, options: GatewayOptions | None = None
    ) -> RouteTable:
        """Routes from a serialized ``FileDescriptorSet`` (bytes or a path); all its services by default."""
        pool = load_descriptor_set(source)
        unbound = options.unbound_methods if options is not None else False
        names = services if services is not None else services_in(source)
        return cls(bindings_for(pool, names, unbound_methods=unbound), options)

    def __len__(self) -> int:
        return len(self.router)


def _health_method() -> MethodInfo:
    from grpc_health.v1 import health_pb2

    return MethodInfo.of(health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"])


class Gateway:
    """The ASGI application; see the module docstring."""

    def __init__(
        self,
        routes: RouteTable,
        backend: Backend,
        *,
        mounts: Sequence[tuple[str, ASGIApp]] = (),
        fallback: ASGIApp | None = None,
    ) -> None:
        self.routes = routes
        self.backend = backend
        self.options = routes.options
        self._mounts: list[tuple[str, ASGIApp]] = []
        for prefix, app in mounts:
            self.mount(prefix, app)
        self.fallback = fallback
        self._incoming = IncomingConfig(
            self.options.header_matcher, tuple(self.options.annotators), self.options.request_id_header
        )
        self._renderer = self.options.error_renderer
        self._health = _health_method() if self.options.healthz_path else None
        self._started = False

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Serve ``prefix`` and everything under it with ``app`` (checked before the routes)."""
        prefix = "/" + prefix.strip("/")
        self._mounts.append((prefix, app))
        self._mounts.sort(key=lambda m: -len(m[0]))

    async def startup(self) -> None:
        """Start the backend (idempotent)."""
        if not self._started:
            self._started = True
            await self.backend.start()

    async def shutdown(self) -> None:
        """Close the backend."""
        if self._started:
            self._started = False
            await self.backend.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            app = self._mounted(scope["path"])
            if app is not None:
                await app[1](self._sub_scope(scope, app[0]), receive, send)
            elif self.fallback is not None:
                await self.fallback(scope, receive, send)
            elif kind == "websocket":
                # Nobody serves it: refuse the handshake (the server answers 403).
                await send({"type": "websocket.close", "code": 1000})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    log.exception("gateway start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    def _mounted(self, path: str) -> tuple[str, ASGIApp] | None:
        for prefix, app in self._mounts:
            if path == prefix or path.startswith(prefix + "/") or prefix == "/":
                return prefix, app
        return None

    @staticmethod
    def _sub_scope(scope: Scope, prefix: str) -> Scope:
        sub = dict(scope)
        sub["root_path"] = scope.get("root_path", "") + (prefix if prefix != "/" else "")
        return sub

    # -- HTTP ---------------------------------------------------------------------------------------------

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if self._mounts:
            mounted = self._mounted(path)
            if mounted is not None:
                await mounted[1](self._sub_scope(scope, mounted[0]), receive, send)
                return
        if not self._started:
            await self.startup()
        method: str = scope["method"]
        pretty = False
        try:
            if self._health is not None and path == self.options.healthz_path and method == "GET":
                await self._healthz(scope, send)
                return
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
            form: list[tuple[str, str]] | None = None
            if not isinstance(found, Match) and method == "POST" and self._is_form(scope):
                found, form = await self._form_fallback(scope, receive, path, found)
            if not isinstance(found, Match):
                if self.fallback is not None and found is MatchResult.NOT_FOUND:
                    await self.fallback(scope, receive, send)
                    return
                raise self._routing_error(found, path)
            await self._serve(scope, receive, send, found, form)
        except GatewayError as err:
            await self._send_error(send, err, scope, pretty=pretty)
        except Exception:
            # A bug (ours, a hook's or a renderer's), not the client's: log it and answer 500 if the
            # response has not started; otherwise the server closes the connection.
            log.exception("unhandled error serving %s %s", method, path)
            with contextlib.suppress(Exception):
                await self._send_error(send, GatewayError(grpc.StatusCode.INTERNAL, "internal error"), scope)

    def _is_form(self, scope: Scope) -> bool:
        if not self.options.form_fallback:
            return False
        for name, value in scope["headers"]:
            if name == b"content-type":
                return bool(value.split(b";")[0].strip().lower() == b"application/x-www-form-urlencoded")
        return False

    async def _form_fallback(
        self, scope: Scope, receive: Receive, path: str, found: MatchResult
    ) -> tuple[Match[Route] | MatchResult, list[tuple[str, str]] | None]:
        """grpc-gateway's path-length fallback: a form POST to a path with no POST route is served by
        its GET route (or by the method in ``X-HTTP-Method-Override``), the form fields joining the
        query parameters - for clients whose query strings would be too long."""
        override = next((v.decode("latin-1") for n, v in scope["headers"] if n == b"x-http-method-override"), "")
        alternative = self.routes.router.lookup(override.upper() or "GET", path)
        if not isinstance(alternative, Match):
            return found, None
        body = await self._read_body(scope, receive)
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

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        limit = self.options.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "invalid Content-Length") from None
                if declared > limit:
                    raise GatewayError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED, f"request body larger than {limit} bytes", http_status=413
                    )
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
                    raise GatewayError(
                        grpc.StatusCode.RESOURCE_EXHAUSTED, f"request body larger than {limit} bytes", http_status=413
                    )
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _head(self, scope: Scope) -> RequestHead:
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        client = scope.get("client")
        return RequestHead(
            scope["method"],
            scope["path"],
            scope.get("query_string", b"").decode("latin-1"),
            headers,
            tuple(client) if client else None,
            scope.get("scheme", "http"),
        )

    def _query(self, scope: Scope) -> tuple[list[tuple[str, str]], bool]:
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

    @staticmethod
    def _without_pretty(route: Route, query: list[tuple[str, str]], pretty: bool) -> tuple[list[tuple[str, str]], bool]:
        """``pretty`` is the gateway's switch unless the request message has a field of that name, in
        which case it is data; as a switch it is not a query parameter of the message."""
        if "pretty" in route.binding.method.descriptor.input_type.fields_by_name:
            return query, False
        if pretty or any(k == "pretty" for k, _ in query):
            return [(k, v) for k, v in query if k != "pretty"], pretty
        return query, pretty

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, match: Match[Route], form: list[tuple[str, str]] | None = None
    ) -> None:
        route = match.value
        binding = route.binding
        if binding.method.client_streaming:
            raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, "client-streaming methods are not served over REST")
        head = self._head(scope)
        query, pretty = self._query(scope)
        if query:
            query, pretty = self._without_pretty(route, query, pretty)
        if form is not None:
            query = query + form
        try:
            metadata, timeout, request_id = incoming_metadata(head, self._incoming)
        except MetadataError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        # Grpc-Timeout runs from the arrival of the headers, as grpc-gateway's request context does.
        deadline = None if timeout is None else time.monotonic() + timeout
        extra: Headers = []
        if request_id is not None and self.options.request_id_header:
            extra.append((self.options.request_id_header.encode("latin-1"), request_id.encode("latin-1")))
        te_trailers = any(n == b"te" and b"trailers" in v.lower() for n, v in scope["headers"])
        try:
            body = await self._read_body(scope, receive) if binding.body is not None and form is None else b""
            try:
                request = route.builder.build(match.params, query, body, content_type=head.header("content-type") or "")
            except RequestError as exc:
                raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
            peer = _peer(head.client)
            call = CallInfo(metadata, _time_left(deadline), peer)
            if binding.method.server_streaming:
                await self._stream(scope, receive, send, route, request, call, extra, pretty)
                return
            result = await self.backend.unary(binding.method, request, call)
        except GatewayError as err:
            await self._send_error(send, err, scope, pretty=pretty, extra=extra, te_trailers=te_trailers)
            return
        headers = outgoing_headers(result.header_metadata, result.trailing_metadata if te_trailers else None)
        if route.http_body:
            content_type, payload = _http_body(result.response)
        else:
            content_type, payload = _JSON, self._encode(route, result.response, pretty)
        headers.append((b"content-type", content_type))
        headers.extend(extra)
        for hook in self.options.response_hooks:
            headers.extend(
                (k.encode("latin-1"), v.encode("latin-1")) for k, v in hook(binding.method, request, result.response)
            )
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _encode(self, route: Route, response: Message, pretty: bool) -> bytes:
        value = route.codec.encode(response)
        if route.response_key is not None:
            value = value.get(route.response_key) if isinstance(value, dict) else None
        return dumps(value, pretty=pretty)

    async def _send_error(
        self,
        send: Send,
        err: GatewayError,
        scope: Scope,
        *,
        pretty: bool = False,
        extra: Sequence[tuple[bytes, bytes]] = (),
        te_trailers: bool = False,
    ) -> None:
        status, headers, body = render_error(self._renderer, err, pretty=pretty)
        headers.extend(err.headers)
        headers.extend(outgoing_headers(err.header_metadata, err.trailing_metadata if te_trailers else None))
        headers.extend(extra)
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _healthz(self, scope: Scope, send: Send) -> None:
        assert self._health is not None
        query, pretty = self._query(scope)
        request = self._health.request_class()
        for key, value in query:
            if key == "service":
                request.service = value  # type: ignore[attr-defined]
        try:
            metadata, timeout, _ = incoming_metadata(self._head(scope), self._incoming)
        except MetadataError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        result = await self.backend.unary(self._health, request, CallInfo(metadata, timeout))
        codec = codec_for(self._health.response_class.DESCRIPTOR, self.options.json)
        value = codec.encode(result.response)
        serving = result.response.status == 1  # type: ignore[attr-defined]
        await send(
            {"type": "http.response.start", "status": 200 if serving else 503, "headers": [(b"content-type", _JSON)]}
        )
        await send({"type": "http.response.body", "body": dumps(value, pretty=pretty)})

    # -- streaming ----------------------------------------------------------------------------------------

    async def _stream(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        route: Route,
        request: Message,
        call_info: CallInfo,
        extra: Headers,
        pretty: bool,
    ) -> None:
        sse = any(n == b"accept" and _SSE in v for n, v in scope["headers"])
        call: StreamCall = self.backend.server_stream(route.binding.method, request, call_info)
        task = asyncio.current_task()
        assert task is not None
        gone = asyncio.Event()

        async def watch_disconnect() -> None:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    gone.set()
                    task.cancel()
                    return

        watcher = asyncio.create_task(watch_disconnect())
        started = False
        iterator = aiter(call)
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
                if not started:
                    started = True
                    status, headers, value = self._stream_error(err, pretty)
                    headers.extend(outgoing_headers(err.header_metadata, None))
                    headers.extend(extra)
                    if sse:
                        headers = [(k, v) for k, v in headers if k != b"content-type"] + [(b"content-type", _SSE)]
                    await send({"type": "http.response.start", "status": status, "headers": headers})
                else:
                    _, _, value = self._stream_error(err, pretty)
                await send({"type": "http.response.body", "body": _frame(value, sse), "more_body": True})
            if not started:
                await self._start_stream(send, call, route, extra, sse)
            await send({"type": "http.response.body", "body": b""})
        except (asyncio.CancelledError, OSError):
            if gone.is_set():
                # The client left: stop the call and end quietly; there is nobody to answer.
                task.uncancel()
                await call.cancel()
                return
            raise
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await watcher
            closer = getattr(iterator, "aclose", None)
            if closer is not None:
                with contextlib.suppress(Exception):
                    await closer()

    async def _start_stream(self, send: Send, call: StreamCall, route: Route, extra: Headers, sse: bool) -> None:
        headers = outgoing_headers(call.header_metadata(), None)
        if sse:
            headers.append((b"content-type", _SSE))
            headers.append((b"cache-control", b"no-cache"))
        elif route.http_body:
            headers.append((b"content-type", b"application/octet-stream"))
        else:
            headers.append((b"content-type", _JSON))
        headers.extend(extra)
        await send({"type": "http.response.start", "status": 200, "headers": headers})

    def _chunk(self, route: Route, message: Message, sse: bool, pretty: bool) -> bytes:
        if route.http_body and not sse:
            return bytes(message.data)  # type: ignore[attr-defined]
        value = route.codec.encode(message)
        if route.response_key is not None:
            value = value.get(route.response_key) if isinstance(value, dict) else None
        return _frame(dumps({"result": value}, pretty=pretty), sse)

    def _stream_error(self, err: GatewayError, pretty: bool) -> tuple[int, Headers, bytes]:
        status, headers, body = render_error(self._renderer, err, pretty=pretty)
        return status, headers, b'{"error":' + body + b"}"


def _time_left(deadline: float | None) -> float | None:
    """Seconds until ``deadline`` (``time.monotonic``), or DEADLINE_EXCEEDED if it has passed.

    A call whose deadline passed while its body was read must not start at all. Neither backend
    would refuse it reliably: in-process code only notices at its first suspension, and gRPC's
    client may still send a call whose deadline is a few nanoseconds away.
    """
    if deadline is None:
        return None
    left = deadline - time.monotonic()
    if left <= 0:
        raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
    return left


def _peer(client: tuple[str, int] | None) -> str:
    """The HTTP client in gRPC's peer format (``ipv4:1.2.3.4:5``, ``ipv6:[::1]:5``)."""
    if client is None:
        return ""
    host, port = client
    return f"ipv6:[{host}]:{port}" if ":" in host else f"ipv4:{host}:{port}"


def _frame(data: bytes, sse: bool) -> bytes:
    """One stream item: a line of newline-delimited JSON, or one server-sent event."""
    if sse:
        return b"".join(b"data: " + line + b"\n" for line in data.split(b"\n")) + b"\n"
    return data + b"\n"


def _http_body(message: Message) -> tuple[bytes, bytes]:
    content_type = message.content_type or "application/octet-stream"  # type: ignore[attr-defined]
    return content_type.encode("latin-1"), bytes(message.data)  # type: ignore[attr-defined]


def create_app(
    routes: RouteTable,
    backend: Backend,
    *,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
    fallback: ASGIApp | None = None,
) -> Gateway:
    """The gateway ASGI app serving ``routes`` through ``backend``, with extra ASGI apps beside it."""
    return Gateway(routes, backend, mounts=mounts, fallback=fallback)
