"""The gateway as a raw ASGI application, shaped like Starlette's: a lifespan, one error boundary and an
ordered list of endpoints, each with ``matches(scope)`` and ``handle(scope, receive, send)``.

``create_app(routes, backend)`` serves every binding of ``routes`` through ``backend``. In front of
any gRPC server, from a descriptor set (``buf build -o api.binpb`` or ``protoc --include_imports
--include_source_info --descriptor_set_out=api.binpb``)::

    from protogw.gateway.app import create_app
    from protogw.gateway.proxy import ProxyBackend
    from protogw.gateway.routes import RouteTable

    routes = RouteTable.from_descriptor_set("api.binpb")
    app = create_app(routes, ProxyBackend("127.0.0.1:8081"), mounts=[("/docs", docs_app)])

or in the same process as the servicers, with no network hop (the generated ``add_*_to_server``
functions accept the backend as if it were a ``grpc.aio`` server)::

    from google.protobuf import descriptor_pool
    from protogw.gateway.inprocess import InProcessBackend

    backend = InProcessBackend()
    library_pb2_grpc.add_LibraryServiceServicer_to_server(LibraryServicer(store), backend)
    routes = RouteTable.from_pool(descriptor_pool.Default(), ["library.v1.LibraryService"])
    app = create_app(routes, backend)

The result is a plain ASGI application: serve it with uvicorn (``uvicorn.Server(uvicorn.Config(app))``,
or ``protogw.gateway.cli.serve(app, sock)``), mount it in Starlette, or call it in tests with
``httpx.ASGITransport(app)``. Its lifespan starts and closes the backend (the proxy's channel); when
it is served without a lifespan, call ``await app.startup()`` / ``await app.shutdown()``.
``examples/library/`` is a complete program (README walk-through, in-process and proxy).
Behaviour is set by ``RouteTable(..., options=GatewayOptions(...))`` (JSON names, unknown query
parameters, the error renderer, ``/healthz``, ...; see :mod:`protogw.gateway.options`).

The endpoints, in the order they are tried:

* ``mounts`` (path prefix -> ASGI app, longest prefix first; called with ``root_path`` extended by the
  prefix and ``path`` unchanged, as Starlette's ``Mount`` does);
* the health check (``GET /healthz`` runs ``grpc.health.v1.Health/Check`` on the backend);
* the :class:`~protogw.gateway.transcoder.Transcoder`, which serves the routes and hands unknown paths
  to ``fallback`` (instead of the 404) when one is given.

WebSocket handshakes go to the mounts, then to the streaming methods at their own paths
(:mod:`protogw.gateway.websocket`), then to ``fallback``.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Sequence
from typing import Protocol

import grpc

from protogw.core.bindings import MethodInfo
from protogw.core.codec import codec_for, dumps
from protogw.gateway.backend import Backend, Call
from protogw.gateway.errors import GatewayError
from protogw.gateway.headers import IncomingConfig, MetadataError, incoming_metadata
from protogw.gateway.http import JSON, parse_query, request_head, send_error
from protogw.gateway.options import GatewayOptions, ResponseHook
from protogw.gateway.routes import Route, RouteTable
from protogw.gateway.shutdown import OpenStreams
from protogw.gateway.transcoder import Transcoder
from protogw.gateway.types import ASGIApp, Receive, Scope, Send
from protogw.gateway.websocket import WebSocketEndpoint

__all__ = ["Gateway", "GatewayOptions", "ResponseHook", "Route", "RouteTable", "create_app"]

log = logging.getLogger(__name__)


class Endpoint(Protocol):
    """Something the gateway dispatches to."""

    def matches(self, scope: Scope) -> bool: ...

    def handle(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]: ...


class MountEndpoint:
    """Everything under ``prefix`` goes to ``app``."""

    def __init__(self, prefix: str, app: ASGIApp) -> None:
        self.prefix = "/" + prefix.strip("/")
        self.app = app

    def matches(self, scope: Scope) -> bool:
        path: str = scope["path"]
        return self.prefix == "/" or path == self.prefix or path.startswith(self.prefix + "/")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        sub = dict(scope)
        sub["root_path"] = scope.get("root_path", "") + (self.prefix if self.prefix != "/" else "")
        await self.app(sub, receive, send)


class HealthEndpoint:
    """``GET path[?service=NAME]``: 200 when the backend's health service says SERVING, else 503."""

    def __init__(self, path: str, backend: Backend, options: GatewayOptions, incoming: IncomingConfig) -> None:
        from grpc_health.v1 import health_pb2

        self.path = path
        self.backend = backend
        self.method = MethodInfo.of(health_pb2.DESCRIPTOR.services_by_name["Health"].methods_by_name["Check"])
        self.codec = codec_for(self.method.response_class.DESCRIPTOR, options.json)
        self.incoming = incoming

    def matches(self, scope: Scope) -> bool:
        return bool(scope["path"] == self.path and scope["method"] == "GET")

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        query, pretty = parse_query(scope)
        request = self.method.request_class()
        for key, value in query:
            if key == "service":
                request.service = value  # type: ignore[attr-defined]
        try:
            metadata, timeout, _ = incoming_metadata(request_head(scope), self.incoming)
        except MetadataError as exc:
            raise GatewayError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None
        result = await self.backend.unary(self.method, request, Call.with_timeout(metadata, timeout))
        serving = result.response.status == 1  # type: ignore[attr-defined]
        await send(
            {"type": "http.response.start", "status": 200 if serving else 503, "headers": [(b"content-type", JSON)]}
        )
        await send({"type": "http.response.body", "body": dumps(self.codec.encode(result.response), pretty=pretty)})


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
        #: The streams being served (HTTP and WebSocket), which a shutdown ends: see
        #: :class:`protogw.gateway.shutdown.GatewayServer`.
        self.streams = OpenStreams()
        self.transcoder = Transcoder(routes, backend, fallback, self.streams)
        self._mounts: list[MountEndpoint] = []
        self._mount_prefixes: tuple[str, ...] = ()
        for prefix, app in mounts:
            self.mount(prefix, app)
        self._endpoints: list[Endpoint] = []
        if self.options.healthz_path:
            health = HealthEndpoint(self.options.healthz_path, backend, self.options, self.transcoder.incoming)
            self._endpoints.append(health)
        self._endpoints.append(_TranscoderEndpoint(self.transcoder))
        self.websocket = WebSocketEndpoint(routes, backend, self.transcoder.incoming, self.streams)
        self._started = False

    @property
    def fallback(self) -> ASGIApp | None:
        """The app that gets every request no route or mount matches."""
        return self.transcoder.fallback

    def mount(self, prefix: str, app: ASGIApp) -> None:
        """Serve ``prefix`` and everything under it with ``app`` (checked before the routes)."""
        self._mounts.append(MountEndpoint(prefix, app))
        self._mounts.sort(key=lambda m: -len(m.prefix))
        # A mount at "/" takes every path (even one not starting with "/"): "" starts them all.
        self._mount_prefixes = tuple("" if m.prefix == "/" else m.prefix for m in self._mounts)

    def _mounted(self, scope: Scope) -> MountEndpoint | None:
        # Most paths start with no mount's prefix: one C-level check rules them all out.
        if not self._mounts or not scope["path"].startswith(self._mount_prefixes):
            return None
        return next((m for m in self._mounts if m.matches(scope)), None)

    # -- lifespan -----------------------------------------------------------------------------------------

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

    # -- dispatch -----------------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            mounted = self._mounted(scope)
            if mounted is not None:
                await mounted.handle(scope, receive, send)
            elif kind == "websocket" and (self.fallback is None or self.websocket.serves(scope)):
                # Streaming methods answer at their own paths; elsewhere the handshake is refused (403).
                if not self._started:
                    await self.startup()
                await self.websocket(scope, receive, send)
            elif self.fallback is not None:
                await self.fallback(scope, receive, send)

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        mounted = self._mounted(scope)
        if mounted is not None:
            await mounted.handle(scope, receive, send)
            return
        if not self._started:
            await self.startup()
        for endpoint in self._endpoints:  # the last, the transcoder, matches every request
            if endpoint.matches(scope):
                break
        # The one error boundary: a GatewayError is the answer; anything else is a bug (ours, a hook's
        # or a renderer's), logged and answered 500 if the response has not started (otherwise the
        # server closes the connection).
        try:
            await endpoint.handle(scope, receive, send)
        except GatewayError as err:
            await send_error(send, self.routes.error_renderer, err)
        except Exception:
            log.exception("unhandled error serving %s %s", scope["method"], scope["path"])
            with contextlib.suppress(Exception):
                await send_error(
                    send, self.routes.error_renderer, GatewayError(grpc.StatusCode.INTERNAL, "internal error")
                )


