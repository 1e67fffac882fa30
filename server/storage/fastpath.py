"""The hot point reads (every GetExperiment, every token check) past SQLAlchemy's execution layer.

This is the ONE module of protogw allowed to touch SQLAlchemy internals: the compiled statement's
``_result_columns``, a type's ``_cached_result_processor`` and the asyncpg adapter's
``_handle_exception``. They are private API, which is why ``pyproject.toml`` pins SQLAlchemy to the
minor series this was tested on, and why ``tests/server/test_storage_fastpath.py`` compares every
column read here with the same read through the engine, on both databases, and exercises the
SQLite fallback (``WouldWait``). Everything else in the storage layer uses public API only.

``Database.fetch_one`` (``engine.py``) decides which path a read takes; callers never see the
difference: the same values, decoded the same way, and the same exception classes.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from protogw.core import receipt


class PreparedRead:
    """A SELECT compiled once for one dialect, with the bind order and value decoders it needs.

    The decoders are the ones SQLAlchemy itself would apply to each result column (booleans,
    UTC timestamps, JSON), so rows read this way equal rows read through the engine.
    """

    __slots__ = ("decoders", "names", "sql")

    def __init__(self, stmt: sa.Select[Any], dialect: Dialect, *, with_decoders: bool = True) -> None:
        compiled: Any = stmt.compile(dialect=dialect)
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())
        self.decoders: tuple[tuple[int, Callable[[Any], Any]], ...] = ()
        if with_decoders:
            decoders = (column[3]._cached_result_processor(dialect, None) for column in compiled._result_columns)
            self.decoders = tuple((i, d) for i, d in enumerate(decoders) if d is not None)

    def decode(self, raw: Sequence[Any]) -> list[Any]:
        values = list(raw)
        for i, decoder in self.decoders:
            values[i] = decoder(values[i])
        return values


class _Prepared:
    """Statements prepared per identity: only module-level prebuilt statements come here, and they
    live for the life of the process, so their ``id`` never names another statement."""

    def __init__(self, dialect: Dialect, *, with_decoders: bool) -> None:
        self._dialect = dialect
        self._with_decoders = with_decoders
        self._items: dict[int, PreparedRead] = {}

    def __call__(self, stmt: sa.Select[Any]) -> PreparedRead:
        prepared = self._items.get(id(stmt))
        if prepared is None:
            prepared = self._items[id(stmt)] = PreparedRead(stmt, self._dialect, with_decoders=self._with_decoders)
        return prepared


#: Rows the SQLite inline reader keeps between two changes of the database, and the largest it keeps
#: (bytes of text and blobs): at most 16 MiB.
ROW_CACHE_ENTRIES = 512
ROW_CACHE_MAX_BYTES = 32 * 1024


class WouldWait(Exception):
    """The inline reader would have had to wait for a lock; the engine should run the read instead."""


class SqliteInlineReader:
    """A read-only connection to a SQLite file that runs the hot point reads on the event loop itself.

    A read by primary key or unique index costs SQLite a few tens of microseconds. Through
    SQLAlchemy's aiosqlite adapter the same read makes five trips to a worker thread (cursor,
    execute, fetch, close, and a rollback when the pooled connection is returned), and each trip
    wakes the event loop from another thread; in a server that waits on its sockets between
    requests, those hand-offs cost far more CPU than the read (gateway_bench: ~490 -> ~230 us per
    REST GetExperiment). So these reads run here, synchronously, with the same SQL and the same
    column decoders as through the engine.

    The connection never waits: ``busy_timeout`` is 0, so a read that would block on a lock (rare
    in WAL mode, where readers do not wait for writers) raises ``WouldWait`` at once and the
    caller repeats it through the engine, whose connections wait in their worker threads. It is in
    autocommit mode like the store's other readers, so each statement sees its own consistent
    snapshot, and ``query_only`` makes it unable to write.

    Rows read are kept (raw, as SQLite returned them, and decoded afresh for each caller) until the
    database changes: ``PRAGMA data_version`` on this connection changes whenever another connection
    commits, in this process or any other, and this one never writes. The version is read before
    the row, so a row is never kept under a version older than the data it saw. A GetExperiment
    polled by many clients then costs the version check instead of the query.

    The check itself starts a read transaction (two ``fcntl`` lock calls in WAL mode, ~5 us in a
    loop and ~20 us between requests), so requests received together share one: a read whose
    request was received before the last check (:mod:`protogw.core.receipt`: the HTTP server
    stamps each request head as it parses it) uses that check, since it already saw every write
    completed before the request arrived. Reads without a stamp (gRPC, streams, direct calls) check
    for themselves, and a write through the store makes the next read check (:meth:`written`), so a
    call always reads its own writes.
    """

    def __init__(self, path: str, dialect: Dialect) -> None:
        # Used only from the event loop's thread, but opened and closed from wherever the store is
        # started; the loop's thread never shares it with another.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA busy_timeout=0")
            self._conn.execute("PRAGMA query_only=ON")
        except BaseException:
            self._conn.close()
            raise
        self._prepare = _Prepared(dialect, with_decoders=True)
        self._version: int | None = None
        # The receipt stamp taken just before the last version check (0: none to share).
        self._checked_after = 0
        self._rows: OrderedDict[tuple[str, tuple[Any, ...]], tuple[Any, ...] | None] = OrderedDict()

    def close(self) -> None:
        self._conn.close()

    def written(self) -> None:
        """This process wrote (or tried to): the next read checks for changes itself, so the call
        that wrote reads what it wrote even if its request is older than the last check."""
        self._checked_after = 0

    def fetch_one(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[Any] | None:
        """The first row of ``stmt`` decoded, or None when there is none; ``WouldWait`` on a lock."""
        prepared = self._prepare(stmt)
        values = tuple(params[name] for name in prepared.names)
        try:
            row = self._read(prepared.sql, values)
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise WouldWait from exc
            raise sa.exc.DBAPIError.instance(prepared.sql, values, exc, sqlite3.Error) from exc
        except sqlite3.Error as exc:
            # The same exception classes the engine raises, so callers cannot tell the paths apart.
            raise sa.exc.DBAPIError.instance(prepared.sql, values, exc, sqlite3.Error) from exc
        return None if row is None else prepared.decode(row)

    def _read(self, sql: str, values: tuple[Any, ...]) -> tuple[Any, ...] | None:
        conn = self._conn
        rows = self._rows
        request = receipt.received()
        if request is None or request >= self._checked_after:
            checked_after = receipt.stamp()
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                rows.clear()
                self._version = version
            self._checked_after = checked_after
        key = (sql, values)
        if key in rows:
            rows.move_to_end(key)
            return rows[key]
        row: tuple[Any, ...] | None = conn.execute(sql, values).fetchone()
        if row is None or sum(len(v) for v in row if isinstance(v, (str, bytes))) <= ROW_CACHE_MAX_BYTES:
            if len(rows) >= ROW_CACHE_ENTRIES:
                rows.popitem(last=False)
            rows[key] = row
        return row


class PgDirectReads:
    """Runs the hot point reads on PostgreSQL straight through asyncpg, one round trip each.

    Through SQLAlchemy's asyncpg adapter a read on a pooled connection opens a transaction first
    (a ``BEGIN`` round trip), then prepares and executes, and rolls back when the connection is
    returned: three round trips and the adapter's bookkeeping for one SELECT. A single statement in
    autocommit is its own consistent snapshot, so here it goes as one ``fetchrow`` on the same
    pooled connection. Values need no decoders: asyncpg returns booleans, UTC datetimes and lists
    natively, and SQLAlchemy installed the store's JSON decoder on every connection it opened.
    Errors are translated and classified by the adapter and the dialect exactly as an engine
    execution would, and a lost connection is invalidated so the pool does not hand it out again.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._prepare = _Prepared(engine.dialect, with_decoders=False)

    async def fetch_one(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of ``stmt``, or None when there is none."""
        prepared = self._prepare(stmt)
        values = [params[name] for name in prepared.names]
        async with self._engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                record = await raw.driver_connection.fetchrow(prepared.sql, *values)  # type: ignore[union-attr]
            except Exception as exc:
                raise await self._translate(conn, raw.dbapi_connection, prepared.sql, values, exc) from exc
        return None if record is None else tuple(record)

    async def _translate(
        self, conn: AsyncConnection, adapted: Any, sql: str, values: list[Any], exc: Exception
    ) -> Exception:
        """The SQLAlchemy exception an engine execution would have raised for the driver's ``exc``."""
        dialect = self._engine.dialect
        try:
            adapted._handle_exception(exc)  # always raises the adapter's DB-API form of exc
        except Exception as translated:
            lost = dialect.is_disconnect(translated, adapted, None)  # type: ignore[arg-type]
            if lost:
                await conn.invalidate(translated)
            return sa.exc.DBAPIError.instance(
                sql, values, translated, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
            )
        return exc  # pragma: no cover - _handle_exception never returns
