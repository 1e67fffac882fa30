"""Benchmark (not a test): does Login's timing tell which usernames exist, and what does a burst cost?

Starts ``protogw serve`` (real argon2id parameters, a fresh SQLite file, the built-ins given a password)
and, over gRPC:

1. times failed logins for an unknown username and for a known one with a wrong password,
   interleaved one by one (``--samples`` each), and prints both medians and their ratio: equal
   within 10% means response times do not enumerate users;
2. sends ``--burst`` wrong-password logins at once and prints the server's peak RSS (``VmHWM``)
   before and after, and how long the burst took: argon2 work is bounded by
   ``--max-concurrent-hashes`` slots of 64 MiB each, the rest wait.

The login throttle is raised for the run (it would refuse the 11th failure otherwise).

Run: ``.venv/bin/python bench/login_bench.py [--samples 50] [--burst 50] [--max-concurrent-hashes 2]``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

import grpc
import grpc.aio

from protogw.gen.determined.api.v1 import api_pb2_grpc, auth_pb2

PROTOGW = str(Path(sys.executable).parent / "protogw")
GRPC_LISTENING = re.compile(rb"gRPC server listening on 127\.0\.0\.1:(\d+)")


def status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


async def start(folder: Path, hashes: int) -> tuple[asyncio.subprocess.Process, int]:
    process = await asyncio.create_subprocess_exec(
        PROTOGW,
        "serve",
        "--database",
        f"sqlite+aiosqlite:///{folder / 'bench.db'}",
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "",
        "--initial-password",
        "bench-password",
        "--login-failures-per-user",
        "1000000",
        "--login-failures-per-address",
        "1000000",
        "--max-concurrent-hashes",
        str(hashes),
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    while True:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        if not line:
            raise RuntimeError("protogw serve exited early")
        if m := GRPC_LISTENING.search(line):
            # Keep draining its log so the pipe never fills.
            asyncio.get_running_loop().create_task(drain(process.stderr))
            return process, int(m.group(1))


async def drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


async def failed_login(stub: api_pb2_grpc.DeterminedStub, username: str) -> float:
    started = time.perf_counter()
    try:
        await stub.Login(auth_pb2.LoginRequest(username=username, password="wrong"))
    except grpc.aio.AioRpcError as exc:
        if exc.code() is not grpc.StatusCode.UNAUTHENTICATED:
            raise
    else:
        raise AssertionError("a wrong password was accepted")
    return (time.perf_counter() - started) * 1000


async def main(samples: int, burst: int, hashes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        process, port = await start(Path(tmp), hashes)
        try:
            async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                stub = api_pb2_grpc.DeterminedStub(channel)
                for _ in range(5):  # warm-up: connection, caches, the first argon2 runs
                    await failed_login(stub, "admin")
                    await failed_login(stub, "nobody")
                known: list[float] = []
                unknown: list[float] = []
                for i in range(samples):
                    known.append(await failed_login(stub, "admin"))
                    unknown.append(await failed_login(stub, f"nobody-{i}"))
                hwm_before = status_kb(process.pid, "VmHWM")
                started = time.perf_counter()
                await asyncio.gather(*(failed_login(stub, "admin") for _ in range(burst)))
                burst_s = time.perf_counter() - started
                hwm_after = status_kb(process.pid, "VmHWM")
        finally:
            process.terminate()
            await process.wait()
    k, u = statistics.median(known), statistics.median(unknown)
    print(f"login_bench: {samples} interleaved failed logins each, argon2id defaults, {hashes} hashing slots")
    print(f"  known user, wrong password   median {k:7.1f} ms")
    print(f"  unknown user                 median {u:7.1f} ms")
    print(f"  ratio unknown/known          {u / k:7.3f}   (within 10%: {abs(u / k - 1) <= 0.10})")
    print(f"  burst of {burst} wrong passwords: {burst_s:.2f} s, {burst / burst_s:.1f} logins/s")
    print(f"  server peak RSS before/after the burst: {hwm_before / 1024:.0f} / {hwm_after / 1024:.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--burst", type=int, default=50)
    parser.add_argument("--max-concurrent-hashes", type=int, default=2)
    args = parser.parse_args()
    asyncio.run(main(args.samples, args.burst, args.max_concurrent_hashes))
