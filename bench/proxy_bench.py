"""The proxy hop (not a test): ways of making the gateway's gRPC call, against direct gRPC, in one run.

    .venv/bin/python bench/proxy_bench.py [--seconds 3] [--runs 3] [--rate 600] [--only proxy,sync-pool]

One ``protogw serve`` (1 worker, a fresh SQLite database with 100 demo experiments) answers everyone.
In front of it, one gateway process per contender (``create_app`` over Determined's descriptor set, as
``protogw gateway`` serves it), each making the unary gRPC call its own way (streams are not measured:
every contender keeps :class:`ProxyBackend`'s):

* ``nohop``      not a contender: each method answered with its first real answer, remembered - what the
                 gateway costs without the call, the floor every way of calling sits on;
* ``proxy``      :class:`ProxyBackend` as ``rest-proxy``/``gateway`` run it (grpc.aio, ``--channels 2``);
* ``proxy-1ch``  the same with one channel;
* ``proxy-noee`` the same process with ``GRPC_EXPERIMENTS=-event_engine_client`` (grpcio's iomgr TCP client
                 instead of the EventEngine one: the aio poller thread does the socket work itself);
* ``aio-tuned``  grpc.aio, one channel, registered methods (``_registered_method=True``, what generated
                 stubs use), retries, BDP probes and channelz off;
* ``sync-future`` the sync channel's ``future()``; its done-callback, on gRPC's thread, settles an asyncio
                 future with ``loop.call_soon_threadsafe`` (no thread per call);
* ``sync-batch`` the same, with one loop wake-up per burst of completions instead of one per call;
* ``sync-pool``  the sync channel's blocking ``with_call`` on a ``ThreadPoolExecutor`` of 8.
* ``curl``       not grpcio at all: libcurl's HTTP/2 client (``pycurl``, its multi-socket API driven by the
                 event loop) making the unary call, gRPC framing and status read here (no TLS, compression
                 or load balancing: a measurement of what a client outside grpcio costs, not a backend).

Each round measures every one twice, rounds alternated and their order rotated: as fast as it goes (wrk,
``--connections``) for req/s against ``direct`` (h2load sending pre-encoded frames straight to the
server, the peer; goal: proxy REST / direct gRPC >= 0.9), and at a fixed ``--rate`` (h2load ``--h1
--rps``) for the gateway process's CPU time per request, which then does not depend on how fast each
contender is. Load generators share the 2-core box with the servers; so may other work: read the load
average printed with the medians.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import collections
import concurrent.futures
import contextlib
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import grpc.aio

sys.path.insert(0, str(Path(__file__).resolve().parent))
from stack_bench import (
    Proc,
    _env,
    calls,
    check_grpc,
    free_port,
    h2load,
    login,
    seeded_database,
    start_serve,
    wait_http,
    wrk,
)

from protogw.core.bindings import MethodInfo
from protogw.core.status import status_details_of
from protogw.gateway.backend import Call, UnaryResult
from protogw.gateway.errors import GatewayError
from protogw.gateway.proxy import ProxyBackend

TARGETS = ("GetMaster", "GetExperiment")
DEFAULT = ("nohop", "proxy", "proxy-noee", "aio-tuned", "sync-batch", "sync-pool")

# --- the contenders' unary calls (everything else is ProxyBackend's) ---------------------------------------------


def _identity(data: bytes) -> bytes:
    return data


def _failed(exc: Any) -> GatewayError:
    return GatewayError(exc.code(), exc.details() or "", status_details_of(exc))


class NoHop(ProxyBackend):
    """Answers each method with its first real answer, remembered."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self._answers: dict[str, UnaryResult] = {}

    async def unary(self, method: MethodInfo, request: Any, call: Call) -> UnaryResult:
        answer = self._answers.get(method.grpc_path)
        if answer is None:
            answer = self._answers[method.grpc_path] = await super().unary(method, request, call)
        return answer


