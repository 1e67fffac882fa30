"""protogw.core.receipt: stamps only grow, and a task's receipt is set for a block and restored after."""

from __future__ import annotations

import asyncio

from protogw.core import receipt


def test_stamps_only_grow() -> None:
    stamps = [receipt.stamp() for _ in range(100)]
    assert stamps == sorted(set(stamps))


def test_receiving_sets_the_receipt_for_the_block_only() -> None:
    assert receipt.received() is None
    with receipt.receiving(7):
        assert receipt.received() == 7
        with receipt.receiving(None):
            assert receipt.received() is None
        assert receipt.received() == 7
    assert receipt.received() is None


async def test_each_task_sees_only_its_own_receipt() -> None:
    seen: dict[int, int | None] = {}

    async def serve(stamp: int) -> None:
        with receipt.receiving(stamp):
            await asyncio.sleep(0)  # the other task runs in between
            seen[stamp] = receipt.received()

    await asyncio.gather(serve(1), serve(2))
    assert seen == {1: 1, 2: 2}
    assert receipt.received() is None
