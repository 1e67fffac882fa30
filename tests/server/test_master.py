"""GetMaster and MasterLogs over real gRPC."""

from __future__ import annotations

import asyncio
import logging

import grpc
import grpc.aio
import pytest

from protogw.gen.determined.api.v1 import master_pb2
from protogw.gen.determined.log.v1 import log_pb2
from protogw.server.service import package_version
from tests.server.harness import Metadata, Running, running

log = logging.getLogger("protogw.test.master")


async def test_get_master_is_public_and_stable(api: Running, module_database_url: str) -> None:
    first = await api.stub.GetMaster(master_pb2.GetMasterRequest())
    assert (first.version, first.cluster_name) == (package_version(), "protogw")
    assert first.master_id
    assert first.cluster_id
    # A second master on the same database: same cluster, different process identity.
    async with running(module_database_url, cluster_name="other") as again:
        second = await again.stub.GetMaster(master_pb2.GetMasterRequest())
    assert (second.cluster_id, second.cluster_name) == (first.cluster_id, "other")
    assert second.master_id != first.master_id


async def read_all(api: Running, md: Metadata, *, offset: int = 0, limit: int = 0) -> list[log_pb2.LogEntry]:
    stream = api.stub.MasterLogs(master_pb2.MasterLogsRequest(offset=offset, limit=limit), metadata=md)
    return [r.log_entry async for r in stream]


# (offset, limit) -> which of the five markers come back, as indexes
WINDOWS = [
    ((-5, 0), [0, 1, 2, 3, 4]),
    ((-5, 2), [0, 1]),
    ((-2, 0), [3, 4]),
    ((-1, 1), [4]),
]


@pytest.mark.parametrize(("window", "expected"), WINDOWS)
async def test_master_logs_window(
    api: Running, user_md: Metadata, window: tuple[int, int], expected: list[int], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="protogw.test.master")
    tag = api.unique("window")
    for i in range(5):
        log.warning("%s marker %d", tag, i)
    offset, limit = window
    entries = await read_all(api, user_md, offset=offset, limit=limit)
    assert [e.message for e in entries] == [f"protogw.test.master: {tag} marker {i}" for i in expected]
    assert all(e.level == log_pb2.LOG_LEVEL_WARNING for e in entries)
    assert [e.id for e in entries] == sorted(e.id for e in entries)


async def test_master_logs_from_the_start(api: Running, user_md: Metadata) -> None:
    entries = await read_all(api, user_md, offset=0, limit=3)
    assert len(entries) == 3
    assert entries[0].id < entries[1].id < entries[2].id


async def test_master_logs_rejects_negative_limit(api: Running, user_md: Metadata) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as info:
        await read_all(api, user_md, limit=-1)
    assert (info.value.code(), info.value.details()) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        "limit must not be negative, got -1",
    )


async def test_master_logs_follow_sees_new_records(
    api: Running, user_md: Metadata, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="protogw.test.master")
    tag = api.unique("follow")
    log.warning("%s 0", tag)
    stream = api.stub.MasterLogs(master_pb2.MasterLogsRequest(offset=-1, follow=True), metadata=user_md)

    async def next_tagged() -> str:
        # Other parts of the process may log too; only this test's records count.
        while True:
            response = await stream.read()
            assert isinstance(response, master_pb2.MasterLogsResponse)
            if tag in response.log_entry.message:
                return response.log_entry.message.rsplit(" ", 1)[1]

    assert await next_tagged() == "0"
    log.warning("%s 1", tag)
    log.warning("%s 2", tag)
    assert [await next_tagged(), await next_tagged()] == ["1", "2"]
    stream.cancel()


async def followers_settle(api: Running, expected: int) -> int:
    """The follower count once it reaches ``expected``; the server notices cancellations asynchronously,
    so this waits a bounded time for it."""
    for _ in range(300):
        if api.service.logs.followers == expected:
            break
        await asyncio.sleep(0.01)
    return api.service.logs.followers


async def test_master_logs_follow_ends_when_client_cancels(
    api: Running, user_md: Metadata, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="protogw.test.master")
    log.warning("before cancel")
    assert await followers_settle(api, 0) == 0
    stream = api.stub.MasterLogs(master_pb2.MasterLogsRequest(offset=-1, follow=True), metadata=user_md)
    assert isinstance(await stream.read(), master_pb2.MasterLogsResponse)
    assert api.service.logs.followers == 1
    stream.cancel()
    assert await followers_settle(api, 0) == 0


# The per-call access log reaches MasterLogs only when asked: otherwise each follower would encode and
# send one line per call served (followers would cost throughput in proportion to their number).
ACCESS_LOG = [(False, False), (True, True)]


@pytest.mark.parametrize(("included", "seen"), ACCESS_LOG, ids=["default-left-out", "asked-for"])
async def test_access_log_in_master_logs(
    module_database_url: str, caplog: pytest.LogCaptureFixture, included: bool, seen: bool
) -> None:
    caplog.set_level(logging.INFO, logger="protogw.server.access")
    async with running(module_database_url, access_log_in_master_logs=included) as api:
        md = await api.login("determined")
        await api.stub.GetMaster(master_pb2.GetMasterRequest(), metadata=md)
        log.warning("marker after the calls")
        entries = await read_all(api, md, offset=0, limit=0)
    assert any(e.message.endswith("marker after the calls") for e in entries)
    assert any(e.message.startswith("protogw.server.access:") for e in entries) is seen
