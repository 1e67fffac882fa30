"""Database URLs as people write them (protogw.server.storage.engine.database_url), and
``protogw serve`` started as a real process with each form, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from protogw.server.storage.engine import UnsupportedDatabase, database_url, redact
from tests.support.postgres import PostgresServer
from tests.support.serve import LISTENING, PROTOGW

# (written, the async URL it becomes)
URL_FORMS = [
    ("sqlite:///var/app.db", "sqlite+aiosqlite:///var/app.db"),
    ("sqlite:////abs/app.db", "sqlite+aiosqlite:////abs/app.db"),
    ("SQLite:///app.db", "sqlite+aiosqlite:///app.db"),
    ("sqlite+aiosqlite:///app.db", "sqlite+aiosqlite:///app.db"),
    ("sqlite://", "sqlite+aiosqlite://"),
    ("app.db", "sqlite+aiosqlite:///app.db"),
    ("/srv/data/app.db", "sqlite+aiosqlite:////srv/data/app.db"),
    ("  data/app.db ", "sqlite+aiosqlite:///data/app.db"),
    ("postgresql://u:pw@db:5433/app", "postgresql+asyncpg://u:pw@db:5433/app"),
    ("postgres://u@db/app", "postgresql+asyncpg://u@db/app"),
    ("postgresql+asyncpg://u@db/app", "postgresql+asyncpg://u@db/app"),
    ("postgres://u@db/app?sslmode=require", "postgresql+asyncpg://u@db/app?ssl=require"),
    ("postgres://u@db/app?sslmode=require&ssl=prefer", "postgresql+asyncpg://u@db/app?ssl=prefer"),
]


@pytest.mark.parametrize(("written", "expected"), URL_FORMS)
def test_database_url_picks_the_async_driver(written: str, expected: str) -> None:
    assert database_url(written).render_as_string(hide_password=False) == expected


# (written, fragment of the one-line error)
BAD_URLS = [
    ("mysql://u@db/app", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://u@db/app", "unsupported database 'postgresql+psycopg2'"),
    ("sqlite+pysqlite:///app.db", "unsupported database 'sqlite+pysqlite'"),
    ("http://example.com/db", "unsupported database 'http'"),
    ("", "the database URL is empty"),
    ("postgresql://u@db:notaport/app", "malformed database URL"),
]


@pytest.mark.parametrize(("written", "fragment"), BAD_URLS)
def test_unknown_forms_name_the_accepted_ones(written: str, fragment: str) -> None:
    with pytest.raises(UnsupportedDatabase) as info:
        database_url(written)
    message = str(info.value)
    assert fragment in message
    assert "sqlite:///PATH" in message
    assert "postgres://" in message
    assert "\n" not in message


REDACTED = [
    ("postgres://app:hunter2@db/app", "postgresql+asyncpg://app:***@db/app"),
    ("mysql://app:hunter2@db/app", "mysql://app:***@db/app"),
    ("data/app.db", "sqlite+aiosqlite:///data/app.db"),
]


@pytest.mark.parametrize(("written", "shown"), REDACTED)
def test_redact_hides_the_password(written: str, shown: str) -> None:
    assert redact(written) == shown


# -- protogw serve with each form ----------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    http_url: str
    log: list[str]


@contextlib.asynccontextmanager
async def _serve(database: str, cwd: Path) -> AsyncIterator[Started]:
    """``protogw serve --database DATABASE`` on port 0 in ``cwd``, keeping its log lines."""
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
        "--database", database, "--grace", "1", "--initial-password", "pw",
        cwd=cwd, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    log: list[str] = []
    ports: dict[bytes, int] = {}
    try:
        while len(ports) < 2:
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            assert line, "protogw exited early:\n" + "".join(log)
            log.append(line.decode(errors="replace"))
            if m := LISTENING.search(line):
                ports[m.group(1)] = int(m.group(2))
        drain = asyncio.create_task(proc.stderr.read())
        yield Started(f"http://127.0.0.1:{ports[b'REST gateway']}", log)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
        await drain
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def _round_trip(base_url: str) -> None:
    """Log in, create an experiment and find it again: the database really works."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "pw"})
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['token']}"}
        created = await client.post(
            "/api/v1/experiments", json={"config": "name: url-form\n", "activate": False}, headers=headers
        )
        assert created.status_code == 200, created.text
        listed = await client.get("/api/v1/experiments", params={"name": "url-form"}, headers=headers)
        assert listed.status_code == 200, listed.text
        assert [e["name"] for e in listed.json()["experiments"]] == ["url-form"]


