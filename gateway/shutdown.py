"""Graceful shutdown of a serving gateway: its open streams end at once, requests in flight finish.

uvicorn, told to stop, closes its listening sockets and idle connections, then waits for every
connection that is still answering (for ever, or ``timeout_graceful_shutdown`` seconds). A server
stream (a follow of logs), a client or bidi stream or a WebSocket answers until its client or the
backend ends it, so one such client would hold a rolling deploy for the whole timeout.

:class:`OpenStreams` is the gateway's registry of the streams it is serving (each registers a
callable that ends it; unary calls never touch it). :class:`GatewayServer` is uvicorn's server with
two changes: on shutdown it first stops accepting connections and ends every registered stream with
``UNAVAILABLE: server shutting down`` (a stream's last line or event, a WebSocket's ``4014`` close;
the backend call is cancelled) and gives them a moment to write it; and SIGTERM/SIGINT end the process
with status 0 once the shutdown is done (uvicorn's own handling raises the signal again afterwards, so
the process died by it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Self

import grpc
import uvicorn
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from protogw.gateway.errors import GatewayError
from protogw.gateway.http import TcpPeerRecorder
from protogw.gateway.http_limits import HttpLimits, limited_protocol
from protogw.gateway.types import ASGIApp

__all__ = ["DEFAULT_GRACE", "SHUTTING_DOWN", "GatewayServer", "OpenStreams", "shutting_down"]

log = logging.getLogger("protogw.gateway")

#: Seconds requests in flight may take to finish after a stop signal (every serving command's ``--grace``).
DEFAULT_GRACE = 10.0

#: The status message every stream ended by a shutdown carries (code UNAVAILABLE: retry elsewhere).
SHUTTING_DOWN = "server shutting down"

#: Longest wait, at shutdown, for the ended streams to write their last words before uvicorn closes
#: what is left of their connections.
STREAM_DRAIN_SECONDS = 1.0


def shutting_down() -> GatewayError:
    """The error a stream ends with when the server shuts down: ``UNAVAILABLE``, so clients retry."""
    return GatewayError(grpc.StatusCode.UNAVAILABLE, SHUTTING_DOWN)


class OpenStreams:
    """The streams a gateway is serving, each as a callable that ends it (soon: it may only signal).

    Once :meth:`end_all` has been called a stream that registers is ended at once.
    """

    __slots__ = ("_closing", "_enders", "_idle")

    def __init__(self) -> None:
        self._enders: set[Callable[[], None]] = set()
        self._closing = False
        self._idle: asyncio.Event | None = None  # made by wait_ended, in the loop that waits

    def __len__(self) -> int:
        return len(self._enders)

    @property
    def closing(self) -> bool:
        """Whether :meth:`end_all` has been called."""
        return self._closing

    def add(self, end: Callable[[], None]) -> None:
        """Register a stream; ``end()`` is called (perhaps right here) when the server shuts down."""
        self._enders.add(end)
        if self._closing:
            end()

    def discard(self, end: Callable[[], None]) -> None:
        """The stream has ended (or is past the point where ending it changes anything)."""
        self._enders.discard(end)
        if self._idle is not None and not self._enders:
            self._idle.set()

    def end_all(self) -> int:
        """End every open stream, and every stream opened from now on; how many were open."""
        self._closing = True
        enders = list(self._enders)
        for end in enders:
            end()
        return len(enders)

    async def wait_ended(self) -> None:
        """Return when no stream is registered."""
        if self._enders:
            self._idle = asyncio.Event()
            await self._idle.wait()


class GatewayServer(uvicorn.Server):
    """uvicorn's server that ends ``streams`` when it shuts down and exits cleanly on SIGTERM/SIGINT.

    Give it ``uvicorn.Config(..., timeout_graceful_shutdown=GRACE)`` to bound the wait for requests
    in flight. A second SIGINT still forces the exit, as in uvicorn.
    """

    def __init__(self, config: uvicorn.Config, streams: OpenStreams | None = None) -> None:
        super().__init__(config)
        self.streams = streams

    @classmethod
    def for_app(
        cls, app: ASGIApp, streams: OpenStreams | None, limits: HttpLimits, *, log_level: str, grace: float
    ) -> Self:
        """The server for ``app`` as every protogw HTTP port runs it: uvicorn's httptools protocol with
        ``limits``, lifespan on, no access log or ``Server`` header (calls are logged by the service),
        and ``grace`` seconds for requests in flight at shutdown (rounded up: uvicorn counts whole
        seconds); ``streams`` are the app's open streams (:attr:`Gateway.streams`), ended first.

        uvicorn's proxy-headers step (trusting ``FORWARDED_ALLOW_IPS``, by default the loopback
        addresses, as uvicorn does) is applied here rather than by uvicorn, behind a step that first
        records the TCP peer (:class:`~protogw.gateway.http.TcpPeerRecorder`), for HTTP requests and
        WebSocket handshakes alike."""
        # No ``loop``: that setting is read by ``uvicorn.run`` only; this server runs on the caller's loop.
        config = uvicorn.Config(
            app,
            interface="asgi3",
            proxy_headers=False,
            http=limited_protocol(limits),
            lifespan="on",
            log_level=log_level,
            access_log=False,
            server_header=False,
            timeout_graceful_shutdown=math.ceil(grace),
        )
        # The trusted proxies as uvicorn resolved them (its FORWARDED_ALLOW_IPS and default). uvicorn's
        # ASGI types and ours differ in name only.
        trusted = config.forwarded_allow_ips
        config.app = TcpPeerRecorder(ProxyHeadersMiddleware(app, trusted_hosts=trusted))  # type: ignore[arg-type]
        return cls(config, streams)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """SIGTERM and SIGINT start the graceful shutdown (uvicorn's ``handle_exit``); unlike uvicorn's
        own handling, the signal is not raised again once the server has stopped."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        loop = asyncio.get_running_loop()
        signals = (signal.SIGTERM, signal.SIGINT)
        for sig in signals:
            loop.add_signal_handler(sig, self.handle_exit, sig, None)
        try:
            yield
        finally:
            for sig in signals:
                loop.remove_signal_handler(sig)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """Stop accepting connections, end the open streams, then uvicorn's shutdown (requests in flight
        get ``timeout_graceful_shutdown`` seconds, then the lifespan's shutdown closes the backend)."""
        if self.streams is not None:
            for server in getattr(self, "servers", ()):
                server.close()
            count = self.streams.end_all()
            if count:
                log.info("shutting down: ending %d open stream(s)", count)
                grace = self.config.timeout_graceful_shutdown
                drain = STREAM_DRAIN_SECONDS if grace is None else min(grace, STREAM_DRAIN_SECONDS)
                try:
                    async with asyncio.timeout(drain):
                        await self.streams.wait_ended()
                except TimeoutError:
                    log.warning("%d stream(s) did not end within %.1f s", len(self.streams), drain)
        await super().shutdown(sockets)
