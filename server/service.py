"""The service bundle: store, servicers, interceptor pipeline and log buffer, built from a config.

``build_service(config)`` returns a ``Service`` that both front ends use the same way::

    service = build_service(ServiceConfig(database_url="sqlite+aiosqlite:///protogw.db"))
    server = grpc.aio.server(interceptors=service.interceptors)   # or the gateway's in-process backend
    service.register(server)
    await service.start()
    ...
    await service.close()

``register`` only needs the registration surface of a server (``add_generic_rpc_handlers`` and
``add_registered_method_handlers``), which is what lets the REST gateway run REST calls through the
very same handlers and interceptors in-process.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib import metadata
from typing import Any, cast

import argon2
import grpc.aio
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from protogw.gen.determined.api.v1 import api_pb2_grpc
from protogw.server.clock import Clock, utc_now
from protogw.server.interceptors import (
    AuthInterceptor,
    ErrorInterceptor,
    LoggingInterceptor,
    RequestIdInterceptor,
)
from protogw.server.interceptors import logger as access_logger
from protogw.server.limits import Limits
from protogw.server.logbuffer import LogBuffer
from protogw.server.security import DEFAULT_MAX_CONCURRENT_HASHES, Passwords, client_side_hash
from protogw.server.services import (
    SERVICE,
    AuthServicer,
    DeterminedServicer,
    ExperimentsServicer,
    MasterServicer,
    UsersServicer,
)
from protogw.server.services.experiments import DEFAULT_MAX_MODEL_DEFINITION_BYTES
from protogw.server.sessions import DEFAULT_CACHE_SECONDS, SESSION_TTL, Sessions
from protogw.server.storage.store import Store
from protogw.server.store_api import StoreAPI
from protogw.server.throttle import (
    DEFAULT_LOGIN_FAILURES_PER_ADDRESS,
    DEFAULT_LOGIN_FAILURES_PER_USER,
    DEFAULT_LOGIN_WINDOW,
    DEFAULT_STREAMS_PER_USER,
    DEFAULT_STREAMS_TOTAL,
    LoginLimits,
    LoginThrottle,
    StreamLimits,
    StreamSlots,
)

logger = logging.getLogger("protogw.server")

#: Full name of the Determined service, as gRPC clients address it.
SERVICE_NAME = SERVICE.full_name
#: RPCs callable without a token (Determined's list, minus GetTelemetry which we do not serve).
PUBLIC_METHODS = (f"/{SERVICE_NAME}/Login", f"/{SERVICE_NAME}/GetMaster")
#: Whole services callable without a token: health checks and server reflection.
PUBLIC_SERVICES = (
    "grpc.health.v1.Health",
    "grpc.reflection.v1alpha.ServerReflection",
    "grpc.reflection.v1.ServerReflection",
)
#: The users every fresh database has.
BUILTIN_USERS = ("admin", "determined")


def package_version() -> str:
    """The installed protogw version, reported by GetMaster."""
    try:
        return metadata.version("protogw")
    except metadata.PackageNotFoundError:  # pragma: no cover - only when run from a bare checkout
        return "0.0.0"


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Everything the service needs to know; the CLI fills it from flags and ``PROTOGW_*`` variables."""

    database_url: str
    #: Password given to the built-in users on a fresh database; None leaves them blank.
    initial_password: str | None = None
    cluster_name: str = "protogw"
    max_model_definition_bytes: int = DEFAULT_MAX_MODEL_DEFINITION_BYTES
    log_buffer_size: int = 10_000
    # Whether the per-call access log ("GetMaster OK 0.4ms user=...") also goes to MasterLogs. Off by
    # default: every follower would encode and send one line per call served, so followers would cost
    # throughput in proportion to their number (100 followers: -44%); the access log still goes to the
    # process log.
    access_log_in_master_logs: bool = False
    session_ttl: timedelta = field(default=SESSION_TTL)
    #: How long a successful token lookup is reused (other replicas' revocations show up after this).
    auth_cache_seconds: float = DEFAULT_CACHE_SECONDS
    #: Concurrent server streams (MasterLogs) per user and in the whole process.
    max_streams_per_user: int = DEFAULT_STREAMS_PER_USER
    max_streams: int = DEFAULT_STREAMS_TOTAL
    #: Failed logins allowed per username and per client address within ``login_window`` seconds.
    login_failures_per_user: int = DEFAULT_LOGIN_FAILURES_PER_USER
    login_failures_per_address: int = DEFAULT_LOGIN_FAILURES_PER_ADDRESS
    login_window: float = DEFAULT_LOGIN_WINDOW
    #: argon2 computations at once (each holds the hasher's memory_cost, 64 MiB by default).
    max_concurrent_hashes: int = DEFAULT_MAX_CONCURRENT_HASHES
    #: Size limits on what clients send and on listing pages (``max_model_definition_bytes`` above wins).
    limits: Limits = field(default_factory=Limits)

    @property
    def effective_limits(self) -> Limits:
        return replace(self.limits, max_model_definition_bytes=self.max_model_definition_bytes)


