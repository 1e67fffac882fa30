"""The server pipeline: small ``grpc.aio.ServerInterceptor`` classes, one concern each.

The order used by ``build_service`` is::

    RequestIdInterceptor -> LoggingInterceptor -> ErrorInterceptor -> AuthInterceptor -> servicer

Request ids come first so every later step (and every log line) can name the call; logging wraps
error mapping so it records the status the caller really gets; authentication sits innermost so its
failures are mapped like any other domain error. Each interceptor wraps the handler's behaviour
rather than acting in ``intercept_service`` itself: the wrapper runs in the task that serves the
call, which is what makes the context variables it sets visible to the servicer. The REST gateway's
in-process backend runs this same list, so REST requests pass the same checks.

Every kind of handler is wrapped, request-streaming ones (server reflection; any client-streaming or
bidirectional method of a service reusing these) included, so none escapes authentication.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from typing import Any, Protocol, cast

import grpc
import grpc.aio

from protogw.core.requestid import acceptable_request_id, new_request_id
from protogw.gateway.workers import quick_log
from protogw.server.context import CallState, Principal, call_state, principal_var
from protogw.server.errors import status_for, unauthenticated

Context = grpc.aio.ServicerContext[Any, Any]
UnaryBehavior = Callable[[Any, Context], Awaitable[Any]]
StreamBehavior = Callable[[Any, Context], AsyncIterator[Any]]
# The stubs make RpcMethodHandler generic; at runtime it is a plain class, so keep this as a string.
Continuation = Callable[[grpc.HandlerCallDetails], Awaitable["grpc.RpcMethodHandler[Any, Any] | None"]]

logger = logging.getLogger("protogw.server.access")
error_logger = logging.getLogger("protogw.server.errors")

#: Bound on remembered wrapped handlers per interceptor (one per method, so this is never reached by
#: a fixed service; it only guards against handlers generated per call).
_MAX_WRAPPED = 4096

#: Metadata key carrying the request id, both ways.
REQUEST_ID_KEY = "x-request-id"


def metadata_value(context: Context, key: str) -> str | None:
    """The first value of a text metadata key, or None. Keys are matched case-insensitively."""
    return value_in(context.invocation_metadata() or (), key)


def value_in(metadata: Iterable[Any], key: str) -> str | None:
    """The first value of ``key`` in ``(name, value)`` pairs (case-insensitive), as text."""
    for item in metadata:
        name, value = item[0], item[1]
        if name.lower() == key:
            return value.decode("latin-1") if isinstance(value, bytes) else str(value)
    return None


#: (request streaming, response streaming) -> the handler's behaviour attribute and the function that
#: makes a handler of that kind.
_HANDLER_KINDS: dict[tuple[bool, bool], tuple[str, Callable[..., grpc.RpcMethodHandler[Any, Any]]]] = {
    (False, False): ("unary_unary", grpc.unary_unary_rpc_method_handler),
    (True, False): ("stream_unary", grpc.stream_unary_rpc_method_handler),
    (False, True): ("unary_stream", grpc.unary_stream_rpc_method_handler),
    (True, True): ("stream_stream", grpc.stream_stream_rpc_method_handler),
}


class WrappingInterceptor(grpc.aio.ServerInterceptor):
    """Base class: subclasses implement ``around_unary`` and ``around_stream``.

    ``around_unary`` wraps every behaviour that ends in one awaited result: unary-unary, client
    streaming (its ``request`` is then the request iterator), and unary-stream behaviours that are
    coroutines writing with ``context.write``. ``around_stream`` wraps those that yield their answers:
    unary-stream and bidirectional (again with the iterator as ``request``). Nothing here reads the
    request, so one pair of methods serves all four kinds.

    Each method's wrapped handler is built once: which handler an interceptor returns depends on the
    method alone (``method_scoped``), so the in-process gateway may resolve the chain once per method.
    """

    #: See :data:`protogw.gateway.inprocess.METHOD_SCOPED`: a subclass that overrides
    #: ``intercept_service`` to look at the call's metadata must set this to False.
    method_scoped = True

    def __init__(self) -> None:
        # (method, id of the inner handler) -> (inner handler, wrapped handler)
        self._wrapped: dict[tuple[str, int], tuple[Any, Any]] = {}

    async def around_unary(self, method: str, behavior: UnaryBehavior, request: Any, context: Context) -> Any:
        return await behavior(request, context)

    def applies_to(self, method: str) -> bool:
        """Whether calls to ``method`` go through this interceptor at all. When not, its handler is
        passed on untouched: the interceptor costs nothing on that method's calls."""
        return True

    def around_stream(
        self, method: str, behavior: StreamBehavior, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        return behavior(request, context)

    async def intercept_service(
        self, continuation: Continuation, handler_call_details: grpc.HandlerCallDetails
    ) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = handler_call_details.method
        # The handler found for a method is the same object on every call (and, since every
        # interceptor here does this, so is each wrapped one), so each wrapper is built once.
        cache = self._wrapped
        key = (method, id(handler))
        cached = cache.get(key)
        if cached is not None and cached[0] is handler:
            return cast("grpc.RpcMethodHandler[Any, Any]", cached[1])
        wrapped = self._wrap(method, handler) if self.applies_to(method) else handler
        if len(cache) > _MAX_WRAPPED:
            cache.clear()
        cache[key] = (handler, wrapped)
        return wrapped

    def _wrap(self, method: str, handler: grpc.RpcMethodHandler[Any, Any]) -> grpc.RpcMethodHandler[Any, Any]:
        attribute, make = _HANDLER_KINDS[(bool(handler.request_streaming), bool(handler.response_streaming))]
        behavior: Any = getattr(handler, attribute)
        if behavior is None:
            return handler
        wrapped: Any
        if handler.response_streaming and (
            inspect.isasyncgenfunction(behavior) or not inspect.iscoroutinefunction(behavior)
        ):
            stream: StreamBehavior = behavior

            # grpc.aio tells streaming behaviours apart with isasyncgenfunction, so the wrapper must
            # itself be an async generator function, not a function returning one.
            async def wrapped_stream(request: Any, context: Context) -> AsyncIterator[Any]:
                async for response in self.around_stream(method, stream, request, context):
                    yield response

            wrapped = wrapped_stream
        else:
            # A partial of a coroutine function is one (inspect and grpc.aio both say so), and it costs
            # the call no coroutine frame of its own.
            wrapped = functools.partial(self.around_unary, method, behavior)
        return make(
            wrapped,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )


class RequestIdInterceptor(WrappingInterceptor):
    """Gives every call a request id and a fresh ``CallState``.

    A well-formed ``x-request-id`` from the caller (the gateway forwards the HTTP header) is kept so
    a request can be traced across hops; otherwise one is generated. The id goes back to the caller
    as trailing metadata, on success and on failure alike.
    """

    def _begin(self, method: str, context: Context) -> CallState:
        given = metadata_value(context, REQUEST_ID_KEY)
        request_id = given if given is not None and acceptable_request_id(given) else new_request_id()
        state = CallState(method=method, request_id=request_id)
        call_state.set(state)
        # Start every call anonymous. grpc.aio gives each call a fresh context, but an in-process
        # front end may run several calls in one task; a caller must never carry over.
        principal_var.set(None)
        # Trailing rather than initial metadata: it rides on the status the call ends with anyway,
        # where sending initial metadata early would cost an extra operation on every call.
        context.set_trailing_metadata(((REQUEST_ID_KEY, request_id),))
        return state

    async def around_unary(self, method: str, behavior: UnaryBehavior, request: Any, context: Context) -> Any:
        self._begin(method, context)
        return await behavior(request, context)

    async def around_stream(
        self, method: str, behavior: StreamBehavior, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        self._begin(method, context)
        async for response in behavior(request, context):
            yield response


class LoggingInterceptor(WrappingInterceptor):
    """Logs one line per finished call: method, status, duration, caller and request id."""

    def _log(self, method: str, started: float, outcome: str | None) -> None:
        state = call_state.get()
        code = outcome or (state.code.name if state is not None else "OK")
        level = logging.INFO if code in ("OK", "CANCELLED") else logging.WARNING
        if not logger.isEnabledFor(level):
            return
        elapsed_ms = (time.perf_counter() - started) * 1000
        user = state.principal.user.username if state is not None and state.principal is not None else "-"
        request_id = state.request_id if state is not None else "-"
        quick_log(logger, level, "%s %s %.1fms user=%s request_id=%s", (method, code, elapsed_ms, user, request_id))

    async def around_unary(self, method: str, behavior: UnaryBehavior, request: Any, context: Context) -> Any:
        started = time.perf_counter()
        outcome: str | None = None
        try:
            return await behavior(request, context)
        except BaseException as exc:
            # An abort was already classified by the error interceptor (CallState.code); anything
            # else reaching this far is a cancellation.
            outcome = None if isinstance(exc, grpc.aio.AbortError) else "CANCELLED"
            raise
        finally:
            self._log(method, started, outcome)

    async def around_stream(
        self, method: str, behavior: StreamBehavior, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        started = time.perf_counter()
        outcome: str | None = None
        try:
            async for response in behavior(request, context):
                yield response
        except BaseException as exc:
            outcome = None if isinstance(exc, grpc.aio.AbortError) else "CANCELLED"
            raise
        finally:
            self._log(method, started, outcome)


class ErrorInterceptor(WrappingInterceptor):
    """Turns exceptions into gRPC statuses, the only place that does.

    Known domain errors (``ServiceError`` and the storage errors) become their status with their
    message. Anything else is a bug: its traceback is logged with the request id and the caller gets
    INTERNAL with a generic message, so no internals leak.
    """

    async def _abort(self, method: str, exc: Exception, context: Context) -> None:
        known = status_for(exc)
        state = call_state.get()
        if known is None:
            request_id = state.request_id if state is not None else "-"
            error_logger.error("unexpected error in %s (request_id=%s)", method, request_id, exc_info=exc)
            code, details = grpc.StatusCode.INTERNAL, f"internal error (request id {request_id})"
        else:
            code, details = known
            if code is grpc.StatusCode.UNAVAILABLE:
                error_logger.warning("%s failed: %s", method, exc, exc_info=exc)
        if state is not None:
            state.code, state.details = code, details
        await context.abort(code, details)

    async def around_unary(self, method: str, behavior: UnaryBehavior, request: Any, context: Context) -> Any:
        try:
            return await behavior(request, context)
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await self._abort(method, exc, context)

    async def around_stream(
        self, method: str, behavior: StreamBehavior, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        try:
            async for response in behavior(request, context):
                yield response
        except grpc.aio.AbortError:
            raise
        except Exception as exc:
            await self._abort(method, exc, context)


class Authenticator(Protocol):
    """Resolves a bearer token to the caller, raising a ``ServiceError`` when it cannot."""

    async def authenticate(self, token: str) -> Principal: ...


#: Metadata keys a token may arrive in, in order of preference: gRPC clients and our gateway use
#: ``authorization``; Determined's own gateway forwards ``grpcgateway-authorization``; Determined's
#: internal clients use ``x-user-token``. Each carries ``Bearer <token>``.
TOKEN_KEYS = ("authorization", "grpcgateway-authorization", "x-user-token")
_BEARER = "Bearer "


def bearer_token(context: Context) -> str:
    """The token of the call, or a ServiceError worded as Determined words it."""
    return bearer_token_in(context.invocation_metadata() or ())


def bearer_token_in(metadata: Iterable[Any]) -> str:
    """The token in ``(name, value)`` metadata pairs, or a ServiceError worded as Determined words it."""
    items = list(metadata)
    for key in TOKEN_KEYS:
        value = value_in(items, key)
        if value is None:
            continue
        if not value.startswith(_BEARER) or not value[len(_BEARER) :].strip():
            raise unauthenticated("invalid credentials")
        return value[len(_BEARER) :].strip()
    raise unauthenticated("token missing")


class AuthInterceptor(WrappingInterceptor):
    """Requires a valid bearer token on every method except the public ones.

    A method is public when its full name is in ``public_methods`` or its service is in
    ``public_services`` (health checks and reflection). Everything else fails closed, including
    methods added to the proto later. The caller is published through ``principal_var``.
    """

    def __init__(
        self, authenticator: Authenticator, *, public_methods: Sequence[str], public_services: Sequence[str]
    ) -> None:
        super().__init__()
        self._authenticator = authenticator
        self._public_methods = frozenset(public_methods)
        self._public_services = frozenset(public_services)

    def is_public(self, method: str) -> bool:
        service = method.lstrip("/").rpartition("/")[0]
        return method in self._public_methods or service in self._public_services

    def applies_to(self, method: str) -> bool:
        # Public methods are decided once per method (the wrapped handler is cached), not per call.
        return not self.is_public(method)

    async def check(self, method: str, metadata: Iterable[Any]) -> None:
        """Raise the ServiceError the call would fail with for want of a valid token (nothing for a
        public method). The REST gateway asks this before it reads a request body, so a caller without
        a valid token is refused before the body is read (and gets no ``100 Continue``)."""
        if not self.is_public(method):
            await self._authenticator.authenticate(bearer_token_in(metadata))

    async def _authenticate(self, context: Context) -> None:
        principal = await self._authenticator.authenticate(bearer_token(context))
        principal_var.set(principal)
        state = call_state.get()
        if state is not None:
            state.principal = principal

    # Only methods ``applies_to`` accepts are wrapped, so every call that reaches these is to a method
    # that needs a token: the public check was made once, when the method's handler was wrapped.
    async def around_unary(self, method: str, behavior: UnaryBehavior, request: Any, context: Context) -> Any:
        await self._authenticate(context)
        return await behavior(request, context)

    async def around_stream(
        self, method: str, behavior: StreamBehavior, request: Any, context: Context
    ) -> AsyncIterator[Any]:
        await self._authenticate(context)
        async for response in behavior(request, context):
            yield response
