"""A real kitchen-sink service for the gateway tests: an in-memory store of things, echoes, streaming
with optional failure, and interceptors of the kinds real services use.

``add_kitchen(server_or_backend)`` registers the servicer and the health service with either a
``grpc.aio`` server or an ``InProcessBackend``; ``kitchen_interceptors()`` is the list both take.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import grpc.aio
from google.api import httpbody_pb2
from google.protobuf import empty_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_status import rpc_status

from tests.gen.kitchen.v1 import kitchen_pb2 as pb
from tests.gen.kitchen.v1 import kitchen_pb2_grpc as pb_grpc

SERVICE = "kitchen.v1.KitchenService"
ADMIN_TOKEN = "Bearer admin-token"

# Set by ContextInterceptor from metadata, read by the servicer: proves interceptors and servicer share
# the task's context.
interceptor_value: contextvars.ContextVar[str] = contextvars.ContextVar("interceptor_value", default="")


class ThingStore:
    """Things by id, in memory."""

    def __init__(self) -> None:
        self.things: dict[int, pb.Thing] = {}
        self._next = 1

    def add(self, thing: pb.Thing) -> pb.Thing:
        stored = pb.Thing()
        stored.CopyFrom(thing)
        stored.id = self._next
        self._next += 1
        if not stored.name:
            stored.name = f"projects/{stored.shelf or 'default'}/things/{stored.id}"
        self.things[stored.id] = stored
        return stored

    def get(self, thing_id: int) -> pb.Thing:
        # A KeyError here becomes NOT_FOUND in ErrorMappingInterceptor.
        return self.things[thing_id]


class KitchenServicer(pb_grpc.KitchenServiceServicer):
    """Every RPC of the kitchen service, with real (small) behaviour."""

    def __init__(self, store: ThingStore) -> None:
        self.store = store

    async def GetThing(self, request: pb.GetThingRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Thing:
        thing = self.store.get(request.id)
        if request.shelf and thing.shelf != request.shelf:
            await context.abort(grpc.StatusCode.NOT_FOUND, f"thing {request.id} is not on shelf {request.shelf}")
        if request.read_mask.paths:
            out = pb.Thing()
            request.read_mask.MergeMessage(thing, out)
            return out
        return thing

    async def GetThingByName(
        self, request: pb.GetThingByNameRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Thing:
        for thing in self.store.things.values():
            if thing.name == request.name:
                return thing
        await context.abort(grpc.StatusCode.NOT_FOUND, f"no thing named {request.name}")

    async def ListThings(
        self, request: pb.ListThingsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListThingsResponse:
        if request.page_size < 0:
            raise ValueError("page_size must not be negative")
        things = sorted(self.store.things.values(), key=lambda t: t.id)
        if request.filter.string_value:
            things = [t for t in things if t.display_name == request.filter.string_value]
        if request.colors:
            things = [t for t in things if t.payload.color in request.colors]
        start = int(request.page_token or 0)
        size = request.page_size or 10
        page = things[start : start + size]
        token = str(start + size) if start + size < len(things) else ""
        return pb.ListThingsResponse(things=page, next_page_token=token)

    async def CreateThing(
        self, request: pb.CreateThingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Thing:
        if not request.HasField("thing"):
            raise ValueError("thing is required")
        thing = pb.Thing()
        thing.CopyFrom(request.thing)
        if request.request_id:
            thing.labels["request_id"] = request.request_id
        return self.store.add(thing)

    async def CreateThingOnShelf(
        self, request: pb.CreateThingOnShelfRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Thing:
        thing = pb.Thing()
        thing.CopyFrom(request.thing)
        thing.shelf = request.shelf
        if request.validate_only:
            return thing
        return self.store.add(thing)

    async def UpdateThing(
        self, request: pb.UpdateThingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Thing:
        existing = self.store.get(request.thing.id)
        if request.update_mask.paths:
            if not request.update_mask.IsValidForDescriptor(pb.Thing.DESCRIPTOR):
                raise ValueError(f"invalid update_mask {list(request.update_mask.paths)}")
            request.update_mask.MergeMessage(
                request.thing, existing, replace_message_field=True, replace_repeated_field=True
            )
        else:
            existing.CopyFrom(request.thing)
        # Tell the caller which paths were applied (the gateway fills the mask for PATCH).
        await context.send_initial_metadata((("x-update-mask", ",".join(request.update_mask.paths)),))
        return existing

    async def DeleteThing(
        self, request: pb.DeleteThingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> empty_pb2.Empty:
        del self.store.things[request.id]
        return empty_pb2.Empty()

    async def ArchiveThing(
        self, request: pb.ArchiveThingRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.Thing:
        thing = self.store.get(request.id)
        thing.labels["archived"] = request.reason or "yes"
        return thing

    async def LockThing(self, request: pb.GetThingRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Thing:
        thing = self.store.get(request.id)
        thing.labels["locked"] = "true"
        return thing

    async def GetFile(self, request: pb.GetFileRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.File:
        return pb.File(path=request.path, content=request.path.encode())

    async def GetFileContent(self, request: pb.GetFileRequest, context: grpc.aio.ServicerContext[Any, Any]) -> pb.File:
        return pb.File(path=request.path, content=b"content of " + request.path.encode())

    async def GetStaticInfo(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]) -> pb.File:
        return pb.File(path="static")

    async def WatchThings(
        self, request: pb.WatchThingsRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> AsyncIterator[pb.WatchThingsResponse]:
        await context.send_initial_metadata((("x-watch", str(request.count)),))
        for seq in range(request.count):
            if request.interval_ms:
                await asyncio.sleep(request.interval_ms / 1000)
            yield pb.WatchThingsResponse(seq=seq, thing=pb.Thing(id=seq, display_name=interceptor_value.get()))
        if request.fail_with_code:
            await context.abort(grpc.StatusCode(_code(request.fail_with_code)), f"failed after {request.count}")

    async def EchoQuery(self, request: pb.Everything, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Everything:
        return request

    async def EchoBody(self, request: pb.Everything, context: grpc.aio.ServicerContext[Any, Any]) -> pb.Everything:
        return request

    async def EchoPath(
        self, request: pb.EchoPathRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.EchoPathRequest:
        return request

    async def Fail(self, request: pb.FailRequest, context: grpc.aio.ServicerContext[Any, Any]) -> empty_pb2.Empty:
        if request.code == code_pb2.INVALID_ARGUMENT:
            # A rich status with details, the way real services send field violations.
            detail = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field="code", description=request.message)
                ]
            )
            status = status_pb2.Status(code=request.code, message=request.message)
            status.details.add().Pack(detail)
            await context.abort_with_status(rpc_status.to_status(status))
        if request.code == 0:
            # set_code without raising: the call still fails.
            context.set_code(grpc.StatusCode.ABORTED)
            context.set_details("set_code without abort")
            return empty_pb2.Empty()
        await context.abort(grpc.StatusCode(_code(request.code)), request.message)

    async def EchoMetadata(
        self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.MetadataEcho:
        echo = pb.MetadataEcho(
            peer=context.peer(),
            has_deadline=context.time_remaining() is not None,
            interceptor_value=interceptor_value.get(),
        )
        for key, value in context.invocation_metadata() or ():
            if isinstance(value, bytes):
                echo.binary_metadata[key] = value
            elif key in echo.metadata:
                echo.metadata[key] += ", " + value
            else:
                echo.metadata[key] = value
        await context.send_initial_metadata((("x-echo-header", "h"), ("x-echo-bin", b"\x00\x01")))
        context.set_trailing_metadata((("x-echo-trailer", "t"),))
        return echo

    async def UploadFile(
        self, request: pb.UploadFileRequest, context: grpc.aio.ServicerContext[Any, Any]
    ) -> httpbody_pb2.HttpBody:
        return httpbody_pb2.HttpBody(
            content_type=request.body.content_type or "application/octet-stream",
            data=f"stored {request.name}: ".encode() + request.body.data,
        )

    async def CountThings(
        self, request_iterator: AsyncIterator[pb.Thing], context: grpc.aio.ServicerContext[Any, Any]
    ) -> pb.ListThingsResponse:
        things = [thing async for thing in request_iterator]
        return pb.ListThingsResponse(things=things)

    async def Hidden(self, request: empty_pb2.Empty, context: grpc.aio.ServicerContext[Any, Any]) -> empty_pb2.Empty:
        return empty_pb2.Empty()


def _code(number: int) -> tuple[int, str]:
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code.value
    return grpc.StatusCode.UNKNOWN.value


Behaviour = Callable[[Any, grpc.aio.ServicerContext[Any, Any]], Any]


def _wrap(
    handler: grpc.RpcMethodHandler, unary: Callable[[Behaviour], Behaviour], stream: Callable[[Behaviour], Behaviour]
) -> grpc.RpcMethodHandler:
    if handler.unary_unary is not None:
        return grpc.unary_unary_rpc_method_handler(
            unary(handler.unary_unary), handler.request_deserializer, handler.response_serializer
        )
    if handler.unary_stream is not None:
        return grpc.unary_stream_rpc_method_handler(
            stream(handler.unary_stream), handler.request_deserializer, handler.response_serializer
        )
    return handler


class AuthInterceptor(grpc.aio.ServerInterceptor):
    """Deleting needs ``authorization: Bearer admin-token``; everything else is open."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        if handler_call_details.method == f"/{SERVICE}/DeleteThing":
            md = dict(handler_call_details.invocation_metadata or ())
            if md.get("authorization") != ADMIN_TOKEN:

                async def deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                    await context.abort(grpc.StatusCode.UNAUTHENTICATED, "admin token required")

                return grpc.unary_unary_rpc_method_handler(deny)
        return await continuation(handler_call_details)


