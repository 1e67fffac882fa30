"""protogw.server.storage.fastpath: the hot reads past SQLAlchemy equal the ordinary path, column by
column, on SQLite and PostgreSQL; SQLite's inline reader gives way to the engine when it would wait;
and no other storage module touches SQLAlchemy's private API.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from protogw.core import receipt
from protogw.server.storage import ExperimentState, ModelFile, NewExperiment, NewUser, Store
from protogw.server.storage import fastpath as fastpath_module
from protogw.server.storage.engine import Database
from protogw.server.storage.fastpath import PgDirectReads, SqliteInlineReader, WouldWait
from protogw.server.storage.models import AgentUserGroup, ExperimentPatch
from protogw.server.storage.rows import EXPERIMENT_BY_ID, SESSION_BY_HASH, SESSION_BY_ID, experiment_from_row

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@dataclass
class Rows:
    """A store with rows whose every column is set (``full``) and whose optional columns are NULL (``bare``)."""

    store: Store
    url: str
    params: dict[str, dict[str, Any]]


async def _fill(store: Store) -> dict[str, dict[str, Any]]:
    owner = await store.create_user(
        NewUser(
            username="fast-owner",
            display_name="Fast Owner",
            admin=True,
            password_hash="$argon2id$x",
            agent_user_group=AgentUserGroup(uid=1000, gid=1000, user="u", group="g"),
        )
    )
    plain = await store.create_user(NewUser(username="fast-plain"))
    bare = await store.create_experiment(NewExperiment(owner_id=plain.id, name="bare"))
    full = await store.create_experiment(
        NewExperiment(
            owner_id=owner.id,
            name="full",
            description="every column set",
            state=ExperimentState.COMPLETED,
            start_time=T0,
            end_time=T0 + timedelta(hours=2),
            parent_id=bare.id,
            notes="notes",
            config={"name": "full", "nested": {"a": [1, 2.5, None, True, "x"]}, "unicode": "é✓"},
            original_config="name: full\n",
            hyperparameters={"lr": 0.125, "layers": [64, 32]},
            labels=["zeta", "alpha", "mid"],
            searcher_type="single",
            searcher_metric="loss",
            resource_pool="gpu",
            num_trials=3,
            progress=0.75,
            checkpoint_size=2**40,
            checkpoint_count=9,
            best_searcher_metric=0.0625,
            model_definition=[ModelFile("a.py", b"print(1)")],
        )
    )
    live = await store.create_session(owner.id, "hash-live", T0 + timedelta(days=1))
    revoked = await store.create_session(plain.id, "hash-revoked", T0 + timedelta(days=2))
    await store.revoke_session(revoked.id)
    return {
        "experiment-full": {"experiment_id": full.id},
        "experiment-bare": {"experiment_id": bare.id},
        "experiment-missing": {"experiment_id": 999_999},
        "session-by-hash": {"token_hash": "hash-live"},
        "session-revoked": {"token_hash": "hash-revoked"},
        "session-missing": {"token_hash": "no-such-hash"},
        "session-by-id": {"session_id": live.id},
    }


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def rows(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Rows]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fast') / 'fast.db'}"
        async with Store(url) as store:
            yield Rows(store, url, await _fill(store))
        return
    server = request.getfixturevalue("pg_server")
    name = server.create_database()
    url = server.url(name)
    try:
        async with Store(url) as store:
            yield Rows(store, url, await _fill(store))
    finally:
        server.drop_database(name)


# (case, statement, the params key in Rows.params)
READS = [
    ("experiment-full", EXPERIMENT_BY_ID),
    ("experiment-bare", EXPERIMENT_BY_ID),
    ("experiment-missing", EXPERIMENT_BY_ID),
    ("session-by-hash", SESSION_BY_HASH),
    ("session-revoked", SESSION_BY_HASH),
    ("session-missing", SESSION_BY_HASH),
    ("session-by-id", SESSION_BY_ID),
]


async def _fast_read(rows: Rows, stmt: sa.Select[Any], params: dict[str, Any]) -> Sequence[Any] | None:
    """The read through the fast path of this database (opened here, so no fallback can hide it)."""
    db = rows.store.database
    if db.sqlite:
        reader = SqliteInlineReader(str(db.url.database), db.engine.dialect)
        try:
            return reader.fetch_one(stmt, params)
        finally:
            reader.close()
    return await PgDirectReads(db.engine).fetch_one(stmt, params)


def _same_value(fast: Any, ordinary: Any) -> bool:
    if type(fast) is not type(ordinary):
        return False
    if isinstance(fast, datetime):
        return bool(fast == ordinary and fast.utcoffset() == ordinary.utcoffset())
    same: bool = fast == ordinary
    return same


@pytest.mark.parametrize(("case", "stmt"), READS, ids=[c for c, _ in READS])
async def test_fast_path_equals_the_engine_column_by_column(rows: Rows, case: str, stmt: sa.Select[Any]) -> None:
    params = rows.params[case]
    ordinary = await rows.store.database.fetch_one_via_engine(stmt, params)
    fast = await _fast_read(rows, stmt, params)
    dispatched = await rows.store.database.fetch_one(stmt, params)
    if case.endswith("missing"):
        assert ordinary is None
        assert fast is None
        assert dispatched is None
        return
    assert ordinary is not None
    assert fast is not None
    assert dispatched is not None
    names = [c.name for c in stmt.selected_columns]
    assert len(fast) == len(ordinary) == len(dispatched) == len(names)
    for name, f, o, d in zip(names, fast, ordinary, dispatched, strict=True):
        assert _same_value(f, o), f"column {name}: fast {f!r} ({type(f).__name__}) != engine {o!r} ({type(o).__name__})"
        assert _same_value(d, o), f"column {name}: Database.fetch_one {d!r} != engine {o!r}"


async def test_full_row_exercises_every_decoder(rows: Rows) -> None:
    # The comparison above means something only if the row carries each kind of decoded value.
    row = await _fast_read(rows, EXPERIMENT_BY_ID, rows.params["experiment-full"])
    assert row is not None
    experiment = experiment_from_row(row)
    assert experiment.end_time is not None
    assert experiment.end_time.tzinfo is not None
    assert experiment.archived is False
    assert experiment.parent_archived is False
    assert experiment.config["nested"] == {"a": [1, 2.5, None, True, "x"]}
    assert experiment.labels == ["alpha", "mid", "zeta"]
    assert experiment.checkpoint_size == 2**40


# -- SQLite: the inline reader gives way when it would wait ------------------------------------------


def _hold_exclusive(path: str, sql: str, params: Sequence[Any]) -> sqlite3.Connection:
    """Another connection that writes ``sql`` and keeps the file locked until it is closed.

    In WAL mode readers never wait for an ordinary writer; a connection in exclusive locking mode
    is what makes every other connection's read fail with SQLITE_BUSY.
    """
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN IMMEDIATE")
    holder.execute(sql, params)
    holder.execute("COMMIT")  # committed, but the exclusive lock stays until close()
    return holder


@dataclass(frozen=True)
class LockCase:
    stmt: sa.Select[Any]
    key: str
    sql: str
    check: Callable[[Sequence[Any]], bool]


LOCK_CASES = [
    pytest.param(
        LockCase(
            EXPERIMENT_BY_ID,
            "experiment-full",
            "UPDATE experiments SET description = 'written under the lock' WHERE id = ?",
            lambda row: experiment_from_row(row).description == "written under the lock",
        ),
        id="experiment",
    ),
    pytest.param(
        LockCase(
            SESSION_BY_HASH,
            "session-by-hash",
            "UPDATE user_sessions SET expiry = '2031-01-01 00:00:00.000000' WHERE token_hash = ?",
            lambda row: row[4] == datetime(2031, 1, 1, tzinfo=UTC),
        ),
        id="session",
    ),
]


@pytest.mark.parametrize("case", LOCK_CASES)
async def test_sqlite_fallback_when_the_inline_read_would_wait(tmp_path: Path, case: LockCase) -> None:
    url = f"sqlite:///{tmp_path / 'locked.db'}"
    async with Store(url) as store:
        params = (await _fill(store))[case.key]
    path = str(tmp_path / "locked.db")
    db = Database(url)
    holder = _hold_exclusive(path, case.sql, list(params.values()))
    try:
        await db.open_fast_path()
        # The fast path alone refuses at once instead of waiting...
        reader = SqliteInlineReader(path, db.engine.dialect)
        try:
            with pytest.raises(WouldWait):
                reader.fetch_one(case.stmt, params)
        finally:
            reader.close()
        # ...so Database.fetch_one hands the read to the engine, which waits for the lock.
        read = asyncio.create_task(db.fetch_one(case.stmt, params))
        await asyncio.sleep(0.3)
        assert not read.done(), "the read finished while the file was locked: it did not go through the engine"
    finally:
        holder.close()
    try:
        row = await asyncio.wait_for(read, 10)
        assert row is not None
        assert case.check(row)
        # Once the lock is gone the inline reader answers again, with the same row.
        assert await db.fetch_one(case.stmt, params) == list(row)
    finally:
        await db.close()


# -- SQLite's inline reader keeps rows until the database changes --------------------------------


async def _store_writes(store: Store, path: str, experiment_id: int, text: str) -> None:
    await store.update_experiment(experiment_id, ExperimentPatch(description=text))


async def _connection_writes(store: Store, path: str, experiment_id: int, text: str) -> None:
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("UPDATE experiments SET description = ? WHERE id = ?", (text, experiment_id))


async def _process_writes(store: Store, path: str, experiment_id: int, text: str) -> None:
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1], isolation_level=None); "
        "c.execute('UPDATE experiments SET description = ? WHERE id = ?', (sys.argv[2], int(sys.argv[3])))"
    )
    argv = [sys.executable, "-c", script, path, text, str(experiment_id)]
    await asyncio.to_thread(subprocess.run, argv, check=True, timeout=60)


# Every kind of writer the reader must notice: the store's own engine, another connection of the
# same process, another process (a second `serve --workers` process, a migration, sqlite3's shell).
WRITERS = [
    pytest.param(_store_writes, id="store"),
    pytest.param(_connection_writes, id="connection"),
    pytest.param(_process_writes, id="process"),
]


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[tuple[Store, str, dict[str, dict[str, Any]]]]:
    path = str(tmp_path / "kept.db")
    async with Store(f"sqlite:///{path}") as store:
        yield store, path, await _fill(store)


@pytest.mark.parametrize("write", WRITERS)
async def test_sqlite_reader_reads_again_after_any_write(
    sqlite_store: tuple[Store, str, dict[str, dict[str, Any]]],
    write: Callable[[Store, str, int, str], Awaitable[None]],
) -> None:
    store, path, params = sqlite_store
    experiment = params["experiment-full"]
    reader = SqliteInlineReader(path, store.database.engine.dialect)
    try:
        for text in ("first change", "second change"):
            assert reader.fetch_one(EXPERIMENT_BY_ID, experiment) is not None  # kept
            await write(store, path, experiment["experiment_id"], text)
            row = reader.fetch_one(EXPERIMENT_BY_ID, experiment)
            assert row is not None
            assert experiment_from_row(row).description == text
    finally:
        reader.close()


async def test_sqlite_reader_answers_a_kept_row_without_the_query(
    sqlite_store: tuple[Store, str, dict[str, dict[str, Any]]],
) -> None:
    store, path, params = sqlite_store
    reader = SqliteInlineReader(path, store.database.engine.dialect)
    statements: list[str] = []
    try:
        first = reader.fetch_one(EXPERIMENT_BY_ID, params["experiment-full"])
        missing = reader.fetch_one(EXPERIMENT_BY_ID, params["experiment-missing"])
        reader._conn.set_trace_callback(statements.append)
        again = reader.fetch_one(EXPERIMENT_BY_ID, params["experiment-full"])
        assert reader.fetch_one(EXPERIMENT_BY_ID, params["experiment-missing"]) is missing is None
    finally:
        reader.close()
    assert statements == ["PRAGMA data_version"] * 2
    assert first is not None
    assert again is not None
    # Decoded afresh for each caller: changing one answer's values cannot reach the next.
    assert again == first
    assert again is not first
    experiment_from_row(first).config["nested"]["a"].clear()
    assert experiment_from_row(again).config["nested"]["a"] == [1, 2.5, None, True, "x"]


@dataclass(frozen=True)
class ReceiptCase:
    """A read after another process's write, by a request received before or after the last check."""

    name: str
    received: str  # "before" / "after" the reader's last check, or "none" (no stamp)
    sees_write: bool
    statements: list[str]


