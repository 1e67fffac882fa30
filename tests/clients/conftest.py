"""Fixtures for the client tests: one seeded ``protogw serve`` per test module (SQLite; the client does
not care which database the server uses) and a client over each transport."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest

from protogw.clients.determined import DeterminedClient
from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport
from protogw.clients.transport import Transport
from tests.support.serve import Served, run_cli, serve

TRANSPORTS = ["grpc", "rest"]


@pytest.fixture(scope="module")
async def served(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Served]:
    """A server holding the README walk-through experiments (ids 1-6), shared by the module."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('clients') / 'protogw.db'}"
    await run_cli("seed", "--database", url)
    # The follow tests wait for log lines that calls cause: the access log gives one per call.
    async with serve(url, ["--access-log-in-master-logs"]) as running:
        yield running


def make_transport(kind: str, served: Served) -> Transport:
    if kind == "grpc":
        return GrpcTransport(target=served.grpc_target)
    return RestTransport(base_url=served.http_url)


@pytest.fixture(params=TRANSPORTS)
def transport_kind(request: pytest.FixtureRequest) -> str:
    kind: str = request.param
    return kind


@pytest.fixture
async def anonymous(served: Served, transport_kind: str) -> AsyncIterator[DeterminedClient]:
    """A client over one transport, not logged in."""
    async with DeterminedClient(make_transport(transport_kind, served)) as client:
        yield client


@pytest.fixture
async def admin(anonymous: DeterminedClient) -> DeterminedClient:
    """The same client logged in as the built-in admin (blank password on a fresh database)."""
    await anonymous.login(username="admin", password="")
    return anonymous


@pytest.fixture
def new_client(served: Served, transport_kind: str) -> Callable[[], DeterminedClient]:
    """A factory for more clients over the same transport (e.g. a second user)."""
    return lambda: DeterminedClient(make_transport(transport_kind, served))
