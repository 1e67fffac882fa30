"""``--workers N``: N real processes behind one set of ports (port 0 chosen once), one log stream, and a
SIGTERM to the parent that stops them all."""

from __future__ import annotations

import asyncio
import importlib.resources
import os
import re
import signal
from collections.abc import Sequence
from pathlib import Path

import grpc
import httpx
import pytest

from protogw.gen.determined.api.v1 import api_pb2_grpc, master_pb2
from tests.support.serve import PROTOGW, read_ports

pytestmark = pytest.mark.timeout(180)

WORKER_LISTENING = re.compile(
    rb"(worker-\d+) \S+: (gRPC server|REST gateway) listening on (?:http://)?127\.0\.0\.1:(\d+)"
)


def listening_inodes(port: int) -> set[str]:
    """Socket inodes in LISTEN state on ``port`` (IPv4 and IPv6)."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":
                inodes.add(fields[9])
    return inodes


def sockets_of(pid: int) -> set[str]:
    found: set[str] = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            found.add(target[len("socket:[") : -1])
    return found


def children(pid: int) -> list[int]:
    """The worker processes of ``pid`` (not multiprocessing's resource tracker, also a child)."""
    found = [int(c) for task in Path(f"/proc/{pid}/task").iterdir() for c in (task / "children").read_text().split()]
    return [c for c in found if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]


async def read_worker_ports(proc: asyncio.subprocess.Process, count: int) -> dict[tuple[bytes, bytes], int]:
    """(worker, listener) -> port, from the parent's one log stream."""
    assert proc.stderr is not None
    found: dict[tuple[bytes, bytes], int] = {}
    log = b""
    while len(found) < count:
        line = await asyncio.wait_for(proc.stderr.readline(), 90)
        if not line:
            raise RuntimeError(f"protogw exited early:\n{log.decode(errors='replace')}")
        log += line
        if m := WORKER_LISTENING.search(line):
            found[(m.group(1), m.group(2))] = int(m.group(3))
    return found


async def master_ids_rest(port: int, attempts: int) -> set[str]:
    ids: set[str] = set()
    for _ in range(attempts):
        # A new connection each time: SO_REUSEPORT spreads connections, not requests.
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"http://127.0.0.1:{port}/api/v1/master")
        assert answer.status_code == 200
        ids.add(answer.json()["masterId"])
        if len(ids) == 2:
            break
    return ids


async def master_ids_grpc(port: int, attempts: int) -> set[str]:
    ids: set[str] = set()
    for _ in range(attempts):
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            answer = await api_pb2_grpc.DeterminedStub(channel).GetMaster(master_pb2.GetMasterRequest(), timeout=10)
        ids.add(answer.master_id)
        if len(ids) == 2:
            break
    return ids


async def start(args: Sequence[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(PROTOGW, *args, stderr=asyncio.subprocess.PIPE)


async def stop_all(proc: asyncio.subprocess.Process, workers: list[int]) -> None:
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 60) == 0
    assert not [pid for pid in workers if alive(pid)]


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent to reap it does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# (case, command line after `protogw`, listeners each worker reports)
CASES = [
    ("serve", ["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--grace", "1"], [b"gRPC server", b"REST gateway"]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "args", "listeners"), CASES, ids=[c[0] for c in CASES])
async def test_two_workers_share_the_ports_and_stop_together(
    case: str, args: list[str], listeners: list[bytes], tmp_path: Path
) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    proc = await start([*args, "--database", database, "--workers", "2"])
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        ports = await read_worker_ports(proc, 2 * len(listeners))
        drain = asyncio.create_task(proc.stderr.read())
        workers = children(proc.pid)
        assert len(workers) == 2
        for listener in listeners:
            # Both workers report the same port, chosen once by the parent from port 0 ...
            port = ports[(b"worker-1", listener)]
            assert port != 0
            assert ports[(b"worker-2", listener)] == port
            # ... and each holds its own listening socket on it.
            inodes = listening_inodes(port)
            assert all(sockets_of(pid) & inodes for pid in workers), listener
        # Both answer: each worker has its own master id.
        rest_port = ports[(b"worker-1", b"REST gateway")]
        grpc_port = ports[(b"worker-1", b"gRPC server")]
        assert len(await master_ids_rest(rest_port, 60)) == 2
        assert len(await master_ids_grpc(grpc_port, 60)) == 2
        await stop_all(proc, workers)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if drain is not None:
            log = await asyncio.wait_for(drain, 30)
            # One stream: the parent's stderr carries the workers' lines and its own.
            assert b"all workers stopped" in log or proc.returncode != 0


# (command, extra arguments: "{descriptors}" becomes Determined's descriptor set)
PROXIES = [
    ("rest-proxy", []),
    ("gateway", ["--descriptor-set", "{descriptors}"]),
]


@pytest.mark.parametrize(("command", "extra"), PROXIES, ids=[p[0] for p in PROXIES])
async def test_proxy_workers_share_the_port(command: str, extra: list[str], tmp_path: Path) -> None:
    """``rest-proxy``/``gateway --workers 2`` in front of a one-worker ``serve``: both workers answer."""
    descriptors = tmp_path / "determined.binpb"
    descriptors.write_bytes(
        importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
    )
    extra = [arg.format(descriptors=descriptors) for arg in extra]
    database = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    backend = await start(["serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "", "--database", database])
    proxy: asyncio.subprocess.Process | None = None
    drains: list[asyncio.Task[bytes]] = []
    try:
        grpc_port = (
            await read_ports(backend, re.compile(rb"gRPC server listening on 127\.0\.0\.1:(\d+)"), 1)
        ).popitem()[1]
        assert backend.stderr is not None
        drains.append(asyncio.create_task(backend.stderr.read()))
        proxy = await start(
            [command, "--backend", f"127.0.0.1:{grpc_port}", "--http-addr", "127.0.0.1:0", "--workers", "2", *extra]
        )
        assert proxy.stderr is not None
        port = (await read_ports(proxy, re.compile(rb"gateway: 2 workers on http://127\.0\.0\.1:(\d+)"), 1)).popitem()[
            1
        ]
        drains.append(asyncio.create_task(proxy.stderr.read()))
        workers: list[int] = []
        for _ in range(300):
            workers = children(proxy.pid)
            if len(workers) == 2 and all(sockets_of(pid) & listening_inodes(port) for pid in workers):
                break
            await asyncio.sleep(0.1)
        assert len(workers) == 2
        assert all(sockets_of(pid) & listening_inodes(port) for pid in workers)
        # Behind one backend both proxy workers answer with its master id.
        assert len(await master_ids_rest(port, 10)) == 1
        await stop_all(proxy, workers)
    finally:
        for proc in (proxy, backend):
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                await asyncio.wait_for(proc.wait(), 60)
        for drain in drains:
            await asyncio.wait_for(drain, 30)


async def test_workers_stop_when_the_parent_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the parent no chance to pass anything on: the workers must go by themselves."""
    database = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    proc = await start([*CASES[0][1], "--database", database, "--workers", "2"])
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        await read_worker_ports(proc, 4)
        drain = asyncio.create_task(proc.stderr.read())
        workers = children(proc.pid)
        assert len(workers) == 2
        proc.kill()
        await proc.wait()
        for _ in range(300):
            if not [pid for pid in workers if alive(pid)]:
                break
            await asyncio.sleep(0.1)
        assert not [pid for pid in workers if alive(pid)]
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if drain is not None:
            await asyncio.wait_for(drain, 30)
