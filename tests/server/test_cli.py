"""The ``protogw`` command: ``serve`` as a real process (signals, ports, initial password) and ``seed``."""

from __future__ import annotations

import asyncio
import signal
from pathlib import Path

import grpc
import grpc.aio
import httpx
import pytest
from typer.testing import CliRunner

from protogw.gen.determined.api.v1 import api_pb2_grpc, auth_pb2, master_pb2
from protogw.server.cli import app, default_database_url
from tests.support.serve import LISTENING, PROTOGW


async def test_serve_process(database_url: str) -> None:
    process = await asyncio.create_subprocess_exec(
        PROTOGW, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
        "--database", database_url, "--initial-password", "s3cret", "--grace", "1",
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    ports: dict[bytes, int] = {}
    log = b""
    try:
        while len(ports) < 2:
            line = await asyncio.wait_for(process.stderr.readline(), 30)
            assert line, log
            log += line
            if m := LISTENING.search(line):
                ports[m.group(1)] = int(m.group(2))
        async with grpc.aio.insecure_channel(f"127.0.0.1:{ports[b'gRPC server']}") as channel:
            stub = api_pb2_grpc.DeterminedStub(channel)
            assert (await stub.GetMaster(master_pb2.GetMasterRequest())).cluster_name == "protogw"
            with pytest.raises(grpc.aio.AioRpcError) as info:
                await stub.Login(auth_pb2.LoginRequest(username="admin", password=""))
            assert info.value.code() == grpc.StatusCode.UNAUTHENTICATED
            await stub.Login(auth_pb2.LoginRequest(username="admin", password="s3cret"))
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[b'REST gateway']}") as client:
            response = await client.post("/api/v1/auth/login", json={"username": "determined", "password": "s3cret"})
            assert response.status_code == 200
        process.send_signal(signal.SIGTERM)
        rest = await asyncio.wait_for(process.stderr.read(), 30)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    log += rest
    assert b"stopped" in log
    # With an initial password the built-in users are not blank, so no warning.
    assert b"blank password" not in log


def test_serve_rejects_a_bad_http_address(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["serve", "--http-addr", "nonsense", "--database", f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"]
    )
    assert result.exit_code == 2
    assert "HOST:PORT" in result.output


# (arguments after "seed", expected exit code, expected output fragment) run in order on one database
SEED_STEPS = [
    ([], 0, "added 6 walk-through experiments"),
    ([], 1, "the database already has 6 experiments; nothing was added"),
    (["--demo", "25"], 0, "added 25 demo experiments"),
    # --progress into a pipe prints the bar's final state once, on stderr.
    (["--demo", "7", "--progress"], 0, "demo experiments ━"),
    (["--demo", "7", "--progress"], 0, "7/7"),
]


def test_seed(database_url: str) -> None:
    runner = CliRunner()
    for args, code, fragment in SEED_STEPS:
        result = runner.invoke(app, ["seed", "--database", database_url, *args])
        assert result.exit_code == code, result.output
        assert fragment in result.output


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"XDG_DATA_HOME": "/data"}, "sqlite+aiosqlite:////data/protogw/protogw.db"),
        ({}, "/.local/share/protogw/protogw.db"),
    ],
)
def test_default_database_url(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert default_database_url().endswith(expected)


def test_mounted_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("serve", "seed", "gateway", "openapi", "envoy-config"):
        assert command in result.output


# (command, database URL, fragment of the error) - bad databases end with exit code 1 and one line.
BAD_DATABASES = [
    ("serve", "mysql://someone@host/db", "unsupported database 'mysql'"),
    ("serve", "postgresql+asyncpg://someone:hunter2@127.0.0.1:1/db", "someone:***@127.0.0.1:1/db"),
    ("seed", "postgresql+psycopg2://someone@host/db", "unsupported database 'postgresql+psycopg2'"),
]


@pytest.mark.parametrize(("command", "url", "fragment"), BAD_DATABASES)
def test_bad_database(command: str, url: str, fragment: str) -> None:
    args = [command, "--database", url]
    if command == "serve":
        args += ["--grpc-addr", "127.0.0.1:0", "--http-addr", ""]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1, result.output
    assert "error: cannot use the database" in result.output
    assert fragment in result.output
    assert "hunter2" not in result.output


@pytest.mark.parametrize(
    ("command", "fragment"),
    [
        (["gateway", "--help"], "--descriptor-set"),
        (["openapi", "--help"], "descriptor_set"),
        (["envoy-config", "--help"], "--backend"),
        (["client", "--help"], "experiments"),
        (["client", "experiments", "--help"], "--limit"),
    ],
)
def test_subcommands_are_mounted(command: list[str], fragment: str) -> None:
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    assert fragment in result.output