class _TranscoderEndpoint:
    """The transcoder as the last endpoint: it matches everything (unknown paths are its 404s)."""

    __slots__ = ("transcoder",)

    def __init__(self, transcoder: Transcoder) -> None:
        self.transcoder = transcoder

    def matches(self, scope: Scope) -> bool:
        return True

    def handle(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The transcoder's coroutine itself: no coroutine of this endpoint's around it.
        return self.transcoder(scope, receive, send)


def create_app(
    routes: RouteTable,
    backend: Backend,
    *,
    mounts: Sequence[tuple[str, ASGIApp]] = (),
    fallback: ASGIApp | None = None,
) -> Gateway:
    """The gateway ASGI app serving ``routes`` through ``backend``, with extra ASGI apps beside it.

    ``mounts`` are ``(path prefix, ASGI app)`` pairs tried first (e.g. Swagger UI at ``/docs``);
    ``fallback`` gets every HTTP request and WebSocket no route matches, instead of the 404 (e.g. a
    legacy app being replaced route by route)::

        app = create_app(RouteTable.from_descriptor_set("api.binpb"), ProxyBackend("127.0.0.1:8081"))
        uvicorn.run(app, host="127.0.0.1", port=8080)

    Invalid ``google.api.http`` rules fail earlier, when the :class:`RouteTable` is built.
    """
    return Gateway(routes, backend, mounts=mounts, fallback=fallback)
