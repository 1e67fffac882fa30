"""The gRPC server process: building the server, and running it until a signal says stop.

``create_server`` only builds and binds (so tests can start it on port 0 and talk to it);
``run`` owns the process lifecycle: start the service, start the server and any add-ons (the REST
gateway plugs in here), wait for SIGTERM/SIGINT, then shut down gracefully — health checks flip to
NOT_SERVING, new calls are refused, calls in flight get ``grace`` seconds to finish.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Sequence
from typing import Protocol

import grpc.aio
from grpc_reflection.v1alpha import reflection

from protogw.gateway.workers import hand_over, take_back
from protogw.server.service import SERVICE_NAME, Service

logger = logging.getLogger("protogw.server")

#: Seconds calls in flight may take to finish after a stop signal.
DEFAULT_GRACE = 10.0

#: Size settings: Determined's clients upload model definitions of up to ~96 MiB
#: inside CreateExperiment, so the receive limit must exceed gRPC's 4 MiB default.
SERVER_OPTIONS: list[tuple[str, int]] = [
    ("grpc.max_receive_message_length", 128 * 1024 * 1024),
    ("grpc.max_send_message_length", 128 * 1024 * 1024),
    # gRPC turns SO_REUSEPORT on by default, which lets a second server silently share a port that is
    # already in use; a taken port must be an error instead.
    ("grpc.so_reuseport", 0),
]


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
    server = grpc.aio.server(interceptors=service.interceptors, options=server_options(reuse_port=reuse_port))
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
    """Serve until SIGTERM or SIGINT (or until ``stop`` is set), then shut down gracefully."""
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
