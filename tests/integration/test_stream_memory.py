"""A client stream of 200 MB through ``protogw gateway`` (a real process, proxy mode) in bounded memory:
the body is split and sent message by message as it arrives, never buffered whole."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import httpx
import pytest

from tests.gateway.upstream_service import STREAM_SERVICE, Recorder, add_upstream_services
from tests.support.serve import PROTOGW, read_ports

DESCRIPTORS = Path(__file__).resolve().parents[1] / "gen" / "descriptors" / "grpcgateway.binpb"
GATEWAY_LISTENING = re.compile(rb"gateway listening on http://127\.0\.0\.1:(\d+)")
TOTAL = 200 * 1024 * 1024
MESSAGE = b'{"stringValue": "' + b"x" * (64 * 1024) + b'", "int32Value": 1}\n'
# Measured: 108 MB peak (the process alone is ~60-90 MB); a buffered 200 MB body would be far above.
PEAK_RSS_BOUND_MB = 150


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


@pytest.mark.slow
async def test_client_stream_of_200_mb_in_bounded_memory() -> None:
    recorder = Recorder(keep=False)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 8 << 20)])
    add_upstream_services(server, recorder)
    grpc_port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    proc = await asyncio.create_subprocess_exec(
        PROTOGW,
        "gateway",
        "--backend",
        f"127.0.0.1:{grpc_port}",
        "--descriptor-set",
        str(DESCRIPTORS),
        "--service",
        STREAM_SERVICE,
        "--http-addr",
        "127.0.0.1:0",
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        (port,) = (await read_ports(proc, GATEWAY_LISTENING, 1)).values()
        count = TOTAL // len(MESSAGE) + 1

        async def body() -> AsyncIterator[bytes]:
            for _ in range(count):
                yield MESSAGE

        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
            response = await client.post("/v1/example/a_bit_of_everything/bulk", content=body())
        assert response.status_code == 200, response.text
        assert recorder.count == count
        assert count * len(MESSAGE) >= TOTAL
        peak = _peak_rss_mb(proc.pid)
        assert peak < PEAK_RSS_BOUND_MB, f"gateway peak RSS {peak:.0f} MB"
    finally:
        proc.terminate()
        await proc.wait()
        await server.stop(None)
