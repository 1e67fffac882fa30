"""The ``gateway`` command: serve the REST routes of a descriptor set in front of any gRPC server.

``gateway`` is a typer command function; the main CLI mounts it as ``protogw gateway``. It can also run
on its own: ``python -m protogw.gateway.cli --backend localhost:8081 --descriptor-set api.binpb``.
Every flag has a ``PROTOGW_*`` environment variable. ``--http-addr HOST:0`` picks a free port; the log
line ``gateway listening on http://HOST:PORT`` names the bound one. SIGTERM or SIGINT stops it
gracefully (:mod:`protogw.gateway.shutdown`): no new connections, open streams end at once with
UNAVAILABLE, requests in flight get ``--grace`` seconds, then the process exits with status 0.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
import uvloop

from protogw.core.descriptors import DescriptorError
from protogw.gateway.app import Gateway, GatewayOptions, RouteTable, create_app
from protogw.gateway.http_limits import HttpLimits, default_max_connections
from protogw.gateway.proxy import ProxyBackend
from protogw.gateway.shutdown import DEFAULT_GRACE, GatewayServer
from protogw.gateway.types import ASGIApp
from protogw.gateway.workers import configure_logging, listen, reserve_port, run_workers, settle_heap

__all__ = ["bind", "gateway", "parse_addr", "run_app", "serve"]

log = logging.getLogger("protogw.gateway")


def parse_addr(addr: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` for IPv6) as a pair; raises ValueError when malformed."""
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise ValueError(f"expected HOST:PORT, got {addr!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    number = int(port)
    if number > 65535:
        raise ValueError(f"port out of range in {addr!r}")
    return host, number


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket (port 0 picks a free port); see :func:`protogw.gateway.workers.listen`."""
    return listen(host, port)


async def serve(
    app: ASGIApp,
    sock: socket.socket,
    *,
    log_level: str = "info",
    limits: HttpLimits | None = None,
    grace: float = DEFAULT_GRACE,
) -> None:
    """Serve ``app`` on ``sock`` with uvicorn's httptools protocol, with ``limits`` on heads, bodies and
    connections (:mod:`protogw.gateway.http_limits`), until SIGTERM or SIGINT (run it on a uvloop loop,
    as :func:`gateway` does). Then: no new connections, a :class:`Gateway`'s open streams end at once,
    requests in flight get ``grace`` seconds (rounded up to whole seconds, uvicorn's unit). Before
    serving it settles the process's heap (:func:`protogw.gateway.workers.settle_heap`)."""
    limits = limits or HttpLimits(max_connections=default_max_connections())
    streams = app.streams if isinstance(app, Gateway) else None
    server = GatewayServer.for_app(app, streams, limits, log_level=log_level, grace=grace)
    settle_heap()  # the app and its routes are built; what serving allocates is all that is left
    host, port = sock.getsockname()[:2]
    log.warning("gateway listening on http://%s:%d", url_host(host), port)
    await server.serve(sockets=[sock])


def url_host(host: str) -> str:
    """``host`` as it appears in a URL: IPv6 addresses go in brackets."""
    return f"[{host}]" if ":" in host else host


def run_forever(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    log_level: str = "info",
    limits: HttpLimits | None = None,
    reuse_port: bool = False,
    grace: float = DEFAULT_GRACE,
) -> None:
    """Bind ``host:port`` and serve ``app`` on a uvloop loop until Ctrl-C or SIGTERM (the CLI commands),
    then shut down gracefully (see :func:`serve`)."""
    sock = listen(host, port, reuse_port=reuse_port)
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(serve(app, sock, log_level=log_level.lower(), limits=limits, grace=grace))
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()


def _worker(
    factory: Callable[[], ASGIApp], host: str, port: int, log_level: str, limits: HttpLimits | None, grace: float
) -> None:
    """One of ``--workers N``: build the app here (it does not cross processes) and serve the shared port."""
    run_forever(factory(), host, port, log_level=log_level, limits=limits, reuse_port=True, grace=grace)


def run_app(
    factory: Callable[[], ASGIApp],
    host: str,
    port: int,
    *,
    log_level: str = "info",
    workers: int = 1,
    limits: HttpLimits | None = None,
    grace: float = DEFAULT_GRACE,
) -> None:
    """Serve the app ``factory`` builds on ``host:port`` in ``workers`` processes (1: this one).

    With several, ``factory`` must pickle (a module-level function or a ``functools.partial`` of one):
    each worker calls it, then serves the port the parent reserved (``SO_REUSEPORT``). SIGTERM reaches
    every worker, each stopping as :func:`serve` says.
    """
    if workers <= 1:
        run_forever(factory(), host, port, log_level=log_level, limits=limits, grace=grace)
        return
    with reserve_port(host, port) as held:
        port = held.getsockname()[1]
        log.warning("gateway: %d workers on http://%s:%d", workers, url_host(host), port)
        status = run_workers(
            workers, _worker, (factory, host, port, log_level.lower(), limits, grace), log_level=log_level
        )
    if status:
        raise typer.Exit(status)


def _gateway_app(
    backend: str, descriptor_set: str, services: list[str] | None, reject_unknown_query: bool, channels: int
) -> ASGIApp:
    options = GatewayOptions(reject_unknown_query=reject_unknown_query)
    routes = RouteTable.from_descriptor_set(descriptor_set, services, options)
    return create_app(routes, ProxyBackend(backend, channels=channels))


#: The ``--channels`` option of the proxying commands.
ChannelsOption = Annotated[
    int,
    typer.Option(
        "--channels",
        envvar="PROTOGW_PROXY_CHANNELS",
        min=1,
        help="gRPC connections to the backend, used round-robin (several reach several backend workers).",
    ),
]

#: The ``--grace`` option of the serving commands.
GraceOption = Annotated[
    float,
    typer.Option(
        "--grace",
        envvar="PROTOGW_GRACE",
        min=0,
        help="Seconds requests in flight get at shutdown (open streams end at once).",
    ),
]

#: The ``--workers`` option of the serving commands.
WorkersOption = Annotated[
    int,
    typer.Option(
        "--workers",
        envvar="PROTOGW_WORKERS",
        min=1,
        help="Processes serving the same ports (SO_REUSEPORT); one per core is the most that helps.",
    ),
]


def gateway(
    backend: Annotated[
        str, typer.Option("--backend", envvar="PROTOGW_BACKEND", help="gRPC server to forward to, HOST:PORT.")
    ],
    descriptor_set: Annotated[
        Path,
        typer.Option(
            "--descriptor-set",
            envvar="PROTOGW_DESCRIPTOR_SET",
            help="FileDescriptorSet (protoc --include_imports) with the services and their HTTP rules.",
            exists=True,
            dir_okay=False,
            readable=True,
        ),
    ],
    http_addr: Annotated[
        str, typer.Option("--http-addr", envvar="PROTOGW_HTTP_ADDR", help="Where to listen, HOST:PORT (port 0: any).")
    ] = "127.0.0.1:8080",
    service: Annotated[
        list[str] | None,
        typer.Option(
            "--service", envvar="PROTOGW_SERVICES", help="Serve only these services (full names; repeatable)."
        ),
    ] = None,
    reject_unknown_query: Annotated[
        bool,
        typer.Option(
            "--reject-unknown-query",
            envvar="PROTOGW_REJECT_UNKNOWN_QUERY",
            help="Answer unknown query parameters with 400 instead of ignoring them.",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", envvar="PROTOGW_LOG_LEVEL")] = "info",
    workers: WorkersOption = 1,
    channels: ChannelsOption = 2,
    grace: GraceOption = DEFAULT_GRACE,
) -> None:
    """Serve the google.api.http REST mapping of a descriptor set, proxying to a gRPC server."""
    configure_logging(log_level, workers=workers)
    try:
        host, port = parse_addr(http_addr)
        parse_addr(backend)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from exc
    options = GatewayOptions(reject_unknown_query=reject_unknown_query)
    try:
        routes = RouteTable.from_descriptor_set(str(descriptor_set), service or None, options)
    except DescriptorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    log.info("%d routes from %s, forwarding to %s", len(routes), descriptor_set, backend)
    if workers <= 1:
        app = create_app(routes, ProxyBackend(backend, channels=channels))
        run_forever(app, host, port, log_level=log_level, grace=grace)
        return
    factory = functools.partial(
        _gateway_app, backend, str(descriptor_set), service or None, reject_unknown_query, channels
    )
    run_app(factory, host, port, log_level=log_level, workers=workers, grace=grace)


if __name__ == "__main__":
    typer.run(gateway)
