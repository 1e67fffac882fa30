"""The Store API (protogw.server.storage.store), every case on SQLite and on PostgreSQL.

Two module-scoped databases per backend keep this fast: ``seeded`` holds a fixed data set that the
read-only listing tests compare against a plain-Python oracle, and ``scratch`` takes the tests that
write (each creates its own rows). Tests about a fresh database use the ``database_url`` fixture.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, timezone
from itertools import count
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import CacheStats

from protogw.server.storage import (
    AgentUserGroup,
    AlreadyExists,
    Conflict,
    Experiment,
    ExperimentPatch,
    ExperimentQuery,
    ExperimentSortBy,
    ExperimentState,
    IdFilter,
    InvalidArgument,
    LabelUsage,
    ModelFile,
    NewExperiment,
    NewUser,
    NotFound,
    OrderBy,
    Store,
    User,
    UserPatch,
    UserQuery,
    UserSortBy,
)
from protogw.server.storage import schema as t
from tests.support.postgres import PostgresServer

S = ExperimentState
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
_unique = count(1)


def uniq(prefix: str) -> str:
    return f"{prefix}-{next(_unique)}"


class FixedClock:
    """A clock the tests move by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


async def _open(request: pytest.FixtureRequest, folder: Path, clock: FixedClock) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        store = Store(f"sqlite+aiosqlite:///{folder / 'store.db'}", clock=clock)
        await store.start()
        yield store
        await store.close()
        return
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = server.create_database()
    store = Store(server.url(name), clock=clock)
    try:
        await store.start()
        yield store
    finally:
        await store.close()
        server.drop_database(name)


BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


# ------------------------------------------------------------------------------------------------
# The seeded data set for listing tests


@dataclass
class Seeded:
    store: Store
    experiments: list[Experiment]
    users: dict[str, User]
    projects: dict[str, int]


DESCRIPTIONS = ["100% done", "under_score", "UNDERxscore", "Baseline run", "baseline", "", "tune lr"]
NAMES = ["mnist", "MNIST-big", "cifar", "cifar_10", "imagenet", "Mnist%"]
LABELS = ["prod", "exp", "gpu", "cv", "nlp"]
POOLS = ["", "default", "gpu-pool"]


async def _seed(store: Store) -> Seeded:
    users = {
        "admin": await store.get_user_by_username("admin"),
        "determined": await store.get_user_by_username("determined"),
        "alice": await store.create_user(NewUser(username="alice", display_name="Zed Alice")),
        "bob": await store.create_user(NewUser(username="bob")),
        "carol": await store.create_user(NewUser(username="carol", display_name="amy", active=False)),
    }
    team = await store.create_workspace("Team", users["alice"].id)
    gone = await store.create_workspace("Gone", users["admin"].id)
    projects = {
        "Uncategorized": 1,
        "Research": (await store.create_project("Research", team.id, users["alice"].id)).id,
        "Old": (await store.create_project("Old", 1, users["admin"].id)).id,
        "Inner": (await store.create_project("Inner", gone.id, users["bob"].id)).id,
    }
    await store.set_project_archived(projects["Old"], True)
    await store.set_workspace_archived(gone.id, True)

    rng = random.Random(20240501)
    offsets = [UTC, timezone(timedelta(hours=5)), timezone(timedelta(hours=-7))]
    created: list[Experiment] = []
    for _ in range(40):
        state = rng.choice(list(S))
        terminal = state.terminal
        start = (T0 + timedelta(hours=rng.randrange(6))).astimezone(rng.choice(offsets))
        new = NewExperiment(
            owner_id=users[rng.choice(list(users))].id,
            name=rng.choice(NAMES),
            description=rng.choice(DESCRIPTIONS),
            project_id=projects[rng.choice(list(projects))],
            state=state,
            archived=terminal and rng.random() < 0.4,
            labels=rng.sample(LABELS, rng.randrange(4)),
            start_time=start,
            end_time=start + timedelta(minutes=rng.randrange(3)) if terminal else None,
            num_trials=rng.randrange(3),
            progress=rng.choice([None, 0.0, 0.5, 1.0]),
            parent_id=rng.choice([None, None, *(e.id for e in created[:3])]),
            resource_pool=rng.choice(POOLS),
            checkpoint_size=rng.choice([0, 1 << 33, 1 << 33, 1024]),
            checkpoint_count=rng.randrange(3),
            best_searcher_metric=rng.choice([None, 0.25, 0.75]),
            config={"name": "x", "searcher": {"name": "single"}},
        )
        created.append(await store.create_experiment(new))
    return Seeded(store=store, experiments=created, users=users, projects=projects)


@pytest.fixture(scope="module", params=BACKENDS)
async def seeded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async for store in _open(request, tmp_path_factory.mktemp("seeded"), FixedClock(T0)):
        yield await _seed(store)


@pytest.fixture(scope="module", params=BACKENDS)
async def scratch(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Store]:
    async for store in _open(request, tmp_path_factory.mktemp("scratch"), FixedClock(T0)):
        yield store


def _clock(store: Store) -> FixedClock:
    clock = store._clock
    assert isinstance(clock, FixedClock)
    return clock


# ------------------------------------------------------------------------------------------------
# Listing: filters

Pred = Callable[[Experiment, Seeded], bool]

