"""Gateway benchmarks (not tests). Every figure is a ratio against a peer measured in the same run.

    .venv/bin/python bench/gateway_bench.py [--seconds 3] [--connections 32] [--target determined-master]

(a) in-process REST req/s / direct gRPC req/s, same service, same server process   goal >= 2.0
(b) proxy-mode REST req/s / direct gRPC req/s (gateway process -> gRPC process)     goal >= 0.8
(d) route lookup time with 1,000 routes / with 10 routes                           goal <= 1.1

The servers run in their own processes (uvloop; uvicorn + httptools for HTTP); this process generates
load: ``wrk`` for HTTP (``apt-get install -y wrk``; a small asyncio HTTP/1.1 client otherwise) and a
grpc.aio client sending pre-serialised requests for gRPC. Loads are bounded (``--seconds`` each, after
a one-second warm-up) and loopback only. Besides req/s, the servers' CPU time per request is printed:
it does not depend on how fast the load generator is.

Targets (``--target``): ``determined-master`` (GetMaster: the smallest call, where the pipeline around
it dominates) and ``determined-experiment`` (GetExperiment with a session token) on the Determined
service over a fresh SQLite database. The bench imports only the shipped package, never ``tests/``. Another service is one more ``Target``
subclass in ``TARGETS``; nothing else here is specific to a service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
import timeit
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import grpc  # noqa: E402
import grpc.aio  # noqa: E402
import uvloop  # noqa: E402


class Target:
    """One RPC to measure over gRPC and over REST, and the service that answers it.

    ``setup`` runs in the server process: it builds the service and returns what the load generator
    needs (ids, tokens) as strings; ``grpc_call`` and ``rest_call`` turn that into the two requests.
    """

    services: tuple[str, ...]

    async def setup(self) -> dict[str, str]:
        """Build and start the service (server process)."""
        return {}

    async def register(self, server: Any) -> None:
        """Put the servicers on a grpc.aio server or an InProcessBackend (server process)."""
        raise NotImplementedError

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        """The interceptor list, the same for gRPC and in-process."""
        raise NotImplementedError

    def grpc_call(self, info: dict[str, str]) -> tuple[str, bytes, tuple[tuple[str, str], ...]]:
        """Method path, serialised request and metadata (load generator)."""
        raise NotImplementedError

    def rest_call(self, info: dict[str, str]) -> tuple[str, dict[str, str]]:
        """Path and headers (load generator)."""
        raise NotImplementedError


class DeterminedTarget(Target):
    """The Determined service on a fresh SQLite database: GetMaster (public) or GetExperiment (with a
    session token from Login, over a seeded experiment)."""

    services = ("determined.api.v1.Determined",)

    def __init__(self, method: str) -> None:
        import protogw.gen.determined.api.v1.api_pb2  # noqa: F401  (puts the service in the default pool)

        self.method = method
        self.service: Any = None

    async def setup(self) -> dict[str, str]:
        import tempfile

        from google.protobuf import descriptor_pool

        from protogw.core.bindings import MethodInfo
        from protogw.gateway.backend import Call
        from protogw.gateway.inprocess import InProcessBackend
        from protogw.server.seed import seed_walkthrough
        from protogw.server.service import ServiceConfig, build_service

        db = Path(tempfile.mkdtemp(prefix="protogw-bench-")) / "bench.db"
        self.service = build_service(ServiceConfig(database_url=f"sqlite+aiosqlite:///{db}", initial_password="bench"))
        await self.service.start()
        ids = await seed_walkthrough(self.service.store)
        backend = InProcessBackend(self.service.interceptors)
        self.service.register(backend)
        login = MethodInfo.of(descriptor_pool.Default().FindMethodByName("determined.api.v1.Determined.Login"))
        from protogw.server.security import client_side_hash

        request = login.request_class(username="admin", password=client_side_hash("bench"), is_hashed=True)
        result = await backend.unary(login, request, Call([]))
        return {"token": result.response.token, "experiment": str(ids[0])}  # type: ignore[attr-defined]

    async def register(self, server: Any) -> None:
        self.service.register(server)

    def interceptors(self) -> list[grpc.aio.ServerInterceptor]:
        return list(self.service.interceptors)

    def grpc_call(self, info: dict[str, str]) -> tuple[str, bytes, tuple[tuple[str, str], ...]]:
        from google.protobuf import descriptor_pool
        from google.protobuf.message_factory import GetMessageClass

        pool = descriptor_pool.Default()
        if self.method == "GetMaster":
            request = GetMessageClass(pool.FindMessageTypeByName("determined.api.v1.GetMasterRequest"))()
        else:
            request = GetMessageClass(pool.FindMessageTypeByName("determined.api.v1.GetExperimentRequest"))(
                experiment_id=int(info["experiment"])
            )
        md = (("authorization", f"Bearer {info['token']}"),)
        return f"/determined.api.v1.Determined/{self.method}", request.SerializeToString(), md

    def rest_call(self, info: dict[str, str]) -> tuple[str, dict[str, str]]:
        path = "/api/v1/master" if self.method == "GetMaster" else f"/api/v1/experiments/{info['experiment']}"
        return path, {"Authorization": f"Bearer {info['token']}"}


TARGETS: dict[str, Callable[[], Target]] = {
    "determined-master": lambda: DeterminedTarget("GetMaster"),
    "determined-experiment": lambda: DeterminedTarget("GetExperiment"),
}


# --- server processes ----------------------------------------------------------------------------------


async def serve_inprocess(target_name: str) -> None:
    """gRPC server and in-process gateway over the same servicers, in one process and loop."""
    from google.protobuf import descriptor_pool

    from protogw.gateway.app import RouteTable, create_app
    from protogw.gateway.cli import bind, serve
    from protogw.gateway.inprocess import InProcessBackend

    target = TARGETS[target_name]()
    info = await target.setup()
    server = grpc.aio.server(interceptors=target.interceptors())
    await target.register(server)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    backend = InProcessBackend(target.interceptors())
    await target.register(backend)
    app = create_app(RouteTable.from_pool(descriptor_pool.Default(), list(target.services)), backend)
    sock = bind("127.0.0.1", 0)
    print(json.dumps({"grpc": grpc_port, "http": sock.getsockname()[1], "info": info}), flush=True)
    await serve(app, sock, log_level="error")


async def serve_proxy(backend_addr: str, target_name: str) -> None:
    """A proxy-mode gateway in front of ``backend_addr``."""
    from google.protobuf import descriptor_pool

    from protogw.gateway.app import RouteTable, create_app
    from protogw.gateway.cli import bind, serve
    from protogw.gateway.proxy import ProxyBackend

    target = TARGETS[target_name]()
    app = create_app(RouteTable.from_pool(descriptor_pool.Default(), list(target.services)), ProxyBackend(backend_addr))
    sock = bind("127.0.0.1", 0)
    print(json.dumps({"http": sock.getsockname()[1]}), flush=True)
    await serve(app, sock, log_level="error")


class Server:
    """A server subprocess of this script; reads the ports it prints, measures its CPU time."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, __file__, *args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"server {args} did not start")
        self.ports: dict[str, Any] = json.loads(line)

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


