"""The interface between the HTTP side of the gateway and whatever runs the RPCs.

Two implementations: :class:`protogw.gateway.inprocess.InProcessBackend` (the service's handlers and
interceptors in this event loop, no network hop) and :class:`protogw.gateway.proxy.ProxyBackend` (any
gRPC server, over one reused channel). A failed call raises :class:`~protogw.gateway.errors.GatewayError`
with the gRPC code, message, ``google.rpc.Status`` details and the metadata received so far.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Protocol

from google.protobuf.message import Message

from protogw.core.bindings import MethodInfo
from protogw.gateway.headers import Metadata

__all__ = ["Backend", "CallInfo", "StreamCall", "UnaryResult"]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """Per-call inputs besides the request: metadata, timeout (seconds) and the HTTP peer."""

    metadata: Metadata
    timeout: float | None = None
    peer: str = ""


@dataclass(slots=True)
class UnaryResult:
    """A successful unary call."""

    response: Message
    header_metadata: Metadata = field(default_factory=list)
    trailing_metadata: Metadata = field(default_factory=list)


class StreamCall(Protocol):
    """A server-streaming call in progress. Iterate it for the messages; iteration raises
    ``GatewayError`` when the call fails. ``cancel`` stops it early (the client went away)."""

    def __aiter__(self) -> AsyncIterator[Message]: ...

    def header_metadata(self) -> Metadata: ...

    def trailing_metadata(self) -> Metadata: ...

    async def cancel(self) -> None: ...


class Backend(Protocol):
    """Runs RPCs for the gateway."""

    async def start(self) -> None:
        """Called once before the first request (ASGI lifespan start-up or first use)."""

    async def close(self) -> None:
        """Release resources (channels); called at shutdown."""

    async def unary(self, method: MethodInfo, request: Message, call: CallInfo) -> UnaryResult:
        """Run a unary call."""

    def server_stream(self, method: MethodInfo, request: Message, call: CallInfo) -> StreamCall:
        """Start a server-streaming call; nothing runs until it is iterated."""
