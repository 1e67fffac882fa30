"""A live Determined stack for the browser and schemathesis tests: service + gRPC + REST gateway + docs.

Run as ``python -m tests.openapi.live_server DATABASE_URL``. Everything binds port 0 on 127.0.0.1; the
chosen HTTP port is printed as ``READY <port>`` once the gateway accepts connections. The REST
gateway proxies to the gRPC server and has the docs mounted (specs at /api/v1/api.swagger.json and
/api/v1/api.openapi.json, UI at /docs/rest-api/). SIGTERM or SIGINT stops it.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import socket
import sys

import uvicorn

from protogw.gateway.app import RouteTable, create_app
from protogw.gateway.proxy import ProxyBackend
from protogw.gateway.swagger_ui import gateway_mounts
from protogw.server.app import create_server
from protogw.server.rest import OPENAPI3_PATH, determined_spec, determined_spec_v3
from protogw.server.service import ServiceConfig, build_service


async def main(database_url: str) -> None:
    service = build_service(ServiceConfig(database_url=database_url))
    await service.start()
    server, grpc_port = create_server(service, "127.0.0.1:0")
    await server.start()
    descriptors = importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    routes = RouteTable.from_descriptor_set(descriptors, ["determined.api.v1.Determined"])
    app = create_app(
        routes,
        ProxyBackend(f"127.0.0.1:{grpc_port}"),
        mounts=gateway_mounts(determined_spec(), extra_specs=[(OPENAPI3_PATH, determined_spec_v3())]),
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    http = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    serving = asyncio.create_task(http.serve(sockets=[sock]))
    # uvicorn only exposes a "started" flag, no event to wait on.
    while not http.started and not serving.done():  # noqa: ASYNC110
        await asyncio.sleep(0.02)
    print(f"READY {sock.getsockname()[1]}", flush=True)
    try:
        await serving
    finally:
        await server.stop(1)
        await service.close()
        sock.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
