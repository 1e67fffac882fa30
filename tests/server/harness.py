"""A real Determined service on a real gRPC server (port 0) for the server integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import argon2
import grpc
import grpc.aio

from protogw.gen.determined.api.v1 import api_pb2_grpc, auth_pb2, experiment_pb2, user_pb2
from protogw.gen.determined.user.v1 import user_pb2 as user_model_pb2
from protogw.server.app import create_server
from protogw.server.service import Service, ServiceConfig, build_service

#: argon2 at its cheapest: tests check behaviour, not hashing cost.
CHEAP_HASHER = argon2.PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)

Metadata = tuple[tuple[str, str], ...]


def bearer(token: str) -> Metadata:
    return (("authorization", f"Bearer {token}"),)


@dataclass
class Running:
    """A started service, its gRPC server and a client stub on a channel to it."""

    service: Service
    server: grpc.aio.Server
    port: int
    channel: grpc.aio.Channel
    stub: api_pb2_grpc.DeterminedAsyncStub
    _counter: list[int] = field(default_factory=lambda: [0])

    async def login(self, username: str, password: str = "") -> Metadata:
        response = await self.stub.Login(auth_pb2.LoginRequest(username=username, password=password))
        return bearer(response.token)

    def unique(self, prefix: str) -> str:
        """A name no other test in the module uses, so tests can share one database."""
        self._counter[0] += 1
        return f"{prefix}-{self._counter[0]}"

    async def new_user(
        self, admin_md: Metadata, *, admin: bool = False, password: str = "", remote: bool = False
    ) -> tuple[int, str]:
        """Create an active user; returns (id, username)."""
        name = self.unique("user")
        response = await self.stub.PostUser(
            user_pb2.PostUserRequest(
                user=user_model_pb2.User(username=name, admin=admin, active=True, remote=remote), password=password
            ),
            metadata=admin_md,
        )
        return response.user.id, name

    async def deactivate(self, admin_md: Metadata, user_id: int) -> None:
        patch = user_model_pb2.PatchUser()
        patch.active.value = False
        await self.stub.PatchUser(user_pb2.PatchUserRequest(user_id=user_id, user=patch), metadata=admin_md)

    async def create_experiment(
        self, md: Metadata, config: str = "", **fields: Any
    ) -> experiment_pb2.CreateExperimentResponse:
        text = config or f"name: {self.unique('exp')}\n"
        return await self.stub.CreateExperiment(
            experiment_pb2.CreateExperimentRequest(config=text, **fields), metadata=md
        )


@asynccontextmanager
async def running(
    database_url: str, collaborators: dict[str, Any] | None = None, **config: Any
) -> AsyncIterator[Running]:
    """Start the service on ``database_url`` and a server on 127.0.0.1:0; stop both afterwards."""
    extra = {"password_hasher": CHEAP_HASHER, **(collaborators or {})}
    service = build_service(ServiceConfig(database_url=database_url, **config), **extra)
    await service.start()
    server, port = create_server(service, "127.0.0.1:0")
    await server.start()
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{port}")
    try:
        yield Running(service, server, port, channel, api_pb2_grpc.DeterminedStub(channel))
    finally:
        await channel.close()
        await server.stop(None)
        await service.close()
