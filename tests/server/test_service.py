"""The service bundle's start-up: initial passwords and the blank-password warning."""

from __future__ import annotations

import logging

import grpc
import grpc.aio
import pytest

from protogw.gen.determined.api.v1 import auth_pb2
from tests.server.harness import running

# (initial password, password that logs in as admin, blank-password warnings expected)
CASES = [(None, "", 2), ("s3cret", "s3cret", 0)]


@pytest.mark.parametrize(("initial", "works", "warnings"), CASES)
async def test_initial_password(
    database_url: str, caplog: pytest.LogCaptureFixture, initial: str | None, works: str, warnings: int
) -> None:
    caplog.set_level(logging.WARNING, logger="protogw.server")
    async with running(database_url, initial_password=initial) as api:
        for name in ("admin", "determined"):
            await api.stub.Login(auth_pb2.LoginRequest(username=name, password=works))
    blank = [r for r in caplog.records if "blank password" in r.getMessage()]
    assert len(blank) == warnings


async def test_initial_password_only_applies_to_fresh_accounts(database_url: str) -> None:
    async with running(database_url) as api:
        # Someone logged in as determined with the blank password: the account is in use.
        await api.login("determined")
    async with running(database_url, initial_password="later") as api:
        await api.stub.Login(auth_pb2.LoginRequest(username="admin", password="later"))
        await api.stub.Login(auth_pb2.LoginRequest(username="determined", password=""))
        with pytest.raises(grpc.aio.AioRpcError):
            await api.stub.Login(auth_pb2.LoginRequest(username="determined", password="later"))
