"""The ``protogw`` command line.

    protogw serve [--grpc-addr HOST:PORT] [--http-addr HOST:PORT] [--database URL] [--initial-password PW]
    protogw seed [--database URL]            # the README walk-through experiments
    protogw seed --demo [N]                  # N realistic demo experiments (default 300)

Every option also reads a ``PROTOGW_*`` environment variable. Defaults run on a laptop: REST (with
Swagger UI at /docs/rest-api/) on 127.0.0.1:8080, where Determined serves it, gRPC on 127.0.0.1:8081,
and a SQLite file in the user's data folder. ``--http-addr ''`` turns REST off.

``protogw gateway`` and ``protogw openapi`` are the gateway's and the OpenAPI generator's own
commands, and ``protogw envoy-config`` prints an Envoy configuration; they are mounted here when
those packages are installed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from pathlib import Path
from typing import Annotated

import sqlalchemy
import sqlalchemy.exc
import typer
import uvloop

from protogw.clients import cli as client_cli
from protogw.gateway import cli as gateway_cli
from protogw.gateway import envoy
from protogw.gateway import workers as gateway_workers
from protogw.gateway.cli import ChannelsOption, GraceOption, WorkersOption, parse_addr, run_app
from protogw.openapi import cli as openapi_cli
from protogw.server.app import DEFAULT_GRACE, Addon, AddressInUse, bound_address, run
from protogw.server.rest import RestGateway, build_proxy_gateway, http_limits
from protogw.server.security import DEFAULT_MAX_CONCURRENT_HASHES
from protogw.server.seed import AlreadySeeded, seed_demo, seed_walkthrough
from protogw.server.service import ServiceConfig, build_service
from protogw.server.storage.engine import ACCEPTED_URLS, redact
from protogw.server.storage.errors import StorageError
from protogw.server.storage.store import Store
from protogw.server.throttle import (
    DEFAULT_LOGIN_FAILURES_PER_ADDRESS,
    DEFAULT_LOGIN_FAILURES_PER_USER,
    DEFAULT_LOGIN_WINDOW,
    DEFAULT_STREAMS_PER_USER,
    DEFAULT_STREAMS_TOTAL,
)

#: Default gRPC listening address.
DEFAULT_GRPC_ADDR = "127.0.0.1:8081"
#: Default REST listening address (Determined's port).
DEFAULT_HTTP_ADDR = "127.0.0.1:8080"
#: How many experiments ``seed --demo`` creates when no count is given.
DEFAULT_DEMO_COUNT = 300

# add_completion: `protogw --install-completion` / `--show-completion` (bash, zsh, fish, PowerShell).
app = typer.Typer(no_args_is_help=True, help="protogw: a Determined-compatible API server.")


def default_database_url() -> str:
    """``sqlite+aiosqlite:///`` + ``$XDG_DATA_HOME/protogw/protogw.db`` (``~/.local/share`` by default)."""
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return f"sqlite+aiosqlite:///{base / 'protogw' / 'protogw.db'}"


DatabaseOption = Annotated[
    str,
    typer.Option(
        "--database",
        envvar="PROTOGW_DATABASE",
        help=f"Database URL: {ACCEPTED_URLS}.",
        default_factory=default_database_url,
        show_default=False,
    ),
]


def _redacted(url: str) -> str:
    """A database URL without its password, for messages."""
    return redact(url)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def configure_logging(level: str, workers: int = 1) -> None:
    """Log to stderr through a queue and a writer thread (see :mod:`protogw.gateway.workers`)."""
    gateway_workers.configure_logging(level, workers=workers)


