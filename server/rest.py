"""The REST front end inside the ``protogw serve`` process.

``RestGateway`` is an ``app.Addon``: it registers the service on the gateway's in-process backend
(the same ``register`` call and the same interceptor list as the gRPC server, so REST requests pass
exactly the checks gRPC calls do), adds the Swagger UI and the OpenAPI document, and serves it all
with uvicorn on its own socket until the process stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import http.cookies
import importlib.resources
import logging
from collections.abc import Iterable, Iterator
from typing import Any, cast

from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from protogw.core.bindings import MethodInfo
from protogw.gateway.app import Gateway, GatewayOptions, RouteTable, create_app
from protogw.gateway.backend import Backend, Call
from protogw.gateway.cli import parse_addr, url_host
from protogw.gateway.errors import GatewayError, render_error
from protogw.gateway.headers import Metadata, RequestHead
from protogw.gateway.http_limits import (
    DEFAULT_MAX_ANONYMOUS_BODY_BYTES,
    HttpLimits,
    default_max_connections,
)
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.options import BodyGate
from protogw.gateway.proxy import ProxyBackend
from protogw.gateway.shutdown import DEFAULT_GRACE, GatewayServer
from protogw.gateway.swagger_ui import DEFAULT_DOCS_PATH, DEFAULT_SPEC_PATH, swagger_routes
from protogw.gateway.types import ASGIApp, Receive, Scope, Send
from protogw.gateway.workers import listen
from protogw.gen.determined.api.v1 import master_pb2
from protogw.server.app import SERVER_OPTIONS
from protogw.server.errors import ServiceError
from protogw.server.interceptors import AuthInterceptor
from protogw.server.rest_errors import DeterminedErrorRenderer
from protogw.server.service import SERVICE_NAME, Service
from protogw.server.services.experiments import DEFAULT_MAX_MODEL_DEFINITION_BYTES

logger = logging.getLogger("protogw.server")

#: The cookie Determined's web UI keeps the token in.
AUTH_COOKIE = "auth"


def auth_cookie(head: RequestHead) -> Iterable[tuple[str, str]]:
    """Send the ``auth`` cookie as a bearer token when the request has no Authorization header.

    Determined's gateway does this so the web UI (which only has the cookie) can call the API.
    """
    if head.header("authorization") is not None:
        return ()
    raw = head.header("cookie")
    if not raw:
        return ()
    jar = http.cookies.SimpleCookie()
    try:
        jar.load(raw)
    except http.cookies.CookieError:
        return ()
    morsel = jar.get(AUTH_COOKIE)
    if morsel is None or not morsel.value:
        return ()
    return (("authorization", f"Bearer {morsel.value}"),)


def body_limit(max_model_definition_bytes: int) -> int:
    """The largest REST body to accept: a CreateExperiment carrying the largest model definition.

    File contents travel base64-encoded in JSON (4 bytes per 3), plus room for the configuration and
    the JSON around the files. Anything larger gets 413 from the gateway before it is parsed.

    >>> body_limit(3 * 1024 * 1024)
    8388608
    """
    return max_model_definition_bytes * 4 // 3 + 4 * 1024 * 1024


def _at_root(app: ASGIApp) -> ASGIApp:
    """Run ``app`` as if mounted at "/": the docs app's routes carry their full paths."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        await app({**scope, "root_path": ""}, receive, send)

    return wrapped


#: Determined's session lifetime, which the login cookie shares.
AUTH_COOKIE_MAX_AGE = 7 * 24 * 3600


_LOGIN, _LOGOUT = f"{SERVICE_NAME}.Login", f"{SERVICE_NAME}.Logout"


def login_cookie(method: MethodInfo, request: Message, response: Message) -> Iterable[tuple[str, str]]:
    """Set the ``auth`` cookie on Login and expire it on Logout, as Determined's master does.

    Browsers (Determined's web UI, Swagger UI) then stay logged in without handling the token. (It
    runs after every REST call: the two names it looks for are made once.)
    """
    if method.full_name == _LOGIN:
        token = getattr(response, "token", "")
        if token:
            return (("set-cookie", f"{AUTH_COOKIE}={token}; Path=/; Max-Age={AUTH_COOKIE_MAX_AGE}; SameSite=Lax"),)
    elif method.full_name == _LOGOUT:
        return (("set-cookie", f"{AUTH_COOKIE}=; Path=/; Max-Age=0; SameSite=Lax"),)
    return ()