class ErrorMappingInterceptor(grpc.aio.ServerInterceptor):
    """Maps exceptions a servicer raises to statuses: KeyError -> NOT_FOUND, ValueError -> INVALID_ARGUMENT."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler

        def unary(behaviour: Behaviour) -> Behaviour:
            async def mapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                try:
                    return await behaviour(request, context)
                except KeyError as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"not found: {exc}")
                except ValueError as exc:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))

            return mapped

        def stream(behaviour: Behaviour) -> Behaviour:
            async def mapped(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Any]:
                try:
                    async for item in behaviour(request, context):
                        yield item
                except KeyError as exc:
                    await context.abort(grpc.StatusCode.NOT_FOUND, f"not found: {exc}")

            return mapped

        return _wrap(handler, unary, stream)


class ContextInterceptor(grpc.aio.ServerInterceptor):
    """Puts the ``x-context-value`` metadata into a contextvar for the servicer."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        md = dict(handler_call_details.invocation_metadata or ())
        value = md.get("x-context-value", "")
        interceptor_value.set(value if isinstance(value, str) else "")
        return await continuation(handler_call_details)


def kitchen_interceptors() -> list[grpc.aio.ServerInterceptor]:
    """The interceptor list for both the real server and the in-process backend."""
    return [ContextInterceptor(), AuthInterceptor(), ErrorMappingInterceptor()]


async def add_kitchen(server: Any, store: ThingStore | None = None) -> ThingStore:
    """Register the kitchen servicer and a health service (SERVING, plus a NOT_SERVING "down") with
    ``server``."""
    store = store if store is not None else ThingStore()
    pb_grpc.add_KitchenServiceServicer_to_server(KitchenServicer(store), server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    await health_servicer.set(SERVICE, health_pb2.HealthCheckResponse.SERVING)
    await health_servicer.set("down", health_pb2.HealthCheckResponse.NOT_SERVING)
    return store
