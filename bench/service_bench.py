"""Benchmark (not a test): what the service pipeline costs, measured against peers in the same run.

A server process is started twice from this very script (``--serve``), on a seeded SQLite file:

* **full**: the real service — request id, logging, error and auth interceptors — as
  ``protogw serve`` runs it;
* **bare**: the same servicers on a plain ``grpc.aio`` server with no interceptors.

The load generator (this process) drives each with a bounded number of concurrent ``grpc.aio``
calls for a fixed time and prints requests per second, the serving process's CPU time per request
(read from ``/proc``, so it does not depend on how fast the load generator is) and these ratios:

1. GetMaster full / bare — the price of the interceptor pipeline on a call that does no I/O;
2. GetExperiment / GetMaster, both on the full server — what token lookup plus one experiment read
   add to a call;
3. GetExperiments (a page of 100 of 1,000) / GetExperiment — listing versus a single read.

Scenarios are interleaved over several rounds and each ratio is the median of per-round ratios.

Run: ``.venv/bin/python bench/service_bench.py [--seconds 3] [--concurrency 16] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio

from protogw.gen.determined.api.v1 import api_pb2_grpc, auth_pb2, master_pb2
from protogw.gen.determined.api.v1 import experiment_pb2 as api_pb2
from protogw.server.app import create_server
from protogw.server.seed import seed_walkthrough
from protogw.server.service import ServiceConfig, build_service
from protogw.server.storage.demo import load_demo
from protogw.server.storage.store import Store

DEMO_COUNT = 1000


async def serve(mode: str, database_url: str, port_file: Path) -> None:
    """Run one server until killed; write its port to ``port_file`` once listening."""
    logging.basicConfig(level=logging.ERROR)
    service = build_service(ServiceConfig(database_url=database_url))
    await service.start()
    if mode == "full":
        server, port = create_server(service, "127.0.0.1:0")
    else:
        server = grpc.aio.server()
        api_pb2_grpc.add_DeterminedServicer_to_server(cast(api_pb2_grpc.DeterminedServicer, service.servicer), server)
        port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    await asyncio.to_thread(port_file.write_text, str(port))
    await server.wait_for_termination()


async def prepare(database_url: str) -> None:
    store = Store(database_url)
    await store.start()
    try:
        await seed_walkthrough(store)
        await load_demo(store, DEMO_COUNT)
    finally:
        await store.close()


async def start_server(mode: str, database_url: str, folder: Path) -> tuple[asyncio.subprocess.Process, int]:
    port_file = folder / f"{mode}.port"
    process = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", mode, "--database", database_url, "--port-file", str(port_file)
    )
    for _ in range(600):
        text = await asyncio.to_thread(lambda: port_file.read_text() if port_file.exists() else "")
        if text:
            return process, int(text)
        await asyncio.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{mode} server did not start")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def rate(call: Callable[[], Awaitable[Any]], seconds: float, concurrency: int, pid: int) -> tuple[float, float]:
    """Completed calls per second with ``concurrency`` callers, after a short warm-up, and the CPU
    microseconds process ``pid`` (the server answering) spent per call meanwhile."""
    for _ in range(50):
        await call()
    done = 0
    cpu_before = cpu_seconds(pid)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await call()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return done / elapsed, (cpu_seconds(pid) - cpu_before) / max(done, 1) * 1e6


async def main(seconds: float, concurrency: int, rounds_count: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        url = f"sqlite+aiosqlite:///{folder / 'bench.db'}"
        await prepare(url)
        full, full_port = await start_server("full", url, folder)
        bare, bare_port = await start_server("bare", url, folder)
        try:
            async with (
                grpc.aio.insecure_channel(f"127.0.0.1:{full_port}") as full_channel,
                grpc.aio.insecure_channel(f"127.0.0.1:{bare_port}") as bare_channel,
            ):
                full_stub = api_pb2_grpc.DeterminedStub(full_channel)
                bare_stub = api_pb2_grpc.DeterminedStub(bare_channel)
                token = (await full_stub.Login(auth_pb2.LoginRequest(username="determined"))).token
                md = (("authorization", f"Bearer {token}"),)
                get_master = master_pb2.GetMasterRequest()
                one = api_pb2.GetExperimentRequest(experiment_id=3)
                page = api_pb2.GetExperimentsRequest(limit=100, offset=500)
                # name -> (call, pid of the server answering it)
                scenarios: dict[str, tuple[Callable[[], Awaitable[Any]], int]] = {
                    "GetMaster (bare)": (lambda: bare_stub.GetMaster(get_master), bare.pid),
                    "GetMaster (full)": (lambda: full_stub.GetMaster(get_master), full.pid),
                    "GetExperiment (full)": (lambda: full_stub.GetExperiment(one, metadata=md), full.pid),
                    "GetExperiments 100 (full)": (lambda: full_stub.GetExperiments(page, metadata=md), full.pid),
                }
                # The box is shared, so scenarios are interleaved round by round and each ratio is the
                # median of its per-round ratios rather than a ratio of totals measured minutes apart.
                rounds: list[dict[str, float]] = []
                cpu_rounds: list[dict[str, float]] = []
                for _ in range(rounds_count):
                    measured = {
                        name: await rate(call, seconds, concurrency, pid) for name, (call, pid) in scenarios.items()
                    }
                    rounds.append({name: m[0] for name, m in measured.items()})
                    cpu_rounds.append({name: m[1] for name, m in measured.items()})
        finally:
            for process in (full, bare):
                process.terminate()
                await process.wait()
    print(
        f"service_bench: {rounds_count} rounds x {seconds:.0f} s per scenario, {concurrency} concurrent calls, {os.cpu_count()} CPUs"
    )
    for name in rounds[0]:
        rps = statistics.median(r[name] for r in rounds)
        cpu = statistics.median(r[name] for r in cpu_rounds)
        print(f"  {name:28s} {rps:9.0f} req/s {cpu:9.0f} us server CPU/request (medians)")

    def ratio(a: str, b: str) -> float:
        return statistics.median(r[a] / r[b] for r in rounds)

    print("ratios (median over rounds):")
    print(f"  pipeline overhead  GetMaster full/bare          {ratio('GetMaster (full)', 'GetMaster (bare)'):.2f}")
    print(f"  auth + read        GetExperiment/GetMaster      {ratio('GetExperiment (full)', 'GetMaster (full)'):.2f}")
    print(
        f"  listing            GetExperiments/GetExperiment {ratio('GetExperiments 100 (full)', 'GetExperiment (full)'):.2f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--serve", choices=["full", "bare"], help=argparse.SUPPRESS)
    parser.add_argument("--database", help=argparse.SUPPRESS)
    parser.add_argument("--port-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.serve, args.database, args.port_file))
    else:
        asyncio.run(main(args.seconds, args.concurrency, args.rounds))
