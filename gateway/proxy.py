"""The proxy backend: calls any gRPC server over one reused ``grpc.aio`` channel.

It needs no generated stubs: message classes come from the routes' descriptors
(``message_factory.GetMessageClass``), requests are serialised here and sent as raw bytes through
generic multi-callables built once per method, and responses are parsed here. HTTP/2 multiplexes all
calls on the single channel.

In front of any gRPC server, given only its descriptor set::

    from protogw.gateway.app import create_app
    from protogw.gateway.proxy import ProxyBackend
    from protogw.gateway.routes import RouteTable

    app = create_app(RouteTable.from_descriptor_set("api.binpb"), ProxyBackend("127.0.0.1:8081"))

which is what ``protogw gateway --backend 127.0.0.1:8081 --descriptor-set api.binpb`` serves. TLS to
the backend: ``ProxyBackend("api.internal:443", credentials=grpc.ssl_channel_credentials())``;
channel options (message size limits, keepalive, a load-balancing policy) go in ``options``, as for
``grpc.aio.insecure_channel``; the target may be anything gRPC resolves (``dns:///replicas:8081``
with ``options=[("grpc.lb_policy_name", "round_robin")]`` spreads calls over every address). The
app's lifespan opens and closes the channel. Metadata from the HTTP request (see
:mod:`protogw.gateway.headers`) is forwarded, and the backend's status, details and trailers come
back as the REST error.

Why ``grpc.aio``: ``bench/proxy_bench.py`` measures it against the other ways grpcio offers (the sync
stub's ``future()`` settled on the loop with ``call_soon_threadsafe``, per call or per burst; the sync
stub on a thread pool; one channel tuned with registered methods and no retries, BDP probes or
channelz). None costs less CPU per call, and the sync ones cost more, most of all at moderate rates;
most of the proxy process's CPU per call is grpcio's client (its ``nohop`` line is the rest: the
gateway answering from memory). One setting helps and must be made before grpcio starts, so it belongs to whoever starts the
process: ``GRPC_EXPERIMENTS=-event_engine_client`` in its environment lets grpcio's poller thread do
the socket work itself, one thread hand-off fewer per call (grpcio 1.85: 5-15% less CPU per call, not
always above the noise of a shared 2-core box). Outside grpcio, libcurl's HTTP/2 client (the bench's
``curl`` contender) costs this process 25-30% less CPU per call, but the server more behind it, and
requests per second do not move; it would also give up grpcio's TLS, compression and load balancing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

import grpc
import grpc.aio
from google.protobuf.message import Message

from protogw.core.bindings import MethodInfo
from protogw.core.status import status_details_of
from protogw.gateway.backend import Call, UnaryResult
from protogw.gateway.errors import GatewayError
from protogw.gateway.headers import Metadata

__all__ = ["ProxyBackend"]


def _identity(data: bytes) -> bytes:
    return data


def _metadata(md: Any) -> Metadata:
    return [(k, v) for k, v in md] if md else []


def _failure(exc: grpc.aio.AioRpcError) -> GatewayError:
    trailing = _metadata(exc.trailing_metadata())
    return GatewayError(
        exc.code(),
        exc.details() or "",
        status_details_of(exc),
        header_metadata=_metadata(exc.initial_metadata()),
        trailing_metadata=trailing,
    )


class _Lane:
    """One channel and the multi-callables built on it, one per kind and method path."""

    __slots__ = ("callables", "channel")

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.channel = channel
        self.callables: dict[tuple[str, str], Any] = {}

    def callable(self, kind: str, path: str) -> Any:
        """The channel's multi-callable of ``kind`` (``unary_unary``, ``unary_stream``, ``stream_unary`` or
        ``stream_stream``) for ``path``, passing bytes through; made once."""
        key = (kind, path)
        found = self.callables.get(key)
        if found is None:
            make = getattr(self.channel, kind)
            found = self.callables[key] = make(path, request_serializer=_identity, response_deserializer=_identity)
        return found


class ProxyBackend:
    """Forwards calls to the gRPC server at ``target`` (``host:port``, or any gRPC target string).

    ``credentials`` switches to a TLS channel; ``options`` are gRPC channel arguments. See the module
    docstring for an example.
    """

    def __init__(
        self,
        target: str,
        *,
        credentials: grpc.ChannelCredentials | None = None,
        options: Sequence[tuple[str, Any]] = (),
        channels: int = 1,
    ) -> None:
        if channels < 1:
            raise ValueError("channels must be at least 1")
        self._target = target
        self._credentials = credentials
        # Channels with equal arguments share one connection through gRPC's global subchannel pool;
        # several channels are only several connections (to several workers behind one port, or
        # several server threads) each with its own pool.
        extra = (("grpc.use_local_subchannel_pool", 1),) if channels > 1 else ()
        self._options = (*tuple(options), *extra)
        self._count = channels
        self._lanes: list[_Lane] = []
        self._next = 0

    @property
    def target(self) -> str:
        """The server address."""
        return self._target

    def _new_channel(self) -> grpc.aio.Channel:
        if self._credentials is None:
            return grpc.aio.insecure_channel(self._target, options=self._options)
        return grpc.aio.secure_channel(self._target, self._credentials, options=self._options)

    def _lane(self) -> _Lane:
        """The next channel, round-robin (opened on first use)."""
        lanes = self._lanes
        if not lanes:
            lanes.extend(_Lane(self._new_channel()) for _ in range(self._count))
        if self._count == 1:
            return lanes[0]
        self._next = (self._next + 1) % self._count
        return lanes[self._next]

    async def start(self) -> None:
        """Open the channels (they connect lazily on the first call)."""
        self._lane()

    async def close(self) -> None:
        """Close the channels; calls in flight are cancelled."""
        lanes, self._lanes = self._lanes, []
        for lane in lanes:
            await lane.channel.close()

    def _start(self, kind: str, method: MethodInfo, payload: Any, call: Call) -> Any:
        """Start ``method`` as a ``kind`` call on the next channel; ``payload`` is the request's bytes, or
        an async iterator of them for a request stream."""
        return self._lane().callable(kind, method.grpc_path)(
            payload, metadata=call.metadata or None, timeout=call.time_left()
        )

    async def unary(self, method: MethodInfo, request: Message, call: Call) -> UnaryResult:
        """Send one request, wait for the response."""
        rpc = self._start("unary_unary", method, request.SerializeToString(), call)
        return await self._single_response(method, rpc)

    async def client_stream(self, method: MethodInfo, requests: AsyncIterator[Message], call: Call) -> UnaryResult:
        """Send every request of ``requests`` as it comes, then wait for the one response."""
        rpc = self._start("stream_unary", method, _serialized(requests), call)
        return await self._single_response(method, rpc)

    async def _single_response(
        self, method: MethodInfo, rpc: grpc.aio.UnaryUnaryCall[bytes, bytes] | grpc.aio.StreamUnaryCall[bytes, bytes]
    ) -> UnaryResult:
        try:
            raw = await rpc
            header = _metadata(await rpc.initial_metadata())
            trailing = _metadata(await rpc.trailing_metadata())
        except grpc.aio.AioRpcError as exc:
            raise _failure(exc) from None
        except asyncio.CancelledError:
            # The HTTP side gave up (the client left, or its request stream was bad): the server must
            # see the call cancelled rather than wait for the rest of a request stream.
            rpc.cancel()
            raise
        try:
            response = method.response_class.FromString(raw)
        except Exception as exc:
            raise GatewayError(
                grpc.StatusCode.INTERNAL, f"cannot parse the {method.full_name} response: {exc}"
            ) from exc
        return UnaryResult(response, header, trailing)

    def server_stream(self, method: MethodInfo, request: Message, call: Call) -> _ProxyStream:
        """Start a server-streaming call."""
        rpc = self._start("unary_stream", method, request.SerializeToString(), call)
        return _ProxyStream(method, rpc)

    def bidi_stream(self, method: MethodInfo, requests: AsyncIterator[Message], call: Call) -> _ProxyStream:
        """Start a bidirectional stream: ``requests`` are sent as they come while answers are read."""
        rpc = self._start("stream_stream", method, _serialized(requests), call)
        return _ProxyStream(method, rpc)


async def _serialized(requests: AsyncIterator[Message]) -> AsyncIterator[bytes]:
    async for request in requests:
        yield request.SerializeToString()


class _ProxyStream:
    def __init__(
        self, method: MethodInfo, rpc: grpc.aio.UnaryStreamCall[bytes, bytes] | grpc.aio.StreamStreamCall[bytes, bytes]
    ) -> None:
        self._method = method
        self._rpc = rpc
        self._header: Metadata = []
        self._trailing: Metadata = []
        self._cancelled = False

    def header_metadata(self) -> Metadata:
        return self._header

    def trailing_metadata(self) -> Metadata:
        return self._trailing

    async def cancel(self) -> None:
        self._cancelled = True
        self._rpc.cancel()

    async def __aiter__(self) -> AsyncIterator[Message]:
        parse = self._method.response_class.FromString
        rpc = self._rpc
        try:
            self._header = _metadata(await rpc.initial_metadata())
            async for raw in rpc:
                yield parse(raw)
            self._trailing = _metadata(await rpc.trailing_metadata())
        except grpc.aio.AioRpcError as exc:
            raise _failure(exc) from None
        except asyncio.CancelledError:
            if self._cancelled:
                # grpc.aio reports our own cancel() as CancelledError; that is a call status, not a
                # cancellation of the task iterating us.
                raise GatewayError(grpc.StatusCode.CANCELLED, "Locally cancelled") from None
            rpc.cancel()
            raise
        except GeneratorExit:
            rpc.cancel()
            raise
