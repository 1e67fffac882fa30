"""Shared fixtures.

``database_url`` runs a test once on SQLite and once on a real PostgreSQL server (a private
cluster started for the session, or the one named by ``PROTOGW_TEST_POSTGRES_URL``). The
PostgreSQL variant is skipped only when no server can be had and ``PROTOGW_REQUIRE_POSTGRES``
is unset; CI sets it, so a broken PostgreSQL set-up fails CI instead of hiding.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.postgres import PostgresServer, PostgresUnavailable, postgres_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        if os.environ.get("PROTOGW_REQUIRE_POSTGRES"):
            raise
        pytest.skip(str(exc))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL for an empty database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'protogw.db'}"
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create_database()
    try:
        yield server.url(name)
    finally:
        server.drop_database(name)