FILTERS: list[Any] = [
    pytest.param({}, lambda e, s: True, id="no-filter"),
    pytest.param({"description": "baseline"}, lambda e, s: "baseline" in e.description.lower(), id="description-ci"),
    pytest.param({"description": "100%"}, lambda e, s: "100%" in e.description, id="description-percent-literal"),
    pytest.param(
        {"description": "r_s"}, lambda e, s: "r_s" in e.description.lower(), id="description-underscore-literal"
    ),
    pytest.param({"name": "mnist"}, lambda e, s: "mnist" in e.name.lower(), id="name-ci"),
    pytest.param({"name": "t%"}, lambda e, s: "t%" in e.name.lower(), id="name-percent-literal"),
    pytest.param({"name": "r_1"}, lambda e, s: "r_1" in e.name, id="name-underscore-literal"),
    pytest.param({"labels": ["gpu"]}, lambda e, s: "gpu" in e.labels, id="one-label"),
    pytest.param({"labels": ["gpu", "cv"]}, lambda e, s: {"gpu", "cv"} <= set(e.labels), id="labels-all-of"),
    pytest.param({"labels": ["gpu", "gpu"]}, lambda e, s: "gpu" in e.labels, id="labels-repeated"),
    pytest.param({"labels": ["nope"]}, lambda e, s: False, id="unknown-label"),
    pytest.param({"archived": True}, lambda e, s: e.archived, id="archived-true"),
    pytest.param(
        {"archived": False}, lambda e, s: not e.archived and not e.parent_archived, id="archived-false-hides-parents"
    ),
    pytest.param(
        {"archived": False, "project_id": -1},
        lambda e, s: False,
        id="archived-false-unknown-project",
    ),
    pytest.param({"states": [S.ACTIVE]}, lambda e, s: e.state is S.ACTIVE, id="one-state"),
    pytest.param({"states": [S.COMPLETED, S.ERROR, S.CANCELED]}, lambda e, s: e.state.terminal, id="terminal-states"),
    pytest.param({"usernames": ["alice", "bob"]}, lambda e, s: e.username in ("alice", "bob"), id="usernames"),
    pytest.param({"usernames": ["nobody"]}, lambda e, s: False, id="unknown-username"),
    pytest.param({"user_ids": [1]}, lambda e, s: e.user_id == 1, id="user-ids"),
    pytest.param({"project_id": 0}, lambda e, s: True, id="project-0-is-all"),
    pytest.param({"id_filter": IdFilter(lt=10)}, lambda e, s: e.id < 10, id="id-lt"),
    pytest.param({"id_filter": IdFilter(lte=10)}, lambda e, s: e.id <= 10, id="id-lte"),
    pytest.param({"id_filter": IdFilter(gt=30)}, lambda e, s: e.id > 30, id="id-gt"),
    pytest.param({"id_filter": IdFilter(gte=30)}, lambda e, s: e.id >= 30, id="id-gte"),
    pytest.param({"id_filter": IdFilter(incl=[3, 5, 99])}, lambda e, s: e.id in (3, 5), id="id-incl"),
    pytest.param({"id_filter": IdFilter(not_in=[1, 2])}, lambda e, s: e.id not in (1, 2), id="id-not-in"),
    pytest.param(
        {"id_filter": IdFilter(gt=5, lte=20, not_in=[7])}, lambda e, s: 5 < e.id <= 20 and e.id != 7, id="id-combined"
    ),
    pytest.param(
        {"states": [S.PAUSED, S.ACTIVE], "labels": ["exp"], "archived": False},
        lambda e, s: e.state in (S.PAUSED, S.ACTIVE) and "exp" in e.labels and not e.archived and not e.parent_archived,
        id="combined",
    ),
]


@pytest.mark.parametrize(("query", "pred"), FILTERS)
async def test_list_filters(seeded: Seeded, query: dict[str, Any], pred: Pred) -> None:
    page = await seeded.store.list_experiments(ExperimentQuery(limit=-1, **query))
    expected = [e.id for e in seeded.experiments if pred(e, seeded)]
    assert [e.id for e in page.experiments] == expected
    assert page.pagination.total == len(expected)


PROJECT_FILTERS = ["Uncategorized", "Research", "Old", "Inner"]


@pytest.mark.parametrize("project", PROJECT_FILTERS)
@pytest.mark.parametrize("archived", [None, False])
async def test_list_project_filter(seeded: Seeded, project: str, archived: bool | None) -> None:
    # With a project given, archived=False does not hide the project's own (archived-parent) rows.
    project_id = seeded.projects[project]
    page = await seeded.store.list_experiments(ExperimentQuery(project_id=project_id, archived=archived, limit=-1))
    expected = [
        e.id for e in seeded.experiments if e.project_id == project_id and not (archived is False and e.archived)
    ]
    assert expected, "the data set should put experiments in every project"
    assert [e.id for e in page.experiments] == expected


async def test_seeded_data_exercises_the_tricky_cases(seeded: Seeded) -> None:
    # Guard against a reshuffled data set silently making the tables above trivial.
    exps = seeded.experiments
    assert any(e.parent_archived and not e.archived for e in exps)
    assert any(e.end_time is None for e in exps)
    assert any(e.end_time is not None for e in exps)
    assert any(e.best_searcher_metric is None for e in exps)
    assert any(e.parent_id is not None for e in exps)
    assert any(e.archived for e in exps)
    assert len({e.start_time for e in exps}) < len(exps)


# ------------------------------------------------------------------------------------------------
# Listing: sorting


def _sort_key(sort_by: ExperimentSortBy) -> Callable[[Experiment], Any]:
    return {
        ExperimentSortBy.UNSPECIFIED: lambda e: e.id,
        ExperimentSortBy.ID: lambda e: e.id,
        ExperimentSortBy.DESCRIPTION: lambda e: e.description,
        ExperimentSortBy.START_TIME: lambda e: e.start_time,
        ExperimentSortBy.END_TIME: lambda e: e.end_time,
        ExperimentSortBy.STATE: lambda e: e.state.value,
        ExperimentSortBy.NUM_TRIALS: lambda e: e.num_trials,
        ExperimentSortBy.PROGRESS: lambda e: e.progress or 0.0,
        ExperimentSortBy.USER: lambda e: e.display_name,
        ExperimentSortBy.NAME: lambda e: e.name,
        ExperimentSortBy.FORKED_FROM: lambda e: e.parent_id,
        ExperimentSortBy.RESOURCE_POOL: lambda e: e.resource_pool,
        ExperimentSortBy.PROJECT_ID: lambda e: e.project_id,
        ExperimentSortBy.CHECKPOINT_SIZE: lambda e: e.checkpoint_size,
        ExperimentSortBy.CHECKPOINT_COUNT: lambda e: e.checkpoint_count,
        ExperimentSortBy.SEARCHER_METRIC_VAL: lambda e: e.best_searcher_metric,
    }[sort_by]


