"""The storage API the service layer uses: one ``Store`` per database.

Usage::

    store = Store("sqlite+aiosqlite:///var/protogw.db")   # or "postgresql+asyncpg://..."
    await store.start()          # connects and upgrades the schema to the newest migration
    user = await store.get_user_by_username("admin")
    page = await store.list_experiments(ExperimentQuery(archived=False, limit=10))
    await store.close()

Every method is a coroutine that runs in its own short transaction (on SQLite, reads run as
single autocommit statements instead) and returns plain dataclasses
from :mod:`protogw.server.storage.models`. Failures the caller can cause raise the exceptions in
:mod:`protogw.server.storage.errors`; anything else is a bug or an outage and propagates as is.

Reads and writes are plain SQLAlchemy Core statements: every filter, sort and page window is
evaluated by the database, never by loading rows into Python.
"""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import Connection, Dialect, Row
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.pool import StaticPool
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.visitors import InternalTraversal

from protogw.server.storage import schema as t
from protogw.server.storage.errors import AlreadyExists, Conflict, InvalidArgument, NotFound
from protogw.server.storage.migrations import MIGRATIONS_DIR
from protogw.server.storage.models import (
    TERMINAL_STATES,
    AgentUserGroup,
    Experiment,
    ExperimentPage,
    ExperimentPatch,
    ExperimentQuery,
    ExperimentSortBy,
    ExperimentState,
    LabelUsage,
    ModelFile,
    NewExperiment,
    NewUser,
    OrderBy,
    Project,
    User,
    UserPage,
    UserPatch,
    UserQuery,
    UserSession,
    UserSortBy,
    Workspace,
    sources_of,
)
from protogw.server.storage.pagination import (
    DEFAULT_EXPERIMENT_PAGE,
    LIMIT_ALL,
    LIMIT_COUNT_ONLY,
    experiments_window,
    generic_window,
)

Clock = Callable[[], datetime]
#: ``page(start, size, with_total)`` -> SELECT; see ``Store.experiment_statements``.
PageFactory = Callable[[int, "int | None", bool], "sa.Select[Any]"]
#: A result row of any width (SQLAlchemy 2.1 types rows by a variadic tuple of column types).
AnyRow = Row[*tuple[Any, ...]]

#: Execution option that marks a connection as one that will write. On SQLite such transactions
#: start with ``BEGIN IMMEDIATE`` so two writers queue on the busy timeout instead of one failing
#: with "database is locked" when it upgrades its read lock.
_WRITE_OPTION = "protogw_write"

#: Key for ``pg_advisory_xact_lock``: replicas starting together migrate one at a time.
_MIGRATION_LOCK_KEY = 0x70726F746F6777  # "protogw"

_SQLITE_BUSY_TIMEOUT_MS = 10_000
#: Pooled connections per store (see ``Store.__init__``).
_POOL_SIZE = 15


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class _ContainsCI(sa.sql.expression.ColumnElement[Any]):
    """``column`` contains ``needle`` as a literal substring, ignoring case.

    PostgreSQL gets ``ILIKE``. SQLite gets plain ``LIKE``, which already ignores ASCII case there
    and, unlike ``lower(x) LIKE lower(y)``, needs no function call per row (several times faster
    on a 100,000-row scan). Both fold ASCII the same way; beyond ASCII, SQLite stays
    case-sensitive while PostgreSQL follows its locale.
    """

    # Not Boolean: SQLite's compiler would append "= 1" to a boolean-typed expression in WHERE.
    type = sa.types.NullType()
    # What the statement cache keys on: without this every statement using it is recompiled.
    _traverse_internals = [  # noqa: RUF012  (SQLAlchemy types this as a plain attribute; ClassVar clashes)
        ("column", InternalTraversal.dp_clauseelement),
        ("pattern", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: sa.ColumnElement[Any], needle: str) -> None:
        self.column = column
        escaped = needle.replace("/", "//").replace("%", "/%").replace("_", "/_")
        self.pattern = sa.bindparam(None, f"%{escaped}%", type_=sa.String(), unique=True)


@compiles(_ContainsCI)
def _contains_ci_default(element: _ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} ILIKE {compiler.process(element.pattern, **kw)} ESCAPE '/')"


@compiles(_ContainsCI, "sqlite")
def _contains_ci_sqlite(element: _ContainsCI, compiler: SQLCompiler, **kw: Any) -> str:
    return f"({compiler.process(element.column, **kw)} LIKE {compiler.process(element.pattern, **kw)} ESCAPE '/')"


def contains_ci(column: sa.ColumnElement[Any], needle: str) -> sa.ColumnElement[bool]:
    """Case-insensitive literal substring match (``%`` and ``_`` in ``needle`` match themselves)."""
    return _ContainsCI(column, needle)


class _LabelsOf(sa.sql.expression.ColumnElement[Any]):
    """The sorted labels of the experiment whose id is ``column``, as one value per row.

    Folding them into the row saves a second query per page. SQLite yields a JSON array text
    (``json_group_array``), PostgreSQL a text array; ``_labels_value`` reads either.
    """

    type = sa.types.NullType()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012  (as above)

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        self.column = column


@compiles(_LabelsOf)
def _labels_of_default(element: _LabelsOf, compiler: SQLCompiler, **kw: Any) -> str:
    ref = compiler.process(element.column, **kw)
    return f"ARRAY(SELECT label FROM experiment_labels WHERE experiment_id = {ref} ORDER BY label)"


@compiles(_LabelsOf, "sqlite")
def _labels_of_sqlite(element: _LabelsOf, compiler: SQLCompiler, **kw: Any) -> str:
    ref = compiler.process(element.column, **kw)
    # json_group_array keeps the order in which the inner query hands rows over.
    return (
        "(SELECT json_group_array(label) FROM "
        f"(SELECT label FROM experiment_labels WHERE experiment_id = {ref} ORDER BY label))"
    )


