"""Limits applied by the HTTP server itself, before a request reaches the ASGI app.

uvicorn's httptools protocol has no limit on the size of a request head, no timeout on reading one
(a connection that sends half a request line is kept forever; the keep-alive timer only runs between
requests), and its ``limit_concurrency`` only answers 503 once a head is complete, so idle partial
connections still pile up to the process's open-files limit. :func:`limited_protocol` returns a
subclass of it that adds, with :class:`HttpLimits`:

* ``head_timeout``: a request head (request line and headers) must arrive within this many seconds
  of the connection opening or of its first byte; otherwise 408 and the connection is closed
  (silently if nothing at all was sent).
* ``max_head_bytes``: a larger head is answered 431 as soon as the limit is passed, without reading
  the rest of it.
* ``max_connections``: past it, a new connection first evicts the oldest one still waiting for its
  head (the cheap victims of a slow-header flood), so well-behaved clients keep being served; only
  when every connection is busy with a request is the new one refused (503).
* ``max_body_bytes``: a request whose Content-Length is larger is answered 413 right after its head,
  before any body is read and without ``100 Continue``.
* ``max_anonymous_body_bytes``: the same for requests that present no credentials (none of
  ``credential_headers``, and no cookie named in ``credential_cookies``), answered 401.

A refused request pipelined behind requests still being served on its connection - refused by one
of these limits, or answered 400 because it does not parse - is answered after them, then the
connection is closed (uvicorn alone writes its 400 and closes at once: the earlier requests lose
their answers). Bytes after the refused request are not read.

Defaults: 10 s, 64 KiB, 10,000 connections (fewer when the open-files limit is under 11,024: see
:func:`default_max_connections`), no body limit here (the gateway's own applies), 1 MiB without
credentials when enabled. ``protogw serve`` sets the body limit to the gateway's and the anonymous
one to 1 MiB (Determined's ``Authorization`` header or ``auth`` cookie count as credentials).
"""

from __future__ import annotations

import asyncio
import functools
import resource
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from protogw.core import receipt

__all__ = ["HttpLimits", "default_max_connections", "limited_protocol"]

DEFAULT_HEAD_TIMEOUT = 10.0
DEFAULT_MAX_HEAD_BYTES = 64 * 1024
DEFAULT_MAX_CONNECTIONS = 10_000
DEFAULT_MAX_ANONYMOUS_BODY_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class HttpLimits:
    """What :func:`limited_protocol` enforces; see the module docstring. None turns a limit off."""

    head_timeout: float | None = DEFAULT_HEAD_TIMEOUT
    max_head_bytes: int | None = DEFAULT_MAX_HEAD_BYTES
    max_connections: int | None = DEFAULT_MAX_CONNECTIONS
    max_body_bytes: int | None = None
    max_anonymous_body_bytes: int | None = None
    credential_headers: Sequence[bytes] = (b"authorization",)
    credential_cookies: Sequence[bytes] = ()


_REASONS = {
    401: b"Unauthorized",
    408: b"Request Timeout",
    413: b"Content Too Large",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}


def _response(status: int, message: str) -> bytes:
    body = b'{"code":%d,"message":"%s"}' % (
        {401: 16, 408: 4, 413: 8, 431: 8, 503: 14}[status],
        message.encode("ascii"),
    )
    return (
        b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n"
        % (status, _REASONS[status], len(body))
        + body
    )