class TunedAio(ProxyBackend):
    """grpc.aio on one channel with ``options``, registered methods."""

    def __init__(self, target: str, options: tuple[tuple[str, Any], ...]) -> None:
        super().__init__(target, options=options)
        self._callables: dict[str, Any] = {}

    async def unary(self, method: MethodInfo, request: Any, call: Call) -> UnaryResult:
        mc = self._callables.get(method.grpc_path)
        if mc is None:
            channel = self._lane().channel
            mc = self._callables[method.grpc_path] = channel.unary_unary(
                method.grpc_path,
                request_serializer=_identity,
                response_deserializer=_identity,
                _registered_method=True,  # type: ignore[call-arg]
            )
        rpc = mc(request.SerializeToString(), metadata=call.metadata or None, timeout=call.time_left())
        try:
            raw = await rpc
            header, trailing = list(await rpc.initial_metadata()), list(await rpc.trailing_metadata())
        except grpc.aio.AioRpcError as exc:
            raise _failed(exc) from None
        return UnaryResult(method.response_class.FromString(raw), header, trailing)


class SyncChannel(ProxyBackend):
    """A sync ``grpc.Channel`` for the unary calls, opened and closed with the backend."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self._sync: grpc.Channel | None = None
        self._callables: dict[str, Any] = {}

    async def start(self) -> None:
        await super().start()
        self._sync = grpc.insecure_channel(self._target)

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
            self._sync = None
        await super().close()

    def _callable(self, path: str) -> Any:
        mc = self._callables.get(path)
        if mc is None:
            assert self._sync is not None
            mc = self._callables[path] = self._sync.unary_unary(
                path, request_serializer=_identity, response_deserializer=_identity
            )
        return mc


class SyncFuture(SyncChannel):
    """``future()``, settled on the loop by ``call_soon_threadsafe``: per call, or (``batched``) once per
    burst - completions queue up, and only the first of a burst wakes the loop."""

    def __init__(self, target: str, *, batched: bool) -> None:
        super().__init__(target)
        self._batched = batched
        self._finished: collections.deque[asyncio.Future[None]] = collections.deque()

    def _drain(self) -> None:
        finished = self._finished
        while finished:
            waiter = finished.popleft()
            if not waiter.done():
                waiter.set_result(None)

    async def unary(self, method: MethodInfo, request: Any, call: Call) -> UnaryResult:
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        future = self._callable(method.grpc_path).future(
            request.SerializeToString(), metadata=call.metadata or None, timeout=call.time_left()
        )
        if self._batched:
            finished = self._finished

            def done(_: Any) -> None:
                finished.append(waiter)
                if len(finished) == 1:
                    loop.call_soon_threadsafe(self._drain)
        else:

            def done(_: Any) -> None:
                loop.call_soon_threadsafe(lambda: waiter.done() or waiter.set_result(None))

        future.add_done_callback(done)
        try:
            await waiter
        except asyncio.CancelledError:
            future.cancel()
            raise
        if future.exception() is not None:
            raise _failed(future.exception())
        return UnaryResult(
            method.response_class.FromString(future.result()),
            list(future.initial_metadata() or ()),
            list(future.trailing_metadata() or ()),
        )


class SyncPool(SyncChannel):
    """Blocking ``with_call`` on a thread pool."""

    def __init__(self, target: str, threads: int = 8) -> None:
        super().__init__(target)
        self._pool = concurrent.futures.ThreadPoolExecutor(threads)

    async def close(self) -> None:
        await super().close()
        self._pool.shutdown()

    async def unary(self, method: MethodInfo, request: Any, call: Call) -> UnaryResult:
        mc = self._callable(method.grpc_path)
        data, metadata, timeout = request.SerializeToString(), call.metadata or None, call.time_left()
        try:
            raw, rpc = await asyncio.get_running_loop().run_in_executor(
                self._pool, lambda: mc.with_call(data, metadata=metadata, timeout=timeout)
            )
        except grpc.RpcError as exc:
            raise _failed(exc) from None
        return UnaryResult(
            method.response_class.FromString(raw), list(rpc.initial_metadata()), list(rpc.trailing_metadata())
        )


class _CurlExchange:
    """One unary call's easy handle and what libcurl hands back: header lines (the trailers follow
    the blank line that ends the headers) and body chunks."""

    __slots__ = ("body", "curl", "lines", "waiter")

    def __init__(self, pycurl: Any) -> None:
        self.curl = pycurl.Curl()
        self.lines: list[bytes] = []
        self.body: list[bytes] = []
        self.waiter: asyncio.Future[int] | None = None
        self.curl.setopt(pycurl.HTTP_VERSION, pycurl.CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE)
        self.curl.setopt(pycurl.PIPEWAIT, 1)  # wait to multiplex on the open connection, not open another
        self.curl.setopt(pycurl.POST, 1)
        self.curl.setopt(pycurl.WRITEFUNCTION, self.body.append)
        self.curl.setopt(pycurl.HEADERFUNCTION, self.lines.append)


class CurlUnary(ProxyBackend):
    """Unary calls through libcurl's HTTP/2 client (pycurl, multi-socket API driven by the event loop):
    gRPC framing, metadata, ``grpc-timeout``, status and trailers handled here. Not a gateway backend
    (no TLS, compression or load balancing): a measurement of what a non-grpcio client costs per call."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        import pycurl

        self._pycurl = pycurl
        self._idle: list[_CurlExchange] = []
        self._active: dict[Any, _CurlExchange] = {}
        self._multi = multi = pycurl.CurlMulti()
        multi.setopt(pycurl.M_PIPELINING, pycurl.PIPE_MULTIPLEX)
        multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # libcurl asks which sockets to watch and when to wake it; the loop then tells it what happened.
    def _on_socket(self, what: int, fd: int, multi: Any, data: Any) -> None:
        pycurl, loop = self._pycurl, self._loop
        assert loop is not None
        loop.remove_reader(fd)
        loop.remove_writer(fd)
        if what in (pycurl.POLL_IN, pycurl.POLL_INOUT):
            loop.add_reader(fd, self._act, fd, pycurl.CSELECT_IN)
        if what in (pycurl.POLL_OUT, pycurl.POLL_INOUT):
            loop.add_writer(fd, self._act, fd, pycurl.CSELECT_OUT)

    def _on_timer(self, ms: int) -> None:
        assert self._loop is not None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if ms >= 0:
            self._timer = self._loop.call_later(ms / 1000, self._act, self._pycurl.SOCKET_TIMEOUT, 0)

    def _act(self, fd: int, events: int) -> None:
        multi = self._multi
        while multi.socket_action(fd, events)[0] == self._pycurl.E_CALL_MULTI_PERFORM:
            pass
        while True:
            queued, ok, failed = multi.info_read()
            for curl in ok:
                self._settle(curl, 0)
            for curl, code, _ in failed:
                self._settle(curl, code)
            if not queued:
                break

    def _settle(self, curl: Any, code: int) -> None:
        self._multi.remove_handle(curl)
        exchange = self._active.pop(curl, None)
        if exchange is not None and exchange.waiter is not None and not exchange.waiter.done():
            exchange.waiter.set_result(code)

    async def unary(self, method: MethodInfo, request: Any, call: Call) -> UnaryResult:
        pycurl = self._pycurl
        self._loop = asyncio.get_running_loop()
        exchange = self._idle.pop() if self._idle else _CurlExchange(pycurl)
        curl = exchange.curl
        payload = request.SerializeToString()
        headers = ["content-type: application/grpc", "te: trailers"]
        timeout = call.time_left()
        if timeout is not None:
            headers.append(f"grpc-timeout: {max(1, int(timeout * 1000))}m")
            curl.setopt(pycurl.TIMEOUT_MS, max(1, int(timeout * 1000)))
        else:
            curl.setopt(pycurl.TIMEOUT_MS, 0)
        for key, value in call.metadata or ():
            if isinstance(value, bytes):
                value = base64.b64encode(value).decode("ascii")
            headers.append(f"{key}: {value}")
        curl.setopt(pycurl.URL, f"http://{self._target}{method.grpc_path}")
        curl.setopt(pycurl.HTTPHEADER, headers)
        curl.setopt(pycurl.POSTFIELDS, b"\0" + len(payload).to_bytes(4, "big") + payload)
        exchange.lines.clear()
        exchange.body.clear()
        exchange.waiter = waiter = self._loop.create_future()
        self._active[curl] = exchange
        self._multi.add_handle(curl)
        try:
            code = await waiter
        except asyncio.CancelledError:
            if self._active.pop(curl, None) is not None:
                self._multi.remove_handle(curl)
            raise
        self._idle.append(exchange)
        if code == pycurl.E_OPERATION_TIMEDOUT:
            raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        if code:
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, f"libcurl error {code}")
        header, trailing, status, message = _curl_metadata(exchange.lines)
        if status != 0:
            raise GatewayError(_STATUS_BY_NUMBER.get(status, grpc.StatusCode.UNKNOWN), message)
        frame = b"".join(exchange.body)
        if len(frame) < 5 or frame[0] != 0:
            raise GatewayError(grpc.StatusCode.INTERNAL, "a response frame this contender cannot read")
        return UnaryResult(method.response_class.FromString(frame[5:]), header, trailing)


