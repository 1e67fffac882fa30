"""Soak (not a test): mixed REST load plus log followers that connect and vanish, against ``protogw serve``.

Starts ``protogw serve`` on a fresh SQLite file (access log on; MasterLogs leaves it out by default,
``ServiceConfig.access_log_in_master_logs``, so followers are sent the server's other records) and over REST:

1. **baseline**: the mixed load alone for ``--phase`` seconds (GetMaster, CurrentUser, GetExperiments,
   now and then CreateExperiment), ``--concurrency`` callers; requests per second;
2. **idle followers**: the same with ``--followers`` open ``/api/v1/master/logs?follow=true`` streams
   that read what they are sent; the throughput ratio to the baseline;
3. **churn**: for ``--seconds`` (60 by default) the load runs while followers keep connecting, reading a
   little and vanishing (half close, half reset the connection).

It prints the server's RSS and open files at start and end, the load's error count, how many of the
server's log lines were ``socket.send() raised exception`` warnings or tracebacks, and whether every
follower ended (the count of open streams is read back from the log).

Run: ``.venv/bin/python bench/soak.py [--seconds 60] [--phase 10] [--followers 100] [--concurrency 16]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import sys
import tempfile
import time
from pathlib import Path

import httpx

PROTOGW = str(Path(sys.executable).parent / "protogw")
REST_LISTENING = re.compile(rb"REST gateway listening on http://127\.0\.0\.1:(\d+)")


class Server:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.lines = 0
        self.flood = 0
        self.tracebacks = 0

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.process.pid}/fd"))

    async def read_log(self, stream: asyncio.StreamReader) -> None:
        async for line in stream:
            self.lines += 1
            self.flood += b"socket.send() raised exception" in line
            self.tracebacks += line.startswith(b"Traceback")


async def start(folder: Path) -> Server:
    process = await asyncio.create_subprocess_exec(
        PROTOGW,
        "serve",
        "--database",
        f"sqlite+aiosqlite:///{folder / 'soak.db'}",
        "--grpc-addr",
        "127.0.0.1:0",
        "--http-addr",
        "127.0.0.1:0",
        "--initial-password",
        "soak",
        "--max-streams-per-user",
        "100000",
        "--max-streams",
        "100000",
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    while True:
        line = await asyncio.wait_for(process.stderr.readline(), 60)
        if not line:
            raise RuntimeError("protogw serve exited early")
        if m := REST_LISTENING.search(line):
            server = Server(process, int(m.group(1)))
            asyncio.get_running_loop().create_task(server.read_log(process.stderr))
            return server


class Load:
    def __init__(self, client: httpx.AsyncClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        self.done = 0
        self.errors = 0

    async def one(self, i: int) -> None:
        if i % 20 == 0:
            request = self.client.post(
                "/api/v1/experiments", json={"config": f"name: soak-{i}\n"}, headers=self.headers
            )
        else:
            path = ("/api/v1/master", "/api/v1/auth/user", "/api/v1/experiments?limit=10")[i % 3]
            request = self.client.get(path, headers=self.headers)
        try:
            response = await request
            self.errors += response.status_code >= 400
        except httpx.HTTPError:
            self.errors += 1
        self.done += 1

    async def run(self, seconds: float, concurrency: int) -> float:
        """Requests per second over ``seconds``."""
        before = self.done
        deadline = time.monotonic() + seconds

        async def worker(k: int) -> None:
            i = k
            while time.monotonic() < deadline:
                await self.one(i)
                i += concurrency

        started = time.monotonic()
        await asyncio.gather(*(worker(k) for k in range(concurrency)))
        return (self.done - before) / (time.monotonic() - started)


async def follower(port: int, token: str, hold: float | None, sse: bool, reset: bool) -> None:
    """A follow stream that reads what it is sent, then vanishes after ``hold`` seconds (None: never)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    accept = "text/event-stream" if sse else "application/json"
    writer.write(
        f"GET /api/v1/master/logs?follow=true&offset=-1 HTTP/1.1\r\nHost: soak\r\n"
        f"Authorization: Bearer {token}\r\nAccept: {accept}\r\n\r\n".encode()
    )
    try:
        deadline = None if hold is None else time.monotonic() + hold
        while deadline is None or time.monotonic() < deadline:
            timeout = None if deadline is None else max(0.01, deadline - time.monotonic())
            try:
                if not await asyncio.wait_for(reader.read(65536), timeout):
                    return
            except TimeoutError:
                break
    finally:
        if reset:
            writer.transport.abort()
        else:
            writer.close()


async def main(seconds: float, phase: float, followers: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        server = await start(Path(tmp))
        try:
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{server.port}",
                timeout=30,
                limits=httpx.Limits(max_connections=concurrency),
            ) as client:
                login = await client.post("/api/v1/auth/login", json={"username": "admin", "password": "soak"})
                token = login.json()["token"]
                load = Load(client, token)
                await load.run(2, concurrency)  # warm-up
                rss0, files0, errors0 = server.rss_mb(), server.open_files(), load.errors
                baseline = await load.run(phase, concurrency)
                idle = [
                    asyncio.create_task(follower(server.port, token, None, i % 2 == 0, False)) for i in range(followers)
                ]
                await asyncio.sleep(1)
                with_followers = await load.run(phase, concurrency)
                for task in idle:
                    task.cancel()
                await asyncio.gather(*idle, return_exceptions=True)

                churned = 0
                stop = time.monotonic() + seconds

                async def churn() -> None:
                    nonlocal churned
                    while time.monotonic() < stop:
                        hold = random.uniform(0.05, 2.0)
                        await follower(server.port, token, hold, random.random() < 0.5, random.random() < 0.5)
                        churned += 1

                churners = [asyncio.create_task(churn()) for _ in range(followers)]
                soak_rate = await load.run(seconds, concurrency)
                await asyncio.gather(*churners, return_exceptions=True)
                await asyncio.sleep(2)  # let the last vanished streams end
                rss1, files1 = server.rss_mb(), server.open_files()
        finally:
            server.process.terminate()
            await server.process.wait()
    print(f"soak: {seconds:.0f} s churn, {phase:.0f} s phases, {followers} followers, {concurrency} callers")
    print(f"  start: RSS {rss0:6.1f} MB  open files {files0:5d}  load errors {errors0}")
    print(
        f"  end:   RSS {rss1:6.1f} MB  open files {files1:5d}  load errors {load.errors}  (RSS +{rss1 - rss0:.1f} MB)"
    )
    print(f"  followers that came and went: {churned}")
    print(
        f"  server log: {server.lines} lines, {server.flood} 'socket.send() raised exception', {server.tracebacks} tracebacks"
    )
    print(f"  throughput: baseline {baseline:.0f} req/s, with {followers} idle followers {with_followers:.0f} req/s")
    print(f"  ratio with/without followers: {with_followers / baseline:.3f}; during churn {soak_rate:.0f} req/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--phase", type=float, default=10.0)
    parser.add_argument("--followers", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    asyncio.run(main(args.seconds, args.phase, args.followers, args.concurrency))