def _labels_value(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return list(orjson.loads(value))
    return list(value)


# Aliases used in the experiment queries.
_e = t.experiments.alias("e")
_u = t.users.alias("u")
_p = t.projects.alias("p")
_w = t.workspaces.alias("w")
_l = t.experiment_labels.alias("l")
_c = t.experiment_configs.alias("c")

_owner_name = sa.func.coalesce(_u.c.display_name, _u.c.username)

# The columns of an experiment listing, in the order ``_experiment_from_row`` reads them.
_EXPERIMENT_COLUMNS: tuple[sa.ColumnElement[Any], ...] = (
    _e.c.id,
    _e.c.name,
    _e.c.description,
    _e.c.state,
    _e.c.archived,
    _e.c.start_time,
    _e.c.end_time,
    _e.c.owner_id,
    _u.c.username,
    _owner_name.label("display_name"),
    _e.c.project_id,
    _p.c.name.label("project_name"),
    _p.c.user_id.label("project_owner_id"),
    _w.c.id.label("workspace_id"),
    _w.c.name.label("workspace_name"),
    sa.or_(_p.c.archived, _w.c.archived).label("parent_archived"),
    _e.c.parent_id,
    _e.c.notes,
    _c.c.config,
    _c.c.original_config,
    _c.c.hyperparameters,
    _e.c.searcher_type,
    _e.c.searcher_metric,
    _e.c.resource_pool,
    _e.c.num_trials,
    _e.c.progress,
    _e.c.checkpoint_size,
    _e.c.checkpoint_count,
    _e.c.best_searcher_metric,
    _e.c.job_id,
    _e.c.model_definition_size,
    _LabelsOf(_e.c.id).label("labels"),
)
#: Index of the optional ``total`` column that follows the experiment columns in a page row.
_TOTAL_INDEX = len(_EXPERIMENT_COLUMNS)

_EXPERIMENT_FROM = (
    _e.join(_u, _u.c.id == _e.c.owner_id)
    .join(_p, _p.c.id == _e.c.project_id)
    .join(_w, _w.c.id == _p.c.workspace_id)
    .join(_c, _c.c.experiment_id == _e.c.id)
)

# Sort expressions, as Determined's ``orderColMap`` defines them. ``True`` marks expressions that
# can be NULL: those always sort their NULLs last, in both directions (Determined writes
# ``DESC NULLS LAST``, and PostgreSQL's plain ``ASC`` already puts NULLs last).
_EXPERIMENT_SORTS: dict[ExperimentSortBy, tuple[sa.ColumnElement[Any], bool]] = {
    ExperimentSortBy.UNSPECIFIED: (_e.c.id, False),
    ExperimentSortBy.ID: (_e.c.id, False),
    ExperimentSortBy.DESCRIPTION: (_e.c.description, False),
    ExperimentSortBy.START_TIME: (_e.c.start_time, False),
    ExperimentSortBy.END_TIME: (_e.c.end_time, True),
    ExperimentSortBy.STATE: (_e.c.state, False),
    ExperimentSortBy.NUM_TRIALS: (_e.c.num_trials, False),
    ExperimentSortBy.PROGRESS: (sa.func.coalesce(_e.c.progress, 0.0), False),
    ExperimentSortBy.USER: (_owner_name, False),
    ExperimentSortBy.NAME: (_e.c.name, False),
    ExperimentSortBy.FORKED_FROM: (_e.c.parent_id, True),
    ExperimentSortBy.RESOURCE_POOL: (_e.c.resource_pool, False),
    ExperimentSortBy.PROJECT_ID: (_e.c.project_id, False),
    ExperimentSortBy.CHECKPOINT_SIZE: (_e.c.checkpoint_size, False),
    ExperimentSortBy.CHECKPOINT_COUNT: (_e.c.checkpoint_count, False),
    ExperimentSortBy.SEARCHER_METRIC_VAL: (_e.c.best_searcher_metric, True),
}

_users = t.users
_user_name = sa.func.coalesce(_users.c.display_name, _users.c.username)

# The hot reads (every GetExperiment, every token check) use statements built once here with a bind
# parameter: building a 32-column, five-table SELECT and computing its cache key anew costs more
# than running it. The compiled form then comes straight from the engine's statement cache.
_EXPERIMENT_BY_ID = (
    sa.select(*_EXPERIMENT_COLUMNS).select_from(_EXPERIMENT_FROM).where(_e.c.id == sa.bindparam("experiment_id"))
)

_sessions = t.user_sessions
#: Session columns then user columns, so one statement (one round trip) resolves a token.
_SESSION_NAMES = tuple(c.name for c in _sessions.c)
_USER_NAMES = tuple(c.name for c in _users.c)
_SESSION_WITH_USER = sa.select(*_sessions.c, *_users.c).join_from(_sessions, _users, _users.c.id == _sessions.c.user_id)
_SESSION_BY_HASH = _SESSION_WITH_USER.where(_sessions.c.token_hash == sa.bindparam("token_hash"))
_SESSION_BY_ID = _SESSION_WITH_USER.where(_sessions.c.id == sa.bindparam("session_id"))


class _PreparedRead:
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


class _WouldWait(Exception):
    """The inline reader would have had to wait for a lock; the engine should run the read instead."""


class _SqliteInlineReader:
    """A read-only connection to a SQLite file that runs the hot point reads on the event loop itself.

    A read by primary key or unique index costs SQLite a few tens of microseconds. Through
    SQLAlchemy's aiosqlite adapter the same read makes five trips to a worker thread (cursor,
    execute, fetch, close, and a rollback when the pooled connection is returned), and each trip
    wakes the event loop from another thread; in a server that waits on its sockets between
    requests, those hand-offs cost far more CPU than the read (gateway_bench: ~490 -> ~230 us per
    REST GetExperiment). So these reads run here, synchronously, with the same SQL and the same
    column decoders as through the engine.

    The connection never waits: ``busy_timeout`` is 0, so a read that would block on a lock (rare
    in WAL mode, where readers do not wait for writers) raises ``_WouldWait`` at once and the
    caller repeats it through the engine, whose connections wait in their worker threads. It is in
    autocommit mode like the store's other readers, so each statement sees its own consistent
    snapshot, and ``query_only`` makes it unable to write.
    """

    def __init__(self, path: str, dialect: Dialect) -> None:
        self._dialect = dialect
        # Used only from the event loop's thread, but opened and closed from wherever the store is
        # started; the loop's thread never shares it with another.
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            self._conn.execute("PRAGMA busy_timeout=0")
            self._conn.execute("PRAGMA query_only=ON")
        except BaseException:
            self._conn.close()
            raise
        self._prepared: dict[int, _PreparedRead] = {}

    def close(self) -> None:
        self._conn.close()

    def _prepare(self, stmt: sa.Select[Any]) -> _PreparedRead:
        # Keyed by identity: only the module's prebuilt statements come here, and they live forever.
        prepared = self._prepared.get(id(stmt))
        if prepared is None:
            prepared = self._prepared[id(stmt)] = _PreparedRead(stmt, self._dialect)
        return prepared

    def fetch_one(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> list[Any] | None:
        """The first row of ``stmt`` decoded, or None when there is none."""
        prepared = self._prepare(stmt)
        values = tuple(params[name] for name in prepared.names)
        try:
            row = self._conn.execute(prepared.sql, values).fetchone()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                raise _WouldWait from exc
            raise sa.exc.DBAPIError.instance(prepared.sql, values, exc, sqlite3.Error) from exc
        except sqlite3.Error as exc:
            # The same exception classes the engine raises, so callers cannot tell the paths apart.
            raise sa.exc.DBAPIError.instance(prepared.sql, values, exc, sqlite3.Error) from exc
        return None if row is None else prepared.decode(row)


class _PgDirectReads:
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
        self._prepared: dict[int, _PreparedRead] = {}

    def _prepare(self, stmt: sa.Select[Any]) -> _PreparedRead:
        # Keyed by identity: only the module's prebuilt statements come here, and they live forever.
        prepared = self._prepared.get(id(stmt))
        if prepared is None:
            prepared = self._prepared[id(stmt)] = _PreparedRead(stmt, self._engine.dialect, with_decoders=False)
        return prepared

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


def _session_and_user(values: Sequence[Any]) -> tuple[UserSession, User]:
    """Split a ``_SESSION_WITH_USER`` row (session columns, then user columns) into its two parts."""
    split = len(_SESSION_NAMES)
    session = _session_from_mapping(dict(zip(_SESSION_NAMES, values[:split], strict=True)))
    user = _user_from_mapping(dict(zip(_USER_NAMES, values[split:], strict=True)))
    return session, user


# GetUsers' sort columns. Determined sorts with PostgreSQL's defaults (ASC NULLS LAST, DESC NULLS
# FIRST) and breaks ties by ascending id whatever the direction; nullable columns get those NULL
# rules spelled out so SQLite orders them the same way.
_USER_SORTS: dict[UserSortBy, tuple[sa.ColumnElement[Any], bool]] = {
    UserSortBy.UNSPECIFIED: (_users.c.id, False),
    UserSortBy.DISPLAY_NAME: (_users.c.display_name, True),
    UserSortBy.USER_NAME: (_users.c.username, False),
    UserSortBy.ADMIN: (_users.c.admin, False),
    UserSortBy.ACTIVE: (_users.c.active, False),
    UserSortBy.MODIFIED_TIME: (_users.c.modified_at, False),
    UserSortBy.NAME: (_user_name, False),
    UserSortBy.LAST_AUTH_TIME: (_users.c.last_auth_at, True),
    UserSortBy.REMOTE: (_users.c.remote, False),
}


#: Stored state text -> enum member; a dict lookup is cheaper than calling the enum per row.
_STATES = {s.value: s for s in ExperimentState}


def _experiment_from_row(row: Sequence[Any]) -> Experiment:
    return Experiment(
        id=row[0],
        name=row[1],
        description=row[2],
        state=_STATES[row[3]],
        archived=row[4],
        start_time=row[5],
        end_time=row[6],
        user_id=row[7],
        username=row[8],
        display_name=row[9],
        project_id=row[10],
        project_name=row[11],
        project_owner_id=row[12],
        workspace_id=row[13],
        workspace_name=row[14],
        parent_archived=bool(row[15]),
        parent_id=row[16],
        notes=row[17],
        config=row[18],
        original_config=row[19],
        hyperparameters=row[20],
        searcher_type=row[21],
        searcher_metric=row[22],
        resource_pool=row[23],
        num_trials=row[24],
        progress=row[25],
        checkpoint_size=row[26],
        checkpoint_count=row[27],
        best_searcher_metric=row[28],
        job_id=row[29],
        model_definition_size=row[30],
        labels=_labels_value(row[31]),
    )


def _user_from_row(row: AnyRow) -> User:
    return _user_from_mapping(row._mapping)


def _user_from_mapping(m: Mapping[Any, Any]) -> User:
    group = AgentUserGroup(uid=m["agent_uid"], gid=m["agent_gid"], user=m["agent_user"], group=m["agent_group"])
    return User(
        id=m["id"],
        username=m["username"],
        display_name=m["display_name"],
        admin=m["admin"],
        active=m["active"],
        remote=m["remote"],
        modified_at=m["modified_at"],
        last_auth_at=m["last_auth_at"],
        agent_user_group=None if group.is_empty else group,
        password_hash=m["password_hash"],
    )


def _session_from_row(row: AnyRow) -> UserSession:
    return _session_from_mapping(row._mapping)


def _session_from_mapping(m: Mapping[Any, Any]) -> UserSession:
    return UserSession(
        id=m["id"],
        user_id=m["user_id"],
        token_hash=m["token_hash"],
        created_at=m["created_at"],
        expiry=m["expiry"],
        revoked_at=m["revoked_at"],
    )


def _agent_columns(group: AgentUserGroup | None) -> dict[str, Any]:
    group = group or AgentUserGroup()
    return {"agent_uid": group.uid, "agent_gid": group.gid, "agent_user": group.user, "agent_group": group.group}


def _reject_nul(values: Mapping[str, Any]) -> None:
    """Refuse text containing NUL characters, on both databases alike.

    PostgreSQL cannot store them in ``text`` or ``jsonb`` at all (it raises a data error) while
    SQLite would keep them; refusing them up front gives one clear answer everywhere.
    """
    for name, value in values.items():
        if isinstance(value, str) and "\x00" in value:
            raise InvalidArgument(f"{name} must not contain NUL characters")


def _raise_if_bad_value(exc: Exception) -> None:
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


def _check_int32(name: str, values: Iterable[int | None], bits: int = 32) -> None:
    """Values must fit the int32 (or ``bits``-wide) fields they come from, on both databases.

    SQLite would store any 64-bit integer where PostgreSQL's ``integer`` refuses; checking here
    gives one answer everywhere.
    """
    limit = 2 ** (bits - 1)
    for value in values:
        if value is not None and not -limit <= value < limit:
            raise InvalidArgument(f"{name} is out of range: {value}")


def _check_counters(values: Mapping[str, Any]) -> None:
    for name in ("num_trials", "checkpoint_count", "model_definition_size"):
        _check_int32(name, [values.get(name)])
    _check_int32("checkpoint_size", [values.get("checkpoint_size")], bits=64)


def _reject_nul_json(name: str, value: Any) -> None:
    """``value`` must serialize to JSON (string keys only) without NUL characters."""
    try:
        encoded = orjson.dumps(value)
    except orjson.JSONEncodeError as exc:
        raise InvalidArgument(f"{name} is not valid JSON: {exc}") from exc
    if b"\\u0000" in encoded:
        raise InvalidArgument(f"{name} must not contain NUL characters")


def _unique_labels(labels: Iterable[str]) -> list[str]:
    """Labels without duplicates, first occurrence kept; an empty label is refused."""
    seen: dict[str, None] = {}
    for label in labels:
        if not label:
            raise InvalidArgument("labels must not be empty strings")
        _reject_nul({"label": label})
        seen.setdefault(label, None)
    return list(seen)


def _ordered(expr: sa.ColumnElement[Any], descending: bool, nulls_last: bool | None) -> sa.ColumnElement[Any]:
    """``expr ASC|DESC`` with an explicit NULL placement when ``nulls_last`` is not None."""
    clause = expr.desc() if descending else expr.asc()
    if nulls_last is None:
        return clause
    return clause.nulls_last() if nulls_last else clause.nulls_first()


class Store:
    """Typed access to protogw's database.

    ``url`` is an async SQLAlchemy URL: ``sqlite+aiosqlite:///path/to/file.db`` (the file's folder
    is created if missing) or ``postgresql+asyncpg://user:pass@host:port/db``. ``clock`` supplies
    every timestamp the store writes on its own (modified_at, created_at, end_time...).
    """

    def __init__(self, url: str, *, clock: Clock = utc_now, echo: bool = False) -> None:
        self._url = sa.make_url(url)
        self._clock = clock
        backend = self._url.get_backend_name()
        if backend not in ("sqlite", "postgresql"):
            raise InvalidArgument(f"unsupported database {backend!r}: use sqlite+aiosqlite or postgresql+asyncpg")
        self._sqlite = backend == "sqlite"
        kwargs: dict[str, Any] = {"echo": echo, "json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        self._sqlite_folder: Path | None = None
        if self._sqlite and self._url.database in (None, "", ":memory:"):
            # An in-memory database lives in one connection: share it instead of pooling.
            kwargs["poolclass"] = StaticPool
        else:
            if self._sqlite:
                self._sqlite_folder = Path(str(self._url.database)).parent
            # The same ceiling as SQLAlchemy's default (5 kept + 10 overflow), but all of them kept:
            # an overflow connection is closed as soon as it is returned while five others sit idle,
            # so steady load above five concurrent queries opened and closed a connection every few
            # requests (on PostgreSQL, a new session and its type-codec set-up each time).
            kwargs["pool_size"] = _POOL_SIZE
            kwargs["max_overflow"] = 0
        self._engine: AsyncEngine = create_async_engine(self._url, **kwargs)
        # Hot point reads on a SQLite file go through this once the store is started (see
        # ``_fetch_one``); an in-memory database has only the one shared connection.
        self._reader: _SqliteInlineReader | None = None
        self._pg_reads = None if self._sqlite else _PgDirectReads(self._engine)
        self._writer: AsyncEngine = self._engine.execution_options(**{_WRITE_OPTION: True})
        if self._sqlite:
            self._install_sqlite_hooks()

    # -- lifecycle -------------------------------------------------------------------------------

    @property
    def engine(self) -> AsyncEngine:
        """The underlying engine, for tools (the demo loader, benchmarks) that need raw access."""
        return self._engine

    @property
    def dialect(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return "sqlite" if self._sqlite else "postgresql"

    async def start(self) -> None:
        """Create the database file's folder if needed and upgrade the schema to the newest revision.

        Safe to call on every start: applied revisions are skipped. On PostgreSQL an advisory lock
        makes concurrently starting replicas migrate one after the other.
        """
        if self._sqlite_folder is not None:
            await asyncio.to_thread(self._sqlite_folder.mkdir, parents=True, exist_ok=True)
        async with self._writer.begin() as conn:
            if not self._sqlite:
                await conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK_KEY)))
            await conn.run_sync(_upgrade_to_head)
        if self._sqlite_folder is not None and self._reader is None:
            self._reader = await asyncio.to_thread(_SqliteInlineReader, str(self._url.database), self._engine.dialect)

    async def close(self) -> None:
        """Close every pooled connection. The store can be started again afterwards."""
        reader, self._reader = self._reader, None
        if reader is not None:
            reader.close()
        await self._engine.dispose()

    async def __aenter__(self) -> Store:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _install_sqlite_hooks(self) -> None:
        sync_engine = self._engine.sync_engine

        @event.listens_for(sync_engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take over transaction control from the driver so BEGIN IMMEDIATE is possible.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            for pragma in (
                "PRAGMA journal_mode=WAL",
                "PRAGMA foreign_keys=ON",
                f"PRAGMA busy_timeout={_SQLITE_BUSY_TIMEOUT_MS}",
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
            if conn.get_execution_options().get(_WRITE_OPTION):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

    # Both context managers turn a value the database refuses (out of range for its column type,
    # say) into InvalidArgument, so bad input never surfaces as an internal error.

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._writer.begin() as conn:
                yield conn
        except (DBAPIError, OverflowError) as exc:
            _raise_if_bad_value(exc)
            raise

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self._engine.connect() as conn:
                yield conn
        except (DBAPIError, OverflowError) as exc:
            _raise_if_bad_value(exc)
            raise

    async def _fetch_one(self, stmt: sa.Select[Any], params: Mapping[str, Any]) -> Sequence[Any] | None:
        """The first row of one of the module's prebuilt statements, or None.

        On a started SQLite file store this is read inline (see ``_SqliteInlineReader``) unless
        that would wait for a lock, on PostgreSQL in one round trip (``_PgDirectReads``); otherwise,
        and then, through the engine. Values come back decoded the same way on every path.
        """
        reader = self._reader
        if reader is not None:
            try:
                return reader.fetch_one(stmt, params)
            except _WouldWait:
                pass
            except (DBAPIError, OverflowError) as exc:
                _raise_if_bad_value(exc)
                raise
        elif self._pg_reads is not None:
            try:
                return await self._pg_reads.fetch_one(stmt, params)
            except (DBAPIError, OverflowError) as exc:
                _raise_if_bad_value(exc)
                raise
        async with self._read() as conn:
            row: AnyRow | None = (await conn.execute(stmt, params)).one_or_none()
        return row

    def _insert_ignore(self, table: sa.Table) -> Any:
        """``INSERT`` that silently skips rows whose primary key already exists."""
        dialect = sqlite_dialect if self._sqlite else pg_dialect
        return dialect.insert(table).on_conflict_do_nothing()

    # -- cluster ---------------------------------------------------------------------------------

    async def cluster_id(self) -> str:
        """This cluster's id: generated by the first migration, stable across restarts."""
        async with self._read() as conn:
            value = await conn.scalar(sa.select(t.cluster_meta.c.cluster_id).where(t.cluster_meta.c.id == 1))
        if value is None:
            raise NotFound("cluster metadata is missing; was the store started?")
        return str(value)

    # -- users -----------------------------------------------------------------------------------

    async def create_user(self, new: NewUser) -> User:
        """Insert a user. Raises ``AlreadyExists`` when the username is taken."""
        if not new.username or new.username.strip() != new.username:
            raise InvalidArgument("username must be non-empty and have no surrounding whitespace")
        values = {
            "username": new.username,
            "display_name": new.display_name,
            "admin": new.admin,
            "active": new.active,
            "remote": new.remote,
            "password_hash": new.password_hash,
            "modified_at": self._clock(),
            **_agent_columns(new.agent_user_group),
        }
        _reject_nul(values)
        try:
            async with self._write() as conn:
                row = (await conn.execute(sa.insert(_users).values(values).returning(*_users.c))).one()
        except IntegrityError as exc:
            raise AlreadyExists(f"user {new.username!r} already exists") from exc
        return _user_from_row(row)

    async def get_user(self, user_id: int) -> User:
        async with self._read() as conn:
            row = (await conn.execute(sa.select(_users).where(_users.c.id == user_id))).one_or_none()
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return _user_from_row(row)

    async def get_user_by_username(self, username: str) -> User:
        if "\x00" in username:
            raise NotFound(f"user {username!r} not found")
        async with self._read() as conn:
            row = (await conn.execute(sa.select(_users).where(_users.c.username == username))).one_or_none()
        if row is None:
            raise NotFound(f"user {username!r} not found")
        return _user_from_row(row)

    async def list_users(self, query: UserQuery) -> UserPage:
        """GetUsers: filter, sort and window in SQL with Determined's generic pagination rules.

        ``name`` matches a case-insensitive substring of the username or the display name. Raises
        ``InvalidArgument`` for an offset outside the result or a negative limit.
        """
        _reject_nul({"name": query.name})
        conditions: list[sa.ColumnElement[bool]] = []
        if query.name:
            conditions.append(
                sa.or_(
                    contains_ci(_users.c.username, query.name),
                    contains_ci(_users.c.display_name, query.name),
                )
            )
        if query.active is not None:
            conditions.append(_users.c.active == query.active)
        if query.admin is not None:
            conditions.append(_users.c.admin == query.admin)
        expr, nullable = _USER_SORTS[UserSortBy(query.sort_by)]
        descending = OrderBy(query.order_by) == OrderBy.DESC
        order = [_ordered(expr, descending, (not descending) if nullable else None)]
        if expr is not _users.c.id:
            order.append(_users.c.id.asc())
        async with self._read() as conn:
            total = await conn.scalar(sa.select(sa.func.count()).select_from(_users).where(*conditions)) or 0
            window = generic_window(total, query.offset, query.limit)
            rows: Sequence[AnyRow] = []
            if window.end_index > window.start_index:
                stmt = (
                    sa.select(_users)
                    .where(*conditions)
                    .order_by(*order)
                    .offset(window.start_index)
                    .limit(window.end_index - window.start_index)
                )
                rows = (await conn.execute(stmt)).all()
        return UserPage(users=[_user_from_row(r) for r in rows], pagination=window)

    async def update_user(self, user_id: int, patch: UserPatch) -> User:
        """Change the fields ``patch`` sets and bump ``modified_at``."""
        values: dict[str, Any] = {"modified_at": self._clock()}
        if patch.username is not None:
            if not patch.username or patch.username.strip() != patch.username:
                raise InvalidArgument("username must be non-empty and have no surrounding whitespace")
            values["username"] = patch.username
        if patch.clear_display_name:
            values["display_name"] = None
        elif patch.display_name is not None:
            values["display_name"] = patch.display_name
        for name in ("admin", "active", "remote"):
            if (value := getattr(patch, name)) is not None:
                values[name] = value
        if patch.clear_agent_user_group:
            values.update(_agent_columns(None))
        elif patch.agent_user_group is not None:
            values.update(_agent_columns(patch.agent_user_group))
        return await self._update_user_row(user_id, values)

    async def set_password_hash(self, user_id: int, password_hash: str | None) -> User:
        """Replace the stored hash; ``None`` removes the password (an empty one then logs in)."""
        return await self._update_user_row(user_id, {"password_hash": password_hash, "modified_at": self._clock()})

    async def touch_last_auth(self, user_id: int, when: datetime | None = None) -> None:
        """Record a successful login (does not change ``modified_at``)."""
        async with self._write() as conn:
            result = await conn.execute(
                sa.update(_users).where(_users.c.id == user_id).values(last_auth_at=when or self._clock())
            )
        if result.rowcount == 0:
            raise NotFound(f"user {user_id} not found")

    async def _update_user_row(self, user_id: int, values: dict[str, Any]) -> User:
        _reject_nul(values)
        try:
            async with self._write() as conn:
                stmt = sa.update(_users).where(_users.c.id == user_id).values(values).returning(*_users.c)
                row = (await conn.execute(stmt)).one_or_none()
        except IntegrityError as exc:
            raise AlreadyExists(f"user {values.get('username')!r} already exists") from exc
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return _user_from_row(row)

    # -- sessions --------------------------------------------------------------------------------

    async def create_session(self, user_id: int, token_hash: str, expiry: datetime) -> UserSession:
        """Start a login session. ``token_hash`` must be unique (hash the token; never store it)."""
        values = {"user_id": user_id, "token_hash": token_hash, "created_at": self._clock(), "expiry": expiry}
        _reject_nul(values)
        try:
            async with self._write() as conn:
                row = (
                    await conn.execute(sa.insert(t.user_sessions).values(values).returning(*t.user_sessions.c))
                ).one()
        except IntegrityError as exc:
            # Either the user is gone or the token hash collides; tell them apart for the message.
            async with self._read() as conn:
                if await conn.scalar(sa.select(_users.c.id).where(_users.c.id == user_id)) is None:
                    raise NotFound(f"user {user_id} not found") from exc
            raise AlreadyExists("a session with this token hash already exists") from exc
        return _session_from_row(row)

    async def get_session(self, token_hash: str) -> tuple[UserSession, User]:
        """The session with this token hash and its user. Expiry and revocation are the caller's call."""
        if "\x00" in token_hash:
            raise NotFound("session not found")
        return await self._session_where(_SESSION_BY_HASH, {"token_hash": token_hash})

    async def get_session_by_id(self, session_id: int) -> tuple[UserSession, User]:
        return await self._session_where(_SESSION_BY_ID, {"session_id": session_id})

    async def _session_where(self, stmt: sa.Select[Any], params: dict[str, Any]) -> tuple[UserSession, User]:
        row = await self._fetch_one(stmt, params)
        if row is None:
            raise NotFound("session not found")
        return _session_and_user(row)

    async def revoke_session(self, session_id: int) -> None:
        """Mark a session revoked (kept for auditing; ``get_session`` still returns it)."""
        s = t.user_sessions
        async with self._write() as conn:
            result = await conn.execute(
                sa.update(s).where(s.c.id == session_id, s.c.revoked_at.is_(None)).values(revoked_at=self._clock())
            )
            if result.rowcount == 0 and await conn.scalar(sa.select(s.c.id).where(s.c.id == session_id)) is None:
                raise NotFound("session not found")

    async def delete_session(self, session_id: int) -> None:
        """Remove a session (logout). Raises ``NotFound`` if it is already gone."""
        async with self._write() as conn:
            result = await conn.execute(sa.delete(t.user_sessions).where(t.user_sessions.c.id == session_id))
        if result.rowcount == 0:
            raise NotFound("session not found")

    async def purge_expired_sessions(self, now: datetime | None = None) -> int:
        """Delete sessions whose expiry has passed; returns how many went."""
        async with self._write() as conn:
            result = await conn.execute(
                sa.delete(t.user_sessions).where(t.user_sessions.c.expiry <= (now or self._clock()))
            )
        return int(result.rowcount)

    # -- workspaces and projects -----------------------------------------------------------------

    async def create_workspace(self, name: str, owner_id: int) -> Workspace:
        """Add a workspace; names are unique (``AlreadyExists``)."""
        if not name.strip():
            raise InvalidArgument("workspace name must not be empty")
        _reject_nul({"workspace name": name})
        w = t.workspaces
        try:
            async with self._write() as conn:
                if await conn.scalar(sa.select(_users.c.id).where(_users.c.id == owner_id)) is None:
                    raise NotFound(f"user {owner_id} not found")
                stmt = (
                    sa.insert(w)
                    .values(name=name, user_id=owner_id)
                    .returning(w.c.id, w.c.name, w.c.archived, w.c.user_id)
                )
                row = (await conn.execute(stmt)).one()
        except IntegrityError as exc:
            raise AlreadyExists(f"workspace {name!r} already exists") from exc
        return Workspace(*row)

    async def create_project(self, name: str, workspace_id: int, owner_id: int, description: str = "") -> Project:
        """Add a project to a workspace; names are unique within the workspace (``AlreadyExists``)."""
        if not name.strip():
            raise InvalidArgument("project name must not be empty")
        _reject_nul({"project name": name, "project description": description})
        p = t.projects
        try:
            async with self._write() as conn:
                if await conn.scalar(sa.select(_users.c.id).where(_users.c.id == owner_id)) is None:
                    raise NotFound(f"user {owner_id} not found")
                if await conn.scalar(sa.select(t.workspaces.c.id).where(t.workspaces.c.id == workspace_id)) is None:
                    raise NotFound(f"workspace {workspace_id} not found")
                stmt = sa.insert(p).values(
                    name=name, description=description, workspace_id=workspace_id, user_id=owner_id
                )
                project_id = (await conn.execute(stmt.returning(p.c.id))).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExists(f"project {name!r} already exists in workspace {workspace_id}") from exc
        return await self.get_project(project_id)

    async def set_workspace_archived(self, workspace_id: int, archived: bool) -> None:
        async with self._write() as conn:
            stmt = sa.update(t.workspaces).where(t.workspaces.c.id == workspace_id).values(archived=archived)
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFound(f"workspace {workspace_id} not found")

    async def set_project_archived(self, project_id: int, archived: bool) -> None:
        async with self._write() as conn:
            stmt = sa.update(t.projects).where(t.projects.c.id == project_id).values(archived=archived)
            if (await conn.execute(stmt)).rowcount == 0:
                raise NotFound(f"project {project_id} not found")

    async def get_project(self, project_id: int) -> Project:
        p, w = t.projects, t.workspaces
        stmt = sa.select(
            p.c.id, p.c.name, p.c.description, p.c.archived, p.c.workspace_id, w.c.name, w.c.archived, p.c.user_id
        ).join_from(p, w, w.c.id == p.c.workspace_id)
        async with self._read() as conn:
            row = (await conn.execute(stmt.where(p.c.id == project_id))).one_or_none()
        if row is None:
            raise NotFound(f"project {project_id} not found")
        return Project(*row)

    # -- experiments: create ---------------------------------------------------------------------

    @staticmethod
    def _config_values(experiment_id: int, new: NewExperiment) -> dict[str, Any]:
        return {
            "experiment_id": experiment_id,
            "config": dict(new.config),
            "original_config": new.original_config,
            "hyperparameters": dict(new.hyperparameters),
        }

    def _experiment_values(self, new: NewExperiment, now: datetime) -> dict[str, Any]:
        _reject_nul(
            {
                "name": new.name,
                "description": new.description,
                "notes": new.notes,
                "original_config": new.original_config,
                "searcher_type": new.searcher_type,
                "searcher_metric": new.searcher_metric,
                "resource_pool": new.resource_pool,
                "job_id": new.job_id,
            }
        )
        for f in new.model_definition:
            _reject_nul({"model definition path": f.path})
        _reject_nul_json("config", new.config)
        _reject_nul_json("hyperparameters", new.hyperparameters)
        size = new.model_definition_size
        if size is None:
            size = sum(len(f.content) for f in new.model_definition)
        values = {
            "name": new.name,
            "description": new.description,
            "state": ExperimentState(new.state).value,
            "archived": new.archived,
            "start_time": new.start_time or now,
            "end_time": new.end_time,
            "owner_id": new.owner_id,
            "project_id": new.project_id,
            "parent_id": new.parent_id,
            "notes": new.notes,
            "searcher_type": new.searcher_type,
            "searcher_metric": new.searcher_metric,
            "resource_pool": new.resource_pool,
            "num_trials": new.num_trials,
            "progress": new.progress,
            "checkpoint_size": new.checkpoint_size,
            "checkpoint_count": new.checkpoint_count,
            "best_searcher_metric": new.best_searcher_metric,
            "job_id": new.job_id or str(uuid.uuid4()),
            "model_definition_size": size,
        }
        _check_counters(values)
        return values

    async def create_experiment(self, new: NewExperiment) -> Experiment:
        """Insert an experiment with its labels and model definition files.

        Raises ``NotFound`` when the owner, project or parent does not exist and ``InvalidArgument``
        for an empty name or label or a duplicate file path. ``job_id`` defaults to a new UUID.
        """
        if not new.name.strip():
            raise InvalidArgument("`name` must not be an empty or whitespace string")
        labels = _unique_labels(new.labels)
        paths = [f.path for f in new.model_definition]
        if len(set(paths)) != len(paths):
            raise InvalidArgument("model definition has duplicate file paths")
        async with self._write() as conn:
            await self._require_refs(conn, new.owner_id, new.project_id, new.parent_id)
            stmt = sa.insert(t.experiments).values(self._experiment_values(new, self._clock()))
            experiment_id = (await conn.execute(stmt.returning(t.experiments.c.id))).scalar_one()
            await conn.execute(sa.insert(t.experiment_configs).values(self._config_values(experiment_id, new)))
            await self._insert_children(conn, [(experiment_id, labels, new.model_definition)])
        return await self.get_experiment(experiment_id)

    async def insert_experiments(self, items: Sequence[NewExperiment], *, batch_size: int = 2000) -> list[int]:
        """Bulk-load experiments (demo data, imports) in one transaction; returns their ids in order.

        Rows go in as multi-row batches without per-row checks; a missing owner, project or parent
        fails the whole load with ``InvalidArgument``.
        """
        ids: list[int] = []
        now = self._clock()
        stmt = sa.insert(t.experiments).returning(t.experiments.c.id, sort_by_parameter_order=True)
        try:
            async with self._write() as conn:
                for start in range(0, len(items), batch_size):
                    chunk = items[start : start + batch_size]
                    values = [self._experiment_values(new, now) for new in chunk]
                    if self._sqlite:
                        # SQLite cannot return ids of a multi-row INSERT in order, so SQLAlchemy
                        # would send one INSERT per row. The write lock (BEGIN IMMEDIATE) is held,
                        # so the next ids are known: assign them and insert in one executemany.
                        first = await self._next_sqlite_id(conn, "experiments")
                        chunk_ids = list(range(first, first + len(values)))
                        for experiment_id, row in zip(chunk_ids, values, strict=True):
                            row["id"] = experiment_id
                        await conn.execute(sa.insert(t.experiments), values)
                    else:
                        chunk_ids = list((await conn.execute(stmt, values)).scalars())
                    ids.extend(chunk_ids)
                    configs = [self._config_values(i, n) for i, n in zip(chunk_ids, chunk, strict=True)]
                    await conn.execute(sa.insert(t.experiment_configs), configs)
                    await self._insert_children(
                        conn,
                        [
                            (i, _unique_labels(n.labels), n.model_definition)
                            for i, n in zip(chunk_ids, chunk, strict=True)
                        ],
                    )
        except IntegrityError as exc:
            raise InvalidArgument(f"bulk insert rejected: {exc.orig}") from exc
        return ids

    @staticmethod
    async def _next_sqlite_id(conn: AsyncConnection, table: str) -> int:
        """The id SQLite's AUTOINCREMENT would give the next row of ``table``."""
        seq = sa.text("SELECT seq FROM sqlite_sequence WHERE name = :name").bindparams(name=table)
        used = await conn.scalar(seq)
        top = await conn.scalar(sa.text(f"SELECT max(id) FROM {table}"))
        return max(int(used or 0), int(top or 0)) + 1

    async def _require_refs(self, conn: AsyncConnection, owner_id: int, project_id: int, parent_id: int | None) -> None:
        checks = sa.select(
            sa.select(_users.c.id).where(_users.c.id == owner_id).scalar_subquery(),
            sa.select(t.projects.c.id).where(t.projects.c.id == project_id).scalar_subquery(),
            sa.select(t.experiments.c.id).where(t.experiments.c.id == (parent_id or 0)).scalar_subquery(),
        )
        owner, project, parent = (await conn.execute(checks)).one()
        if owner is None:
            raise NotFound(f"user {owner_id} not found")
        if project is None:
            raise NotFound(f"project {project_id} not found")
        if parent_id is not None and parent is None:
            raise NotFound(f"experiment '{parent_id}' not found")

    async def _insert_children(
        self, conn: AsyncConnection, items: Sequence[tuple[int, Sequence[str], Sequence[ModelFile]]]
    ) -> None:
        labels = [{"experiment_id": i, "label": label} for i, ls, _ in items for label in ls]
        files = [
            {
                "experiment_id": i,
                "path": f.path,
                "type": f.type,
                "content": f.content,
                "mtime": f.mtime,
                "mode": f.mode,
                "uid": f.uid,
                "gid": f.gid,
            }
            for i, _, fs in items
            for f in fs
        ]
        if labels:
            await conn.execute(sa.insert(t.experiment_labels), labels)
        if files:
            await conn.execute(sa.insert(t.model_definition_files), files)

    # -- experiments: read -----------------------------------------------------------------------

    async def get_experiment(self, experiment_id: int) -> Experiment:
        """One experiment with owner, project and workspace names and its labels."""
        row = await self._fetch_one(_EXPERIMENT_BY_ID, {"experiment_id": experiment_id})
        if row is None:
            raise NotFound(f"experiment '{experiment_id}' not found")
        return _experiment_from_row(row)

    async def get_model_definition(self, experiment_id: int) -> list[ModelFile]:
        """The experiment's model definition files, ordered by path."""
        f = t.model_definition_files
        async with self._read() as conn:
            if await conn.scalar(sa.select(t.experiments.c.id).where(t.experiments.c.id == experiment_id)) is None:
                raise NotFound(f"experiment '{experiment_id}' not found")
            rows = (
                await conn.execute(
                    sa.select(f.c.path, f.c.content, f.c.type, f.c.mtime, f.c.mode, f.c.uid, f.c.gid)
                    .where(f.c.experiment_id == experiment_id)
                    .order_by(f.c.path)
                )
            ).all()
        return [ModelFile(*r) for r in rows]

    async def _labels_of(self, conn: AsyncConnection, ids: Sequence[int]) -> dict[int, list[str]]:
        """Labels per experiment id, each list sorted by label."""
        out: dict[int, list[str]] = {}
        if not ids:
            return out
        for experiment_id, label in await conn.execute(self.labels_statement(ids)):
            out.setdefault(experiment_id, []).append(label)
        return out

    @staticmethod
    def labels_statement(ids: Sequence[int]) -> sa.Select[int, str]:
        """(experiment_id, label) rows for the given experiments, ordered by id then label."""
        return (
            sa.select(_l.c.experiment_id, _l.c.label)
            .where(_l.c.experiment_id.in_(ids))
            .order_by(_l.c.experiment_id, _l.c.label)
        )

    @staticmethod
    def experiment_conditions(query: ExperimentQuery) -> list[sa.ColumnElement[bool]]:
        """The WHERE conditions of a listing, over the ``experiments`` alias ``e`` alone.

        Filters on other tables become subqueries so the count needs no join.
        """
        conds: list[sa.ColumnElement[bool]] = []
        if query.description:
            conds.append(contains_ci(_e.c.description, query.description))
        if query.name:
            conds.append(contains_ci(_e.c.name, query.name))
        if query.labels:
            # All-of: the experiments that carry every wanted label. Grouping the label index's
            # matches beats one correlated EXISTS per label and per experiment by far on SQLite.
            wanted = list(dict.fromkeys(query.labels))
            carriers = (
                sa.select(_l.c.experiment_id)
                .where(_l.c.label.in_(wanted))
                .group_by(_l.c.experiment_id)
                .having(sa.func.count() == len(wanted))
            )
            conds.append(_e.c.id.in_(carriers))
        if query.archived is not None:
            conds.append(_e.c.archived == query.archived)
            if query.project_id == 0 and not query.archived:
                # Determined also hides experiments whose project or workspace is archived here.
                live_projects = (
                    sa.select(t.projects.c.id)
                    .join(t.workspaces, t.workspaces.c.id == t.projects.c.workspace_id)
                    .where(sa.not_(t.projects.c.archived), sa.not_(t.workspaces.c.archived))
                )
                conds.append(_e.c.project_id.in_(live_projects))
        if query.states:
            conds.append(_e.c.state.in_([ExperimentState(s).value for s in query.states]))
        if query.usernames:
            owners = sa.select(t.users.c.id).where(t.users.c.username.in_(list(query.usernames)))
            conds.append(_e.c.owner_id.in_(owners))
        if query.user_ids:
            conds.append(_e.c.owner_id.in_(list(query.user_ids)))
        if query.project_id:
            conds.append(_e.c.project_id == query.project_id)
        f = query.id_filter
        if f is not None:
            if f.lt is not None:
                conds.append(_e.c.id < f.lt)
            if f.lte is not None:
                conds.append(_e.c.id <= f.lte)
            if f.gt is not None:
                conds.append(_e.c.id > f.gt)
            if f.gte is not None:
                conds.append(_e.c.id >= f.gte)
            if f.incl:
                conds.append(_e.c.id.in_(list(f.incl)))
            if f.not_in:
                conds.append(_e.c.id.not_in(list(f.not_in)))
        return conds

    @staticmethod
    def experiment_order(query: ExperimentQuery) -> list[sa.ColumnElement[Any]]:
        """ORDER BY for a listing: the sort key, then id in the same direction."""
        expr, nullable = _EXPERIMENT_SORTS[ExperimentSortBy(query.sort_by)]
        descending = OrderBy(query.order_by) == OrderBy.DESC
        order = [_ordered(expr, descending, True if nullable else None)]
        if expr is not _e.c.id:
            order.append(_ordered(_e.c.id, descending, None))
        return order

    @classmethod
    def experiment_statements(cls, query: ExperimentQuery) -> tuple[sa.Select[int], PageFactory]:
        """The count statement and a factory for page statements.

        ``page(start, size, with_total)`` selects ``size`` rows (``None``: all the rest) from
        ``start``; with ``with_total`` every row also carries the filtered count in its last
        column, so one statement answers a whole listing. Public so the benchmark can run exactly
        the store's SQL through the bare driver.
        """
        conds = cls.experiment_conditions(query)
        count = sa.select(sa.func.count()).select_from(_e).where(*conds)
        order = cls.experiment_order(query)

        # Pick the page's ids over the narrow experiments rows first (joining the owner only when
        # sorting by owner name), then join everything else for just those rows. Skipping 90,000
        # rows then costs an index or table scan, not 90,000 four-way joins.
        keys_from = _e.join(_u, _u.c.id == _e.c.owner_id) if query.sort_by == ExperimentSortBy.USER else _e

        def page(start: int, size: int | None, with_total: bool = False) -> sa.Select[Any]:
            keys = (
                sa.select(_e.c.id.label("page_id"))
                .select_from(keys_from)
                .where(*conds)
                .order_by(*order)
                .offset(start)
                .limit(size)
                .subquery("page")
            )
            columns = (
                [*_EXPERIMENT_COLUMNS, count.scalar_subquery().label("total")] if with_total else _EXPERIMENT_COLUMNS
            )
            return (
                sa.select(*columns).select_from(_EXPERIMENT_FROM.join(keys, keys.c.page_id == _e.c.id)).order_by(*order)
            )

        return count, page

    async def list_experiments(self, query: ExperimentQuery) -> ExperimentPage:
        """GetExperiments: every filter, the sort and Determined's pagination, all in SQL.

        Raises ``InvalidArgument`` for a limit below -2 (see ``pagination.experiments_window``).
        """
        if query.limit < -2:
            raise InvalidArgument(f"limit must be -2, -1, 0 or positive, got {query.limit}")
        _reject_nul({"name": query.name, "description": query.description})
        for label in query.labels:
            _reject_nul({"label": label})
        for username in query.usernames:
            _reject_nul({"username": username})
        _check_int32("user_ids", query.user_ids)
        _check_int32("offset", [query.offset])
        _check_int32("limit", [query.limit])
        if (f := query.id_filter) is not None:
            _check_int32("experiment_id_filter", [f.lt, f.lte, f.gt, f.gte, *f.incl, *f.not_in])
        count, page = self.experiment_statements(query)
        async with self._read() as conn:
            if query.offset >= 0 and query.limit != LIMIT_COUNT_ONLY:
                # The common case: OFFSET/LIMIT straight from the request select exactly the
                # window Determined's rule gives, so one statement returns rows and total. Only
                # an empty page needs the count asked separately.
                size = None if query.limit == LIMIT_ALL else (query.limit or DEFAULT_EXPERIMENT_PAGE)
                rows = (await conn.execute(page(query.offset, size, True))).all()
                total = rows[0][_TOTAL_INDEX] if rows else (await conn.execute(count)).scalar_one()
                window = experiments_window(total, query.offset, query.limit)
            else:
                # A negative offset counts from the end, so the total must be known first.
                total = (await conn.execute(count)).scalar_one()
                window = experiments_window(total, query.offset, query.limit)
                rows = []
                if window.end_index > window.start_index:
                    stmt = page(window.start_index, window.end_index - window.start_index, False)
                    rows = list((await conn.execute(stmt)).all())
        return ExperimentPage(experiments=[_experiment_from_row(r) for r in rows], pagination=window)

    async def label_usage(self, project_id: int = 0) -> list[LabelUsage]:
        """Distinct labels with how many experiments carry each: most used first, then by name."""
        uses = sa.func.count().label("uses")
        stmt = sa.select(_l.c.label, uses).group_by(_l.c.label).order_by(uses.desc(), _l.c.label.asc())
        if project_id:
            stmt = stmt.join(_e, _e.c.id == _l.c.experiment_id).where(_e.c.project_id == project_id)
        async with self._read() as conn:
            rows = (await conn.execute(stmt)).all()
        return [LabelUsage(label, int(n)) for label, n in rows]

    # -- experiments: write ----------------------------------------------------------------------

    async def update_experiment(self, experiment_id: int, patch: ExperimentPatch) -> Experiment:
        """Change only the fields ``patch`` sets; ``labels`` replaces the label set (deduplicated)."""
        values: dict[str, Any] = {}
        if patch.name is not None:
            if not patch.name.strip():
                raise InvalidArgument("`name` must not be an empty or whitespace string")
            values["name"] = patch.name
        for name in (
            "description",
            "notes",
            "progress",
            "num_trials",
            "checkpoint_size",
            "checkpoint_count",
            "best_searcher_metric",
        ):
            if (value := getattr(patch, name)) is not None:
                values[name] = value
        _reject_nul(values)
        _check_counters(values)
        labels = None if patch.labels is None else _unique_labels(patch.labels)
        async with self._write() as conn:
            await self._require_experiment(conn, experiment_id)
            if values:
                await conn.execute(sa.update(t.experiments).where(t.experiments.c.id == experiment_id).values(values))
            if labels is not None:
                await conn.execute(
                    sa.delete(t.experiment_labels).where(t.experiment_labels.c.experiment_id == experiment_id)
                )
                await self._insert_children(conn, [(experiment_id, labels, ())])
        return await self.get_experiment(experiment_id)

    async def _require_experiment(self, conn: AsyncConnection, experiment_id: int) -> None:
        if await conn.scalar(sa.select(t.experiments.c.id).where(t.experiments.c.id == experiment_id)) is None:
            raise NotFound(f"experiment '{experiment_id}' not found")

    async def set_experiment_state(
        self,
        experiment_id: int,
        state: ExperimentState,
        *,
        allowed_from: Iterable[ExperimentState] | None = None,
        unarchived_only: bool = False,
    ) -> Experiment:
        """Move an experiment to ``state`` atomically; entering a terminal state sets ``end_time``.

        ``allowed_from`` defaults to Determined's transition table (the current state included, so
        repeating a transition is a no-op). Raises ``Conflict`` (with ``current_state``) when the
        experiment is in any other state, and ``NotFound`` when it does not exist or, with
        ``unarchived_only``, is archived (Determined's "editable" rule for pause/activate/kill).
        """
        target = ExperimentState(state)
        sources = sources_of(target) if allowed_from is None else frozenset(allowed_from)
        e = t.experiments
        values: dict[str, Any] = {"state": target.value}
        if target in TERMINAL_STATES:
            values["end_time"] = sa.func.coalesce(
                e.c.end_time, sa.bindparam("now", self._clock(), type_=t.UTCDateTime())
            )
        conds = [e.c.id == experiment_id, e.c.state.in_([s.value for s in sources])]
        if unarchived_only:
            conds.append(sa.not_(e.c.archived))
        async with self._write() as conn:
            result = await conn.execute(sa.update(e).where(*conds).values(values))
            if result.rowcount == 0:
                row = (
                    await conn.execute(sa.select(e.c.state, e.c.archived).where(e.c.id == experiment_id))
                ).one_or_none()
                if row is None or (unarchived_only and row.archived):
                    raise NotFound(f"experiment '{experiment_id}' not found")
                raise Conflict(f"experiment in incompatible state {row.state}", current_state=row.state)
        return await self.get_experiment(experiment_id)

    async def set_archived(self, experiment_id: int, archived: bool) -> Experiment:
        """Archive or unarchive a terminal experiment, with Determined's (HEAD) error rules.

        Raises ``Conflict`` with "Experiment is already archived." / "Experiment is not archived."
        when there is nothing to change, "Experiment is not in terminal state." when the state
        forbids it, and ``NotFound`` for an unknown id.
        """
        e = t.experiments
        terminal = [s.value for s in TERMINAL_STATES]
        async with self._write() as conn:
            result = await conn.execute(
                sa.update(e)
                .where(e.c.id == experiment_id, e.c.archived == (not archived), e.c.state.in_(terminal))
                .values(archived=archived)
            )
            if result.rowcount == 0:
                row = (
                    await conn.execute(sa.select(e.c.state, e.c.archived).where(e.c.id == experiment_id))
                ).one_or_none()
                if row is None:
                    raise NotFound(f"experiment '{experiment_id}' not found")
                if row.archived == archived:
                    message = "Experiment is already archived." if archived else "Experiment is not archived."
                    raise Conflict(message, current_state=row.state)
                raise Conflict("Experiment is not in terminal state.", current_state=row.state)
        return await self.get_experiment(experiment_id)

    async def move_experiment(self, experiment_id: int, project_id: int) -> Experiment:
        """Move an experiment to another project."""
        async with self._write() as conn:
            await self._require_experiment(conn, experiment_id)
            if await conn.scalar(sa.select(t.projects.c.id).where(t.projects.c.id == project_id)) is None:
                raise NotFound(f"project {project_id} not found")
            await conn.execute(
                sa.update(t.experiments).where(t.experiments.c.id == experiment_id).values(project_id=project_id)
            )
        return await self.get_experiment(experiment_id)

    async def delete_experiment(self, experiment_id: int) -> None:
        """Delete the row with its labels and files; children forked from it keep living, unparented."""
        async with self._write() as conn:
            result = await conn.execute(sa.delete(t.experiments).where(t.experiments.c.id == experiment_id))
        if result.rowcount == 0:
            raise NotFound(f"experiment '{experiment_id}' not found")

    async def add_label(self, experiment_id: int, label: str) -> list[str]:
        """Add one label (no-op if present); returns the experiment's labels, sorted."""
        (label,) = _unique_labels([label])
        async with self._write() as conn:
            await self._require_experiment(conn, experiment_id)
            await conn.execute(
                self._insert_ignore(t.experiment_labels).values(experiment_id=experiment_id, label=label)
            )
            labels = await self._labels_of(conn, [experiment_id])
        return labels.get(experiment_id, [])

    async def remove_label(self, experiment_id: int, label: str) -> list[str]:
        """Remove one label (no-op if absent); returns the remaining labels, sorted."""
        _reject_nul({"label": label})
        lt = t.experiment_labels
        async with self._write() as conn:
            await self._require_experiment(conn, experiment_id)
            await conn.execute(sa.delete(lt).where(lt.c.experiment_id == experiment_id, lt.c.label == label))
            labels = await self._labels_of(conn, [experiment_id])
        return labels.get(experiment_id, [])


def _upgrade_to_head(connection: Connection) -> None:
    """Run inside ``run_sync``: apply every pending Alembic revision on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