def oracle_order(exps: list[Experiment], sort_by: ExperimentSortBy, descending: bool) -> list[int]:
    """NULLs last in both directions; ties broken by id in the sort's direction."""
    key = _sort_key(sort_by)
    present = sorted((e for e in exps if key(e) is not None), key=lambda e: (key(e), e.id), reverse=descending)
    missing = sorted((e for e in exps if key(e) is None), key=lambda e: e.id, reverse=descending)
    return [e.id for e in present + missing]


@pytest.mark.parametrize("order_by", list(OrderBy))
@pytest.mark.parametrize("sort_by", list(ExperimentSortBy))
async def test_list_sorts(seeded: Seeded, sort_by: ExperimentSortBy, order_by: OrderBy) -> None:
    page = await seeded.store.list_experiments(ExperimentQuery(sort_by=sort_by, order_by=order_by, limit=-1))
    expected = oracle_order(seeded.experiments, sort_by, order_by == OrderBy.DESC)
    assert [e.id for e in page.experiments] == expected


async def test_sort_keys_have_ties(seeded: Seeded) -> None:
    # Every non-unique sort key must actually tie somewhere, or the tie-break is untested.
    for sort_by in ExperimentSortBy:
        if sort_by in (ExperimentSortBy.UNSPECIFIED, ExperimentSortBy.ID):
            continue
        keys = [_sort_key(sort_by)(e) for e in seeded.experiments]
        assert len(set(keys)) < len(keys), sort_by


# ------------------------------------------------------------------------------------------------
# Listing: pagination

# (offset, limit) -> slice of the full ordered id list, as (start, stop) with None for "to the end"
PAGES = [
    pytest.param(0, 0, (0, 40), id="limit-0-default-page"),
    pytest.param(0, 5, (0, 5), id="first-page"),
    pytest.param(35, 10, (35, 40), id="last-partial-page"),
    pytest.param(40, 10, (40, 40), id="offset-equals-total"),
    pytest.param(41, 10, (40, 40), id="offset-past-end-empty"),
    pytest.param(-5, 2, (35, 37), id="negative-offset"),
    pytest.param(-41, 2, (40, 40), id="negative-offset-past-start"),
    pytest.param(10, -1, (10, 40), id="limit-minus-1-all"),
    pytest.param(10, -2, (10, 10), id="limit-minus-2-counts-only"),
]


@pytest.mark.parametrize(("offset", "limit", "window"), PAGES)
async def test_list_pagination(seeded: Seeded, offset: int, limit: int, window: tuple[int, int]) -> None:
    order = oracle_order(seeded.experiments, ExperimentSortBy.NAME, True)
    page = await seeded.store.list_experiments(
        ExperimentQuery(sort_by=ExperimentSortBy.NAME, order_by=OrderBy.DESC, offset=offset, limit=limit)
    )
    assert [e.id for e in page.experiments] == order[window[0] : window[1]]
    p = page.pagination
    assert (p.offset, p.limit, p.start_index, p.end_index, p.total) == (offset, limit, *window, 40)


async def test_list_pages_cover_everything_once(seeded: Seeded) -> None:
    # The SDK's loop: ask from end_index until it reaches total.
    seen: list[int] = []
    offset = 0
    while True:
        page = await seeded.store.list_experiments(
            ExperimentQuery(sort_by=ExperimentSortBy.START_TIME, offset=offset, limit=7)
        )
        seen += [e.id for e in page.experiments]
        offset = page.pagination.end_index
        if offset >= page.pagination.total:
            break
    assert seen == oracle_order(seeded.experiments, ExperimentSortBy.START_TIME, False)


@pytest.mark.parametrize("limit", [-3, -1000])
async def test_list_rejects_limit_below_minus_2(seeded: Seeded, limit: int) -> None:
    with pytest.raises(InvalidArgument):
        await seeded.store.list_experiments(ExperimentQuery(limit=limit))


async def test_listed_rows_match_get(seeded: Seeded) -> None:
    page = await seeded.store.list_experiments(ExperimentQuery(limit=-1))
    assert page.experiments == seeded.experiments
    for e in seeded.experiments[:5]:
        assert await seeded.store.get_experiment(e.id) == e


LABEL_PROJECTS = [pytest.param(None, id="all-projects"), pytest.param("Research", id="one-project")]


