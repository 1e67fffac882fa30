"""Run ``protogw serve`` as a real process for end-to-end tests.

Both listeners bind port 0; the ports are read from the log lines the server prints once it is
listening. The process gets SIGTERM on exit and must stop cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

PROTOGW = str(Path(sys.executable).parent / "protogw")
LISTENING = re.compile(rb"(gRPC server|REST gateway) listening on (?:http://)?127\.0\.0\.1:(\d+)")


@dataclass(frozen=True)
class Served:
    grpc_port: int
    http_port: int
    pid: int = 0

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def grpc_target(self) -> str:
        return f"127.0.0.1:{self.grpc_port}"


async def read_ports(proc: asyncio.subprocess.Process, pattern: re.Pattern[bytes], count: int) -> dict[bytes, int]:
    """Read ``proc``'s stderr until ``pattern`` matched ``count`` distinct listeners.

    ``pattern`` has two groups (listener name, port) or one (port; the name is then the whole match).
    """
    assert proc.stderr is not None
    ports: dict[bytes, int] = {}
    log = b""
    while len(ports) < count:
        line = await asyncio.wait_for(proc.stderr.readline(), 60)
        if not line:
            raise RuntimeError(f"protogw exited early:\n{log.decode(errors='replace')}")
        log += line
        if m := pattern.search(line):
            name = m.group(1) if pattern.groups == 2 else m.group(0)
            ports[name] = int(m.group(pattern.groups))
    return ports


async def stop(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM ``proc`` if it still runs and wait for it; SIGKILL if it has not stopped within 30 s."""
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), 30)
        except TimeoutError:
            proc.kill()
            await proc.wait()


async def run_cli(*args: str) -> str:
    """Run ``protogw ARGS`` to completion and return its combined output (fails on non-zero exit)."""
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    if proc.returncode != 0:
        raise RuntimeError(f"protogw {' '.join(args)} exited {proc.returncode}: {out.decode(errors='replace')}")
    return out.decode(errors="replace")


@contextlib.asynccontextmanager
async def serve(database_url: str, extra: Sequence[str] = ()) -> AsyncIterator[Served]:
    """Start ``protogw serve`` on free ports, yield them, then stop it with SIGTERM."""
    proc = await asyncio.create_subprocess_exec(
        PROTOGW, "serve", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0",
        "--database", database_url, "--grace", "1", *extra,
        stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        ports = await read_ports(proc, LISTENING, 2)
        # Keep reading the log so the server never blocks on a full pipe.
        drain = asyncio.create_task(proc.stderr.read())
        yield Served(grpc_port=ports[b"gRPC server"], http_port=ports[b"REST gateway"], pid=proc.pid)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if drain is not None:
            await drain