RECEIPT_CASES = [
    # Received before the last check: that check saw every write completed before the request arrived,
    # so the read shares it - no statement at all (the write came later, while it was being served).
    ReceiptCase("received-before-the-check", "before", sees_write=False, statements=[]),
    ReceiptCase("received-after-the-check", "after", sees_write=True, statements=["PRAGMA data_version", "SELECT"]),
    ReceiptCase("no-receipt", "none", sees_write=True, statements=["PRAGMA data_version", "SELECT"]),
]


@pytest.mark.parametrize("case", RECEIPT_CASES, ids=lambda c: c.name)
async def test_sqlite_reader_shares_a_check_with_requests_received_before_it(
    sqlite_store: tuple[Store, str, dict[str, dict[str, Any]]], case: ReceiptCase
) -> None:
    store, path, params = sqlite_store
    experiment = params["experiment-full"]
    reader = SqliteInlineReader(path, store.database.engine.dialect)
    statements: list[str] = []
    try:
        early = receipt.stamp()
        assert reader.fetch_one(EXPERIMENT_BY_ID, experiment) is not None  # checked and kept
        late = receipt.stamp()
        await _process_writes(store, path, experiment["experiment_id"], "changed meanwhile")
        reader._conn.set_trace_callback(statements.append)
        with receipt.receiving({"before": early, "after": late, "none": None}[case.received]):
            row = reader.fetch_one(EXPERIMENT_BY_ID, experiment)
    finally:
        reader.close()
    assert row is not None
    assert (experiment_from_row(row).description == "changed meanwhile") is case.sees_write
    assert [s.split()[0] if s.startswith("SELECT") else s for s in statements] == case.statements


