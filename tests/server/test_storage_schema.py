"""Schema and migrations (protogw.server.storage.schema + migrations), on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from protogw.server.storage import Store
from protogw.server.storage import schema as t
from protogw.server.storage.migrations import MIGRATIONS_DIR
from tests.support.postgres import PostgresServer


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def migrated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    """A database migrated by starting twice, then reopened: shared by the read-mostly tests here."""
    server: PostgresServer | None = None
    name = ""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('migrated') / 'db.sqlite'}"
    else:
        server = request.getfixturevalue("pg_server")
        assert server is not None
        name = server.create_database()
        url = server.url(name)
    try:
        first = Store(url)
        await first.start()
        await first.start()
        await first.close()
        async with Store(url) as store:
            yield store
    finally:
        if server is not None:
            server.drop_database(name)


SEEDED = [
    pytest.param(
        "SELECT username, admin, active, password_hash FROM users ORDER BY id",
        [("admin", True, True, None), ("determined", False, True, None)],
        id="built-in-users",
    ),
    pytest.param(
        "SELECT w.id, w.name, u.username FROM workspaces w JOIN users u ON u.id = w.user_id",
        [(1, "Uncategorized", "admin")],
        id="workspace-1",
    ),
    pytest.param(
        "SELECT p.id, p.name, p.workspace_id, u.username FROM projects p JOIN users u ON u.id = p.user_id",
        [(1, "Uncategorized", 1, "admin")],
        id="project-1",
    ),
    pytest.param("SELECT count(*) FROM cluster_meta", [(1,)], id="one-cluster-row"),
    pytest.param("SELECT version_num FROM alembic_version", [("0001",)], id="at-head"),
]


@pytest.mark.parametrize(("sql", "rows"), SEEDED)
async def test_fresh_database_is_migrated_and_seeded_once(migrated: Store, sql: str, rows: list[Any]) -> None:
    # ``migrated`` was started twice and reopened: nothing may fail or be seeded twice.
    async with migrated.engine.connect() as conn:
        got = [tuple(r) for r in (await conn.execute(sa.text(sql))).all()]
    # SQLite hands booleans back as 0/1 through text(); they compare equal to False/True.
    assert got == rows


def _diff(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(context, t.metadata))


async def test_migrations_build_exactly_the_declared_schema(migrated: Store) -> None:
    async with migrated.engine.connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


async def test_cluster_id_is_stable_across_reopen(database_url: str) -> None:
    async with Store(database_url) as store:
        first = await store.cluster_id()
    async with Store(database_url) as store:
        second = await store.cluster_id()
    assert first == second
    assert len(first) == 36


PLUS_5 = timezone(timedelta(hours=5))
MINUS_8 = timezone(timedelta(hours=-8))
UTC_CASES = [
    pytest.param(datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), id="utc"),
    pytest.param(datetime(2024, 1, 2, 8, 4, 5, 678901, tzinfo=PLUS_5), id="plus-5"),
    pytest.param(datetime(2024, 1, 1, 19, 4, 5, 678901, tzinfo=MINUS_8), id="minus-8"),
    pytest.param(datetime(2024, 1, 2, 3, 4, 5, 678901), id="naive-taken-as-utc"),
]


@pytest.mark.parametrize("value", UTC_CASES)
async def test_timestamps_round_trip_as_utc(migrated: Store, value: datetime) -> None:
    expected = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    async with migrated.engine.begin() as conn:
        await conn.execute(sa.update(t.users).where(t.users.c.id == 1).values(last_auth_at=value))
    got = (await migrated.get_user(1)).last_auth_at
    assert got == expected
    assert got is not None
    assert got.utcoffset() == timedelta(0)


async def test_timestamps_in_mixed_offsets_sort_chronologically(migrated: Store) -> None:
    # 10:00+05:00 (05:00Z) is earlier than 06:00Z even though its wall time is later.
    times = {1: datetime(2024, 1, 1, 10, 0, tzinfo=PLUS_5), 2: datetime(2024, 1, 1, 6, 0, tzinfo=UTC)}
    async with migrated.engine.begin() as conn:
        for user_id, when in times.items():
            await conn.execute(sa.update(t.users).where(t.users.c.id == user_id).values(modified_at=when))
        order = (await conn.execute(sa.select(t.users.c.id).order_by(t.users.c.modified_at))).scalars().all()
    assert list(order) == [1, 2]


SQLITE_PRAGMAS = [
    pytest.param("journal_mode", "wal", id="wal"),
    pytest.param("foreign_keys", 1, id="foreign-keys"),
    pytest.param("busy_timeout", 10_000, id="busy-timeout"),
]


@pytest.mark.parametrize(("pragma", "expected"), SQLITE_PRAGMAS)
async def test_sqlite_connection_settings(tmp_path: Path, pragma: str, expected: object) -> None:
    # The file's folder does not exist yet: start() creates it.
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'dir' / 'db.sqlite'}"
    async with Store(url) as store, store.engine.connect() as conn:
        value = (await conn.exec_driver_sql(f"PRAGMA {pragma}")).scalar_one()
    assert value == expected
    assert (tmp_path / "nested" / "dir" / "db.sqlite").exists()


def _alembic_config(url: str) -> Config:
    config = Config(output_buffer=io.StringIO(), stdout=io.StringIO())
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.cmd_opts = argparse.Namespace(x=[f"url={url}"])
    return config


def _tables(url: str) -> set[str]:
    async def read() -> set[str]:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                return set(await conn.run_sync(lambda c: sa.inspect(c).get_table_names()))
        finally:
            await engine.dispose()

    return asyncio.run(read())


APP_TABLES = {t.name for t in t.metadata.sorted_tables}


def test_alembic_command_line_round_trip(database_url: str) -> None:
    # What a developer runs by hand: ``alembic -x url=... upgrade head`` / ``downgrade base``.
    # (A plain test: env.py starts its own event loop when no connection is handed over.)
    config = _alembic_config(database_url)
    command.upgrade(config, "head")
    assert _tables(database_url) >= APP_TABLES
    command.downgrade(config, "base")
    assert _tables(database_url) & APP_TABLES == set()
    command.upgrade(config, "head")
    assert _tables(database_url) >= APP_TABLES


@pytest.mark.parametrize("url", ["sqlite+aiosqlite:///unused.db", "postgresql+asyncpg://u@h/db"])
def test_alembic_offline_sql(url: str) -> None:
    # ``alembic upgrade head --sql`` writes the DDL for a DBA instead of running it.
    config = _alembic_config(url)
    command.upgrade(config, "head", sql=True)
    output = config.output_buffer.getvalue()  # type: ignore[union-attr]
    for table in APP_TABLES:
        assert f"CREATE TABLE {table}" in output
    assert "INSERT INTO users" in output
