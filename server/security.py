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
import hashlib
import hmac
import secrets

import argon2

#: The fixed salt Determined's clients prepend before hashing a password.
CLIENT_SIDE_SALT = "GubPEmmotfiK9TMD6Zdw"

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


class Passwords:
    """Hashes and checks passwords with argon2id, off the event loop.

    argon2 is deliberately slow (tens of milliseconds), so both operations run in a worker thread to
    keep other RPCs flowing. Tests pass a cheap ``argon2.PasswordHasher`` to stay fast.
    """

    def __init__(self, hasher: argon2.PasswordHasher | None = None) -> None:
        self._hasher = hasher or argon2.PasswordHasher()

    async def hash(self, client_hash: str) -> str | None:
        """The stored form of a client-side hash; None (no password) for the empty password."""
        if client_hash == "":
            return None
        return await asyncio.to_thread(self._hasher.hash, client_hash)

    async def verify(self, stored: str | None, client_hash: str) -> bool:
        """Whether ``client_hash`` matches the stored hash (None matches only the empty password)."""
        if stored is None:
            # compare_digest keeps the blank-password check from being the one fast path that leaks
            # timing about the submitted value.
            return hmac.compare_digest(client_hash, "")
        if client_hash == "":
            return False
        try:
            return await asyncio.to_thread(self._hasher.verify, stored, client_hash)
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False