class _LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[HttpLimits] = HttpLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""
        self._head_started = time.monotonic()
        self._head_timer: asyncio.TimerHandle | None = None
        self._refused = False
        # A refusal (a 400 or one of ours) waiting for the answers of the requests pipelined before
        # the one it refuses; written when the last of them is complete (see _refuse_after_answers).
        self._waiting_refusal: Callable[[], None] | None = None
        # The current response's writer (it may hold what the response wrote in this iteration).
        self._response_writer: _HeadWithBody | None = None

    # -- connections --------------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cap = self.limits.max_connections
        if cap is not None and len(self.connections) >= cap and not self._evict_one():
            super().connection_made(transport)
            self._refuse(503, "too many connections")
            return
        super().connection_made(transport)
        self._arm_head_timer()

    def _evict_one(self) -> bool:
        """Close the connection that has waited longest for its request head; False if none does."""
        oldest: _LimitedHttpToolsProtocol | None = None
        for conn in self.connections:
            if (
                isinstance(conn, _LimitedHttpToolsProtocol)
                and conn._in_head
                and not conn._refused
                and (conn.cycle is None or conn.cycle.response_complete)
                and (oldest is None or conn._head_started < oldest._head_started)
            ):
                oldest = conn
        if oldest is None:
            return False
        oldest._refuse(408, "request head not received in time")
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    # -- the request head ---------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        timeout = self.limits.head_timeout
        if timeout is not None and self._head_timer is None:
            self._head_started = time.monotonic()
            self._head_timer = self.loop.call_later(timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self._refused:
            return
        if self._head_bytes:
            self._refuse(408, "request head not received in time")
        else:
            self._refused = True
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return
        if self._in_head:
            self._arm_head_timer()
            cap = self.limits.max_head_bytes
            if cap is not None:
                end = (self._head_tail + data).find(b"\r\n\r\n")
                self._head_bytes += len(data) if end < 0 else max(0, end + 4 - len(self._head_tail))
                if self._head_bytes > cap:
                    self._refuse(431, "request header fields too large")
                    return
                self._head_tail = data[-3:] if end < 0 else b""
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        status = self._body_refusal()
        if status is not None:
            code, message = status
            self._refuse(code, message)
            # Stop the parser here: nothing after the head is read.
            raise _Refused
        # Stamped as the head is parsed, before any request task runs: see protogw.core.receipt.
        cast(dict[str, Any], self.scope)[receipt.SCOPE_KEY] = receipt.stamp()
        super().on_headers_complete()
        # The cycle just made writes the response through this (its task has not run yet). What an
        # earlier response on this connection still holds goes first: one writer holds at a time.
        if self.cycle is not None:
            self._flush_held()
            self._response_writer = _HeadWithBody(self.cycle.transport, self.loop)
            self.cycle.transport = cast(asyncio.Transport, self._response_writer)

    def _body_refusal(self) -> tuple[int, str] | None:
        limits = self.limits
        length = -1
        credentials = False
        for name, value in self.headers:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return None  # the parser or the app refuses it
            elif name in limits.credential_headers:
                credentials = True
            elif name == b"cookie" and limits.credential_cookies:
                cookies = {part.strip().partition(b"=")[0] for part in value.split(b";")}
                credentials = credentials or any(c in cookies for c in limits.credential_cookies)
        if limits.max_body_bytes is not None and length > limits.max_body_bytes:
            return 413, f"request body larger than {limits.max_body_bytes} bytes"
        anonymous = limits.max_anonymous_body_bytes
        if anonymous is not None and not credentials and length > anonymous:
            return 401, f"a request body over {anonymous} bytes needs credentials"
        return None

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes on this connection start a new head.
        self._in_head = True
        self._head_bytes = 0
        self._head_tail = b""

    def _flush_held(self) -> None:
        """Write what the current response holds back (see :class:`_HeadWithBody`) before the protocol
        writes to or closes the connection itself: an earlier response must not be lost or overtaken."""
        if self._response_writer is not None:
            self._response_writer.flush()

    def send_400_response(self, msg: str) -> None:
        if self._refused:
            return  # a refusal of ours stopped the parser; it answers (or will, after earlier answers)
        self._refuse_after_answers(functools.partial(super().send_400_response, msg))

    def _unanswered_before(self) -> bool:
        """Whether requests received whole before the one being refused are still to be answered.

        Only whole ones: a request whose body is still arriving is the one the bad bytes belong to,
        and it can get no answer but the refusal."""
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return False
        return not cycle.more_body or len(self.pipeline) > 0

    def _refuse_after_answers(self, refuse: Callable[[], None]) -> None:
        """Answer a refused request - after the answers of the requests pipelined before it.

        uvicorn writes its 400 and closes the connection at once, so a good request pipelined
        before a bad one lost its answer. Here the refusal waits (reading paused, later bytes
        ignored) until every earlier request is answered (:meth:`on_response_complete`)."""
        self._refused = True
        self._disarm_head_timer()
        if self._unanswered_before():
            self._waiting_refusal = refuse
            self.flow.pause_reading()
            return
        self._flush_held()
        refuse()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        refuse = self._waiting_refusal
        if refuse is not None and not self._unanswered_before():
            self._waiting_refusal = None
            self._unset_keepalive_if_required()
            if not self.transport.is_closing():
                self._flush_held()
                refuse()

    def shutdown(self) -> None:
        self._flush_held()
        super().shutdown()

    def _refuse(self, status: int, message: str) -> None:
        self._refuse_after_answers(functools.partial(self._write_refusal, status, message))

    def _write_refusal(self, status: int, message: str) -> None:
        if not self.transport.is_closing():
            self.transport.write(_response(status, message))
            self.transport.close()


class _Refused(Exception):
    """Raised from a parser callback to stop parsing a refused request."""


def default_max_connections() -> int:
    """:data:`DEFAULT_MAX_CONNECTIONS`, lowered to leave 1,024 descriptors of the process's open-files
    limit for everything else (gRPC, the database, logs), so the cap is reached before ``accept()``
    starts failing."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(64, min(DEFAULT_MAX_CONNECTIONS, soft - 1024))


#: At most this much of a response is held back for the end of the event-loop iteration (the usual
#: high-water mark of a transport's buffer); more is written at once, so flow control works as before.
HOLD_LIMIT = 64 * 1024


class _HeadWithBody:
    """The transport a response is written through: what the app writes in the event-loop iteration
    of its first write (uvicorn writes the status line and headers on ``http.response.start``, then
    the body) is held and written once, at the end of that iteration - unless it grows past
    :data:`HOLD_LIMIT`, which is written at once. Later writes pass straight through.

    A small answer thus leaves in one write (one syscall, one TCP segment), and the answers of every
    request served in one iteration leave together after all of them were computed, instead of each
    send's trip through the kernel interleaving with the next request's Python work. Measured on
    GetMaster under load (32 connections, 2 cores): 25-40% less CPU per request. Whatever is held
    goes out before a close, and before the protocol writes or closes anything itself."""

    __slots__ = ("_held", "_loop", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop: asyncio.AbstractEventLoop | None = loop
        self._held: bytes | None = None

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            held += data
            if len(held) > HOLD_LIMIT:
                self._held = None
                self._transport.write(held)
            else:
                self._held = held
        elif self._loop is not None:
            # The first write: hold it, and what follows in this iteration, until the iteration ends.
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            self._loop = None
        else:
            self._transport.write(data)

    def flush(self) -> None:
        """Write what is held now."""
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def limited_protocol(limits: HttpLimits) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol with ``limits``; pass it as ``uvicorn.Config(http=...)``."""
    return type("LimitedHttpToolsProtocol", (_LimitedHttpToolsProtocol,), {"limits": limits})
