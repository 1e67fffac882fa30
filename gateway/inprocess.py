"""The in-process backend: RPCs run through the service's own handlers and interceptors, in this event
loop and task, without serialisation or a network hop.

It looks like a ``grpc.aio`` server to the code that registers services::

    backend = InProcessBackend(interceptors=[AuthInterceptor(), ErrorInterceptor()])
    add_KitchenServiceServicer_to_server(KitchenServicer(store), backend)

and per call it does what ``grpc.aio`` does: run each interceptor's ``intercept_service(continuation,
handler_call_details)`` in order (once per method instead, when every interceptor declares that its
choice of handler depends on the method alone - ``method_scoped = True``, as ``protogw.server``'s do),
then invoke the resulting handler's behaviour (a ``unary_unary`` coroutine, a ``unary_stream`` async
generator, or their ``stream_unary``/``stream_stream`` forms that read a request iterator) with the
request message (or iterator) and an :class:`InProcessContext`. Everything runs in the caller's task, so
contextvars an interceptor sets are visible to the servicer, exactly as on the real server.

Serving REST beside a ``grpc.aio`` server in one process, with the same servicer object (so both
see the same state)::

    from google.protobuf import descriptor_pool
    from protogw.gateway.app import create_app
    from protogw.gateway.inprocess import InProcessBackend
    from protogw.gateway.routes import RouteTable

    servicer = LibraryServicer(store)
    server = grpc.aio.server(interceptors=interceptors)
    add_LibraryServiceServicer_to_server(servicer, server)       # gRPC
    backend = InProcessBackend(interceptors=interceptors)          # REST: the same interceptors
    add_LibraryServiceServicer_to_server(servicer, backend)
    app = create_app(RouteTable.from_pool(descriptor_pool.Default(), ["library.v1.LibraryService"]), backend)

Register the health servicer too (``add_HealthServicer_to_server(health, backend)``) for the gateway's
``/healthz``. With typed stubs (mypy-protobuf), the generated function's ``server`` parameter is
``grpc.aio.Server``, so pass the backend through a helper typed ``Any`` or a ``cast``. The context
supports what servicers use: ``abort`` (with rich ``grpc.Status`` details), ``set_code``/``set_details``,
metadata in and out, ``time_remaining`` from the REST call's deadline.
``examples/library/library_example/serve.py`` is a complete program.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, NoReturn, TypeAlias, cast

import grpc
import grpc.aio
from google.protobuf import descriptor_pool
from google.protobuf.message import Message

from protogw.core.bindings import MethodInfo
from protogw.core.status import status_details_from_trailers
from protogw.gateway.backend import Call, UnaryResult
from protogw.gateway.errors import GatewayError
from protogw.gateway.headers import Metadata

__all__ = ["METHOD_SCOPED", "InProcessBackend", "InProcessContext", "method_scoped"]

log = logging.getLogger(__name__)

MetadataLike = grpc.aio.Metadata | Sequence[tuple[str, str | bytes]]
Handler: TypeAlias = "grpc.RpcMethodHandler[Any, Any]"


class Metadatum(NamedTuple):
    """One metadata entry, shaped like the ones ``grpc.aio`` hands servicers."""

    key: str
    value: str | bytes


@dataclass(slots=True)
class _HandlerCallDetails:
    method: str
    invocation_metadata: Any


_metadatum = Metadatum._make


class InProcessContext(grpc.aio.ServicerContext[Any, Any]):
    """A ``grpc.aio.ServicerContext`` for calls that never touch the network."""

    def __init__(self, metadata: MetadataLike, deadline: float | None, peer: str) -> None:
        self._raw_metadata = metadata
        self._metadata: tuple[Metadatum, ...] | None = None
        self._deadline = deadline  # time.monotonic() based
        self._peer = peer
        self._code: grpc.StatusCode | None = None
        self._details: str | None = None
        self._initial: Metadata | None = None
        self._trailing: Metadata = []
        self._aborted = False
        self._cancelled = False
        self._done = False
        self._callbacks: list[Callable[[Any], None]] = []
        self._sent_message = False

    # -- what servicers read -------------------------------------------------------------------------

    def invocation_metadata(self) -> tuple[Metadatum, ...]:  # type: ignore[override]  # grpc.aio returns a tuple
        if self._metadata is None:
            # ``_make`` over the pairs: a third of the cost of calling the namedtuple per pair.
            self._metadata = tuple(map(_metadatum, self._raw_metadata))
        return self._metadata

    def peer(self) -> str:
        return self._peer

    def peer_identities(self) -> Iterable[bytes] | None:
        return None

    def peer_identity_key(self) -> str | None:
        return None

    def auth_context(self) -> Mapping[str, Iterable[bytes]]:
        return {}

    def time_remaining(self) -> float | None:  # type: ignore[override]
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    def cancelled(self) -> bool:
        return self._cancelled

    def done(self) -> bool:
        return self._done

    # -- status -------------------------------------------------------------------------------------------

    def set_code(self, code: grpc.StatusCode) -> None:
        self._code = code

    def set_details(self, details: str) -> None:
        self._details = details

    def code(self) -> grpc.StatusCode | None:  # type: ignore[override]
        return self._code

    def details(self) -> str | None:  # type: ignore[override]
        return self._details

    async def abort(
        self,
        code: grpc.StatusCode,
        details: str = "",
        trailing_metadata: MetadataLike = (),
    ) -> NoReturn:
        if self._aborted:
            raise grpc.aio.UsageError("Abort already called!")
        if code is grpc.StatusCode.OK:
            # An abort must fail the call. (grpc.aio raises AssertionError here and the client then
            # waits for its deadline; failing with UNKNOWN at once is kinder.)
            log.error("abort() called with StatusCode.OK; failing with UNKNOWN")
            code = grpc.StatusCode.UNKNOWN
        self._aborted = True
        self._code = code
        self._details = details
        if trailing_metadata:
            self._trailing = list(trailing_metadata)
        raise grpc.aio.AbortError("Locally aborted.")

    async def abort_with_status(self, status: grpc.Status) -> NoReturn:
        await self.abort(status.code, status.details, status.trailing_metadata)

    # -- metadata ------------------------------------------------------------------------------------------

    async def send_initial_metadata(self, initial_metadata: MetadataLike) -> None:
        if self._initial is not None or self._sent_message:
            raise grpc.aio.UsageError("Send initial metadata failed: already sent")
        self._initial = list(initial_metadata)

    def set_trailing_metadata(self, trailing_metadata: MetadataLike) -> None:
        self._trailing = list(trailing_metadata)

    def trailing_metadata(self) -> Metadata:  # type: ignore[override]
        return self._trailing

    def initial_metadata(self) -> Metadata:
        """What the servicer sent with ``send_initial_metadata`` (empty if nothing)."""
        return self._initial or []

    # -- things in-process calls cannot do ------------------------------------------------------------

    async def read(self) -> Any:
        raise grpc.aio.UsageError("read() is for client-streaming calls, which the gateway does not run")

    async def write(self, message: Any) -> None:
        raise grpc.aio.UsageError("write() is not supported in-process: yield messages from an async generator")

    def set_compression(self, compression: grpc.Compression) -> None:
        """Nothing is compressed in-process."""

    def disable_next_message_compression(self) -> None:
        """Nothing is compressed in-process."""

    # -- lifecycle --------------------------------------------------------------------------------------

    def add_done_callback(self, callback: Callable[[Any], None]) -> None:
        if self._done:
            callback(self)
        else:
            self._callbacks.append(callback)

    def _finish(self, *, cancelled: bool = False) -> None:
        if self._done:
            return
        self._cancelled = self._cancelled or cancelled
        self._done = True
        for callback in self._callbacks:
            try:
                callback(self)
            except Exception:
                log.exception("done callback failed")
        self._callbacks.clear()

    def _failure(self, default_code: grpc.StatusCode, default_message: str) -> GatewayError:
        code = self._code if self._code not in (None, grpc.StatusCode.OK) else default_code
        assert code is not None
        message = self._details if self._details is not None else default_message
        return GatewayError(
            code,
            message,
            status_details_from_trailers(self._trailing),
            header_metadata=self.initial_metadata(),
            trailing_metadata=self._trailing,
        )

    def _status_error(self) -> GatewayError | None:
        """The error the servicer set with ``set_code`` without raising, if any."""
        if self._code is None or self._code is grpc.StatusCode.OK:
            return None
        return self._failure(self._code, "")


async def _run_interceptors(
    interceptors: Iterator[grpc.aio.ServerInterceptor],
    query: Callable[[grpc.HandlerCallDetails], Handler | None],
    details: grpc.HandlerCallDetails,
) -> Handler | None:
    interceptor = next(interceptors, None)
    if interceptor is None:
        return query(details)
    continuation = functools.partial(_run_interceptors, interceptors, query)
    return await interceptor.intercept_service(continuation, details)


#: The attribute by which an interceptor says that what its ``intercept_service`` returns depends only on
#: the method and on the handler its continuation returns - never on the call's metadata, and it has no
#: per-call side effect there (it may still wrap the handler with per-call work).
METHOD_SCOPED = "method_scoped"


def method_scoped(interceptor: grpc.aio.ServerInterceptor) -> bool:
    """Whether ``interceptor`` declares itself method-scoped (``method_scoped = True``)."""
    return getattr(interceptor, METHOD_SCOPED, False) is True


class _Kind(NamedTuple):
    """A single-response kind of call: the handler's behaviour attribute, whether the request is a
    stream, and the error's wording for a method of another kind."""

    behaviour: str
    streams: bool
    wrong: str