class Service:
    """The Determined-compatible service, ready to be registered on a gRPC server or a gateway."""

    def __init__(
        self,
        config: ServiceConfig,
        *,
        store: StoreAPI | None = None,
        clock: Clock = utc_now,
        password_hasher: argon2.PasswordHasher | None = None,
        log_buffer: LogBuffer | None = None,
    ) -> None:
        self.config = config
        self.clock = clock
        limits = config.effective_limits
        self.store: StoreAPI = store if store is not None else Store(config.database_url, clock=clock, limits=limits)
        self.logs = log_buffer if log_buffer is not None else LogBuffer(config.log_buffer_size)
        if not config.access_log_in_master_logs:
            self.logs.leave_out(access_logger.name)
        self.master_id = str(uuid.uuid4())
        self.passwords = Passwords(password_hasher, max_concurrent=config.max_concurrent_hashes)
        self.login_throttle = LoginThrottle(
            LoginLimits(
                failures_per_user=config.login_failures_per_user,
                failures_per_address=config.login_failures_per_address,
                window=config.login_window,
            )
        )
        self.sessions = Sessions(self.store, clock, config.session_ttl, cache_seconds=config.auth_cache_seconds)
        self.health = health.aio.HealthServicer()
        self.interceptors: list[grpc.aio.ServerInterceptor] = [
            RequestIdInterceptor(),
            LoggingInterceptor(),
            ErrorInterceptor(),
            AuthInterceptor(self.sessions, public_methods=PUBLIC_METHODS, public_services=PUBLIC_SERVICES),
        ]
        self.master = MasterServicer(
            version=package_version(),
            master_id=self.master_id,
            cluster_name=config.cluster_name,
            cluster_id=self.store.cluster_id,
            logs=self.logs,
            streams=StreamSlots(StreamLimits(per_user=config.max_streams_per_user, total=config.max_streams)),
        )
        self.servicer = DeterminedServicer(
            AuthServicer(self.store, self.sessions, self.passwords, clock, self.login_throttle),
            UsersServicer(self.store, self.passwords, self.sessions, limits),
            ExperimentsServicer(self.store, clock, limits),
            self.master,
        )
        self._started = False

    def register(self, server: Any) -> None:
        """Add the Determined service and the health service to a server or server-like registry."""
        api_pb2_grpc.add_DeterminedServicer_to_server(cast(api_pb2_grpc.DeterminedServicer, self.servicer), server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)

    async def start(self) -> None:
        """Open the database (migrating it), seed the built-in passwords and start buffering logs."""
        logging.getLogger().addHandler(self.logs)
        await self.store.start()
        # Expired sessions can never authenticate again; dropping them at start keeps the table small.
        purged = await self.store.purge_expired_sessions(self.clock())
        if purged:
            logger.info("removed %d expired sessions", purged)
        await self._apply_initial_password()
        await self._warn_blank_passwords()
        for name in ("", SERVICE_NAME):
            await self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        self._started = True

    async def stop_serving(self) -> None:
        """Tell health checkers to go elsewhere and end follow streams; called when a graceful shutdown
        begins, so open streams do not hold the shutdown for the whole grace period."""
        await self.health.enter_graceful_shutdown()
        self.master.stop_streams()

    async def close(self) -> None:
        """Release the database and stop buffering logs. Safe to call more than once."""
        logging.getLogger().removeHandler(self.logs)
        if self._started:
            self._started = False
            await self.store.close()

    async def _apply_initial_password(self) -> None:
        password = self.config.initial_password
        if not password:
            return
        for name in BUILTIN_USERS:
            user = await self.store.get_user_by_username(name)
            # Only a built-in account nobody has used or secured yet counts as "fresh".
            if user.password_hash is None and user.last_auth_at is None:
                stored = await self.passwords.hash(client_side_hash(password))
                await self.store.set_password_hash(user.id, stored)
                logger.info("set the initial password of built-in user %r", name)

    async def _warn_blank_passwords(self) -> None:
        for name in BUILTIN_USERS:
            user = await self.store.get_user_by_username(name)
            if user.password_hash is None and user.active and not user.remote:
                logger.warning(
                    "built-in user %r has a blank password: anyone can log in as it; set one with "
                    "SetUserPassword or start a fresh database with --initial-password / %s",
                    name,
                    "PROTOGW_INITIAL_PASSWORD",
                )


def build_service(config: ServiceConfig, **collaborators: Any) -> Service:
    """Build the service bundle; keyword arguments are passed to ``Service`` (store, clock, ...)."""
    return Service(config, **collaborators)


def initial_password_from_env() -> str | None:
    """``PROTOGW_INITIAL_PASSWORD`` if set and non-empty."""
    return os.environ.get("PROTOGW_INITIAL_PASSWORD") or None
