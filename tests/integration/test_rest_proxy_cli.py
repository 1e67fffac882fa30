"""``protogw rest-proxy``: Determined's REST front end as its own process in front of a gRPC-only server."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.support.serve import PROTOGW, read_ports, run_cli, stop

GRPC_LISTENING = re.compile(rb"gRPC server listening on 127\.0\.0\.1:(\d+)")
HTTP_LISTENING = re.compile(rb"listening on http://127\.0\.0\.1:(\d+)")


async def _start(args: list[str], pattern: re.Pattern[bytes]) -> tuple[asyncio.subprocess.Process, int]:
    proc = await asyncio.create_subprocess_exec(PROTOGW, *args, stderr=asyncio.subprocess.PIPE)
    try:
        (port,) = (await read_ports(proc, pattern, 1)).values()
    except BaseException:
        await stop(proc)
        raise
    return proc, port


@pytest.fixture
async def proxy_url(database_url: str) -> AsyncIterator[str]:
    await run_cli("seed", "--database", database_url)
    service, grpc_port = await _start(
        ["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "", "--database", database_url, "--grace", "1"],
        GRPC_LISTENING,
    )
    try:
        proxy, http_port = await _start(
            ["rest-proxy", "--backend", f"127.0.0.1:{grpc_port}", "--http-addr", "127.0.0.1:0"], HTTP_LISTENING
        )
        try:
            yield f"http://127.0.0.1:{http_port}"
        finally:
            await stop(proxy)
    finally:
        await stop(service)


# (method, path, needs the token, expected status, a fragment of the body)
CALLS = [
    ("GET", "/info", False, 200, '"cluster_name"'),
    ("GET", "/api/v1/master", False, 200, '"clusterName"'),
    ("GET", "/api/v1/me", False, 401, '"reason":"Unauthenticated"'),
    ("GET", "/api/v1/experiments?archived=true&limit=1", True, 200, '"total":1'),
    ("POST", "/api/v1/experiments/2/unarchive", True, 400, '"error":"Experiment is not archived."'),
    ("GET", "/api/v1/experiments/4242", True, 404, "experiment '4242' not found"),
    ("GET", "/api/v1/api.swagger.json", False, 200, '"BearerToken"'),
]


async def test_rest_proxy_serves_determined_rest(proxy_url: str) -> None:
    async with httpx.AsyncClient(base_url=proxy_url, timeout=30) as client:
        login = await client.post("/api/v1/auth/login", json={"username": "determined", "password": ""})
        assert login.status_code == 200
        assert login.headers["set-cookie"].startswith("auth=")
        token = login.json()["token"]
        client.cookies.clear()
        for method, path, auth, status, fragment in CALLS:
            headers = {"Authorization": f"Bearer {token}"} if auth else {}
            response = await client.request(method, path, headers=headers)
            assert response.status_code == status, (path, response.text)
            assert fragment in response.text, (path, response.text)
