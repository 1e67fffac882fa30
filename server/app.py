"""The gRPC server process: building the server, and running it until a signal says stop.

``create_server`` only builds and binds (so tests can start it on port 0 and talk to it);
``run`` owns the process lifecycle: start the service, start the server and any add-ons (the REST
gateway plugs in here), wait for SIGTERM/SIGINT, then shut down gracefully — health checks flip to
NOT_SERVING, new calls are refused, calls in flight get ``grace`` seconds to finish.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import signal
from collections.abc import AsyncIterator, Sequence
from typing import Any, Protocol, cast

import grpc
import grpc.aio
from google.protobuf.message import DecodeError
from grpc_reflection.v1alpha import reflection

from protogw.gateway.shutdown import DEFAULT_GRACE as DEFAULT_GRACE  # seconds for calls in flight at a stop
from protogw.gateway.workers import hand_over, settle_heap, take_back
from protogw.server.service import SERVICE_NAME, Service

logger = logging.getLogger("protogw.server")

#: Size settings: Determined's clients upload model definitions of up to ~96 MiB
#: inside CreateExperiment, so the receive limit must exceed gRPC's 4 MiB default; nothing larger is
#: read. Per connection: at most 256 concurrent calls (HTTP/2 streams) and 16 KiB of metadata; a
#: connection idle for 10 minutes is closed.
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", 128 * 1024 * 1024),
    ("grpc.max_send_message_length", 128 * 1024 * 1024),
    ("grpc.max_concurrent_streams", 256),
    ("grpc.max_metadata_size", 16 * 1024),
    ("grpc.max_connection_idle_ms", 10 * 60 * 1000),
    # gRPC turns SO_REUSEPORT on by default, which lets a second server silently share a port that is
    # already in use; a taken port must be an error instead.
    ("grpc.so_reuseport", 0),
]


#: Calls in progress on the whole server; past it gRPC answers RESOURCE_EXHAUSTED at once.
MAX_CONCURRENT_RPCS = 4096


class _Undecodable:
    """What a request that failed to parse becomes, so the call can fail with INVALID_ARGUMENT."""

    __slots__ = ("error",)

    def __init__(self, error: DecodeError) -> None:
        self.error = error


class DecodeErrorInterceptor(grpc.aio.ServerInterceptor):
    """A request that does not parse (corrupt, truncated or nested too deep) is INVALID_ARGUMENT.

    grpc.aio parses the request before any handler code runs and reports a parse failure as UNKNOWN,
    the status of a server bug. This outermost interceptor gives each handler a deserializer that
    hands such a request on as a marker instead, and a behaviour that aborts on it.
    """

    def __init__(self) -> None:
        self._wrapped: dict[int, tuple[Any, Any]] = {}

    async def intercept_service(
        self, continuation: Any, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler: grpc.RpcMethodHandler[Any, Any] | None = await continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        cached = self._wrapped.get(id(handler))
        if cached is not None and cached[0] is handler:
            return cast("grpc.RpcMethodHandler[Any, Any]", cached[1])
        wrapped = self._wrap(handler)
        if len(self._wrapped) > 4096:
            self._wrapped.clear()
        self._wrapped[id(handler)] = (handler, wrapped)
        return wrapped

    @staticmethod
    def _wrap(handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        parse = handler.request_deserializer
        assert parse is not None

        def deserialize(data: bytes) -> Any:
            try:
                return parse(data)
            except DecodeError as exc:
                return _Undecodable(exc)

        async def refuse(request: _Undecodable, context: grpc.aio.ServicerContext[Any, Any]) -> None:
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"cannot parse the request: {request.error}")

        if handler.unary_unary is not None:
            unary: Any = handler.unary_unary

            async def checked_unary(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                if isinstance(request, _Undecodable):
                    await refuse(request, context)
                return await unary(request, context)

            return grpc.unary_unary_rpc_method_handler(
                checked_unary, request_deserializer=deserialize, response_serializer=handler.response_serializer
            )
        if handler.unary_stream is not None and inspect.isasyncgenfunction(handler.unary_stream):
            stream: Any = handler.unary_stream

            async def checked_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                if isinstance(request, _Undecodable):
                    await refuse(request, context)
                async for response in stream(request, context):
                    yield response

            return grpc.unary_stream_rpc_method_handler(
                checked_stream, request_deserializer=deserialize, response_serializer=handler.response_serializer
            )
        return handler


class AddressInUse(OSError):
    """The requested listening address could not be bound."""


def server_options(*, reuse_port: bool = False) -> list[tuple[str, int]]:
    """:data:`SERVER_OPTIONS`, with ``SO_REUSEPORT`` on for a worker sharing its port with others."""
    return [(name, int(reuse_port) if name == "grpc.so_reuseport" else value) for name, value in SERVER_OPTIONS]


def create_server(service: Service, address: str, *, reuse_port: bool = False) -> tuple[grpc.aio.Server, int]:
    """A gRPC server carrying the service, health checks and reflection, bound to ``address``.

    ``address`` is ``HOST:PORT`` (``[::1]:PORT`` for IPv6); port 0 picks a free port, which is
    returned. The server is not started. ``reuse_port`` binds with ``SO_REUSEPORT``, for one of the
    workers of ``serve --workers N`` (the parent holds the port; see ``protogw.gateway.workers``).
    """
    server = grpc.aio.server(
        interceptors=[DecodeErrorInterceptor(), *service.interceptors],
        options=server_options(reuse_port=reuse_port),
        maximum_concurrent_rpcs=MAX_CONCURRENT_RPCS,
    )
    service.register(server)
    reflection.enable_server_reflection(
        (SERVICE_NAME, "grpc.health.v1.Health", reflection.SERVICE_NAME),
        server,
    )
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise AddressInUse(f"cannot listen on {address}: {exc}") from exc
    if port == 0:
        raise AddressInUse(f"cannot listen on {address}")
    return server, port


def bound_address(address: str, port: int) -> str:
    """``address`` with its port replaced by the port actually bound.

    >>> bound_address("127.0.0.1:0", 50051)
    '127.0.0.1:50051'
    """
    host = address.rsplit(":", 1)[0]
    return f"{host}:{port}"


class Addon(Protocol):
    """Something that runs beside the gRPC server for the life of the process (e.g. the REST gateway)."""

    async def start(self, service: Service) -> None: ...
    async def stop(self) -> None: ...


async def run(
    service: Service,
    grpc_address: str,
    *,
    addons: Sequence[Addon] = (),
    grace: float = DEFAULT_GRACE,
    stop: asyncio.Event | None = None,
    reuse_port: bool = False,
) -> None:
    """Serve until SIGTERM or SIGINT (or until ``stop`` is set), then shut down gracefully.

    It serves as a process's main task: once everything has started it settles the process's heap
    (:func:`protogw.gateway.workers.settle_heap`: start-up objects frozen, the cycle collector's
    thresholds raised), which lasts for the life of the process.
    """
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    started: list[Addon] = []
    server: grpc.aio.Server | None = None
    try:
        await service.start()
        # The service's buffer of recent log lines (Determined's master logs) is filled by the log
        # writer thread when there is one, so an access-log line costs the event loop one queue put.
        hand_over(service.logs)
        server, port = create_server(service, grpc_address, reuse_port=reuse_port)
        await server.start()
        logger.info("gRPC server listening on %s", bound_address(grpc_address, port))
        for addon in addons:
            await addon.start(service)
            started.append(addon)
        settle_heap()
        await stop.wait()
        logger.info("shutting down: finishing calls in flight (up to %.0f s)", grace)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await service.stop_serving()
        for addon in reversed(started):
            await addon.stop()
        if server is not None:
            await server.stop(grace)
        await service.close()
        take_back(service.logs)
        logger.info("stopped")
