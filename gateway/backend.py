"""The interface between the HTTP side of the gateway and whatever runs the RPCs.

Two implementations: :class:`protogw.gateway.inprocess.InProcessBackend` (the service's handlers and
interceptors in this event loop, no network hop) and :class:`protogw.gateway.proxy.ProxyBackend` (any
gRPC server, over one reused channel). A failed call raises :class:`~protogw.gateway.errors.GatewayError`
with the gRPC code, message, ``google.rpc.Status`` details and the metadata received so far.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import grpc
from google.protobuf.message import Message

from protogw.core.bindings import Binding, MethodInfo
from protogw.gateway.errors import GatewayError
from protogw.gateway.headers import Metadata

__all__ = ["Backend", "Call", "StreamCall", "UnaryResult"]


class Call(NamedTuple):
    """One REST request's call, from the router to the backend: everything besides the request message.

    ``deadline`` is absolute (``time.monotonic()``): set once when the headers arrive, as grpc-gateway's
    request context does, and read by each backend in the form it needs (:meth:`time_left` for a gRPC
    timeout, the deadline itself for the in-process context). Immutable; a named tuple because one is
    made per request and a tuple is made in a third of a frozen dataclass's time.
    """

    metadata: Metadata
    deadline: float | None = None
    peer: str = ""
    request_id: str | None = None
    binding: Binding | None = None

    @classmethod
    def with_timeout(
        cls,
        metadata: Metadata,
        timeout: float | None,
        peer: str = "",
        request_id: str | None = None,
        binding: Binding | None = None,
    ) -> Call:
        """A call whose deadline is ``timeout`` seconds from now (None: no deadline)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        return cls(metadata, deadline, peer, request_id, binding)

    def time_left(self) -> float | None:
        """Seconds until the deadline; DEADLINE_EXCEEDED once it has passed.

        A call whose deadline passed while its body was read must not start at all. Neither backend
        would refuse it reliably: in-process code only notices at its first suspension, and gRPC's
        client may still send a call whose deadline is a few nanoseconds away.
        """
        if self.deadline is None:
            return None
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded")
        return left


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

    async def unary(self, method: MethodInfo, request: Message, call: Call) -> UnaryResult:
        """Run a unary call."""

    def server_stream(self, method: MethodInfo, request: Message, call: Call) -> StreamCall:
        """Start a server-streaming call; nothing runs until it is iterated."""

    async def client_stream(self, method: MethodInfo, requests: AsyncIterator[Message], call: Call) -> UnaryResult:
        """Run a client-streaming call: send each request of ``requests`` as it comes, return the answer.

        An exception raised by ``requests`` (e.g. bad JSON in the HTTP body) cancels the call."""

    def bidi_stream(self, method: MethodInfo, requests: AsyncIterator[Message], call: Call) -> StreamCall:
        """Start a bidirectional call: ``requests`` are sent as they come while the answers are iterated."""
