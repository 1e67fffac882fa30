"""Serve the library over gRPC and over REST in one process: ``python -m library_example.serve``.

REST is protogw's gateway with the in-process backend: the REST calls run the same servicer object,
in the same event loop, without a network hop. ``--grpc-addr`` / ``--http-addr`` take HOST:PORT (port 0
picks a free port); the addresses bound are printed once the process is listening.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
from typing import Any

import grpc
import uvicorn
from google.protobuf import descriptor_pool
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from library.v1 import library_pb2_grpc

from library_example.servicer import LibraryServicer
from library_example.store import Library
from protogw.gateway.app import Gateway, create_app
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.routes import RouteTable

SERVICE = "library.v1.LibraryService"


def register(servicer: LibraryServicer, health_servicer: health.aio.HealthServicer, server: Any) -> None:
    """Add the library and the health service to a ``grpc.aio`` server or an :class:`InProcessBackend`."""
    library_pb2_grpc.add_LibraryServiceServicer_to_server(servicer, server)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)


def rest_app(servicer: LibraryServicer, health_servicer: health.aio.HealthServicer) -> Gateway:
    """The REST gateway for ``servicer``, in-process (the README shows these lines)."""
    # rest-app:start
    backend = InProcessBackend()  # looks like a grpc.aio server to the generated add_*_to_server
    register(servicer, health_servicer, backend)  # so it takes the same servicers (/healthz asks health)
    routes = RouteTable.from_pool(descriptor_pool.Default(), [SERVICE])  # every google.api.http rule
    app = create_app(routes, backend)  # an ASGI app: serve it with uvicorn (or any ASGI server)
    # rest-app:end
    return app


def _split(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


async def serve(grpc_addr: str, http_addr: str) -> None:
    servicer = LibraryServicer(Library())
    health_servicer = health.aio.HealthServicer()
    await health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)

    server = grpc.aio.server()
    register(servicer, health_servicer, server)
    grpc_port = server.add_insecure_port(grpc_addr)
    await server.start()
    print(f"gRPC listening on {_split(grpc_addr)[0]}:{grpc_port}", flush=True)

    host, port = _split(http_addr)
    sock = socket.create_server((host, port))
    rest = uvicorn.Server(uvicorn.Config(rest_app(servicer, health_servicer), log_level="warning"))
    print(f"REST listening on http://{host}:{sock.getsockname()[1]}", flush=True)
    try:
        await rest.serve(sockets=[sock])  # until SIGINT or SIGTERM
    finally:
        await server.stop(grace=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--grpc-addr", default="127.0.0.1:9090", help="gRPC HOST:PORT (default %(default)s)")
    parser.add_argument("--http-addr", default="127.0.0.1:8000", help="REST HOST:PORT (default %(default)s)")
    args = parser.parse_args()
    asyncio.run(serve(args.grpc_addr, args.http_addr))


if __name__ == "__main__":
    main()