# (id, template; {path} is an absolute file path, {rel} one relative to the server's folder)
SQLITE_FORMS = [
    ("sqlite-url", "sqlite:///{path}", "{path}"),
    ("sqlite-relative-url", "sqlite:///{rel}", "{rel}"),
    ("bare-path", "{path}", "{path}"),
    ("bare-relative-path", "{rel}", "{rel}"),
    ("explicit-aiosqlite", "sqlite+aiosqlite:///{path}", "{path}"),
    ("memory", "sqlite://", None),
]


@pytest.mark.parametrize(("template", "file"), [f[1:] for f in SQLITE_FORMS], ids=[f[0] for f in SQLITE_FORMS])
async def test_serve_with_each_sqlite_form(tmp_path: Path, template: str, file: str | None) -> None:
    names = {"path": str(tmp_path / "abs" / "app.db"), "rel": "rel/app.db"}
    database = template.format(**names)
    async with _serve(database, tmp_path) as started:
        await _round_trip(started.http_url)
    expected_url = database_url(database).render_as_string(hide_password=True)
    assert any(f"database: {expected_url}" in line for line in started.log), started.log
    files = await asyncio.to_thread(lambda: [str(p) for p in tmp_path.rglob("*.db")])
    assert files == ([] if file is None else [str(tmp_path / file.format(**names))])


# (id, template on the test server; {user}/{host}/{port}/{db} are filled in)
POSTGRES_FORMS = [
    ("postgresql", "postgresql://{user}@{host}:{port}/{db}"),
    ("postgres", "postgres://{user}@{host}:{port}/{db}"),
    ("explicit-asyncpg", "postgresql+asyncpg://{user}@{host}:{port}/{db}"),
    ("with-password-and-sslmode", "postgresql://{user}:s3cr3t-pw@{host}:{port}/{db}?sslmode=disable"),
]


@pytest.mark.postgres
@pytest.mark.parametrize("template", [f[1] for f in POSTGRES_FORMS], ids=[f[0] for f in POSTGRES_FORMS])
async def test_serve_with_each_postgres_form(pg_server: PostgresServer, tmp_path: Path, template: str) -> None:
    name = pg_server.create_database()
    try:
        database = template.format(user=pg_server.user, host=pg_server.host, port=pg_server.port, db=name)
        async with _serve(database, tmp_path) as started:
            await _round_trip(started.http_url)
    finally:
        pg_server.drop_database(name)
    shown = [line for line in started.log if "database: postgresql+asyncpg://" in line]
    assert shown, started.log
    assert all("s3cr3t-pw" not in line for line in started.log)
    if "s3cr3t-pw" in template:
        assert ":***@" in shown[0]


BAD_SERVE = [
    ("mysql://someone:hunter2@127.0.0.1/db", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://someone@127.0.0.1/db", "unsupported database 'postgresql+psycopg2'"),
    ("sqlite+pysqlite:///x.db", "unsupported database 'sqlite+pysqlite'"),
]


@pytest.mark.parametrize(("database", "fragment"), BAD_SERVE)
async def test_serve_refuses_unknown_forms_in_one_line(tmp_path: Path, database: str, fragment: str) -> None:
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--database", database,
        cwd=tmp_path, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    lines = [line for line in (out + err).decode().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: cannot use the database")
    assert fragment in lines[0]
    assert "postgres://" in lines[0]  # names the accepted forms
    assert "hunter2" not in lines[0]
    assert not await asyncio.to_thread(lambda: list(tmp_path.iterdir()))
