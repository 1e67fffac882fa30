"""The ``gateway`` command: address parsing, start-up errors, and a real run against a gRPC server."""

from __future__ import annotations

import asyncio
import socket
from importlib import resources
from pathlib import Path

import httpx
import pytest
import typer
from typer.testing import CliRunner

from protogw.gateway.cli import bind, gateway, parse_addr
from tests.gateway.conftest import gateway_process, start_grpc_server
from tests.gateway.kitchen_service import ThingStore

DESCRIPTORS = Path(str(resources.files("tests.gen.descriptors").joinpath("testing.binpb")))


@pytest.mark.parametrize(
    ("addr", "expected"),
    [
        ("127.0.0.1:8080", ("127.0.0.1", 8080)),
        ("localhost:0", ("localhost", 0)),
        ("[::1]:9", ("::1", 9)),
        ("0.0.0.0:65535", ("0.0.0.0", 65535)),
    ],
)
def test_parse_addr(addr: str, expected: tuple[str, int]) -> None:
    assert parse_addr(addr) == expected


@pytest.mark.parametrize("addr", ["8080", ":80", "host:", "host:x", "host:70000"])
def test_parse_addr_invalid(addr: str) -> None:
    with pytest.raises(ValueError):
        parse_addr(addr)


def app() -> typer.Typer:
    cli = typer.Typer()
    cli.command()(gateway)
    return cli


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["--backend", "x:1", "--descriptor-set", "/nonexistent.binpb"], {}, 2, "does not exist"),
        (["--backend", "nope", "--descriptor-set", str(DESCRIPTORS)], {}, 2, "expected HOST:PORT"),
        (["--descriptor-set", str(DESCRIPTORS)], {}, 2, "Missing option '--backend'"),
        (
            ["--backend", "x:1", "--descriptor-set", str(DESCRIPTORS), "--service", "no.Such"],
            {},
            2,
            "unknown service 'no.Such'",
        ),
        (
            [],
            {"PROTOGW_BACKEND": "x:1", "PROTOGW_DESCRIPTOR_SET": str(DESCRIPTORS), "PROTOGW_HTTP_ADDR": "bad"},
            2,
            "expected HOST:PORT",
        ),
    ],
)
def test_start_up_errors(args: list[str], env: dict[str, str], code: int, message: str) -> None:
    result = CliRunner().invoke(app(), args, env=env)
    assert result.exit_code == code
    assert message in result.output


async def test_serves_on_port_zero() -> None:
    store = ThingStore()
    server, port = await start_grpc_server(store)
    try:
        async with (
            gateway_process(DESCRIPTORS, port, "--service", "kitchen.v1.KitchenService") as url,
            httpx.AsyncClient(base_url=url) as client,
        ):
            created = await client.post("/v1/things", json={"displayName": "via cli"})
            assert created.status_code == 200
            assert created.json()["id"] == "1"
            assert (await client.get("/v1/things/1")).json()["displayName"] == "via cli"
            assert (await client.get("/healthz")).json() == {"status": "SERVING"}
    finally:
        await server.stop(None)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_bound_socket_gives_connections_tcp_nodelay(host: str) -> None:
    """Accepted connections must have Nagle off, or keep-alive responses stall ~40 ms on delayed ACKs."""
    try:
        sock = bind(host, 0)
    except OSError:
        pytest.skip(f"{host} is not available here")
    seen: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = writer.get_extra_info("socket")
        seen.set_result(conn.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()

    server = await asyncio.start_server(handler, sock=sock)
    async with server:
        _, writer = await asyncio.open_connection(host, sock.getsockname()[1])
        assert await asyncio.wait_for(seen, 10) != 0
        writer.close()
