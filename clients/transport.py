"""The one small protocol both transports implement.

A transport knows nothing about Determined: it calls any method, given its descriptor, with a request
message and returns the response message (or an async iterator of them for a server stream). Errors
come out as :mod:`protogw.clients.errors` exceptions whatever the wire.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Protocol

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message

__all__ = ["Metadata", "Transport"]

#: Call metadata as (lower-case key, value) pairs, e.g. ``[("authorization", "Bearer abc")]``.
Metadata = Sequence[tuple[str, str]]


class Transport(Protocol):
    """Calls RPCs by descriptor. ``deadline`` is the call's time limit in seconds from now (sent to the server as the call's deadline)."""

    async def unary(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> Message:
        """Make a unary call and return its response."""
        ...

    def server_stream(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> AsyncGenerator[Message, None]:
        """Make a server-streaming call; the iterator yields each response and raises on a failure."""
        ...

    async def close(self) -> None:
        """Release what the transport created itself (never what was injected)."""
        ...
