"""Sessions: issuing, resolving (with the short lookup cache) and revoking tokens, on a real store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import grpc
import pytest

from protogw.server.errors import ServiceError
from protogw.server.sessions import Sessions
from protogw.server.storage.models import UserPatch
from protogw.server.storage.store import Store


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    s = Store(database_url)
    await s.start()
    yield s
    await s.close()


async def rejected(sessions: Sessions, token: str) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(ServiceError) as info:
        await sessions.authenticate(token)
    return info.value.code, info.value.message


async def test_round_trip_and_logout(store: Store) -> None:
    sessions = Sessions(store, lambda: datetime.now(UTC))
    user = await store.get_user_by_username("determined")
    token = await sessions.start(user)
    principal = await sessions.authenticate(token)
    assert principal.user.id == user.id
    await sessions.end(principal.session_id)
    assert await rejected(sessions, token) == (grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
    assert await rejected(sessions, "never-issued") == (grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")


# (cache seconds, is a revocation made through another instance seen at once?)
REPLICAS = [(0.0, True), (60.0, False)]


@pytest.mark.parametrize(("cache_seconds", "seen"), REPLICAS)
async def test_revocation_by_another_replica(store: Store, cache_seconds: float, seen: bool) -> None:
    clock = lambda: datetime.now(UTC)  # noqa: E731 - a one-line collaborator
    here = Sessions(store, clock, cache_seconds=cache_seconds)
    elsewhere = Sessions(store, clock, cache_seconds=cache_seconds)
    token = await here.start(await store.get_user_by_username("determined"))
    principal = await here.authenticate(token)
    await elsewhere.end(principal.session_id)
    if seen:
        assert await rejected(here, token) == (grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
    else:
        assert (await here.authenticate(token)).session_id == principal.session_id


async def test_forget_user_drops_cached_lookups(store: Store) -> None:
    sessions = Sessions(store, lambda: datetime.now(UTC), cache_seconds=60)
    user = await store.get_user_by_username("determined")
    token = await sessions.start(user)
    await sessions.authenticate(token)
    await store.update_user(user.id, UserPatch(active=False))
    sessions.forget_user(user.id)
    assert await rejected(sessions, token) == (grpc.StatusCode.PERMISSION_DENIED, "user does not have permission")


async def test_cached_lookups_never_outlive_the_session(store: Store) -> None:
    # A one-second session with a one-minute cache: the cached entry must still end with the session.
    # (One second rather than less: on a loaded machine the first check must still see it alive.)
    sessions = Sessions(store, lambda: datetime.now(UTC), ttl=timedelta(seconds=1), cache_seconds=60)
    token = await sessions.start(await store.get_user_by_username("determined"))
    await sessions.authenticate(token)
    await asyncio.sleep(1.2)
    assert await rejected(sessions, token) == (grpc.StatusCode.UNAUTHENTICATED, "invalid credentials")