# --- load generators -------------------------------------------------------------------------------------


def wrk(url: str, seconds: float, connections: int, headers: dict[str, str]) -> float:
    header_args = [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", *header_args, url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if m is None:
        raise RuntimeError(out)
    if "Non-2xx" in out:
        raise RuntimeError(f"errors from {url}:\n{out}")
    return float(m.group(1))


async def _http_client(
    host: str, port: int, path: str, headers: dict[str, str], seconds: float, connections: int
) -> float:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{extra}\r\n".encode()
    count = 0
    stop = time.monotonic() + seconds

    async def worker() -> None:
        nonlocal count
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.monotonic() < stop:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(re.search(rb"content-length: (\d+)", head, re.I).group(1))  # type: ignore[union-attr]
                await reader.readexactly(length)
                count += 1
        finally:
            writer.close()

    await asyncio.gather(*(worker() for _ in range(connections)))
    return count / seconds


def http_load(port: int, call: tuple[str, dict[str, str]], seconds: float, connections: int) -> float:
    path, headers = call
    if shutil.which("wrk"):
        wrk(f"http://127.0.0.1:{port}{path}", 1, connections, headers)  # warm-up
        return wrk(f"http://127.0.0.1:{port}{path}", seconds, connections, headers)
    uvloop.run(_http_client("127.0.0.1", port, path, headers, 1, connections))
    return uvloop.run(_http_client("127.0.0.1", port, path, headers, seconds, connections))


async def _grpc_client(
    port: int, rpc: tuple[str, bytes, tuple[tuple[str, str], ...]], seconds: float, concurrency: int
) -> float:
    path, request, metadata = rpc
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        call = channel.unary_unary(path)
        count = 0

        async def worker(stop: float) -> None:
            nonlocal count
            while time.monotonic() < stop:
                await call(request, metadata=metadata or None)
                count += 1

        await asyncio.gather(*(worker(time.monotonic() + 1) for _ in range(concurrency)))
        count = 0
        await asyncio.gather(*(worker(time.monotonic() + seconds) for _ in range(concurrency)))
    return count / seconds


def measure(label: str, servers: list[Server], run: Callable[[], float], seconds: float) -> tuple[float, float]:
    """req/s and server CPU microseconds per request (all ``servers`` together)."""
    before = sum(s.cpu_seconds() for s in servers)
    rps = run()
    # The warm-up second is part of the CPU window; count its requests at the measured rate.
    cpu = sum(s.cpu_seconds() for s in servers) - before
    per_request = cpu / (rps * (seconds + 1)) * 1e6
    print(f"  {label:<28} {rps:>10.0f} req/s   {per_request:>7.1f} us server CPU/request")
    return rps, per_request


# --- route lookup --------------------------------------------------------------------------------------------


def route_templates(n: int) -> list[tuple[str, str]]:
    """``n`` bindings shaped like a real API: variables, nested names, **, verbs, several methods."""
    shapes = [
        ("GET", "/v1/r{i}/things/{{id}}"),
        ("GET", "/v1/r{i}/{{name=projects/*/things/*}}"),
        ("POST", "/v1/r{i}/things/{{id}}:archive"),
        ("GET", "/v1/r{i}/files/{{path=**}}"),
        ("PATCH", "/v1/r{i}/things/{{thing.id}}"),
        ("GET", "/v1/r{i}/things"),
        ("DELETE", "/v1/r{i}/things/{{id}}/parts/{{part}}"),
        ("GET", "/v1/r{i}/things:watch"),
        ("POST", "/v1/r{i}/shelves/{{shelf}}/things"),
        ("GET", "/v1/r{i}/shelves/{{shelf}}/things/{{id}}"),
    ]
    return [
        (m, t.format(i=i // len(shapes))) for i, (m, t) in zip(range(n), shapes * (n // len(shapes) + 1), strict=False)
    ]


def lookup_paths(n: int) -> list[tuple[str, str]]:
    last = n // 10 - 1
    return [
        ("GET", f"/v1/r{last}/things/123"),
        ("GET", f"/v1/r{last}/projects/p/things/t"),
        ("POST", f"/v1/r{last}/things/9:archive"),
        ("GET", f"/v1/r{last}/files/a/b/c.txt"),
        ("DELETE", f"/v1/r{last}/things/1/parts/2"),
        ("GET", f"/v1/r{last}/things:watch"),
        ("GET", "/v1/nowhere/at/all"),
    ]


def bench_lookup() -> dict[int, float]:
    """Best time per lookup with 10 and with 1,000 routes; the two are measured alternately, many
    times, so that other load on the box cannot favour one of them."""
    from protogw.core.template import parse_template
    from protogw.gateway.router import Router

    runners: dict[int, Callable[[], None]] = {}
    per_run: dict[int, int] = {}
    for n in (10, 1000):
        router: Router[int] = Router()
        for i, (method, template) in enumerate(route_templates(n)):
            router.add(method, parse_template(template), i)
        paths = lookup_paths(n)

        def run(lookup: Callable[[str, str], object] = router.lookup, paths: list[tuple[str, str]] = paths) -> None:
            for method, path in paths:
                lookup(method, path)

        runners[n] = run
        per_run[n] = len(paths)
    best = {n: float("inf") for n in runners}
    for _ in range(25):
        for n, run in runners.items():
            # CPU time, not wall time: on a shared box, being descheduled is not the router's cost.
            spent = timeit.timeit(run, number=500, timer=time.process_time)
            best[n] = min(best[n], spent / (500 * per_run[n]) * 1e6)
    for n, us in best.items():
        print(f"  {n:>5} routes: {us:.2f} us per lookup")
    return best


# --- main ---------------------------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--target", default="determined-master", choices=sorted(TARGETS))
    parser.add_argument("--runs", type=int, default=3, help="repeat (a)/(b) and report the median ratios")
    parser.add_argument("--serve-inprocess", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--serve-proxy", metavar="BACKEND", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_inprocess:
        uvloop.run(serve_inprocess(args.target))
        return
    if args.serve_proxy:
        uvloop.run(serve_proxy(args.serve_proxy, args.target))
        return

    target = TARGETS[args.target]()
    seconds, conns = args.seconds, args.connections
    print(
        f"gateway benchmark: target={args.target}, {seconds:g}s per run, {conns} connections, {os.cpu_count()} CPUs shared with the load generator"
    )
    print("(d) route lookup")
    lookup = bench_lookup()
    main_server = Server("--serve-inprocess", "--target", args.target)
    proxy_server = Server("--serve-proxy", f"127.0.0.1:{main_server.ports['grpc']}", "--target", args.target)
    ratios: dict[str, list[float]] = {"a": [], "b": [], "a-cpu": [], "b-cpu": []}
    try:
        info = main_server.ports["info"]
        rpc, rest = target.grpc_call(info), target.rest_call(info)
        print(f"(a)/(b) {rpc[0]} vs GET {rest[0]}")
        for run in range(1, args.runs + 1):
            print(f" run {run}/{args.runs}")
            # The three contenders are interleaved within each run so that load from other processes
            # on the box hits them alike.
            grpc_rps, grpc_cpu = measure(
                "direct gRPC (grpc.aio)",
                [main_server],
                lambda: uvloop.run(_grpc_client(main_server.ports["grpc"], rpc, seconds, conns)),
                seconds,
            )
            inproc_rps, inproc_cpu = measure(
                "REST in-process",
                [main_server],
                lambda: http_load(main_server.ports["http"], rest, seconds, conns),
                seconds,
            )
            proxy_rps, proxy_cpu = measure(
                "REST proxy (2 processes)",
                [main_server, proxy_server],
                lambda: http_load(proxy_server.ports["http"], rest, seconds, conns),
                seconds,
            )
            ratios["a"].append(inproc_rps / grpc_rps)
            ratios["b"].append(proxy_rps / grpc_rps)
            ratios["a-cpu"].append(grpc_cpu / inproc_cpu)
            ratios["b-cpu"].append(grpc_cpu / proxy_cpu)
    finally:
        proxy_server.stop()
        main_server.stop()
    med = {k: statistics.median(v) for k, v in ratios.items()}
    print()
    print(f"ratio (median of {args.runs} runs)           measured   goal   server-CPU ratio (peer/ours)")
    print(f"(a) in-process REST / direct gRPC        {med['a']:8.2f}   >= 2.0  {med['a-cpu']:8.2f}")
    print(f"(b) proxy REST / direct gRPC             {med['b']:8.2f}   >= 0.8  {med['b-cpu']:8.2f}")
    print(f"(d) lookup 1000 routes / 10 routes       {lookup[1000] / lookup[10]:8.2f}   <= 1.1")


if __name__ == "__main__":
    main()
