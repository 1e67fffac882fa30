"""Fixtures for the service tests: one server per test module, on SQLite and on PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.server.harness import Metadata, Running, running
from tests.support.postgres import PostgresServer, PostgresUnavailable


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def module_database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Like the shared ``database_url`` but kept for a whole module, so its tests share one server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'protogw.db'}"
        return
    try:
        server: PostgresServer = request.getfixturevalue("pg_server")
    except PostgresUnavailable:
        if os.environ.get("PROTOGW_REQUIRE_POSTGRES"):
            raise
        pytest.skip("PostgreSQL unavailable")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)


@pytest.fixture(scope="module")
async def api(module_database_url: str) -> AsyncIterator[Running]:
    """A running server shared by the tests of one module."""
    async with running(module_database_url) as r:
        yield r


@pytest.fixture(scope="module")
async def admin_md(api: Running) -> Metadata:
    return await api.login("admin")


@pytest.fixture(scope="module")
async def user_md(api: Running) -> Metadata:
    return await api.login("determined")
