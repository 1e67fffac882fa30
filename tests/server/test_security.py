"""Client-side password hashing (Determined's), argon2 storage and token hashing."""

from __future__ import annotations

import hashlib

import pytest

from protogw.server.security import Passwords, client_side_hash, new_token, token_hash
from tests.server.harness import CHEAP_HASHER

# (password, expected client-side hash) - the second value computed independently of the module.
CLIENT_HASHES = [
    ("", ""),
    ("secret", hashlib.sha512(b"GubPEmmotfiK9TMD6Zdwsecret").hexdigest()),
    ("pässwörd", hashlib.sha512("GubPEmmotfiK9TMD6Zdwpässwörd".encode()).hexdigest()),
]


@pytest.mark.parametrize(("password", "expected"), CLIENT_HASHES)
def test_client_side_hash(password: str, expected: str) -> None:
    assert client_side_hash(password) == expected


# (stored password or None for "no password", submitted client hash, accepted?)
VERIFY = [
    (None, "", True),
    (None, client_side_hash("x"), False),
    ("pw", client_side_hash("pw"), True),
    ("pw", client_side_hash("other"), False),
    ("pw", "", False),
    ("pw", "pw", False),
]


@pytest.mark.parametrize(("stored", "submitted", "accepted"), VERIFY)
async def test_verify(stored: str | None, submitted: str, accepted: bool) -> None:
    passwords = Passwords(CHEAP_HASHER)
    stored_hash = None if stored is None else await passwords.hash(client_side_hash(stored))
    assert await passwords.verify(stored_hash, submitted) is accepted


async def test_hash_is_argon2id_and_blank_is_none() -> None:
    passwords = Passwords(CHEAP_HASHER)
    assert await passwords.hash("") is None
    stored = await passwords.hash(client_side_hash("pw"))
    assert stored is not None
    assert stored.startswith("$argon2id$")


async def test_garbage_stored_hash_is_a_mismatch_not_a_crash() -> None:
    assert await Passwords(CHEAP_HASHER).verify("not-a-hash", client_side_hash("pw")) is False


def test_tokens() -> None:
    tokens = {new_token() for _ in range(50)}
    assert len(tokens) == 50
    token = tokens.pop()
    assert len(token) >= 43
    assert token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in token_hash(token)
