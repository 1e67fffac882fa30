"""gRPC transport: generic calls over a ``grpc.aio`` channel, driven by method descriptors.

No generated stubs are needed: the method's full name gives the call path, and its message classes
(looked up from the descriptor's pool) serialise the request and parse the response.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable
from typing import Any

import grpc
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.clients.errors import ApiError, from_grpc_status
from protogw.clients.transport import Metadata
from protogw.core.status import status_details_of

__all__ = ["GrpcTransport"]


def _path(method: MethodDescriptor) -> str:
    return f"/{method.containing_service.full_name}/{method.name}"


def _error(exc: grpc.aio.AioRpcError) -> ApiError:
    return from_grpc_status(exc.code(), exc.details() or exc.code().name, details=status_details_of(exc))


def _serialize(message: Message) -> bytes:
    return message.SerializeToString()


class GrpcTransport:
    """Calls any RPC over a ``grpc.aio`` channel.

    Pass ``channel`` to share one (it is then never closed here) or ``target`` (``host:port``) to have
    an insecure channel created and owned by the transport.
    """

    def __init__(self, channel: grpc.aio.Channel | None = None, *, target: str | None = None) -> None:
        if (channel is None) == (target is None):
            raise ValueError("pass exactly one of channel and target")
        self._owned = channel is None
        self._channel: grpc.aio.Channel = channel if channel is not None else grpc.aio.insecure_channel(str(target))

    @property
    def channel(self) -> grpc.aio.Channel:
        """The channel calls go over."""
        return self._channel

    def _parser(self, method: MethodDescriptor) -> Callable[[bytes], Any]:
        return GetMessageClass(method.output_type).FromString

    async def unary(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> Message:
        """Make a unary call; a failed status raises the matching :class:`ApiError`."""
        call = self._channel.unary_unary(
            _path(method), request_serializer=_serialize, response_deserializer=self._parser(method)
        )
        try:
            response: Message = await call(request, metadata=tuple(metadata), timeout=deadline)
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        return response

    async def server_stream(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> AsyncGenerator[Message, None]:
        """Yield each response of a server stream; the stream's failure status raises at the end."""
        multi = self._channel.unary_stream(
            _path(method), request_serializer=_serialize, response_deserializer=self._parser(method)
        )
        call = multi(request, metadata=tuple(metadata), timeout=deadline)
        try:
            async for response in call:
                yield response
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from None
        finally:
            # Leaving the loop early (break, an exception in the consumer) must not leave the call open.
            call.cancel()

    async def close(self) -> None:
        """Close the channel if this transport created it."""
        if self._owned:
            await self._channel.close()
