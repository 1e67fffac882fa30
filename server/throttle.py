"""Caps on what one caller (or everyone together) may hold or try: open streams and login attempts.

Both answer RESOURCE_EXHAUSTED (HTTP 429 through the gateway) past their limit, with a message that
says which limit was hit. They are per process: with several replicas each one counts its own.

* :class:`StreamSlots` bounds concurrent server streams (MasterLogs), per user and in total.
  Defaults: 32 per user, 1,024 in total. A follower costs one task and a cursor, so the total is
  about file descriptors and fairness, not memory.
* :class:`LoginThrottle` bounds failed logins in a sliding window, per username and per client
  address. Defaults: 10 failures per username and 50 per address per 60 s; the next attempt (the
  11th for one username) is refused before any password is checked. A success clears the username's
  count. Client addresses are the gRPC peer (the HTTP client's address when the gateway runs the call
  in-process, the gateway's own address behind a proxy).
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import grpc

from protogw.server.errors import ServiceError

#: Concurrent server streams one user may hold.
DEFAULT_STREAMS_PER_USER = 32
#: Concurrent server streams in the whole process.
DEFAULT_STREAMS_TOTAL = 1024
#: Failed logins per username within the window before further attempts are refused.
DEFAULT_LOGIN_FAILURES_PER_USER = 10
#: Failed logins per client address within the window.
DEFAULT_LOGIN_FAILURES_PER_ADDRESS = 50
#: The sliding window failed logins are counted in, in seconds.
DEFAULT_LOGIN_WINDOW = 60.0
#: Keys (usernames and addresses) tracked at most; past it the oldest entries are dropped.
MAX_TRACKED_KEYS = 100_000


def resource_exhausted(message: str) -> ServiceError:
    return ServiceError(grpc.StatusCode.RESOURCE_EXHAUSTED, message)


@dataclass(frozen=True, slots=True)
class StreamLimits:
    per_user: int = DEFAULT_STREAMS_PER_USER
    total: int = DEFAULT_STREAMS_TOTAL


class StreamSlots:
    """Counts open streams; :meth:`hold` takes a slot for the life of a stream or refuses it."""

    def __init__(self, limits: StreamLimits | None = None) -> None:
        self.limits = limits or StreamLimits()
        self._by_user: dict[str, int] = {}
        self._total = 0

    @property
    def total(self) -> int:
        return self._total

    def held_by(self, user: str) -> int:
        return self._by_user.get(user, 0)

    @contextlib.contextmanager
    def hold(self, user: str) -> Iterator[None]:
        """A slot for ``user`` while the block runs; RESOURCE_EXHAUSTED when none is free."""
        if self._total >= self.limits.total:
            raise resource_exhausted(f"too many open streams on this server (limit {self.limits.total}); try later")
        held = self._by_user.get(user, 0)
        if held >= self.limits.per_user:
            raise resource_exhausted(
                f"too many open streams for this user (limit {self.limits.per_user}); close some first"
            )
        self._by_user[user] = held + 1
        self._total += 1
        try:
            yield
        finally:
            self._total -= 1
            left = self._by_user[user] - 1
            if left:
                self._by_user[user] = left
            else:
                del self._by_user[user]


@dataclass(frozen=True, slots=True)
class LoginLimits:
    failures_per_user: int = DEFAULT_LOGIN_FAILURES_PER_USER
    failures_per_address: int = DEFAULT_LOGIN_FAILURES_PER_ADDRESS
    window: float = DEFAULT_LOGIN_WINDOW


class _Window:
    """Failure times per key within a sliding window; the key count is bounded."""

    def __init__(self, limit: int, window: float, clock: Callable[[], float]) -> None:
        self.limit = limit
        self._window = window
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float] | None:
        hits = self._hits.get(key)
        if hits is None:
            return None
        horizon = self._clock() - self._window
        while hits and hits[0] <= horizon:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return None
        return hits

    def retry_after(self, key: str) -> float | None:
        """Seconds until ``key`` may try again, or None when it is under the limit."""
        hits = self._recent(key)
        if hits is None or len(hits) < self.limit:
            return None
        return max(0.0, hits[0] + self._window - self._clock())

    def add(self, key: str) -> None:
        hits = self._recent(key)
        if hits is None:
            if len(self._hits) >= MAX_TRACKED_KEYS:
                # dicts keep insertion order: drop the key that started counting longest ago.
                del self._hits[next(iter(self._hits))]
            hits = self._hits[key] = deque(maxlen=self.limit)
        hits.append(self._clock())

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)


class LoginThrottle:
    """Refuses login attempts for a username or address with too many recent failures."""

    def __init__(self, limits: LoginLimits | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.limits = limits or LoginLimits()
        self._users = _Window(self.limits.failures_per_user, self.limits.window, clock)
        self._addresses = _Window(self.limits.failures_per_address, self.limits.window, clock)

    def check(self, username: str, address: str) -> None:
        """RESOURCE_EXHAUSTED when either key is over its limit; nothing is recorded."""
        wait = self._users.retry_after(username)
        if wait is not None:
            raise resource_exhausted(f"too many failed logins for this user; try again in {wait:.0f} s")
        if address:
            wait = self._addresses.retry_after(address)
            if wait is not None:
                raise resource_exhausted(f"too many failed logins from this address; try again in {wait:.0f} s")

    def failed(self, username: str, address: str) -> None:
        self._users.add(username)
        if address:
            self._addresses.add(address)

    def succeeded(self, username: str) -> None:
        self._users.clear(username)
