"""Benchmark (not a test): GetExperiments-style listing through the Store against the bare driver.

Loads the deterministic demo set (100,000 experiments by default) into a SQLite file and into a
throwaway PostgreSQL cluster, then times a few listings two ways in the same run:

* **store**: ``Store.list_experiments`` (count, page, labels of the page; rows become dataclasses
  with parsed JSON and UTC datetimes);
* **driver**: the very same SQL text and parameters, compiled once up front from the store's own
  statements, executed straight through aiosqlite / asyncpg, rows left as the driver returns them.

It prints the median time per listing on each side and the median of the per-pair ratios
store/driver (goal: at most 1.5x); the two sides alternate call by call.

Run: ``.venv/bin/python bench/storage_bench.py [--count 100000] [--rounds 15] [--backend both]``
(``--sqlite-file PATH`` keeps the loaded SQLite database for later runs).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.engine import Dialect

from protogw.server.storage import ExperimentQuery, ExperimentSortBy, ExperimentState, OrderBy, Store
from protogw.server.storage.demo import load_demo
from protogw.server.storage.pagination import (
    DEFAULT_EXPERIMENT_PAGE,
    LIMIT_ALL,
    LIMIT_COUNT_ONLY,
    experiments_window,
)
from protogw.server.storage.pgtemp import postgres_server

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


def compile_for(stmt: sa.ClauseElement, dialect: Dialect) -> Compiled:
    """The SQL text and positional parameters the store's engine would send for ``stmt``."""
    compiled: Any = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    values = compiled.construct_params()
    return Compiled(str(compiled), [values[n] for n in compiled.positiontup or []])


@dataclass(frozen=True)
class Plan:
    """Pre-compiled statements for one listing, so the driver side pays nothing for SQL building.

    Mirrors ``Store.list_experiments``: one statement returning rows plus the total when the
    offset is not negative, else a count followed by the page.
    """

    count: Compiled
    combined: Compiled | None
    page: Compiled | None


def plan_for(store: Store, query: ExperimentQuery, total: int) -> Plan:
    dialect = store.engine.dialect
    count_stmt, page = Store.experiment_statements(query)
    count = compile_for(count_stmt, dialect)
    if query.offset >= 0 and query.limit != LIMIT_COUNT_ONLY:
        size = None if query.limit == LIMIT_ALL else (query.limit or DEFAULT_EXPERIMENT_PAGE)
        return Plan(count, compile_for(page(query.offset, size, True), dialect), None)
    window = experiments_window(total, query.offset, query.limit)
    size = window.end_index - window.start_index
    return Plan(count, None, compile_for(page(window.start_index, size, False), dialect) if size > 0 else None)


async def sqlite_raw(conn: aiosqlite.Connection, plan: Plan) -> int:
    if plan.combined is not None:
        rows = list(await conn.execute_fetchall(plan.combined.sql, plan.combined.params))
        if not rows:
            await conn.execute_fetchall(plan.count.sql, plan.count.params)
        return len(rows)
    await conn.execute_fetchall(plan.count.sql, plan.count.params)
    if plan.page is None:
        return 0
    return len(list(await conn.execute_fetchall(plan.page.sql, plan.page.params)))


async def pg_raw(conn: asyncpg.Connection, plan: Plan) -> int:
    if plan.combined is not None:
        rows = await conn.fetch(plan.combined.sql, *plan.combined.params)
        if not rows:
            await conn.fetchval(plan.count.sql, *plan.count.params)
        return len(rows)
    await conn.fetchval(plan.count.sql, *plan.count.params)
    if plan.page is None:
        return 0
    return len(await conn.fetch(plan.page.sql, *plan.page.params))


async def timed(fn: Callable[[], Awaitable[int]]) -> tuple[float, int]:
    start = time.perf_counter()
    rows = await fn()
    return time.perf_counter() - start, rows


async def compare(
    store_fn: Callable[[], Awaitable[int]], driver_fn: Callable[[], Awaitable[int]], rounds: int
) -> tuple[float, float, float, int]:
    """Median store time, median driver time, median of the per-pair ratios, and the row count.

    The two sides alternate call by call (after two warm-up calls each), so a burst of load on
    this shared machine lands on both sides of a pair; the median pair ratio is the figure that
    stays stable when absolute times drift.
    """
    for _ in range(2):
        await store_fn()
        await driver_fn()
    store_times, driver_times, ratios = [], [], []
    rows = 0
    for i in range(rounds):
        # Alternate which side goes first, so neither always runs on a warmer cache.
        if i % 2:
            (s, rows), (d, drows) = await timed(store_fn), await timed(driver_fn)
        else:
            (d, drows), (s, rows) = await timed(driver_fn), await timed(store_fn)
        assert rows == drows, (rows, drows)
        store_times.append(s)
        driver_times.append(d)
        ratios.append(s / d)
    return statistics.median(store_times), statistics.median(driver_times), statistics.median(ratios), rows


async def bench_backend(
    name: str, url: str, raw_connect: Callable[[], Awaitable[Any]], count: int, rounds: int
) -> None:
    store = Store(url)
    await store.start()
    present = (await store.list_experiments(ExperimentQuery(limit=-2))).pagination.total
    if present >= count:
        print(f"\n{name}: reusing {present:,} experiments already in the database")
    else:
        start = time.perf_counter()
        await load_demo(store, count - present)
        load_s = time.perf_counter() - start
        print(f"\n{name}: loaded {count - present:,} experiments in {load_s:.1f} s ({count / load_s:,.0f} rows/s)")
    async with store.engine.begin() as conn:
        await conn.execute(sa.text("ANALYZE"))
    print(f"  {'listing':<66} {'rows':>5} {'store ms':>9} {'driver ms':>10} {'ratio':>6}")
    raw = await raw_connect()
    try:
        for label, query in SCENARIOS.items():
            total = (await store.list_experiments(replace(query, limit=-2))).pagination.total
            plan = plan_for(store, query, total)

            async def driver_fn(plan: Plan = plan) -> int:
                return await (sqlite_raw(raw, plan) if name == "sqlite" else pg_raw(raw, plan))

            async def store_fn(query: ExperimentQuery = query) -> int:
                return len((await store.list_experiments(query)).experiments)

            s_med, d_med, ratio, rows = await compare(store_fn, driver_fn, rounds)
            print(f"  {label:<66} {rows:>5} {s_med * 1e3:>9.2f} {d_med * 1e3:>10.2f} {ratio:>5.2f}x")
    finally:
        await raw.close()
        await store.close()


@contextmanager
def sqlite_file(keep: str | None) -> Iterator[Path]:
    if keep:
        yield Path(keep)
        return
    with tempfile.TemporaryDirectory(prefix="protogw-bench-") as folder:
        yield Path(folder) / "bench.db"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--sqlite-file", help="keep the SQLite database here and reuse it on later runs")
    args = parser.parse_args()
    print(f"storage bench: {args.count:,} demo experiments, median of {args.rounds} alternating pairs")
    if args.backend in ("sqlite", "both"):
        with sqlite_file(args.sqlite_file) as path:

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
