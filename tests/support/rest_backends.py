"""Determined's REST API served over a real socket by either gateway backend, for end-to-end tests.

``rest_api(kind, database_url)`` starts the service with a real gRPC server (port 0) and puts a REST
gateway in front of it on its own port 0:

- ``"in-process"``: :func:`protogw.server.rest.build_gateway`, what ``protogw serve`` runs: the
  gateway calls the service's handlers and interceptors in this event loop;
- ``"proxy"``: :func:`protogw.server.rest.build_proxy_gateway`: routes from the descriptor set, every
  call forwarded over a gRPC channel to that server.

Both run under uvicorn, so requests travel through real HTTP parsing and header handling.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import uvicorn

from protogw.gateway.app import Gateway
from protogw.gateway.cli import bind
from protogw.server.rest import build_gateway, build_proxy_gateway
from tests.server.harness import Running, running

#: The two gateway backends, as test ids.
BACKENDS = ("in-process", "proxy")


class _QuietServer(uvicorn.Server):
    """uvicorn without signal handlers: the test process keeps its own."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class RestAPI:
    """A running service and the REST gateway in front of it."""

    kind: str
    api: Running
    base_url: str


def gateway_for(kind: str, api: Running) -> Gateway:
    """The REST app of backend ``kind`` for the running service ``api``."""
    if kind == "in-process":
        return build_gateway(api.service)
    if kind == "proxy":
        return build_proxy_gateway(
            f"127.0.0.1:{api.port}",
            max_model_definition_bytes=api.service.config.max_model_definition_bytes,
        )
    raise ValueError(f"unknown backend {kind!r}; expected one of {BACKENDS}")


@contextlib.asynccontextmanager
async def serve_asgi(app: Any) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 port 0; yield its base URL; stop it afterwards."""
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, http="httptools", lifespan="on", log_level="warning", access_log=False)
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        # The socket already listens, so requests made before uvicorn starts wait in the backlog.
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@contextlib.asynccontextmanager
async def rest_api(
    kind: str, database_url: str, collaborators: dict[str, Any] | None = None, **config: Any
) -> AsyncIterator[RestAPI]:
    """Start the service on ``database_url`` (``collaborators`` and ``config`` as for ``running``) and
    backend ``kind``'s gateway in front of it."""
    async with running(database_url, collaborators, **config) as api, serve_asgi(gateway_for(kind, api)) as url:
        yield RestAPI(kind, api, url)