def gateway_options(max_model_definition_bytes: int = DEFAULT_MAX_MODEL_DEFINITION_BYTES) -> GatewayOptions:
    """Determined's REST behaviour, whatever the backend: its error body, the ``auth`` cookie read on
    the way in and set by Login/Logout on the way out, and a body limit that fits the largest model
    definition the service accepts."""
    return GatewayOptions(
        error_renderer=DeterminedErrorRenderer(),
        annotators=(auth_cookie,),
        response_hooks=(login_cookie,),
        max_body_bytes=body_limit(max_model_definition_bytes),
    )


def http_limits(max_model_definition_bytes: int = DEFAULT_MAX_MODEL_DEFINITION_BYTES, **overrides: Any) -> HttpLimits:
    """What the HTTP server refuses before the gateway sees a request: the gateway's body limit, applied
    to Content-Length before anything is read (413, no ``100 Continue``), and bodies over 1 MiB from
    callers that present no token (401: neither an Authorization header nor the ``auth`` cookie),
    on top of :class:`HttpLimits`' head and connection limits."""
    settings: dict[str, Any] = {
        "max_connections": default_max_connections(),
        "max_body_bytes": body_limit(max_model_definition_bytes),
        "max_anonymous_body_bytes": DEFAULT_MAX_ANONYMOUS_BODY_BYTES,
        "credential_headers": (b"authorization",),
        "credential_cookies": (AUTH_COOKIE.encode(),),
        **overrides,
    }
    return HttpLimits(**settings)


def determined_spec() -> bytes:
    """The Determined API's OpenAPI document, as ``make gen`` wrote it into ``protogw.gen.openapi``."""
    return importlib.resources.files("protogw.gen.openapi").joinpath("api.swagger.json").read_bytes()


OPENAPI3_PATH = "/api/v1/api.openapi.json"


def determined_spec_v3() -> bytes:
    """The Determined API's OpenAPI 3.1 document (``make gen``), served next to the 2.0 one."""
    return importlib.resources.files("protogw.gen.openapi").joinpath("api.openapi.json").read_bytes()


def _docs_mounts() -> list[tuple[str, ASGIApp]]:
    routes = swagger_routes(determined_spec(), extra_specs=[(OPENAPI3_PATH, determined_spec_v3())])
    docs_app = _at_root(Starlette(routes=routes))
    return [(DEFAULT_SPEC_PATH, docs_app), (OPENAPI3_PATH, docs_app), (DEFAULT_DOCS_PATH, docs_app)]


def master_info(response: Message) -> dict[str, Any]:
    """Determined's ``GET /info`` body (snake_case keys) from a GetMaster response.

    Determined's CLI reads it first to compare versions with its own. ``response`` may be of a class
    built from a descriptor set (the proxy's); it has the generated class's fields.
    """
    master = cast(master_pb2.GetMasterResponse, response)
    return {
        "version": master.version,
        "master_id": master.master_id,
        "cluster_id": master.cluster_id,
        "cluster_name": master.cluster_name,
        "telemetry": {"enabled": master.telemetry_enabled, "otel_enabled": False, "otel_endpoint": ""},
        "sso_providers": [],
    }


def _info_mount(routes: RouteTable, backend: Backend) -> tuple[str, ASGIApp]:
    """Determined's plain (non-gRPC) master-info route: GetMaster through the gateway's own backend,
    so it answers the same in front of either; public, like GetMaster."""
    get_master = next(b.method for b in routes.bindings if b.method.full_name == f"{SERVICE_NAME}.GetMaster")
    renderer = routes.error_renderer

    async def info(request: Request) -> Response:
        try:
            result = await backend.unary(get_master, get_master.request_class(), Call([]))
        except GatewayError as err:
            status, headers, body = render_error(renderer, err)
            return Response(body, status, headers={k.decode("latin-1"): v.decode("latin-1") for k, v in headers})
        return JSONResponse(master_info(result.response))

    return "/info", _at_root(Starlette(routes=[Route("/info", info, methods=["GET"])]))