_STATUS_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def _curl_metadata(lines: list[bytes]) -> tuple[list[tuple[str, str]], list[tuple[str, str]], int, str]:
    """Header and trailer metadata, grpc-status and grpc-message from libcurl's header lines."""
    header: list[tuple[str, str]] = []
    trailing: list[tuple[str, str]] = []
    into, status, message = header, 2, ""
    for raw in lines:
        line = raw.decode("latin-1").rstrip("\r\n")
        if not line:
            into = trailing
            continue
        name, sep, value = line.partition(":")
        if not sep:
            continue  # the status line
        name, value = name.strip().lower(), value.strip()
        if name == "grpc-status":
            status = int(value)
        elif name == "grpc-message":
            message = urllib.parse.unquote(value)
        elif not name.startswith((":", "grpc-")) and name not in ("content-type", "content-length"):
            into.append((name, value))
    return header, trailing, status, message


@dataclass(frozen=True)
class Contender:
    make: Callable[[str], ProxyBackend]
    env: tuple[tuple[str, str], ...] = ()


TUNED = (("grpc.enable_retries", 0), ("grpc.http2.bdp_probe", 0), ("grpc.enable_channelz", 0))

CONTENDERS: dict[str, Contender] = {
    "nohop": Contender(NoHop),
    "proxy": Contender(lambda t: ProxyBackend(t, channels=2)),
    "proxy-1ch": Contender(lambda t: ProxyBackend(t, channels=1)),
    "proxy-noee": Contender(lambda t: ProxyBackend(t, channels=2), (("GRPC_EXPERIMENTS", "-event_engine_client"),)),
    "aio-tuned": Contender(lambda t: TunedAio(t, TUNED)),
    "sync-future": Contender(lambda t: SyncFuture(t, batched=False)),
    "sync-batch": Contender(lambda t: SyncFuture(t, batched=True)),
    "sync-pool": Contender(SyncPool),
    "curl": Contender(CurlUnary),
}