async def test_sqlite_store_call_reads_its_own_write_under_an_old_receipt(
    sqlite_store: tuple[Store, str, dict[str, dict[str, Any]]],
) -> None:
    """A call's writes go through the store, which makes the next inline read check again: the call
    reads what it wrote even though its request was received before the last check."""
    store, _, params = sqlite_store
    experiment_id = params["experiment-full"]["experiment_id"]
    with receipt.receiving(receipt.stamp()):
        before = await store.get_experiment(experiment_id)
        await store.update_experiment(experiment_id, ExperimentPatch(description="written by this call"))
        after = await store.get_experiment(experiment_id)
    assert before.description != "written by this call"
    assert after.description == "written by this call"


# -- SQLAlchemy's private API stays in fastpath.py ---------------------------------------------------

PRIVATE_API = re.compile(r"\._(result_columns|cached_result_processor|handle_exception|traverse_internals)\b")
STORAGE_DIR = Path(fastpath_module.__file__).resolve().parent


@pytest.mark.parametrize(
    "module", sorted(p.name for p in STORAGE_DIR.rglob("*.py") if "migrations" not in p.parts), ids=str
)
def test_only_fastpath_touches_sqlalchemy_internals(module: str) -> None:
    uses = PRIVATE_API.findall((STORAGE_DIR / module).read_text())
    if module == "fastpath.py":
        assert {"result_columns", "cached_result_processor", "handle_exception"} <= set(uses)
    else:
        assert uses == [], f"{module} uses SQLAlchemy internals {uses}; they belong in fastpath.py"