def _serve_worker(config: ServiceConfig, grpc_addr: str, http_addr: str, grace: float, reuse_port: bool) -> None:
    """One serving process: the service, its gRPC server and its REST gateway, on a uvloop loop."""
    addons: list[Addon] = [RestGateway(http_addr, grace=grace, reuse_port=reuse_port)] if http_addr else []
    try:
        service = build_service(config)
        uvloop.run(run(service, grpc_addr, addons=addons, grace=grace, reuse_port=reuse_port))
    except AddressInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except (StorageError, OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
        typer.echo(f"error: cannot use the database {_redacted(config.database_url)}: {_one_line(exc)}", err=True)
        raise SystemExit(1) from None


async def _prepare_database(config: ServiceConfig) -> None:
    """Migrate the database and apply the initial password once, before workers open it together."""
    service = build_service(config)
    try:
        await service.start()
    finally:
        await service.close()


def _serve_workers(config: ServiceConfig, grpc_addr: str, http_addr: str, grace: float, workers: int) -> None:
    """``serve --workers N``: reserve both ports here, then N processes serve them (SO_REUSEPORT)."""
    if config.database_url.startswith("sqlite"):
        logging.getLogger("protogw.server").warning(
            "%d workers on SQLite: reads scale, but SQLite has one writer, so writes queue behind each other "
            "(use PostgreSQL for write-heavy loads)",
            workers,
        )
    try:
        uvloop.run(_prepare_database(config))
    except (StorageError, OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
        typer.echo(f"error: cannot use the database {_redacted(config.database_url)}: {_one_line(exc)}", err=True)
        raise typer.Exit(1) from None
    with contextlib.ExitStack() as held:
        try:
            grpc_host, grpc_port = parse_addr(grpc_addr)
            grpc_sock = held.enter_context(gateway_workers.reserve_port(grpc_host, grpc_port))
            grpc_addr = bound_address(grpc_addr, grpc_sock.getsockname()[1])
            if http_addr:
                http_host, http_port = parse_addr(http_addr)
                http_sock = held.enter_context(gateway_workers.reserve_port(http_host, http_port))
                http_addr = bound_address(http_addr, http_sock.getsockname()[1])
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        except OSError as exc:
            typer.echo(f"error: cannot listen: {exc}", err=True)
            raise typer.Exit(1) from None
        status = gateway_workers.run_workers(
            workers,
            _serve_worker,
            (config, grpc_addr, http_addr, grace, True),
            log_level=logging.getLevelName(logging.getLogger().level),
        )
    if status:
        raise typer.Exit(status)


@app.command()
def serve(
    database: DatabaseOption,
    grpc_addr: Annotated[
        str, typer.Option("--grpc-addr", envvar="PROTOGW_GRPC_ADDR", help="gRPC listen address; port 0 picks one.")
    ] = DEFAULT_GRPC_ADDR,
    http_addr: Annotated[
        str,
        typer.Option(
            "--http-addr", envvar="PROTOGW_HTTP_ADDR", help="REST listen address; port 0 picks one, '' disables REST."
        ),
    ] = DEFAULT_HTTP_ADDR,
    initial_password: Annotated[
        str | None,
        typer.Option(
            "--initial-password",
            envvar="PROTOGW_INITIAL_PASSWORD",
            help="Password for the built-in admin and determined users of a fresh database.",
        ),
    ] = None,
    cluster_name: Annotated[str, typer.Option("--cluster-name", envvar="PROTOGW_CLUSTER_NAME")] = "protogw",
    max_model_definition_mb: Annotated[
        int, typer.Option("--max-model-definition-mb", envvar="PROTOGW_MAX_MODEL_DEFINITION_MB", min=1)
    ] = 96,
    grace: Annotated[
        float, typer.Option("--grace", envvar="PROTOGW_GRACE", help="Seconds in-flight calls get at shutdown.")
    ] = DEFAULT_GRACE,
    max_streams: Annotated[
        int,
        typer.Option("--max-streams", envvar="PROTOGW_MAX_STREAMS", min=1, help="Open server streams in total."),
    ] = DEFAULT_STREAMS_TOTAL,
    max_streams_per_user: Annotated[
        int,
        typer.Option(
            "--max-streams-per-user", envvar="PROTOGW_MAX_STREAMS_PER_USER", min=1, help="Open server streams per user."
        ),
    ] = DEFAULT_STREAMS_PER_USER,
    login_failures_per_user: Annotated[
        int,
        typer.Option(
            "--login-failures-per-user",
            envvar="PROTOGW_LOGIN_FAILURES_PER_USER",
            min=1,
            help="Failed logins per username per --login-window before further attempts get 429.",
        ),
    ] = DEFAULT_LOGIN_FAILURES_PER_USER,
    login_failures_per_address: Annotated[
        int,
        typer.Option(
            "--login-failures-per-address",
            envvar="PROTOGW_LOGIN_FAILURES_PER_ADDRESS",
            min=1,
            help="Failed logins per client address per --login-window before further attempts get 429.",
        ),
    ] = DEFAULT_LOGIN_FAILURES_PER_ADDRESS,
    login_window: Annotated[
        float, typer.Option("--login-window", envvar="PROTOGW_LOGIN_WINDOW", min=1, help="Seconds.")
    ] = DEFAULT_LOGIN_WINDOW,
    max_concurrent_hashes: Annotated[
        int,
        typer.Option(
            "--max-concurrent-hashes",
            envvar="PROTOGW_MAX_CONCURRENT_HASHES",
            min=1,
            help="argon2 password checks at once (64 MiB each).",
        ),
    ] = DEFAULT_MAX_CONCURRENT_HASHES,
    access_log_in_master_logs: Annotated[
        bool,
        typer.Option(
            "--access-log-in-master-logs/--no-access-log-in-master-logs",
            envvar="PROTOGW_ACCESS_LOG_IN_MASTER_LOGS",
            help="Also send the per-call access log to MasterLogs (each follower then gets a line per call).",
        ),
    ] = False,
    log_level: Annotated[str, typer.Option("--log-level", envvar="PROTOGW_LOG_LEVEL")] = "info",
    workers: WorkersOption = 1,
) -> None:
    """Run the gRPC server (and the REST gateway) until SIGTERM or SIGINT.

    ``--workers N`` runs N processes sharing both ports and the database. The default is 1: SQLite,
    the embedded default, has a single writer, so more processes add read capacity only and make
    writers wait on each other's locks. On PostgreSQL, one worker per core.
    """
    configure_logging(log_level, workers)
    addons: list[Addon] = []
    if http_addr:
        try:
            addons.append(RestGateway(http_addr, grace=grace))
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--http-addr") from None
    config = ServiceConfig(
        database_url=database,
        initial_password=initial_password or None,
        cluster_name=cluster_name,
        max_model_definition_bytes=max_model_definition_mb * 1024 * 1024,
        max_streams=max_streams,
        max_streams_per_user=max_streams_per_user,
        login_failures_per_user=login_failures_per_user,
        login_failures_per_address=login_failures_per_address,
        login_window=login_window,
        max_concurrent_hashes=max_concurrent_hashes,
        access_log_in_master_logs=access_log_in_master_logs,
    )
    if workers > 1:
        _serve_workers(config, grpc_addr, http_addr, grace, workers)
        return
    try:
        service = build_service(config)
        uvloop.run(run(service, grpc_addr, addons=addons, grace=grace))
    except AddressInUse as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except (StorageError, OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
        typer.echo(f"error: cannot use the database {_redacted(database)}: {_one_line(exc)}", err=True)
        raise typer.Exit(1) from None


async def _seed(database: str, demo: bool, count: int, progress: bool | None = None) -> str:
    store = Store(database)
    await store.start()
    try:
        if not demo:
            ids = await seed_walkthrough(store)
            return f"added {len(ids)} walk-through experiments (ids {ids[0]}-{ids[-1]})"
        ids = await seed_demo(store, count, show_progress=progress)
        return f"added {len(ids)} demo experiments"
    finally:
        await store.close()


@app.command()
def seed(
    database: DatabaseOption,
    demo: Annotated[bool, typer.Option("--demo", help="Load the large demo set instead of the walk-through.")] = False,
    count: Annotated[
        int, typer.Argument(help="Number of demo experiments (with --demo).", min=1, show_default=True)
    ] = DEFAULT_DEMO_COUNT,
    progress: Annotated[
        bool | None,
        typer.Option(
            "--progress/--no-progress",
            help="Progress bar on stderr for --demo (default: when stderr is a terminal).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Load sample experiments into the database."""
    configure_logging("warning")
    try:
        typer.echo(asyncio.run(_seed(database, demo, count, progress)))
    except AlreadySeeded as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    except (StorageError, OSError, sqlalchemy.exc.SQLAlchemyError) as exc:
        typer.echo(f"error: cannot use the database {_redacted(database)}: {_one_line(exc)}", err=True)
        raise typer.Exit(1) from None


@app.command("rest-proxy")
def rest_proxy(
    backend: Annotated[
        str, typer.Option("--backend", envvar="PROTOGW_BACKEND", help="gRPC server (protogw serve) to forward to.")
    ],
    http_addr: Annotated[
        str, typer.Option("--http-addr", envvar="PROTOGW_HTTP_ADDR", help="REST listen address; port 0 picks one.")
    ] = DEFAULT_HTTP_ADDR,
    max_model_definition_mb: Annotated[
        int, typer.Option("--max-model-definition-mb", envvar="PROTOGW_MAX_MODEL_DEFINITION_MB", min=1)
    ] = 96,
    log_level: Annotated[str, typer.Option("--log-level", envvar="PROTOGW_LOG_LEVEL")] = "info",
    workers: WorkersOption = 1,
    channels: ChannelsOption = 2,
    grace: GraceOption = DEFAULT_GRACE,
) -> None:
    """Serve Determined's REST API (its error body, cookies, /info, Swagger UI) in front of gRPC replicas.

    The generic ``protogw gateway`` knows nothing about Determined; this is the same proxy with the
    Determined front-end options that ``serve`` uses in-process. SIGTERM ends open streams at once
    (UNAVAILABLE) and gives requests in flight ``--grace`` seconds.
    """
    configure_logging(log_level, workers)
    try:
        host, port = parse_addr(http_addr)
        parse_addr(backend)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    factory = functools.partial(
        build_proxy_gateway,
        backend,
        max_model_definition_bytes=max_model_definition_mb * 1024 * 1024,
        channels=channels,
    )
    limits = http_limits(max_model_definition_mb * 1024 * 1024)
    run_app(factory, host, port, log_level=log_level, workers=workers, limits=limits, grace=grace)


app.command("gateway", help="Run the REST gateway in front of a gRPC backend.")(gateway_cli.gateway)
app.command("openapi", help="Generate the OpenAPI v2 document from a descriptor set.")(openapi_cli.openapi)
app.command("envoy-config", help="Print an Envoy bootstrap that transcodes REST to a gRPC backend.")(
    envoy.envoy_config_command
)
app.add_typer(client_cli.app, name="client", help="Call a running server over gRPC or REST.")


def main() -> None:
    """Console-script entry point."""
    app()