def token_gate(auth: AuthInterceptor) -> BodyGate:
    """A body gate that checks the caller's token as the service's auth interceptor would, so a body
    sent without a valid token is never read (the in-process gateway; the proxy has no sessions)."""

    async def gate(method: MethodInfo, metadata: Metadata) -> None:
        try:
            await auth.check(method.grpc_path, metadata)
        except ServiceError as exc:
            raise GatewayError(exc.code, exc.message) from None

    return gate


def build_gateway(service: Service, *, docs: bool = True) -> Gateway:
    """The REST app for ``service``: Determined's routes, error body, cookie auth and API docs."""
    backend = InProcessBackend(interceptors=service.interceptors)
    service.register(backend)
    auth = next(i for i in service.interceptors if isinstance(i, AuthInterceptor))
    options = dataclasses.replace(
        gateway_options(service.config.max_model_definition_bytes), body_gate=token_gate(auth)
    )
    routes = RouteTable.from_pool(descriptor_pool.Default(), [SERVICE_NAME], options)
    mounts = [_info_mount(routes, backend)]
    if docs:
        mounts += _docs_mounts()
    return create_app(routes, backend, mounts=mounts)


#: gRPC's client-side default caps received messages at 4 MiB, far below what the in-process backend
#: returns without complaint (a long experiment list with large configurations); allow what the
#: server itself allows, so both backends answer the same requests.
PROXY_CHANNEL_OPTIONS: tuple[tuple[str, int], ...] = tuple(
    (name, value) for name, value in SERVER_OPTIONS if name.endswith("_message_length")
)


def determined_descriptor_set() -> bytes:
    """The descriptor set ``make gen`` builds from ``proto/determined`` (imports and source info included)."""
    return importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()


def build_proxy_gateway(
    target: str,
    *,
    descriptor_set: bytes | str | None = None,
    max_model_definition_bytes: int = DEFAULT_MAX_MODEL_DEFINITION_BYTES,
    docs: bool = True,
    channels: int = 1,
) -> Gateway:
    """The same REST API as :func:`build_gateway`, forwarding over gRPC to a server at ``target``
    (over ``channels`` connections, round-robin).

    Routes come from ``descriptor_set`` (bytes or a path; Determined's own by default) rather than
    from generated code, so this front end needs nothing but the server's address.
    """
    options = gateway_options(max_model_definition_bytes)
    source = descriptor_set if descriptor_set is not None else determined_descriptor_set()
    routes = RouteTable.from_descriptor_set(source, [SERVICE_NAME], options)
    backend = ProxyBackend(target, options=PROXY_CHANNEL_OPTIONS, channels=channels)
    mounts = [_info_mount(routes, backend)]
    if docs:
        mounts += _docs_mounts()
    return create_app(routes, backend, mounts=mounts)


class _EmbeddedServer(GatewayServer):
    """The gateway's server (open streams end at shutdown) without its own signal handling: the process's
    ``run`` owns SIGTERM/SIGINT."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class RestGateway:
    """Serves the REST API of the service on ``address`` (``HOST:PORT``, port 0 picks one)."""

    def __init__(
        self,
        address: str,
        *,
        docs: bool = True,
        grace: float = DEFAULT_GRACE,
        log_level: str = "warning",
        reuse_port: bool = False,
        limits: HttpLimits | None = None,
    ) -> None:
        self.host, self.port = parse_addr(address)
        self._reuse_port = reuse_port
        self._limits = limits
        self._docs = docs
        self._grace = grace
        self._log_level = log_level
        self._server: _EmbeddedServer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, service: Service) -> None:
        app = build_gateway(service, docs=self._docs)
        sock = listen(self.host, self.port, reuse_port=self._reuse_port)
        self.port = sock.getsockname()[1]
        limits = self._limits or http_limits(service.config.max_model_definition_bytes)
        self._server = _EmbeddedServer.for_app(app, app.streams, limits, log_level=self._log_level, grace=self._grace)
        # The socket is already listening, so connections made before uvicorn's loop picks it up wait
        # in the backlog: there is nothing to wait for here.
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        logger.info(
            "REST gateway listening on http://%s:%d (docs at %s/)", url_host(self.host), self.port, DEFAULT_DOCS_PATH
        )

    async def stop(self) -> None:
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = None
        self._task = None
