"""What an anonymous 100 MB upload costs a real ``protogw serve`` process: it is refused from its head,
so the server's memory does not grow with it (issue: a 126 MB body without a token used to be read
and decoded before the 401, +590 MB)."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from tests.support.serve import serve

BODY_MB = 100
# Memory the upload may cost the server at most (its peak RSS minus its RSS before the upload).
GROWTH_BOUND_MB = 20

HEADS = [
    ("no-token", b""),
    ("invalid-token", b"Authorization: Bearer not-a-session\r\n"),
    ("expect-100-continue", b"Expect: 100-continue\r\n"),
]


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise AssertionError(key)


def _reset_peak(pid: int) -> None:
    Path(f"/proc/{pid}/clear_refs").write_text("5")


@pytest.mark.slow
@pytest.mark.parametrize("extra", [h[1] for h in HEADS], ids=[h[0] for h in HEADS])
async def test_anonymous_100_mb_body_costs_no_memory(tmp_path: Path, extra: bytes) -> None:
    async with serve(f"sqlite:///{tmp_path / 'db.sqlite'}") as served:
        before = _status_kb(served.pid, "VmRSS")
        # Reset the high-water mark so the peak measured is the upload's (Linux: write 5 to clear_refs).
        _reset_peak(served.pid)
        reader, writer = await asyncio.open_connection("127.0.0.1", served.http_port)
        writer.write(
            b"POST /api/v1/experiments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + extra
            + b"Content-Length: %d\r\n\r\n" % (BODY_MB << 20)
        )
        answer = asyncio.ensure_future(reader.read(4096))
        chunk = b"{" + b" " * ((1 << 20) - 1)
        for _ in range(BODY_MB):
            if answer.done():
                break
            writer.write(chunk)
            with contextlib.suppress(ConnectionError):
                await writer.drain()
        status = await asyncio.wait_for(answer, 30)
        writer.transport.abort()
        peak = _status_kb(served.pid, "VmHWM")
    assert status.startswith(b"HTTP/1.1 401"), status[:100]
    growth_mb = (peak - before) / 1024
    assert growth_mb < GROWTH_BOUND_MB, f"the upload cost the server {growth_mb:.1f} MB"
