"""Every DeterminedClient method over both transports against a real ``protogw serve``, with one table
of expected results shared by the two."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from protogw.clients import errors
from protogw.clients.determined import DeterminedClient, IdFilter, salt_and_hash
from protogw.gen.determined.experiment.v1 import experiment_pb2 as experimentv1_pb2
from protogw.gen.determined.util.v1 import util_pb2

Read = Callable[[DeterminedClient], Awaitable[Any]]


async def _ids(client: DeterminedClient, **filters: Any) -> list[int]:
    return [e.id for e in (await client.experiments(**filters)).experiments]


async def _walk(client: DeterminedClient, **filters: Any) -> list[int]:
    return [e.id async for e in client.iter_experiments(**filters)]


async def _pagination(client: DeterminedClient, **filters: Any) -> tuple[int, ...]:
    p = (await client.experiments(**filters)).pagination
    return (p.offset, p.limit, p.start_index, p.end_index, p.total)


async def _log_count(client: DeterminedClient, **kwargs: Any) -> int:
    return len([entry.message async for entry in client.master_logs(**kwargs)])


# The walk-through set: 1 mnist-baseline (determined, COMPLETED, archived), 2 mnist-cnn (determined,
# COMPLETED), 3 mnist-lr-sweep (determined, ACTIVE), 4 cifar10-resnet (admin, PAUSED), 5 cifar10-augment
# (admin, CANCELED), 6 imagenet-vit (admin, ERROR). Read-only cases only look at ids 1-6.
READS: list[tuple[str, Read, Any]] = [
    ("archived only", lambda c: _ids(c, archived=True, id_greater_than=0), [1]),
    ("first archived page", lambda c: _pagination(c, archived=True, limit=1), (0, 1, 0, 1, 1)),
    ("by full state name", lambda c: _ids(c, states=["STATE_COMPLETED"]), [1, 2]),
    ("by short state names", lambda c: _ids(c, states=["canceled", "ERROR"]), [5, 6]),
    ("by label", lambda c: _ids(c, labels=["mnist"]), [1, 2, 3]),
    ("all labels must match", lambda c: _ids(c, labels=["mnist", "sweep"]), [3]),
    (
        "by owner",
        lambda c: _ids(c, users=["admin"], id_greater_than=0, states=["PAUSED", "CANCELED", "ERROR"]),
        [4, 5, 6],
    ),
    ("by name substring", lambda c: _ids(c, name="cifar10"), [4, 5]),
    ("id filter", lambda c: _ids(c, id_greater_than=4, states=["CANCELED", "ERROR"]), [5, 6]),
    ("page two of two-row pages", lambda c: _ids(c, offset=2, limit=2, labels=["mnist"]), [3]),
    ("walk pages of two", lambda c: _walk(c, page_size=2, labels=["mnist"]), [1, 2, 3]),
    ("walk pages of one, unarchived", lambda c: _walk(c, page_size=1, archived=False, labels=["cifar10"]), [4, 5]),
    ("one experiment", lambda c: _name(c, 2), "mnist-cnn"),
    ("its config", lambda c: _config_name(c, 4), "cifar10-resnet"),
    ("labels in use include the seeded ones", lambda c: _has_labels(c), True),
    ("me", lambda c: _me(c), ("admin", True)),
    ("users", lambda c: _usernames(c), ["admin", "determined"]),
    ("admin users", lambda c: _usernames(c, admin=True), ["admin"]),
    ("master", lambda c: _cluster(c), "protogw"),
    ("id filter: set and bounds", lambda c: _ids(c, id_filter=IdFilter(incl=[2, 4, 6], not_in=[4], lte=6)), [2, 6]),
    ("id filter merged with id_greater_than", lambda c: _ids(c, id_filter=IdFilter(lt=6), id_greater_than=3), [4, 5]),
    ("with trial data", lambda c: _ids(c, show_trial_data=True, id_filter=IdFilter(incl=[1])), [1]),
    (
        "pages of two",
        lambda c: _page_windows(c, page_size=2, id_filter=IdFilter(lte=6)),
        [(0, 2, 6), (2, 4, 6), (4, 6, 6)],
    ),
    ("pages from an offset", lambda c: _page_windows(c, offset=-3, id_filter=IdFilter(lte=6)), [(3, 6, 6)]),
    ("user pages of one", lambda c: _user_pages(c, page_size=1, name="determined"), [["determined"]]),
    ("current user", lambda c: _current(c), "admin"),
    ("user by id", lambda c: _user_name(c, id=2), "determined"),
    ("user by username", lambda c: _user_id(c, username="admin"), 1),
    ("role filter: nobody has a role", lambda c: _user_page(c, role_ids=[1, 2]), ([], 0)),
    ("two log lines", lambda c: _log_count(c, limit=2), 2),
    ("last log line", lambda c: _log_count(c, offset=-1), 1),
]


async def _page_windows(client: DeterminedClient, **filters: Any) -> list[tuple[int, int, int]]:
    return [
        (p.pagination.start_index, p.pagination.end_index, p.pagination.total)
        async for p in client.experiment_pages(**filters)
    ]


async def _user_pages(client: DeterminedClient, **filters: Any) -> list[list[str]]:
    return [[u.username for u in page.users] async for page in client.user_pages(**filters)]


async def _current(client: DeterminedClient) -> str:
    return (await client.current_user()).username


async def _user_name(client: DeterminedClient, id: int) -> str:
    return (await client.user(id=id)).username


async def _user_id(client: DeterminedClient, username: str) -> int:
    return (await client.user_by_username(username=username)).id


async def _user_page(client: DeterminedClient, **filters: Any) -> tuple[list[str], int]:
    page = await client.users(**filters)
    return [u.username for u in page.users], page.pagination.total


async def _name(client: DeterminedClient, id: int) -> str:
    return (await client.experiment(id=id)).experiment.name


async def _config_name(client: DeterminedClient, id: int) -> Any:
    return (await client.experiment(id=id)).config.fields["name"].string_value


async def _has_labels(client: DeterminedClient) -> bool:
    return {"mnist", "cifar10", "imagenet", "sweep", "baseline"} <= set(await client.labels())


async def _me(client: DeterminedClient) -> tuple[str, bool]:
    user = await client.me()
    return user.username, user.admin


async def _usernames(client: DeterminedClient, **filters: Any) -> list[str]:
    names = [u.username for u in (await client.users(**filters)).users]
    # Other tests add users; the built-ins are what is checked here.
    return sorted(n for n in names if n in ("admin", "determined"))


async def _cluster(client: DeterminedClient) -> str:
    return (await client.master()).cluster_name


@pytest.mark.parametrize(("read", "expected"), [pytest.param(r, e, id=n) for n, r, e in READS])
async def test_reads(admin: DeterminedClient, read: Read, expected: Any) -> None:
    assert await read(admin) == expected


CONFIG = "name: {name}\nsearcher: {{name: single, metric: loss, max_length: {{batches: 1}}}}\n"
_names = itertools.count()


async def _fresh(client: DeterminedClient, *, activate: bool = True) -> int:
    response = await client.create_experiment(
        config=CONFIG.format(name=f"client-test-{next(_names)}"), activate=activate
    )
    return response.experiment.id


S = experimentv1_pb2.State

# Each row: actions applied in order to a fresh ACTIVE experiment, then its (state, archived).
ACTION_SEQUENCES: list[tuple[tuple[str, ...], tuple[int, bool]]] = [
    ((), (S.STATE_ACTIVE, False)),
    (("pause",), (S.STATE_PAUSED, False)),
    (("pause", "pause"), (S.STATE_PAUSED, False)),
    (("pause", "activate"), (S.STATE_ACTIVE, False)),
    (("cancel",), (S.STATE_CANCELED, False)),
    (("kill",), (S.STATE_CANCELED, False)),
    (("cancel", "kill"), (S.STATE_CANCELED, False)),
    (("cancel", "archive"), (S.STATE_CANCELED, True)),
    (("kill", "archive", "unarchive"), (S.STATE_CANCELED, False)),
]


@pytest.mark.parametrize(
    ("actions", "expected"), [pytest.param(a, e, id="-".join(a) or "none") for a, e in ACTION_SEQUENCES]
)
async def test_actions(admin: DeterminedClient, actions: tuple[str, ...], expected: tuple[int, bool]) -> None:
    experiment_id = await _fresh(admin)
    for action in actions:
        await getattr(admin, action)(id=experiment_id)
    got = (await admin.experiment(id=experiment_id)).experiment
    assert (got.state, got.archived) == expected


async def test_delete(admin: DeterminedClient) -> None:
    experiment_id = await _fresh(admin)
    await admin.cancel(id=experiment_id)
    await admin.delete(id=experiment_id)
    with pytest.raises(errors.NotFound):
        await admin.experiment(id=experiment_id)


# Each row: patch keyword arguments, then the (name, description, notes, labels) they leave.
PATCHES: list[tuple[dict[str, Any], tuple[str | None, str, str, list[str]]]] = [
    ({}, (None, "", "", [])),
    ({"name": "renamed"}, ("renamed", "", "", [])),
    ({"description": "d", "notes": "n"}, (None, "d", "n", [])),
    ({"labels": ["b", "a", "b"]}, (None, "", "", ["a", "b"])),  # de-duplicated and sorted
    ({"labels": ["x"], "name": "both"}, ("both", "", "", ["x"])),
]


@pytest.mark.parametrize(("patch", "expected"), PATCHES)
async def test_patch_experiment(
    admin: DeterminedClient, patch: dict[str, Any], expected: tuple[str | None, str, str, list[str]]
) -> None:
    experiment_id = await _fresh(admin)
    before = (await admin.experiment(id=experiment_id)).experiment
    got = await admin.patch_experiment(id=experiment_id, **patch)
    name, description, notes, labels = expected
    assert (got.name, got.description, got.notes, list(got.labels)) == (name or before.name, description, notes, labels)
    assert (await admin.experiment(id=experiment_id)).experiment.name == got.name


# Each row: label operations on a fresh experiment and the labels each one returns.
LABEL_STEPS: list[list[tuple[str, str, list[str]]]] = [
    [("add_label", "a", ["a"]), ("add_label", "b", ["a", "b"]), ("remove_label", "a", ["b"])],
    [("add_label", "same", ["same"]), ("add_label", "same", ["same"])],
    [("remove_label", "absent", [])],
]


@pytest.mark.parametrize("steps", LABEL_STEPS)
async def test_label_operations(admin: DeterminedClient, steps: list[tuple[str, str, list[str]]]) -> None:
    experiment_id = await _fresh(admin)
    for operation, label, expected in steps:
        assert await getattr(admin, operation)(id=experiment_id, label=label) == expected
    assert steps[-1][2] == [label for label in (await admin.experiment(id=experiment_id)).experiment.labels]


_users = itertools.count()


# Each row: create_user keywords (the username gets a unique suffix) and the user's (admin, active).
NEW_USERS: list[tuple[dict[str, Any], tuple[bool, bool]]] = [
    ({"password": "s3cret"}, (False, True)),
    ({"password": "", "admin": True}, (True, True)),
    ({"password": "pw", "display_name": "Someone"}, (False, True)),
]


@pytest.mark.parametrize(("kwargs", "expected"), NEW_USERS)
async def test_create_user_then_login(
    admin: DeterminedClient,
    new_client: Callable[[], DeterminedClient],
    transport_kind: str,
    kwargs: dict[str, Any],
    expected: tuple[bool, bool],
) -> None:
    username = f"user-{transport_kind}-{next(_users)}"
    created = await admin.create_user(username=username, **kwargs)
    assert (created.username, created.admin, created.active) == (username, *expected)
    assert created.display_name == kwargs.get("display_name", "")
    async with new_client() as other:
        with pytest.raises(errors.Unauthenticated):
            await other.login(username=username, password=kwargs["password"] + "wrong")
        await other.login(username=username, password=kwargs["password"])
        assert (await other.me()).username == username


async def test_create_with_model_definition(admin: DeterminedClient) -> None:
    files = [
        util_pb2.File(path="src", type=ord("5"), mode=0o40755),
        util_pb2.File(path="src/train.py", type=ord("0"), content=b"print(1)\n", mode=0o100644, mtime=1),
    ]
    created = await admin.create_experiment(config=CONFIG.format(name="with-files"), model_definition=files)
    got = (await admin.experiment(id=created.experiment.id)).experiment
    assert (got.model_definition_size, got.state) == (len(b"print(1)\n"), S.STATE_PAUSED)
    with pytest.raises(errors.InvalidArgument, match="must be relative"):
        await admin.create_experiment(config=CONFIG.format(name="bad"), model_definition=[util_pb2.File(path="/etc")])


# Each row: patch_user keywords (applied to a fresh user by the admin), then the (display name, admin, active,
# remote) they leave and the password that logs in afterwards, or the error a login with the old one gets.
USER_PATCHES: list[tuple[dict[str, Any], tuple[str, bool, bool, bool], str | type[errors.ApiError]]] = [
    ({"display_name": "Dee"}, ("Dee", False, True, False), "old"),
    ({"admin": True, "active": True}, ("", True, True, False), "old"),
    ({"active": False}, ("", False, False, False), errors.PermissionDenied),
    ({"password": "new"}, ("", False, True, False), "new"),
    ({"remote": True}, ("", False, True, True), errors.Unauthenticated),
]


@pytest.mark.parametrize(("patch", "expected", "password"), USER_PATCHES)
async def test_patch_user(
    admin: DeterminedClient,
    new_client: Callable[[], DeterminedClient],
    transport_kind: str,
    patch: dict[str, Any],
    expected: tuple[str, bool, bool, bool],
    password: str | type[errors.ApiError],
) -> None:
    username = f"patched-{transport_kind}-{next(_users)}"
    created = await admin.create_user(username=username, password="old")
    got = await admin.patch_user(id=created.id, **patch)
    assert (got.display_name, got.admin, got.active, got.remote) == expected
    async with new_client() as other:
        if not isinstance(password, str):
            with pytest.raises(password):
                await other.login(username=username, password="old")
        else:
            await other.login(username=username, password=password)


async def test_set_password(
    admin: DeterminedClient, new_client: Callable[[], DeterminedClient], transport_kind: str
) -> None:
    username = f"pw-{transport_kind}-{next(_users)}"
    created = await admin.create_user(username=username, password="one")
    assert (await admin.set_password(id=created.id, password="two")).username == username
    async with new_client() as other:
        with pytest.raises(errors.Unauthenticated):
            await other.login(username=username, password="one")
        await other.login(username=username, password="two")
        # A user may change their own password, not someone else's.
        await other.set_password(id=created.id, password="three")
        with pytest.raises(errors.PermissionDenied):
            await other.set_password(id=1, password="x")


async def test_token_kept_and_dropped(anonymous: DeterminedClient) -> None:
    with pytest.raises(errors.Unauthenticated, match="token missing"):
        await anonymous.me()
    response = await anonymous.login(username="determined", password="")
    assert anonymous.token == response.token
    assert response.user.username == "determined"
    assert (await anonymous.me()).username == "determined"
    token = anonymous.token
    await anonymous.logout()
    assert vars(anonymous)["token"] is None  # read afresh: logout() cleared it
    anonymous.token = token  # a logged-out token is refused by the server
    with pytest.raises(errors.Unauthenticated):
        await anonymous.me()


# Determined's CLI hash: sha512 hex of the fixed salt + password, blank staying blank.
@pytest.mark.parametrize("password", ["", "x", "pässwörd", "a" * 100])
def test_salt_and_hash(password: str) -> None:
    expected = hashlib.sha512(("GubPEmmotfiK9TMD6Zdw" + password).encode()).hexdigest() if password else ""
    assert salt_and_hash(password) == expected


async def test_followed_logs_stop_when_the_consumer_does(admin: DeterminedClient) -> None:
    # A followed stream never ends by itself; leaving the loop and closing it must end the call cleanly.
    received = []
    async with contextlib.aclosing(admin.master_logs(offset=-2, follow=True)) as logs:
        async for entry in logs:
            received.append(entry)
            if len(received) == 2:
                break
    assert len(received) == 2
    assert (await admin.master()).cluster_name == "protogw"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.experiments(nmae="typo"),
        lambda c: anext(c.experiment_pages(state=["ACTIVE"])),
        lambda c: anext(c.iter_experiments(limit=5)),  # limit belongs to experiments(): here it is page_size
    ],
    ids=["experiments", "experiment_pages", "iter_experiments"],
)
async def test_unknown_listing_keywords_are_refused(admin: DeterminedClient, call: Read) -> None:
    # The listing methods share one keyword set (ExperimentQuery); a misspelt filter must fail as an
    # unknown keyword argument would, not be dropped into an unfiltered listing.
    with pytest.raises(TypeError, match="unexpected keyword"):
        await call(admin)
