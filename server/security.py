"""Password and token handling compatible with Determined's clients.

Determined's CLI and SDK never send a clear-text password: they send
``sha512_hex("GubPEmmotfiK9TMD6Zdw" + password)`` with ``is_hashed`` set. The server therefore
treats that client-side hash as "the password": a clear-text password from a plain client is first
hashed the same way, and only the client-side hash is ever fed to argon2id. An empty password stays
empty, and an account whose stored hash is NULL accepts exactly the empty password.

Session tokens are random and high-entropy, so a single SHA-256 is enough to store them: unlike a
password there is nothing to brute-force, and a fast hash lets every RPC look its token up by
index.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import secrets
from collections.abc import Callable
from typing import TypeVar

import argon2

#: The fixed salt Determined's clients prepend before hashing a password.
CLIENT_SIDE_SALT = "GubPEmmotfiK9TMD6Zdw"

_T = TypeVar("_T")

#: Bytes of randomness in a session token (before base64url encoding).
TOKEN_BYTES = 32


def client_side_hash(password: str) -> str:
    """Hash ``password`` exactly as Determined's clients do before sending it.

    >>> client_side_hash("")
    ''
    >>> len(client_side_hash("secret"))
    128
    """
    if password == "":
        return ""
    return hashlib.sha512((CLIENT_SIDE_SALT + password).encode()).hexdigest()


def new_token() -> str:
    """A fresh opaque session token."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """The value stored for ``token``: its SHA-256 in hex."""
    return hashlib.sha256(token.encode()).hexdigest()


#: argon2 computations allowed at once. Each takes the hasher's ``memory_cost`` (64 MiB with
#: argon2-cffi's defaults) for tens of milliseconds, so this bounds login memory at about
#: ``DEFAULT_MAX_CONCURRENT_HASHES * 64 MiB`` however many logins arrive together; the rest queue.
DEFAULT_MAX_CONCURRENT_HASHES = 2
#: Logins allowed to queue for a hashing slot; past it they are refused at once (RESOURCE_EXHAUSTED)
#: instead of piling up.
DEFAULT_MAX_QUEUED_HASHES = 64


class HashingBusy(Exception):
    """Too many password checks are already waiting."""


class Passwords:
    """Hashes and checks passwords with argon2id, off the event loop and at bounded concurrency.

    argon2 is deliberately slow (tens of milliseconds) and memory-hard, so both operations run in a
    worker thread to keep other RPCs flowing, at most ``max_concurrent`` at a time (each holds the
    hasher's ``memory_cost`` while it runs). Callers beyond ``max_queued`` waiting ones get
    :class:`HashingBusy`.

    :meth:`verify` always does exactly one argon2 verification, whatever it is given: against the
    stored hash when there is one, and otherwise against a dummy hash made once, at construction,
    with the same hasher (so with the same parameters). An unknown user (:meth:`verify_nobody`), a
    user without a password and a wrong password therefore all take as long as a right one, and
    response times do not tell which usernames exist. Tests pass a cheap ``argon2.PasswordHasher``
    to stay fast.
    """

    def __init__(
        self,
        hasher: argon2.PasswordHasher | None = None,
        *,
        max_concurrent: int = DEFAULT_MAX_CONCURRENT_HASHES,
        max_queued: int = DEFAULT_MAX_QUEUED_HASHES,
    ) -> None:
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be at least 1")
        self._hasher = hasher or argon2.PasswordHasher()
        self._slots = asyncio.Semaphore(max_concurrent)
        self._max_waiting = max_concurrent + max_queued
        self._waiting = 0
        self._dummy = self._hasher.hash(secrets.token_hex(32))
        #: How many verifications ran against the dummy hash (for tests and metrics).
        self.dummy_checks = 0

    async def _run(self, work: Callable[[], _T]) -> _T:
        if self._waiting >= self._max_waiting:
            raise HashingBusy("too many password checks in progress; try again shortly")
        self._waiting += 1
        try:
            async with self._slots:
                return await asyncio.to_thread(work)
        finally:
            self._waiting -= 1

    async def hash(self, client_hash: str) -> str | None:
        """The stored form of a client-side hash; None (no password) for the empty password."""
        if client_hash == "":
            return None
        return await self._run(functools.partial(self._hasher.hash, client_hash))

    def _check(self, stored: str, client_hash: str) -> bool:
        try:
            return self._hasher.verify(stored, client_hash)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False

    async def verify(self, stored: str | None, client_hash: str) -> bool:
        """Whether ``client_hash`` matches the stored hash (None matches only the empty password)."""
        if stored is None or client_hash == "":
            # argon2 cannot take the empty password, and a blank account has no hash: check the dummy
            # anyway, so these answers take as long as any other.
            await self.verify_nobody(client_hash or "-")
            # Bytes: compare_digest refuses str with non-ASCII characters.
            return stored is None and hmac.compare_digest(client_hash.encode(), b"")
        return await self._run(functools.partial(self._check, stored, client_hash))

    async def verify_nobody(self, client_hash: str) -> None:
        """Spend what a verification costs, for an attempt that fails anyway (an unknown user)."""
        self.dummy_checks += 1
        await self._run(functools.partial(self._check, self._dummy, client_hash or "-"))
