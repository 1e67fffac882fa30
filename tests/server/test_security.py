"""Client-side password hashing (Determined's), argon2 storage and token hashing."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from protogw.server.security import HashingBusy, Passwords, client_side_hash, new_token, token_hash
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
    (None, "pässwörd", False),
    ("pw", "pässwörd", False),
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


async def test_blank_and_unknown_still_verify_against_the_dummy() -> None:
    passwords = Passwords(CHEAP_HASHER)
    await passwords.verify_nobody("x")
    assert await passwords.verify(None, "") is True
    assert await passwords.verify(None, "x") is False
    assert passwords.dummy_checks == 3
    stored = await passwords.hash(client_side_hash("pw"))
    assert await passwords.verify(stored, client_side_hash("pw")) is True
    assert passwords.dummy_checks == 3


# (hashing slots, queue length, concurrent verifications, how many are refused)
BUSY = [(1, 0, 3, 2), (2, 1, 5, 2), (2, 8, 6, 0)]


@pytest.mark.parametrize(("slots", "queued", "calls", "refused"), BUSY)
async def test_hashing_is_bounded(slots: int, queued: int, calls: int, refused: int) -> None:
    passwords = Passwords(CHEAP_HASHER, max_concurrent=slots, max_queued=queued)
    stored = await passwords.hash(client_side_hash("pw"))
    results = await asyncio.gather(
        *(passwords.verify(stored, client_side_hash("pw")) for _ in range(calls)), return_exceptions=True
    )
    assert sum(isinstance(r, HashingBusy) for r in results) == refused
    assert sum(r is True for r in results) == calls - refused
