"""Benchmark (not a test): GetExperiments-style listing through the Store against the bare driver.

Loads the deterministic demo set (100,000 experiments by default) into a SQLite file and into a
throwaway PostgreSQL cluster, then times a few listings two ways in the same run:

* **store**: ``Store.list_experiments`` (count, page, labels of the page; rows become dataclasses
  with parsed JSON and UTC datetimes);
* **driver**: the very same SQL text and parameters, compiled once up front from the store's own
  statements, executed straight through aiosqlite / asyncpg, rows left as the driver returns them.

It prints the median time per listing and the ratio store/driver (goal: at most 1.5x).

Run: ``.venv/bin/python bench/storage_bench.py [--count 100000] [--rounds 15] [--backend both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from protogw.server.storage import ExperimentQuery, ExperimentSortBy, ExperimentState, OrderBy, Store
from protogw.server.storage.demo import load_demo
from protogw.server.storage.pagination import experiments_window

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
# The repository root is not installed; the PostgreSQL helper lives in tests/support.
from tests.support.postgres import postgres_server

SCENARIOS: dict[str, ExperimentQuery] = {
    "filtered page (archived=false, COMPLETED, start_time desc, 100)": ExperimentQuery(
        archived=False,
        states=[ExperimentState.COMPLETED],
        sort_by=ExperimentSortBy.START_TIME,
        order_by=OrderBy.DESC,
        limit=100,
    ),
    "name search ('resnet', 100)": ExperimentQuery(name="resnet", limit=100),
    "labels all-of (gpu+tuned, 100)": ExperimentQuery(labels=["gpu", "tuned"], limit=100),
    "deep offset (90,000, id asc, 100)": ExperimentQuery(offset=90_000, limit=100),
}


@dataclass(frozen=True)
class Compiled:
    sql: str
    params: list[Any]


def compile_for(stmt: sa.Executable, dialect: Dialect) -> Compiled:
    """The SQL text and positional parameters the store's engine would send for ``stmt``."""
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    names = compiled.positiontup or []
    return Compiled(str(compiled), [values[n] for n in names])


@dataclass(frozen=True)
class Plan:
    """Pre-compiled statements for one listing, so the driver side pays nothing for SQL building."""

    count: Compiled
    page: Compiled | None
    labels_sql: str | None
    offset: int
    limit: int


def plan_for(store: Store, query: ExperimentQuery, total: int) -> Plan:
    dialect = store.engine.dialect
    count_stmt, page = Store.experiment_statements(query)
    window = experiments_window(total, query.offset, query.limit)
    size = window.end_index - window.start_index
    if size <= 0:
        return Plan(compile_for(count_stmt, dialect), None, None, query.offset, query.limit)
    return Plan(
        compile_for(count_stmt, dialect),
        compile_for(page(window.start_index, size), dialect),
        # The labels query depends only on how many ids there are; its text is fixed per size.
        compile_for(Store.labels_statement(list(range(size))), dialect).sql,
        query.offset,
        query.limit,
    )


async def sqlite_raw(conn: aiosqlite.Connection, plan: Plan) -> int:
    async with conn.execute(plan.count.sql, plan.count.params) as cur:
        row = await cur.fetchone()
    assert row is not None
    window = experiments_window(row[0], plan.offset, plan.limit)
    if plan.page is None or window.end_index <= window.start_index:
        return 0
    rows = list(await conn.execute_fetchall(plan.page.sql, plan.page.params))
    ids = [r[0] for r in rows]
    assert plan.labels_sql is not None
    if len(ids) == plan.labels_sql.count("?"):
        await conn.execute_fetchall(plan.labels_sql, ids)
    return len(rows)


async def pg_raw(conn: asyncpg.Connection, plan: Plan) -> int:
    total = await conn.fetchval(plan.count.sql, *plan.count.params)
    window = experiments_window(total, plan.offset, plan.limit)
    if plan.page is None or window.end_index <= window.start_index:
        return 0
    rows = await conn.fetch(plan.page.sql, *plan.page.params)
    ids = [r[0] for r in rows]
    assert plan.labels_sql is not None
    await conn.fetch(plan.labels_sql, *ids)
    return len(rows)


async def measure(fn: Callable[[], Awaitable[int]], rounds: int) -> tuple[float, int]:
    """Median seconds per call after two warm-up calls, and the row count the call returned."""
    n = 0
    for _ in range(2):
        n = await fn()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples), n


async def bench_backend(
    name: str, url: str, raw_connect: Callable[[], Awaitable[Any]], count: int, rounds: int
) -> None:
    store = Store(url)
    await store.start()
    start = time.perf_counter()
    await load_demo(store, count)
    load_s = time.perf_counter() - start
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))
    print(f"\n{name}: loaded {count:,} experiments in {load_s:.1f} s ({count / load_s:,.0f} rows/s)")
    print(f"  {'listing':<66} {'rows':>5} {'store ms':>9} {'driver ms':>10} {'ratio':>6}")
    raw = await raw_connect()
    try:
        for label, query in SCENARIOS.items():
            total = (await store.list_experiments(replace(query, limit=-2))).pagination.total
            plan = plan_for(store, query, total)
            if name == "sqlite":
                driver_fn: Callable[[], Awaitable[int]] = lambda plan=plan: sqlite_raw(raw, plan)  # noqa: E731
            else:
                driver_fn = lambda plan=plan: pg_raw(raw, plan)  # noqa: E731

            async def store_fn(query: ExperimentQuery = query) -> int:
                return len((await store.list_experiments(query)).experiments)

            # Interleave the two sides so drift in machine load hits both alike.
            store_times: list[float] = []
            driver_times: list[float] = []
            rows = 0
            for _ in range(3):
                s, rows = await measure(store_fn, max(1, rounds // 3))
                d, drows = await measure(driver_fn, max(1, rounds // 3))
                assert rows == drows, (label, rows, drows)
                store_times.append(s)
                driver_times.append(d)
            s_med, d_med = statistics.median(store_times), statistics.median(driver_times)
            print(f"  {label:<66} {rows:>5} {s_med * 1e3:>9.2f} {d_med * 1e3:>10.2f} {s_med / d_med:>5.2f}x")
    finally:
        await raw.close()
        await store.close()


@contextmanager
def sqlite_file() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="protogw-bench-") as folder:
        yield Path(folder) / "bench.db"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    print(f"storage bench: {args.count:,} demo experiments, median of {args.rounds} runs per side")
    if args.backend in ("sqlite", "both"):
        with sqlite_file() as path:

            async def connect_sqlite() -> aiosqlite.Connection:
                return await aiosqlite.connect(path)

            await bench_backend("sqlite", f"sqlite+aiosqlite:///{path}", connect_sqlite, args.count, args.rounds)
    if args.backend in ("postgres", "both"):
        with postgres_server() as server:
            database = server.create_database()
            dsn = f"postgresql://{server.user}@{server.host}:{server.port}/{database}"

            async def connect_pg() -> asyncpg.Connection:
                return await asyncpg.connect(dsn)

            try:
                await bench_backend("postgresql", server.url(database), connect_pg, args.count, args.rounds)
            finally:
                server.drop_database(database)


if __name__ == "__main__":
    asyncio.run(main())