_UNARY = _Kind("unary_unary", False, "is not a unary method")
_CLIENT_STREAM = _Kind("stream_unary", True, "is not a client-streaming method")


def _unexpected(exc: BaseException) -> GatewayError:
    # The same status grpc.aio gives an exception that escapes a servicer.
    return GatewayError(grpc.StatusCode.UNKNOWN, f"Unexpected {type(exc)}: {exc}")


def _escaped(context: InProcessContext, method: MethodInfo, exc: Exception) -> GatewayError:
    """The status for an exception that escaped the servicer: the abort's, if it aborted earlier
    (grpc.aio keeps the first abort's status), else UNKNOWN."""
    if context._aborted:
        return context._failure(grpc.StatusCode.UNKNOWN, "")
    log.exception("unexpected error in %s", method.full_name)
    return _unexpected(exc)


class InProcessBackend:
    """A registry of gRPC handlers that the gateway calls directly; see the module docstring."""

    def __init__(self, interceptors: Sequence[grpc.aio.ServerInterceptor] = ()) -> None:
        self._interceptors = tuple(interceptors)
        self._generic: list[grpc.GenericRpcHandler] = []
        self._registered: dict[str, Handler] = {}
        self._default_pool = descriptor_pool.Default()
        # Each method's handler after the interceptors, when every interceptor says its choice depends on
        # the method alone (see :func:`method_scoped`): the chain then runs once per method, not per call.
        self._resolved: dict[str, Handler] | None = {} if all(method_scoped(i) for i in self._interceptors) else None

    # -- the registration surface of grpc.aio.Server --------------------------------------------------

    def add_generic_rpc_handlers(self, generic_rpc_handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        """Register handlers the way ``grpc.aio.Server.add_generic_rpc_handlers`` does."""
        self._generic.extend(generic_rpc_handlers)
        self._forget_resolved()

    def add_registered_method_handlers(self, service_name: str, method_handlers: Mapping[str, Handler]) -> None:
        """Register per-method handlers (the fast path generated ``add_*_to_server`` functions use)."""
        for name, handler in method_handlers.items():
            self._registered[f"/{service_name}/{name}"] = handler
        self._forget_resolved()

    def _forget_resolved(self) -> None:
        if self._resolved is not None:
            self._resolved.clear()

    def _query(self, details: grpc.HandlerCallDetails) -> Handler | None:
        handler = self._registered.get(details.method)
        if handler is not None:
            return handler
        for generic in self._generic:
            found = generic.service(details)
            if found is not None:
                return found
        return None

    def _known_handler(self, method: MethodInfo) -> Handler | None:
        """The handler the interceptors resolved for ``method`` before, if they are resolved once per
        method and have been; plain code, so a call that finds it awaits nothing for it."""
        resolved = self._resolved
        return resolved.get(method.grpc_path) if resolved is not None else None

    async def _resolve_handler(self, method: MethodInfo, context: InProcessContext) -> Handler:
        """Run the interceptors to find ``method``'s handler (remembered when they allow)."""
        resolved = self._resolved
        details = _HandlerCallDetails(method.grpc_path, tuple(context._raw_metadata))
        if self._interceptors:
            handler = await _run_interceptors(iter(self._interceptors), self._query, details)
        else:
            handler = self._query(details)
        if handler is None:
            raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, "Method not found!")
        if resolved is not None:
            resolved[method.grpc_path] = handler
        return handler

    # -- Backend ------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Nothing to start: the handlers are plain objects."""

    async def close(self) -> None:
        """Nothing to release."""

    def _request_for(self, request: Message, handler: Handler) -> Message:
        # Routes built from a descriptor-set file use their own message classes; the servicer expects
        # the generated ones, so such requests are re-parsed by the handler's own deserializer.
        if request.DESCRIPTOR.file.pool is not self._default_pool and handler.request_deserializer is not None:
            converted: Message = handler.request_deserializer(request.SerializeToString())
            return converted
        return request

    @staticmethod
    def _response_for(method: MethodInfo, response: Any) -> Message:
        if type(response) is method.response_class:
            return response
        if not isinstance(response, Message):
            raise GatewayError(grpc.StatusCode.INTERNAL, f"servicer returned {type(response).__name__}, not a message")
        return method.response_class.FromString(response.SerializeToString())

    def _requests_for(self, requests: AsyncIterator[Message], handler: Handler) -> AsyncIterator[Message]:
        """A request stream as the handler expects its messages (see :meth:`_request_for`)."""

        async def converted() -> AsyncIterator[Message]:
            async for request in requests:
                yield self._request_for(request, handler)

        return converted()

    # These two return the call's coroutine rather than awaiting it in one of their own: the same to
    # the caller, one coroutine less per call.
    def unary(self, method: MethodInfo, request: Message, call: Call) -> Coroutine[Any, Any, UnaryResult]:
        """Run a unary RPC through the interceptors and the handler."""
        return self._single_response(method, call, _UNARY, request)

    def client_stream(
        self, method: MethodInfo, requests: AsyncIterator[Message], call: Call
    ) -> Coroutine[Any, Any, UnaryResult]:
        """Run a client-streaming RPC; the handler reads ``requests`` as its request iterator."""
        return self._single_response(method, call, _CLIENT_STREAM, requests)

    async def _single_response(self, method: MethodInfo, call: Call, kind: _Kind, argument: Any) -> UnaryResult:
        deadline = call.deadline
        if deadline is not None:
            call.time_left()  # a deadline that passed before the call starts fails it here
        context = InProcessContext(call.metadata, deadline, call.peer)
        cancelled = False
        try:
            try:
                async with _timeout_at(deadline):
                    handler = self._known_handler(method)
                    if handler is None:
                        handler = await self._resolve_handler(method, context)
                    behaviour = getattr(handler, kind.behaviour)
                    if behaviour is None:
                        raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, f"{method.full_name} {kind.wrong}")
                    if kind.streams:
                        argument = self._requests_for(argument, handler)
                    else:
                        argument = self._request_for(argument, handler)
                    result = behaviour(argument, cast(Any, context))
                    if inspect.isawaitable(result):
                        result = await result
            except TimeoutError:
                cancelled = True
                raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
            except grpc.aio.AbortError:
                raise context._failure(grpc.StatusCode.UNKNOWN, "") from None
            except GatewayError:
                raise
            except asyncio.CancelledError:
                cancelled = True
                raise
            except Exception as exc:
                raise _escaped(context, method, exc) from exc
        finally:
            context._finish(cancelled=cancelled)
        failure = context._status_error()
        if failure is not None:
            raise failure
        if result is None:
            raise GatewayError(grpc.StatusCode.INTERNAL, f"{method.full_name} returned no response")
        return UnaryResult(self._response_for(method, result), context.initial_metadata(), context.trailing_metadata())

    def server_stream(self, method: MethodInfo, request: Message, call: Call) -> _InProcessStream:
        """A server-streaming RPC; runs as it is iterated, in the iterating task."""
        return _InProcessStream(self, method, lambda h: (h.unary_stream, self._request_for(request, h)), call)

    def bidi_stream(self, method: MethodInfo, requests: AsyncIterator[Message], call: Call) -> _InProcessStream:
        """A bidirectional stream: the handler reads ``requests`` while its answers are iterated."""
        return _InProcessStream(self, method, lambda h: (h.stream_stream, self._requests_for(requests, h)), call)