def serve_gateway(name: str, backend: str, port: int) -> None:
    """A gateway process: Determined's routes from its descriptor set, ``name``'s backend."""
    import uvloop

    from protogw.gateway.app import RouteTable, create_app
    from protogw.gateway.cli import bind, serve
    from protogw.server.rest import determined_descriptor_set
    from protogw.server.service import SERVICE_NAME

    routes = RouteTable.from_descriptor_set(determined_descriptor_set(), [SERVICE_NAME])
    app = create_app(routes, CONTENDERS[name].make(backend))
    uvloop.run(serve(app, bind("127.0.0.1", port), log_level="error"))


# --- the run -------------------------------------------------------------------------------------------------------


@dataclass
class Result:
    rps: float
    p50_ms: float
    gateway_us: float
    server_us: float


def paced(url: str, rate: int, seconds: int, headers: dict[str, str], work: Path) -> tuple[float, float, float, int]:
    """HTTP/1.1 requests at a fixed rate (h2load ``--h1 --rps``, 8 connections): req/s, p50 ms, 0, count."""
    clients = 8
    logfile = work / "paced.log"
    header_args = [arg for k, v in headers.items() for arg in ("-H", f"{k}: {v}")]
    out = subprocess.run(
        ["h2load", "--h1", f"-c{clients}", "-t1", f"--rps={max(1, rate // clients)}", f"-D{seconds}",
         "--log-file", str(logfile), *header_args, url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, \d+ succeeded, (\d+) failed, (\d+) errored", out)
    bad = re.search(r"status codes: \d+ 2xx, \d+ 3xx, (\d+) 4xx, (\d+) 5xx", out)
    if m is None or bad is None or any(int(n) for n in (*m.groups()[1:], *bad.groups())):
        raise RuntimeError(f"h2load errors on {url}:\n{out}")
    elapsed = sorted(int(line.split("\t")[2]) for line in logfile.read_text().splitlines() if line.count("\t") >= 2)
    done = int(m.group(1))
    return done / seconds, (elapsed[len(elapsed) // 2] / 1000 if elapsed else 0.0), 0.0, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rate", type=int, default=600, help="req/s of the fixed-rate measurement (0: skip it)")
    parser.add_argument(
        "--only", default=",".join(DEFAULT), help=f"contenders, comma-separated, of: {', '.join(CONTENDERS)}"
    )
    parser.add_argument("--targets", default=",".join(TARGETS), help=f"of: {', '.join(TARGETS)}")
    parser.add_argument("--serve-gateway", nargs=3, metavar=("NAME", "BACKEND", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_gateway:
        name, backend, port = args.serve_gateway
        serve_gateway(name, backend, int(port))
        return
    if not shutil.which("wrk") or not shutil.which("h2load"):
        print("proxy_bench skipped: it needs wrk and h2load (apt-get install -y wrk nghttp2-client)")
        return
    names = [n for n in args.only.split(",") if n]
    targets = [t for t in args.targets.split(",") if t]
    unknown = [n for n in names if n not in CONTENDERS] + [t for t in targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown: {', '.join(unknown)}")
    work = Path(tempfile.mkdtemp(prefix="protogw-proxy-"))
    database = seeded_database(work)
    env = _env()
    load1 = os.getloadavg()[0]
    print(f"proxy benchmark: {args.seconds}s per measurement after 1s warm-up, {args.connections} connections and "
          f"{args.rate} req/s, {args.runs} rounds, {os.cpu_count()} CPUs shared with wrk/h2load; "
          f"load average at start {load1:.2f}")  # fmt: skip
    procs: list[Proc] = []
    results: dict[tuple[str, str, str], list[Result]] = {}
    try:
        server, grpc_port, http_port = start_serve("serve", database, work / "serve.log", "--log-level", "warning")
        procs.append(server)
        wait_http(server, f"http://127.0.0.1:{http_port}/api/v1/master")
        gateways: dict[str, tuple[Proc, int]] = {}
        for name in names:
            port = free_port()
            gateway = Proc(
                name,
                [sys.executable, __file__, "--serve-gateway", name, f"127.0.0.1:{grpc_port}", str(port)],
                work / f"gateway-{name}.log", {**env, **dict(CONTENDERS[name].env)},
            )  # fmt: skip
            procs.append(gateway)
            gateways[name] = (gateway, port)
        for gateway, port in gateways.values():
            wait_http(gateway, f"http://127.0.0.1:{port}/api/v1/master")
        token = login(http_port)
        rest, grpc_calls = calls(token)
        check_grpc(grpc_port, grpc_calls)
        headers = {"Authorization": f"Bearer {token}"}
        phases = ["max", "paced"] if args.rate else ["max"]
        plan = [
            (phase, target, mode)
            for phase in phases
            for target in targets
            for mode in ("direct", *names)
            if not (phase == "paced" and mode == "direct")
        ]
        for run in range(1, args.runs + 1):
            print(f"round {run}/{args.runs} (load average {os.getloadavg()[0]:.2f})", flush=True)
            # Rotate the order each round: nobody always runs right after the same neighbour.
            shift = (run - 1) * len(plan) // args.runs
            for phase, target, mode in plan[shift:] + plan[:shift]:
                gateway = gateways[mode][0] if mode != "direct" else None
                for p in (server, gateway):
                    if p is not None:
                        p.check()

                def go(
                    seconds: int, ph: str = phase, m: str = mode, t: str = target
                ) -> tuple[float, float, float, int]:
                    if m == "direct":
                        return h2load(grpc_port, grpc_calls[t], seconds, args.connections, work)
                    url = f"http://127.0.0.1:{gateways[m][1]}{rest[t]}"
                    if ph == "paced":
                        return paced(url, args.rate, seconds, headers, work)
                    return wrk(url, seconds, args.connections, headers)

                go(1)  # warm-up
                s0, g0 = server.cpu_seconds(), gateway.cpu_seconds() if gateway else 0.0
                rps, p50, _, total = go(args.seconds)
                s1, g1 = server.cpu_seconds(), gateway.cpu_seconds() if gateway else 0.0
                n = max(total, 1)
                r = Result(rps, p50, (g1 - g0) / n * 1e6, (s1 - s0) / n * 1e6)
                results.setdefault((phase, target, mode), []).append(r)
                print(f"  {phase:<5} {target:<13} {mode:<11} {rps:>7.0f} req/s  p50 {p50:6.2f} ms  gateway "
                      f"{r.gateway_us:6.1f} us/req  server {r.server_us:6.1f} us/req", flush=True)  # fmt: skip
    finally:
        for p in reversed(procs):
            p.stop()
        shutil.rmtree(work, ignore_errors=True)
    report(results, targets, ["direct", *names], args)


def report(
    results: dict[tuple[str, str, str], list[Result]], targets: list[str], modes: list[str], args: argparse.Namespace
) -> None:
    def med(rs: list[Result], attr: str) -> float:
        return statistics.median(getattr(r, attr) for r in rs)

    print()
    print(f"medians of {args.runs} rounds (load average at end {os.getloadavg()[0]:.2f}); CPU: microseconds per "
          f"request of the gateway process and of the gRPC server")  # fmt: skip
    print(f"{'':<25} {f'-- {args.connections} connections, as fast as it goes --':<47}  -- at {args.rate} req/s --")
    print(f"{'target':<13} {'mode':<11} {'req/s':>7} {'/direct':>7} {'p50 ms':>7} {'gw CPU':>7} {'srv CPU':>7}   "
          f"{'p50 ms':>7} {'gw CPU':>7} {'srv CPU':>7}")  # fmt: skip
    for target in targets:
        direct = results.get(("max", target, "direct"), [])
        for mode in modes:
            rs = results.get(("max", target, mode))
            if not rs:
                continue
            ratio = ""
            if mode != "direct" and direct:
                # Per round: each contender against the direct measurement of the same round.
                ratio = f"{statistics.median(x.rps / y.rps for x, y in zip(rs, direct, strict=True)):.2f}"
            line = (f"{target:<13} {mode:<11} {med(rs, 'rps'):>7.0f} {ratio:>7} {med(rs, 'p50_ms'):>7.2f} "
                    f"{med(rs, 'gateway_us'):>7.0f} {med(rs, 'server_us'):>7.0f}")  # fmt: skip
            ps = results.get(("paced", target, mode))
            if ps:
                line += f"   {med(ps, 'p50_ms'):>7.2f} {med(ps, 'gateway_us'):>7.0f} {med(ps, 'server_us'):>7.0f}"
            print(line)
    print("/direct: median of the per-round ratios, proxy REST req/s / direct gRPC req/s (goal >= 0.9)")


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()
