"""GetMaster and MasterLogs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

from protogw.gen.determined.api.v1 import master_pb2
from protogw.server import convert
from protogw.server.context import current_user
from protogw.server.errors import ServiceError, invalid_argument
from protogw.server.logbuffer import LogBuffer
from protogw.server.throttle import StreamSlots

#: How a follow stream ends when the server shuts down: clients may reconnect to another replica.
SHUTTING_DOWN = "the server is shutting down"


class MasterServicer:
    """Facts about this master process and a window onto its log.

    The cluster id lives in the database (so it survives restarts and is shared by replicas); it is
    read on the first GetMaster and then kept, since it never changes. Every MasterLogs stream holds
    one of ``streams``' slots while it is open (RESOURCE_EXHAUSTED past the caps); at shutdown,
    follow streams end at once with UNAVAILABLE.
    """

    def __init__(
        self,
        *,
        version: str,
        master_id: str,
        cluster_name: str,
        cluster_id: Callable[[], Awaitable[str]],
        logs: LogBuffer,
        streams: StreamSlots | None = None,
    ) -> None:
        self._version = version
        self._master_id = master_id
        self._cluster_name = cluster_name
        self._load_cluster_id = cluster_id
        self._cluster_id: str | None = None
        self._logs = logs
        self._streams = streams or StreamSlots()

    async def _describe(self) -> master_pb2.GetMasterResponse:
        if self._cluster_id is None:
            self._cluster_id = await self._load_cluster_id()
        return master_pb2.GetMasterResponse(
            version=self._version,
            master_id=self._master_id,
            cluster_id=self._cluster_id,
            cluster_name=self._cluster_name,
            user_management_enabled=True,
        )

    async def GetMaster(
        self, request: master_pb2.GetMasterRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> master_pb2.GetMasterResponse:
        return await self._describe()

    async def MasterLogs(
        self, request: master_pb2.MasterLogsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[master_pb2.MasterLogsResponse]:
        if request.limit < 0:
            raise invalid_argument(f"limit must not be negative, got {request.limit}")
        sent = 0
        with self._streams.hold(current_user().username):
            async for entry in self._logs.read(offset=request.offset, limit=request.limit, follow=request.follow):
                yield master_pb2.MasterLogsResponse(log_entry=convert.log_entry(entry))
                sent += 1
        if request.follow and self._logs.stopped and not (request.limit and sent >= request.limit):
            raise ServiceError(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)

    def stop_streams(self) -> None:
        """End every follow stream now (the process is shutting down)."""
        self._logs.stop_following()