class _InProcessStream:
    def __init__(
        self,
        backend: InProcessBackend,
        method: MethodInfo,
        pick: Callable[[Handler], tuple[Any, Any]],
        call: Call,
    ) -> None:
        self._backend = backend
        self._method = method
        self._pick = pick
        call.time_left()
        self._deadline = call.deadline
        self._context = InProcessContext(call.metadata, self._deadline, call.peer)
        self._gen: AsyncIterator[Any] | None = None

    def header_metadata(self) -> Metadata:
        return self._context.initial_metadata()

    def trailing_metadata(self) -> Metadata:
        return self._context.trailing_metadata()

    async def cancel(self) -> None:
        self._context._cancelled = True
        await self._close_servicer()
        self._context._finish(cancelled=True)

    async def _close_servicer(self) -> None:
        gen, self._gen = self._gen, None
        if gen is not None and hasattr(gen, "aclose"):
            with contextlib.suppress(Exception):
                await gen.aclose()

    async def _step(self, awaitable: Awaitable[Any]) -> Any:
        async with _timeout_at(self._deadline):
            return await awaitable

    async def __aiter__(self) -> AsyncIterator[Message]:
        context = self._context
        method = self._method
        cancelled = False
        try:
            try:
                handler = self._backend._known_handler(method)
                if handler is None:
                    handler = await self._step(self._backend._resolve_handler(method, context))
                behaviour, argument = self._pick(handler)
                if behaviour is None:
                    raise GatewayError(grpc.StatusCode.UNIMPLEMENTED, f"{method.full_name} is not a streaming method")
                produced = behaviour(argument, cast(Any, context))
                if inspect.isawaitable(produced):
                    # A coroutine that would write() instead of yielding: run it; it cannot stream here.
                    produced = await self._step(produced)
                if produced is not None:
                    if not hasattr(produced, "__anext__"):
                        produced = _aiter_sync(produced)
                    self._gen = produced
                    while True:
                        try:
                            item = await self._step(anext(produced))
                        except StopAsyncIteration:
                            break
                        context._sent_message = True
                        yield InProcessBackend._response_for(method, item)
            except TimeoutError:
                cancelled = True
                raise GatewayError(grpc.StatusCode.DEADLINE_EXCEEDED, "Deadline Exceeded") from None
            except grpc.aio.AbortError:
                raise context._failure(grpc.StatusCode.UNKNOWN, "") from None
            except GatewayError:
                raise
            except (asyncio.CancelledError, GeneratorExit):
                cancelled = True
                raise
            except Exception as exc:
                raise _escaped(context, method, exc) from exc
        finally:
            if cancelled:
                await self._close_servicer()
            context._finish(cancelled=cancelled)
        failure = context._status_error()
        if failure is not None:
            raise failure


async def _aiter_sync(items: Iterable[Any]) -> AsyncIterator[Any]:
    for item in items:
        yield item


_NO_TIMEOUT = contextlib.nullcontext()


def _timeout_at(deadline: float | None) -> contextlib.AbstractAsyncContextManager[Any]:
    if deadline is None:
        return _NO_TIMEOUT
    # Our deadline is on time.monotonic(); the loop's clock may differ, so convert.
    loop = asyncio.get_running_loop()
    return asyncio.timeout_at(loop.time() + (deadline - time.monotonic()))
