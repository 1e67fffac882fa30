"""Connecting to the database: the URL forms people write, the engine and its pool, SQLite's
pragmas and locking, migrations on start, transactions, and how driver errors become domain errors.

Usage::

    db = Database(database_url("postgres://app:secret@db/app"))  # any accepted form
    await db.start()                  # creates a SQLite file's folder, migrates to the newest revision
    async with db.write() as conn:    # one transaction (BEGIN IMMEDIATE on SQLite)
        ...
    async with db.read() as conn:     # no transaction on SQLite: each statement is its own snapshot
        ...
    await db.close()
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DataError, DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

from protogw.server.storage.errors import InvalidArgument
from protogw.server.storage.fastpath import PgDirectReads, SqliteInlineReader, WouldWait
from protogw.server.storage.migrations import MIGRATIONS_DIR
from protogw.server.storage.rows import AnyRow

logger = logging.getLogger("protogw.server.storage")

#: Execution option that marks a connection as one that will write. On SQLite such transactions
#: start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of one failing
#: with "database is locked" when it upgrades its read lock.
WRITE_OPTION = "protogw_write"

#: Key for ``pg_advisory_xact_lock``: replicas starting together migrate one at a time.
_MIGRATION_LOCK_KEY = 0x70726F746F6777  # "protogw"

SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Pooled connections per store (see ``Database.__init__``).
POOL_SIZE = 15

#: The URL forms ``database_url`` accepts, as error messages and ``--help`` list them.
ACCEPTED_URLS = (
    "sqlite:///PATH, a file path, sqlite:// (in memory), postgresql://USER:PASSWORD@HOST:PORT/DB, "
    "postgres://..., or the explicit sqlite+aiosqlite:// and postgresql+asyncpg:// forms"
)

# scheme as written (lower case) -> the async driver URL's scheme
_SCHEMES = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "postgres+asyncpg": "postgresql+asyncpg",
}


class UnsupportedDatabase(InvalidArgument):
    """The database URL names a scheme or driver protogw cannot use."""


def database_url(raw: str) -> sa.URL:
    """The async SQLAlchemy URL for a database URL written any of the accepted ways.

    ``sqlite:///PATH`` and a bare file path become ``sqlite+aiosqlite:///PATH``, ``sqlite://`` an
    in-memory database, ``postgresql://`` and ``postgres://`` become ``postgresql+asyncpg://``
    (a libpq-style ``sslmode`` query parameter is passed on as asyncpg's ``ssl`` unless that is given). Anything else
    raises ``UnsupportedDatabase`` with a one-line message naming the accepted forms.

    >>> database_url("postgres://app:pw@db/app").render_as_string(hide_password=True)
    'postgresql+asyncpg://app:***@db/app'
    >>> str(database_url("data/app.db"))
    'sqlite+aiosqlite:///data/app.db'
    """
    text = raw.strip()
    if not text:
        raise UnsupportedDatabase(f"the database URL is empty; use {ACCEPTED_URLS}")
    if "://" not in text:
        return sa.URL.create("sqlite+aiosqlite", database=str(Path(text).expanduser()))
    scheme = text.split("://", 1)[0].lower()
    driver = _SCHEMES.get(scheme)
    if driver is None:
        raise UnsupportedDatabase(f"unsupported database {scheme!r}; use {ACCEPTED_URLS}")
    try:
        url = sa.make_url(driver + text[len(scheme) :])
    except (sa.exc.ArgumentError, ValueError) as exc:
        raise UnsupportedDatabase(
            f"malformed database URL ({' '.join(str(exc).split())}); use {ACCEPTED_URLS}"
        ) from None
    if driver.startswith("postgresql") and "sslmode" in url.query:
        # asyncpg takes libpq's sslmode values under the name ``ssl``; an explicit ``ssl`` wins.
        query = dict(url.query)
        sslmode = query.pop("sslmode")
        query.setdefault("ssl", sslmode)
        url = url.set(query=query)
    return url


def redact(url: str | sa.URL) -> str:
    """A database URL fit for logs and messages: the password, if any, shown as ``***``."""
    try:
        parsed = url if isinstance(url, sa.URL) else database_url(url)
    except InvalidArgument:
        try:
            parsed = sa.make_url(str(url))
        except (sa.exc.ArgumentError, ValueError):
            return "<unparseable URL>"
    return parsed.render_as_string(hide_password=True)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def raise_if_bad_value(exc: Exception) -> None:
    """Re-raise a database's refusal of a parameter value as ``InvalidArgument``.

    Covers SQLite's OverflowError for integers beyond 64 bits, asyncpg's client-side encoding
    errors (ValueErrors such as "value out of int32 range") and PostgreSQL's SQLSTATE class 22
    ("data exception"). Anything else is left alone.
    """
    if isinstance(exc, OverflowError):
        raise InvalidArgument(f"value rejected by the database: {exc}") from exc
    if isinstance(exc, DataError):
        raise InvalidArgument(f"value rejected by the database: {exc.orig}") from exc
    if isinstance(exc, DBAPIError):
        cause = exc.orig.__cause__ if exc.orig is not None else None
        if isinstance(cause, ValueError) or str(getattr(cause, "sqlstate", "") or "").startswith("22"):
            raise InvalidArgument(f"value rejected by the database: {cause}") from exc


def _upgrade_to_head(connection: Connection) -> None:
    """Run inside ``run_sync``: apply every pending Alembic revision on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


class Database:
    """One database: its engine and pool, its transactions, and the hot-read fast path.

    ``url`` is anything ``database_url`` accepts (or a URL it returned).
    """

    def __init__(self, url: str | sa.URL, *, echo: bool = False) -> None:
        self.url = url if isinstance(url, sa.URL) else database_url(url)
        backend = self.url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise UnsupportedDatabase(f"unsupported database {backend!r}; use {ACCEPTED_URLS}")
        self.sqlite = backend == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        self._sqlite_folder: Path | None = None
        if self.sqlite and self.url.database in (None, "", ":memory:"):
            # An in-memory database lives in one connection: share it instead of pooling.
            kwargs["poolclass"] = StaticPool
        else:
            if self.sqlite:
                self._sqlite_folder = Path(str(self.url.database)).parent
            # The same ceiling as SQLAlchemy's default (5 kept + 10 overflow), but all of them kept:
            # an overflow connection is closed as soon as it is returned while five others sit idle,
            # so steady load above five concurrent queries opened and closed a connection every few
            # requests (on PostgreSQL, a new session and its type-codec set-up each time).
            kwargs["pool_size"] = POOL_SIZE
            kwargs["max_overflow"] = 0
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        # Hot point reads on a SQLite file go through this once started (see ``fetch_one``); an
        # in-memory database has only the one shared connection.
        self._reader: SqliteInlineReader | None = None
        self._pg_reads = None if self.sqlite else PgDirectReads(self.engine)
        self._writer: AsyncEngine = self.engine.execution_options(**{WRITE_OPTION: True})
        if self.sqlite:
            _install_sqlite_hooks(self.engine)

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self.sqlite else "postgresql"

    async def start(self) -> None:
        """``migrate`` then ``open_fast_path``: what a server does once before serving."""
        logger.info("database: %s", redact(self.url))
        await self.migrate()
        await self.open_fast_path()

    async def migrate(self) -> None:
        """Create the database file's folder if needed and upgrade the schema to the newest revision.

        Safe to call on every start: applied revisions are skipped. On PostgreSQL an advisory lock
        makes concurrently starting replicas migrate one after the other.
        """
        if self._sqlite_folder is not None:
            await asyncio.to_thread(self._sqlite_folder.mkdir, parents=True, exist_ok=True)
        async with self._writer.begin() as conn:
            if not self.sqlite:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            await conn.run_sync(_upgrade_to_head)

    async def open_fast_path(self) -> None:
        """Open the inline reader of a SQLite file (``fastpath.SqliteInlineReader``); a no-op
        otherwise (PostgreSQL's direct reads need nothing opened, an in-memory SQLite has none)."""
        if self._sqlite_folder is not None and self._reader is None:
            self._reader = await asyncio.to_thread(SqliteInlineReader, str(self.url.database), self.engine.dialect)

    async def close(self) -> None:
        """Close every pooled connection. The database can be started again afterwards."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        await self.engine.dispose()

    # Both context managers turn a value the database refuses (out of range for its column type,
    # say) into InvalidArgument, so bad input never surfaces as an internal error.

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A connection in a transaction that commits on leaving (or rolls back on an error)."""
        try:
            async with self._writer.begin() as conn:
                yield conn
        except (DBAPIError, OverflowError) as exc:
            raise_if_bad_value(exc)
            raise
        finally:
            if self._reader is not None:
                # After the commit (or rollback): the inline reader's next read checks for changes.
                self._reader.written()

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads (no explicit transaction on SQLite)."""
        try:
            async with self.engine.connect() as conn:
                yield conn
        except (DBAPIError, OverflowError) as exc:
            raise_if_bad_value(exc)
            raise

    async def fetch_one(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of one of the storage layer's prebuilt module-level statements, or None.

        On a started SQLite file store this is read inline (``fastpath.SqliteInlineReader``) unless
        that would wait for a lock, on PostgreSQL in one round trip (``fastpath.PgDirectReads``);
        otherwise, and then, through the engine (``fetch_one_via_engine``). Values come back
        decoded the same way on every path.
        """
        reader = self._reader
        if reader is not None:
            try:
                return reader.fetch_one(stmt, params)
            except WouldWait:
                pass
            except (DBAPIError, OverflowError) as exc:
                raise_if_bad_value(exc)
                raise
        elif self._pg_reads is not None:
            try:
                return await self._pg_reads.fetch_one(stmt, params)
            except (DBAPIError, OverflowError) as exc:
                raise_if_bad_value(exc)
                raise
        return await self.fetch_one_via_engine(stmt, params)

    async def fetch_one_via_engine(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """``fetch_one`` through the engine alone: the ordinary path the fast path must equal."""
        async with self.read() as conn:
            row: AnyRow | None = (await conn.execute(stmt, params)).one_or_none()
        return row

    def insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT`` that silently skips rows whose primary key already exists."""
        dialect = sqlite_dialect if self.sqlite else pg_dialect
        return dialect.insert(table).on_conflict_do_nothing()

    @staticmethod
    async def next_sqlite_id(conn: AsyncConnection, table: str) -> int:
        """The id SQLite's AUTOINCREMENT would give the next row of ``table`` (hold the write lock)."""
        seq = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name").bindparams(name=table)
        used = await conn.scalar(seq)
        top = await conn.scalar(sa.text(f"SELECT max(id) FROM {table}"))
        return max(int(used or 0), int(top or 0)) + 1


def _install_sqlite_hooks(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take over transaction control from the driver so BEGIN IMMEDIATE is possible.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA foreign_keys=ON",
            f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            # Safe with WAL (a crash can lose the last commits, never corrupt the file).
            "PRAGMA synchronous=NORMAL",
        ):
            cursor.execute(pragma)
        cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock up front. Readers open no transaction at all: each
        # statement then reads its own consistent snapshot, and a read costs no BEGIN and
        # ROLLBACK round trips to the driver's thread. (Listings fetch their count and page
        # in one statement, so they stay consistent.)
        if conn.get_execution_options().get(WRITE_OPTION):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
