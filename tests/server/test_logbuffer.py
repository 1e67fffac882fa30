"""The log ring buffer: ids, offsets, limits, eviction and following."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

import pytest

from protogw.server.logbuffer import LogBuffer


def filled(n: int, capacity: int = 100) -> LogBuffer:
    buffer = LogBuffer(capacity)
    for i in range(n):
        buffer.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "m%d", (i,), None))
    return buffer


async def messages(buffer: LogBuffer, *, offset: int = 0, limit: int = 0) -> list[str]:
    return [e.message async for e in buffer.read(offset=offset, limit=limit)]


# (records emitted, capacity, offset, limit, expected messages)
WINDOWS = [
    (5, 100, 0, 0, ["t: m0", "t: m1", "t: m2", "t: m3", "t: m4"]),
    (5, 100, 2, 0, ["t: m2", "t: m3", "t: m4"]),
    (5, 100, -2, 0, ["t: m3", "t: m4"]),
    (5, 100, -50, 0, ["t: m0", "t: m1", "t: m2", "t: m3", "t: m4"]),
    (5, 100, 50, 0, []),
    (5, 100, 1, 2, ["t: m1", "t: m2"]),
    (5, 3, 0, 0, ["t: m2", "t: m3", "t: m4"]),
    (5, 3, -1, 0, ["t: m4"]),
    (0, 3, 0, 0, []),
]


@pytest.mark.parametrize(("n", "capacity", "offset", "limit", "expected"), WINDOWS)
async def test_windows(n: int, capacity: int, offset: int, limit: int, expected: list[str]) -> None:
    assert await messages(filled(n, capacity), offset=offset, limit=limit) == expected


async def test_ids_count_every_record_even_evicted_ones() -> None:
    entries = [e async for e in filled(10, 4).read()]
    assert [e.id for e in entries] == [7, 8, 9, 10]


async def test_follow_receives_records_from_other_threads() -> None:
    buffer = filled(1)
    reader = buffer.read(offset=-1, follow=True, limit=3)
    assert (await anext(reader)).message == "t: m0"
    assert buffer.followers == 1

    def emit_later() -> None:
        for i in (1, 2):
            buffer.emit(logging.LogRecord("t", logging.WARNING, __file__, 1, "late %d", (i,), None))

    thread = threading.Thread(target=emit_later)
    thread.start()
    rest = [e.message async for e in reader]
    thread.join()
    assert rest == ["t: late 1", "t: late 2"]
    assert buffer.followers == 0


async def test_cancelled_follower_detaches() -> None:
    buffer = filled(0)

    async def follow() -> None:
        async for _ in buffer.read(follow=True):
            pass

    task = asyncio.create_task(follow())
    await asyncio.sleep(0)
    assert buffer.followers == 1
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert buffer.followers == 0


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        LogBuffer(0)


async def test_limit_must_not_be_negative() -> None:
    with pytest.raises(ValueError, match="limit"):
        await messages(filled(1), limit=-1)


class CountingBuffer(LogBuffer):
    """The real buffer, counting the loop wake-ups it schedules."""

    def __init__(self, capacity: int) -> None:
        super().__init__(capacity)
        self.wakeups = 0

    def _wake(self, waker: Any) -> None:
        self.wakeups += 1
        super()._wake(waker)


# (followers, records emitted in one burst, capacity)
BURSTS = [(1, 1, 10), (50, 1, 10), (200, 1000, 5000), (200, 1000, 100)]


@pytest.mark.parametrize(("followers", "records", "capacity"), BURSTS)
async def test_a_burst_wakes_each_loop_once(followers: int, records: int, capacity: int) -> None:
    buffer = CountingBuffer(capacity)
    received: list[list[int]] = [[] for _ in range(followers)]

    async def follow(into: list[int]) -> None:
        async for entry in buffer.read(follow=True, limit=min(records, capacity)):
            into.append(entry.id)

    tasks = [asyncio.create_task(follow(r)) for r in received]
    await asyncio.sleep(0)
    assert buffer.followers == followers
    for i in range(records):
        buffer.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "m%d", (i,), None))
    await asyncio.wait_for(asyncio.gather(*tasks), 10)
    # However many followers and records: one wake-up for the burst, and every follower got the
    # records still kept, in order, from the one shared ring.
    assert buffer.wakeups == 1
    kept = list(range(max(1, records - capacity + 1), records + 1))
    assert all(r == kept for r in received)
    assert buffer.followers == 0


async def test_stop_following_ends_followers_at_once() -> None:
    buffer = filled(3)
    reader = buffer.read(offset=0, follow=True)
    assert (await anext(reader)).message == "t: m0"
    waiting = [asyncio.create_task(anext(buffer.read(offset=3, follow=True)))]
    await asyncio.sleep(0)
    buffer.stop_following()
    # The reader with a backlog stops at the record boundary instead of sending the rest ...
    assert [e async for e in reader] == []
    # ... the waiting one wakes and ends, and new follow reads end at once; plain reads still work.
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(waiting[0], 5)
    assert [e async for e in buffer.read(follow=True)] == []
    assert await messages(buffer) == ["t: m0", "t: m1", "t: m2"]
    assert buffer.followers == 0


async def test_plain_read_ends_at_the_records_kept_when_it_started() -> None:
    buffer = filled(2)
    seen = []
    async for entry in buffer.read():
        seen.append(entry.message)
        buffer.emit(logging.LogRecord("t", logging.INFO, __file__, 1, "during", None, None))
    assert seen == ["t: m0", "t: m1"]
