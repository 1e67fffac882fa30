"""The demo-data generator (protogw.server.storage.demo), on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from protogw.server.storage import ExperimentQuery, Store, UserQuery
from protogw.server.storage.demo import DEMO_PROJECTS, DEMO_USERS, STATE_WEIGHTS, load_demo
from protogw.server.storage.models import Experiment


def _data(experiment: Experiment) -> tuple[Any, ...]:
    """An experiment as data: its JSON columns decoded (PostgreSQL's JSONB writes its own text)."""
    return replace(experiment, config_json="", hyperparameters_json=""), experiment.config, experiment.hyperparameters


async def _load(url: str, count: int, seed: int) -> Store:
    store = Store(url)
    await store.start()
    await load_demo(store, count, seed=seed, batch=40)
    return store


@pytest.mark.parametrize(("seed", "same"), [pytest.param(0, True, id="same-seed"), pytest.param(1, False, id="other")])
async def test_same_seed_same_rows(database_url: str, tmp_path: Path, seed: int, same: bool) -> None:
    # The reference is always SQLite with seed 0; PostgreSQL must hold the very same rows.
    reference = await _load(f"sqlite+aiosqlite:///{tmp_path / 'ref.db'}", 100, 0)
    store = await _load(database_url, 100, seed)
    try:
        a = (await reference.list_experiments(ExperimentQuery(limit=-1))).experiments
        b = (await store.list_experiments(ExperimentQuery(limit=-1))).experiments
    finally:
        await reference.close()
        await store.close()
    assert len(a) == len(b) == 100
    assert ([_data(e) for e in a] == [_data(e) for e in b]) is same


async def test_demo_covers_the_interesting_cases(database_url: str) -> None:
    store = await _load(database_url, 400, 7)
    try:
        rows = (await store.list_experiments(ExperimentQuery(limit=-1))).experiments
        users = (await store.list_users(UserQuery())).users
        labels = await store.label_usage()
        files = await store.get_model_definition(rows[0].id)
    finally:
        await store.close()
    assert {e.state for e in rows} == set(STATE_WEIGHTS)
    assert any(e.archived for e in rows)
    assert any(e.parent_id is not None for e in rows)
    assert any(e.progress is None for e in rows)
    assert {e.project_name for e in rows} == {*DEMO_PROJECTS, "Uncategorized"}
    assert {u.username for u in users} >= {name for name, _, _ in DEMO_USERS}
    assert len({e.username for e in rows}) > 3
    assert len(labels) > 5
    assert [f.path for f in files] == ["model_def.py"]
    assert all(e.end_time is None or e.end_time > e.start_time for e in rows)


async def test_loading_twice_adds_rows_and_reuses_users(database_url: str) -> None:
    store = await _load(database_url, 30, 0)
    try:
        users_before = (await store.list_users(UserQuery())).pagination.total
        await load_demo(store, 30, seed=0)
        total = (await store.list_experiments(ExperimentQuery(limit=-2))).pagination.total
        users_after = (await store.list_users(UserQuery())).pagination.total
    finally:
        await store.close()
    assert total == 60
    assert users_after == users_before