@pytest.mark.parametrize("project", LABEL_PROJECTS)
async def test_label_usage(seeded: Seeded, project: str | None) -> None:
    project_id = seeded.projects[project] if project else 0
    counts: dict[str, int] = {}
    for e in seeded.experiments:
        if not project_id or e.project_id == project_id:
            for label in e.labels:
                counts[label] = counts.get(label, 0) + 1
    expected = [LabelUsage(k, v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    assert await seeded.store.label_usage(project_id) == expected


# ------------------------------------------------------------------------------------------------
# Users

USER_LIST = [
    pytest.param(UserQuery(), ["admin", "determined", "alice", "bob", "carol"], id="default-by-id"),
    pytest.param(UserQuery(name="AL"), ["alice"], id="name-matches-username-ci"),
    pytest.param(UserQuery(name="amy"), ["carol"], id="name-matches-display-name"),
    pytest.param(UserQuery(name="%"), [], id="name-percent-literal"),
    pytest.param(UserQuery(active=False), ["carol"], id="inactive"),
    pytest.param(UserQuery(admin=True), ["admin"], id="admin"),
    pytest.param(UserQuery(admin=False, active=True), ["determined", "alice", "bob"], id="non-admin-active"),
    pytest.param(
        UserQuery(sort_by=UserSortBy.USER_NAME, order_by=OrderBy.DESC),
        ["determined", "carol", "bob", "alice", "admin"],
        id="username-desc",
    ),
    pytest.param(
        UserQuery(sort_by=UserSortBy.DISPLAY_NAME),
        ["alice", "carol", "admin", "determined", "bob"],
        id="display-name-asc-nulls-last",
    ),
    pytest.param(
        UserQuery(sort_by=UserSortBy.DISPLAY_NAME, order_by=OrderBy.DESC),
        ["admin", "determined", "bob", "carol", "alice"],
        id="display-name-desc-nulls-first",
    ),
    pytest.param(
        UserQuery(sort_by=UserSortBy.NAME), ["alice", "admin", "carol", "bob", "determined"], id="name-coalesced"
    ),
    pytest.param(
        UserQuery(sort_by=UserSortBy.ADMIN, order_by=OrderBy.DESC),
        ["admin", "determined", "alice", "bob", "carol"],
        id="admin-desc-ties-by-id-asc",
    ),
    pytest.param(
        UserQuery(sort_by=UserSortBy.ACTIVE), ["carol", "admin", "determined", "alice", "bob"], id="active-asc"
    ),
    pytest.param(UserQuery(offset=1, limit=2), ["determined", "alice"], id="page"),
    pytest.param(UserQuery(offset=-2), ["bob", "carol"], id="negative-offset"),
    pytest.param(UserQuery(offset=5), [], id="offset-at-end"),
]


@pytest.mark.parametrize(("query", "expected"), USER_LIST)
async def test_list_users(seeded: Seeded, query: UserQuery, expected: list[str]) -> None:
    page = await seeded.store.list_users(query)
    assert [u.username for u in page.users] == expected


@pytest.mark.parametrize(("offset", "limit"), [(6, 0), (-6, 0), (0, -1)])
async def test_list_users_rejects_bad_windows(seeded: Seeded, offset: int, limit: int) -> None:
    with pytest.raises(InvalidArgument):
        await seeded.store.list_users(UserQuery(offset=offset, limit=limit))


NEW_USERS = [
    pytest.param(NewUser(username="plain"), id="defaults"),
    pytest.param(
        NewUser(
            username="full",
            display_name="Full Name",
            admin=True,
            active=False,
            remote=True,
            password_hash="$argon2id$x",
            agent_user_group=AgentUserGroup(uid=1000, gid=1001, user="u", group="g"),
        ),
        id="every-field",
    ),
    pytest.param(NewUser(username="half", agent_user_group=AgentUserGroup(uid=5)), id="partial-agent-group"),
    pytest.param(NewUser(username="ünï", display_name="日本"), id="unicode"),
]


@pytest.mark.parametrize("new", NEW_USERS)
async def test_create_and_get_user(scratch: Store, new: NewUser) -> None:
    new = replace(new, username=uniq(new.username))
    user = await scratch.create_user(new)
    assert (user.username, user.display_name, user.admin, user.active, user.remote, user.password_hash) == (
        new.username,
        new.display_name,
        new.admin,
        new.active,
        new.remote,
        new.password_hash,
    )
    assert user.agent_user_group == new.agent_user_group
    assert user.modified_at == T0
    assert user.last_auth_at is None
    assert await scratch.get_user(user.id) == user
    assert await scratch.get_user_by_username(new.username) == user


USER_ERRORS = [
    pytest.param(NewUser(username="admin"), AlreadyExists, id="duplicate"),
    pytest.param(NewUser(username=""), InvalidArgument, id="empty"),
    pytest.param(NewUser(username=" padded "), InvalidArgument, id="whitespace"),
]


@pytest.mark.parametrize(("new", "error"), USER_ERRORS)
async def test_create_user_errors(scratch: Store, new: NewUser, error: type[Exception]) -> None:
    with pytest.raises(error):
        await scratch.create_user(new)


@pytest.mark.parametrize("lookup", ["id", "username"])
async def test_unknown_user(scratch: Store, lookup: str) -> None:
    call = scratch.get_user(999_999) if lookup == "id" else scratch.get_user_by_username("no-such-user")
    with pytest.raises(NotFound):
        await call


USER_PATCHES = [
    pytest.param(UserPatch(display_name="New"), {"display_name": "New"}, id="display-name"),
    pytest.param(UserPatch(clear_display_name=True), {"display_name": None}, id="clear-display-name"),
    pytest.param(UserPatch(admin=True, active=False), {"admin": True, "active": False}, id="flags"),
    pytest.param(UserPatch(remote=True), {"remote": True}, id="remote"),
    pytest.param(
        UserPatch(agent_user_group=AgentUserGroup(uid=1, gid=2)),
        {"agent_user_group": AgentUserGroup(uid=1, gid=2)},
        id="agent-group",
    ),
    pytest.param(UserPatch(clear_agent_user_group=True), {"agent_user_group": None}, id="clear-agent-group"),
    pytest.param(UserPatch(), {}, id="nothing"),
]


@pytest.mark.parametrize(("patch", "changes"), USER_PATCHES)
async def test_update_user(scratch: Store, patch: UserPatch, changes: dict[str, Any]) -> None:
    before = await scratch.create_user(
        NewUser(username=uniq("patch"), display_name="Old", agent_user_group=AgentUserGroup(user="x"))
    )
    _clock(scratch).now = T0 + timedelta(minutes=1)
    try:
        after = await scratch.update_user(before.id, patch)
    finally:
        _clock(scratch).now = T0
    assert after == replace(before, modified_at=T0 + timedelta(minutes=1), **changes)


async def test_rename_user(scratch: Store) -> None:
    user = await scratch.create_user(NewUser(username=uniq("rename")))
    new_name = uniq("renamed")
    assert (await scratch.update_user(user.id, UserPatch(username=new_name))).username == new_name
    with pytest.raises(AlreadyExists):
        await scratch.update_user(user.id, UserPatch(username="admin"))
    with pytest.raises(NotFound):
        await scratch.update_user(999_999, UserPatch(admin=True))


@pytest.mark.parametrize("password_hash", ["$argon2id$v=19$abc", None])
async def test_password_hash_and_last_auth(scratch: Store, password_hash: str | None) -> None:
    user = await scratch.create_user(NewUser(username=uniq("pw"), password_hash="old"))
    assert (await scratch.set_password_hash(user.id, password_hash)).password_hash == password_hash
    when = datetime(2030, 1, 1, 8, 0, tzinfo=timezone(timedelta(hours=2)))
    await scratch.touch_last_auth(user.id, when)
    got = await scratch.get_user(user.id)
    assert got.last_auth_at == when
    assert got.modified_at == user.modified_at
    with pytest.raises(NotFound):
        await scratch.touch_last_auth(999_999)


async def test_concurrent_writers_all_succeed(scratch: Store) -> None:
    # SQLite writers queue on BEGIN IMMEDIATE + busy_timeout instead of failing with "locked".
    names = [uniq("conc") for _ in range(20)]
    users = await asyncio.gather(*(scratch.create_user(NewUser(username=n)) for n in names))
    assert sorted(u.username for u in users) == sorted(names)


# ------------------------------------------------------------------------------------------------
# Sessions


async def test_session_lifecycle(scratch: Store) -> None:
    user = await scratch.create_user(NewUser(username=uniq("sess")))
    token = uniq("hash")
    session = await scratch.create_session(user.id, token, T0 + timedelta(days=7))
    assert (session.user_id, session.token_hash, session.created_at, session.expiry, session.revoked_at) == (
        user.id,
        token,
        T0,
        T0 + timedelta(days=7),
        None,
    )
    assert await scratch.get_session(token) == (session, user)
    assert await scratch.get_session_by_id(session.id) == (session, user)
    await scratch.revoke_session(session.id)
    revoked, _ = await scratch.get_session(token)
    assert revoked.revoked_at == T0
    await scratch.delete_session(session.id)
    with pytest.raises(NotFound):
        await scratch.get_session(token)
    with pytest.raises(NotFound):
        await scratch.delete_session(session.id)
    with pytest.raises(NotFound):
        await scratch.revoke_session(session.id)


SESSION_ERRORS = [
    pytest.param("dup", AlreadyExists, id="duplicate-token-hash"),
    pytest.param("nouser", NotFound, id="unknown-user"),
]


@pytest.mark.parametrize(("case", "error"), SESSION_ERRORS)
async def test_create_session_errors(scratch: Store, case: str, error: type[Exception]) -> None:
    user = await scratch.create_user(NewUser(username=uniq("se")))
    token = uniq("tok")
    await scratch.create_session(user.id, token, T0)
    call = scratch.create_session(user.id if case == "dup" else 999_999, token if case == "dup" else uniq("tok"), T0)
    with pytest.raises(error):
        await call


async def test_purge_expired_sessions(scratch: Store) -> None:
    user = await scratch.create_user(NewUser(username=uniq("purge")))
    far = T0 + timedelta(days=3650)
    old = [await scratch.create_session(user.id, uniq("old"), far + timedelta(hours=h)) for h in (1, 2)]
    fresh = await scratch.create_session(user.id, uniq("new"), far + timedelta(days=1))
    assert await scratch.purge_expired_sessions(far + timedelta(hours=2)) >= 2
    for s in old:
        with pytest.raises(NotFound):
            await scratch.get_session_by_id(s.id)
    assert (await scratch.get_session_by_id(fresh.id))[0] == fresh


# ------------------------------------------------------------------------------------------------
# Experiments: create, update, state, archive, delete, labels


async def _experiment(store: Store, **kwargs: Any) -> Experiment:
    fields: dict[str, Any] = {"owner_id": 1, "name": uniq("exp")} | kwargs
    return await store.create_experiment(NewExperiment(**fields))


async def test_create_experiment_round_trip(scratch: Store) -> None:
    parent = await _experiment(scratch)
    files = [ModelFile("b/model.py", b"\x00\x01binary", type=1, mtime=1_700_000_000_123, mode=0o644, uid=1, gid=2)]
    files.append(ModelFile("a.yaml", b"name: x\n"))
    new = NewExperiment(
        owner_id=2,
        name="round trip",
        description="d",
        config={"searcher": {"name": "grid", "metric": "loss"}, "nested": [1, 2.5, None, "s"]},
        original_config="searcher:\n  name: grid\n",
        hyperparameters={"lr": {"type": "const", "val": 0.1}},
        searcher_type="grid",
        searcher_metric="loss",
        resource_pool="gpu",
        num_trials=3,
        progress=0.25,
        parent_id=parent.id,
        notes="n",
        labels=["b", "a", "b"],
        checkpoint_size=1 << 40,
        checkpoint_count=2,
        best_searcher_metric=0.125,
        job_id="job-1",
        model_definition=files,
    )
    e = await scratch.create_experiment(new)
    assert (e.user_id, e.username, e.display_name, e.project_name, e.workspace_name) == (
        2,
        "determined",
        "determined",
        "Uncategorized",
        "Uncategorized",
    )
    assert (e.state, e.start_time, e.end_time, e.parent_id, e.labels) == (S.PAUSED, T0, None, parent.id, ["a", "b"])
    assert (e.config, e.hyperparameters, e.original_config) == (new.config, new.hyperparameters, new.original_config)
    assert (e.checkpoint_size, e.best_searcher_metric, e.job_id, e.model_definition_size) == (
        1 << 40,
        0.125,
        "job-1",
        len(files[0].content) + len(files[1].content),
    )
    assert await scratch.get_model_definition(e.id) == sorted(files, key=lambda f: f.path)
    generated = await _experiment(scratch)
    assert len(generated.job_id) == 36


CREATE_ERRORS = [
    pytest.param({"owner_id": 999_999}, NotFound, "user", id="unknown-owner"),
    pytest.param({"project_id": 999_999}, NotFound, "project", id="unknown-project"),
    pytest.param({"parent_id": 999_999}, NotFound, "999999", id="unknown-parent"),
    pytest.param({"name": "  "}, InvalidArgument, "name", id="blank-name"),
    pytest.param({"labels": ["ok", ""]}, InvalidArgument, "label", id="empty-label"),
    pytest.param(
        {"model_definition": [ModelFile("x", b""), ModelFile("x", b"1")]}, InvalidArgument, "duplicate", id="dup-path"
    ),
]


@pytest.mark.parametrize(("fields", "error", "message"), CREATE_ERRORS)
async def test_create_experiment_errors(
    scratch: Store, fields: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        await _experiment(scratch, **fields)


EXPERIMENT_PATCHES = [
    pytest.param(ExperimentPatch(name="renamed"), {"name": "renamed"}, id="name"),
    pytest.param(ExperimentPatch(description="", notes="hi"), {"description": "", "notes": "hi"}, id="desc-notes"),
    pytest.param(ExperimentPatch(labels=["z", "y", "z"]), {"labels": ["y", "z"]}, id="labels-replaced-deduped"),
    pytest.param(ExperimentPatch(labels=[]), {"labels": []}, id="labels-cleared"),
    pytest.param(
        ExperimentPatch(progress=0.9, num_trials=4, checkpoint_size=7, checkpoint_count=1, best_searcher_metric=0.5),
        {"progress": 0.9, "num_trials": 4, "checkpoint_size": 7, "checkpoint_count": 1, "best_searcher_metric": 0.5},
        id="counters",
    ),
    pytest.param(ExperimentPatch(), {}, id="nothing"),
]


@pytest.mark.parametrize(("patch", "changes"), EXPERIMENT_PATCHES)
async def test_update_experiment(scratch: Store, patch: ExperimentPatch, changes: dict[str, Any]) -> None:
    before = await _experiment(scratch, description="old", notes="n", labels=["a"])
    after = await scratch.update_experiment(before.id, patch)
    assert after == replace(before, **changes)


@pytest.mark.parametrize(
    ("experiment_id", "patch", "error"),
    [
        pytest.param(None, ExperimentPatch(name=" "), InvalidArgument, id="blank-name"),
        pytest.param(999_999, ExperimentPatch(notes="x"), NotFound, id="unknown"),
    ],
)
async def test_update_experiment_errors(
    scratch: Store, experiment_id: int | None, patch: ExperimentPatch, error: type[Exception]
) -> None:
    target = experiment_id or (await _experiment(scratch)).id
    with pytest.raises(error):
        await scratch.update_experiment(target, patch)


LATER = T0 + timedelta(hours=3)
# (initial state, archived, target, allowed_from, unarchived_only) -> resulting state, or the error
TRANSITION_CASES = [
    pytest.param(S.ACTIVE, False, S.PAUSED, None, False, S.PAUSED, id="active-to-paused"),
    pytest.param(S.PAUSED, False, S.PAUSED, None, False, S.PAUSED, id="same-state-noop"),
    pytest.param(S.ACTIVE, False, S.STOPPING_CANCELED, None, False, S.STOPPING_CANCELED, id="to-stopping"),
    pytest.param(S.STOPPING_COMPLETED, False, S.COMPLETED, None, False, S.COMPLETED, id="to-terminal-sets-end"),
    pytest.param(S.COMPLETED, False, S.ACTIVE, None, False, Conflict, id="illegal-terminal-to-active"),
    pytest.param(S.COMPLETED, False, S.DELETING, None, False, S.DELETING, id="terminal-to-deleting"),
    pytest.param(S.ACTIVE, False, S.COMPLETED, None, False, Conflict, id="illegal-skip-stopping"),
    pytest.param(S.ERROR, False, S.PAUSED, [S.ERROR], False, S.PAUSED, id="explicit-allowed-from"),
    pytest.param(S.ACTIVE, False, S.PAUSED, [S.PAUSED], False, Conflict, id="explicit-allowed-from-refuses"),
    pytest.param(S.ACTIVE, True, S.PAUSED, None, True, NotFound, id="archived-not-editable"),
    pytest.param(S.ACTIVE, True, S.PAUSED, None, False, S.PAUSED, id="archived-allowed-when-not-required"),
]


@pytest.mark.parametrize(("initial", "archived", "target", "allowed", "unarchived_only", "outcome"), TRANSITION_CASES)
async def test_set_experiment_state(
    scratch: Store,
    initial: ExperimentState,
    archived: bool,
    target: ExperimentState,
    allowed: list[ExperimentState] | None,
    unarchived_only: bool,
    outcome: ExperimentState | type[Exception],
) -> None:
    e = await _experiment(scratch, state=initial, archived=archived)
    _clock(scratch).now = LATER
    try:
        if isinstance(outcome, ExperimentState):
            got = await scratch.set_experiment_state(
                e.id, target, allowed_from=allowed, unarchived_only=unarchived_only
            )
            assert got.state is outcome
            assert got.end_time == (LATER if outcome.terminal else None)
        else:
            with pytest.raises(outcome) as info:
                await scratch.set_experiment_state(e.id, target, allowed_from=allowed, unarchived_only=unarchived_only)
            if isinstance(info.value, Conflict):
                assert info.value.current_state == initial.value
            assert (await scratch.get_experiment(e.id)).state is initial
    finally:
        _clock(scratch).now = T0


async def test_set_state_unknown_experiment(scratch: Store) -> None:
    with pytest.raises(NotFound, match="999999"):
        await scratch.set_experiment_state(999_999, S.PAUSED)


# (state, archived now, archive?) -> None on success or the Conflict message
ARCHIVE_CASES = [
    pytest.param(S.COMPLETED, False, True, None, id="archive-terminal"),
    pytest.param(S.CANCELED, True, False, None, id="unarchive-terminal"),
    pytest.param(S.ERROR, True, True, "Experiment is already archived.", id="already-archived"),
    pytest.param(S.COMPLETED, False, False, "Experiment is not archived.", id="not-archived"),
    pytest.param(S.ACTIVE, False, True, "Experiment is not in terminal state.", id="archive-running"),
    pytest.param(S.PAUSED, True, False, "Experiment is not in terminal state.", id="unarchive-running"),
]


@pytest.mark.parametrize(("state", "archived", "archive", "message"), ARCHIVE_CASES)
async def test_set_archived(
    scratch: Store, state: ExperimentState, archived: bool, archive: bool, message: str | None
) -> None:
    e = await _experiment(scratch, state=state, archived=archived)
    if message is None:
        assert (await scratch.set_archived(e.id, archive)).archived is archive
    else:
        with pytest.raises(Conflict, match=message.replace(".", r"\.")):
            await scratch.set_archived(e.id, archive)
        assert (await scratch.get_experiment(e.id)).archived is archived


async def test_set_archived_unknown(scratch: Store) -> None:
    with pytest.raises(NotFound):
        await scratch.set_archived(999_999, True)


async def _count(store: Store, table: sa.Table, experiment_id: int) -> int:
    async with store.engine.connect() as conn:
        stmt = sa.select(sa.func.count()).select_from(table).where(table.c.experiment_id == experiment_id)
        return int((await conn.execute(stmt)).scalar_one())


async def test_delete_cascades(scratch: Store) -> None:
    parent = await _experiment(scratch, labels=["a", "b"], model_definition=[ModelFile("m.py", b"x")])
    child = await _experiment(scratch, parent_id=parent.id)
    assert await _count(scratch, t.experiment_labels, parent.id) == 2
    await scratch.delete_experiment(parent.id)
    assert await _count(scratch, t.experiment_labels, parent.id) == 0
    assert await _count(scratch, t.model_definition_files, parent.id) == 0
    assert await _count(scratch, t.experiment_configs, parent.id) == 0
    assert (await scratch.get_experiment(child.id)).parent_id is None
    for call in (scratch.get_experiment, scratch.delete_experiment, scratch.get_model_definition):
        with pytest.raises(NotFound):
            await call(parent.id)


LABEL_OPS = [
    pytest.param(["a"], [("add", "b")], ["a", "b"], id="add"),
    pytest.param(["a"], [("add", "a")], ["a"], id="add-existing-noop"),
    pytest.param(["a", "b"], [("remove", "a")], ["b"], id="remove"),
    pytest.param(["a"], [("remove", "zz")], ["a"], id="remove-missing-noop"),
    pytest.param([], [("add", "c"), ("add", "a"), ("remove", "c")], ["a"], id="sequence"),
]


@pytest.mark.parametrize(("initial", "ops", "expected"), LABEL_OPS)
async def test_labels(scratch: Store, initial: list[str], ops: list[tuple[str, str]], expected: list[str]) -> None:
    e = await _experiment(scratch, labels=initial)
    result: list[str] = initial
    for op, label in ops:
        result = await (scratch.add_label if op == "add" else scratch.remove_label)(e.id, label)
    assert result == expected
    assert (await scratch.get_experiment(e.id)).labels == expected


@pytest.mark.parametrize("op", ["add", "remove"])
async def test_label_on_unknown_experiment(scratch: Store, op: str) -> None:
    with pytest.raises(NotFound):
        await (scratch.add_label if op == "add" else scratch.remove_label)(999_999, "x")


async def test_move_experiment(scratch: Store) -> None:
    ws = await scratch.create_workspace(uniq("ws"), 1)
    project = await scratch.create_project(uniq("proj"), ws.id, 1)
    e = await _experiment(scratch)
    moved = await scratch.move_experiment(e.id, project.id)
    assert (moved.project_id, moved.project_name, moved.workspace_id) == (project.id, project.name, ws.id)
    with pytest.raises(NotFound):
        await scratch.move_experiment(e.id, 999_999)


PROJECT_ERRORS = [
    pytest.param("workspace", {"name": "Uncategorized"}, AlreadyExists, id="dup-workspace"),
    pytest.param("workspace", {"name": " "}, InvalidArgument, id="blank-workspace"),
    pytest.param("project", {"name": "Uncategorized", "workspace_id": 1}, AlreadyExists, id="dup-project"),
    pytest.param("project", {"name": "p", "workspace_id": 999_999}, NotFound, id="unknown-workspace"),
]


@pytest.mark.parametrize(("kind", "fields", "error"), PROJECT_ERRORS)
async def test_project_errors(scratch: Store, kind: str, fields: dict[str, Any], error: type[Exception]) -> None:
    call = (
        scratch.create_workspace(fields["name"], 1)
        if kind == "workspace"
        else scratch.create_project(fields["name"], fields["workspace_id"], 1)
    )
    with pytest.raises(error):
        await call


@pytest.mark.parametrize(
    ("count_", "batch"), [pytest.param(0, 10, id="empty"), pytest.param(25, 10, id="several-batches")]
)
async def test_insert_experiments_bulk(scratch: Store, count_: int, batch: int) -> None:
    items = [NewExperiment(owner_id=1, name=f"bulk-{i}", labels=[f"l{i % 3}"]) for i in range(count_)]
    ids = await scratch.insert_experiments(items, batch_size=batch)
    assert len(ids) == count_
    got = [await scratch.get_experiment(i) for i in ids]
    assert [(e.name, e.labels) for e in got] == [(n.name, list(n.labels)) for n in items]


async def test_insert_experiments_bulk_rejects_bad_reference(scratch: Store) -> None:
    with pytest.raises(InvalidArgument):
        await scratch.insert_experiments([NewExperiment(owner_id=999_999, name="x")])


@pytest.mark.parametrize("how", ["single", "bulk"])
async def test_deleted_ids_are_never_reused(scratch: Store, how: str) -> None:
    # Delete the newest experiment: its id must not come back (SQLite would reuse it without
    # AUTOINCREMENT; a PostgreSQL sequence never does).
    newest = await _experiment(scratch)
    await scratch.delete_experiment(newest.id)
    if how == "single":
        next_id = (await _experiment(scratch)).id
    else:
        (next_id,) = await scratch.insert_experiments([NewExperiment(owner_id=1, name="after-delete")])
    assert next_id > newest.id


CACHED_SHAPES = [
    pytest.param(ExperimentQuery(name="mnist"), ExperimentQuery(name="cifar"), id="name"),
    pytest.param(ExperimentQuery(description="a"), ExperimentQuery(description="b_c"), id="description"),
    pytest.param(ExperimentQuery(labels=["gpu"]), ExperimentQuery(labels=["cv"]), id="labels"),
    pytest.param(
        ExperimentQuery(sort_by=ExperimentSortBy.USER), ExperimentQuery(sort_by=ExperimentSortBy.USER), id="user"
    ),
]


@pytest.mark.parametrize(("first", "second"), CACHED_SHAPES)
async def test_listing_statements_are_cached(seeded: Seeded, first: ExperimentQuery, second: ExperimentQuery) -> None:
    # Custom SQL constructs must take part in SQLAlchemy's statement cache, or every listing
    # recompiles its SQL. The same shape with other values must hit the cache and still
    # return the rows for its own values.
    hits = []
    for query in (first, second):
        _, page = Store.experiment_statements(query)
        async with seeded.store.engine.connect() as conn:
            result = await conn.execute(page(0, None, True))
            rows = result.all()
            hits.append(result.context.cache_hit)
        expected = (await seeded.store.list_experiments(replace(query, limit=-1))).experiments
        assert [r[0] for r in rows] == [e.id for e in expected]
    assert hits[1] == CacheStats.CACHE_HIT


NUL = "bad\x00value"
# (operation on the store, expected error): NUL characters are refused alike on both databases
# (PostgreSQL cannot store them; SQLite could, which would make the backends disagree).
NUL_CASES: list[Any] = [
    pytest.param(lambda s: s.create_user(NewUser(username=NUL)), InvalidArgument, id="create-user"),
    pytest.param(lambda s: s.create_user(NewUser(username="x", display_name=NUL)), InvalidArgument, id="display"),
    pytest.param(lambda s: s.update_user(1, UserPatch(display_name=NUL)), InvalidArgument, id="update-user"),
    pytest.param(lambda s: s.get_user_by_username(NUL), NotFound, id="lookup-user"),
    pytest.param(lambda s: s.get_session(NUL), NotFound, id="lookup-session"),
    pytest.param(lambda s: s.create_session(1, NUL, T0), InvalidArgument, id="create-session"),
    pytest.param(lambda s: s.list_users(UserQuery(name=NUL)), InvalidArgument, id="users-filter"),
    pytest.param(lambda s: s.list_experiments(ExperimentQuery(name=NUL)), InvalidArgument, id="name-filter"),
    pytest.param(lambda s: s.list_experiments(ExperimentQuery(labels=[NUL])), InvalidArgument, id="label-filter"),
    pytest.param(lambda s: s.list_experiments(ExperimentQuery(usernames=[NUL])), InvalidArgument, id="user-filter"),
    pytest.param(lambda s: _experiment(s, name=NUL), InvalidArgument, id="experiment-name"),
    pytest.param(lambda s: _experiment(s, notes=NUL), InvalidArgument, id="experiment-notes"),
    pytest.param(lambda s: _experiment(s, labels=[NUL]), InvalidArgument, id="experiment-label"),
    pytest.param(lambda s: _experiment(s, config={"k": [NUL]}), InvalidArgument, id="config-json"),
    pytest.param(lambda s: _experiment(s, hyperparameters={NUL: 1}), InvalidArgument, id="hparams-json-key"),
    pytest.param(
        lambda s: _experiment(s, model_definition=[ModelFile("ok", b""), ModelFile(NUL, b"")]),
        InvalidArgument,
        id="file-path",
    ),
    pytest.param(
        lambda s: s.insert_experiments([NewExperiment(owner_id=1, name=NUL)]), InvalidArgument, id="bulk-insert"
    ),
    pytest.param(lambda s: s.create_workspace(NUL, 1), InvalidArgument, id="workspace"),
]


@pytest.mark.parametrize(("call", "error"), NUL_CASES)
async def test_nul_characters_are_refused(scratch: Store, call: Callable[[Store], Any], error: type[Exception]) -> None:
    with pytest.raises(error, match=r"NUL|not found"):
        await call(scratch)


async def test_patching_with_nul_changes_nothing(scratch: Store) -> None:
    e = await _experiment(scratch, labels=["keep"])
    for patch in (ExperimentPatch(description=NUL), ExperimentPatch(labels=["ok", NUL])):
        with pytest.raises(InvalidArgument):
            await scratch.update_experiment(e.id, patch)
    for call in (scratch.add_label, scratch.remove_label):
        with pytest.raises(InvalidArgument):
            await call(e.id, NUL)
    assert await scratch.get_experiment(e.id) == e


OUT_OF_RANGE = [
    pytest.param(ExperimentQuery(user_ids=[2**31]), id="user-ids"),
    pytest.param(ExperimentQuery(id_filter=IdFilter(gt=-(2**31) - 1)), id="id-filter-bound"),
    pytest.param(ExperimentQuery(id_filter=IdFilter(incl=[1, 2**70])), id="id-filter-incl"),
    pytest.param(ExperimentQuery(offset=2**40), id="offset"),
]


@pytest.mark.parametrize("query", OUT_OF_RANGE)
async def test_out_of_range_filters_are_invalid(scratch: Store, query: ExperimentQuery) -> None:
    with pytest.raises(InvalidArgument, match="out of range"):
        await scratch.list_experiments(query)


COUNTERS_OUT_OF_RANGE = [
    pytest.param("num_trials", 2**31, id="num-trials"),
    pytest.param("checkpoint_count", -(2**31) - 1, id="checkpoint-count"),
    pytest.param("checkpoint_size", 2**63, id="checkpoint-size-int64"),
]


@pytest.mark.parametrize(("field", "value"), COUNTERS_OUT_OF_RANGE)
async def test_out_of_range_counters_are_invalid(scratch: Store, field: str, value: int) -> None:
    e = await _experiment(scratch)
    fields: dict[str, Any] = {field: value}
    with pytest.raises(InvalidArgument, match="out of range"):
        await scratch.update_experiment(e.id, ExperimentPatch(**fields))
    with pytest.raises(InvalidArgument, match="out of range"):
        await _experiment(scratch, **{field: value})
    assert await scratch.get_experiment(e.id) == e


async def test_database_value_errors_become_invalid_argument(scratch: Store) -> None:
    # Past the store's own checks, a value the database cannot take (PostgreSQL: beyond int32 for
    # an integer column; SQLite: beyond 64 bits) is still a caller error, never an internal one.
    with pytest.raises(InvalidArgument, match="rejected by the database"):
        await scratch.get_experiment(2**70)


BAD_JSON = [
    pytest.param({"config": {1: "int key"}}, id="non-string-key"),
    pytest.param({"hyperparameters": {"x": object()}}, id="unserializable-value"),
]


@pytest.mark.parametrize("fields", BAD_JSON)
async def test_unserializable_documents_are_invalid(scratch: Store, fields: dict[str, Any]) -> None:
    with pytest.raises(InvalidArgument, match="not valid JSON"):
        await _experiment(scratch, **fields)
