"""grpc-gateway's example streaming services (``StreamService``, ``FlowCombination``), implemented from the
descriptor set alone: no generated code, dynamic message classes and generic gRPC handlers, as a user
with only ``buf build`` output would have them. Registered on a real ``grpc.aio`` server or on the
gateway's in-process backend alike."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.core.descriptors import load_descriptor_set

DESCRIPTORS = resources.files("tests.gen.descriptors").joinpath("grpcgateway.binpb").read_bytes()
PACKAGE = "grpc.gateway.examples.internal.proto.examplepb"
STREAM_SERVICE = f"{PACKAGE}.StreamService"
FLOW = f"{PACKAGE}.FlowCombination"
# The services grpc-gateway's own example gateway registers together (the others reuse their paths).
SERVED = [
    f"{PACKAGE}.ABitOfEverythingService",
    f"{PACKAGE}.EchoService",
    STREAM_SERVICE,
    FLOW,
    f"{PACKAGE}.ResponseBodyService",
    f"{PACKAGE}.NonStandardService",
    f"{PACKAGE}.UnannotatedEchoService",
    f"{PACKAGE}.OpaqueEcommerceService",
]

POOL: descriptor_pool.DescriptorPool = load_descriptor_set(DESCRIPTORS)


def message_class(full_name: str) -> type[Message]:
    return GetMessageClass(POOL.FindMessageTypeByName(full_name))


class Recorder:
    """What the services received, for the tests to check (a client stream's messages, cancellations)."""

    def __init__(self, *, keep: bool = True) -> None:
        self.keep = keep
        self.created: list[Message] = []
        self.count = 0
        self.bytes = 0
        self.cancelled = 0


Context = grpc.aio.ServicerContext[Any, Any]


def _handlers(recorder: Recorder) -> dict[str, dict[str, Callable[..., Any]]]:
    empty = message_class("google.protobuf.Empty")
    empty_proto = message_class(f"{PACKAGE}.EmptyProto")
    http_body = message_class("google.api.HttpBody")

    async def bulk_create(requests: AsyncIterator[Message], context: Context) -> Message:
        try:
            async for item in requests:
                recorder.count += 1
                recorder.bytes += item.ByteSize()
                if recorder.keep:
                    recorder.created.append(item)
        except asyncio.CancelledError:
            recorder.cancelled += 1
            raise
        return empty()

    async def list_(request: Message, context: Context) -> AsyncIterator[Message]:
        for item in recorder.created:
            yield item
        if request.error:  # type: ignore[attr-defined]
            await context.abort(grpc.StatusCode.INVALID_ARGUMENT, "error requested")

    async def echo(requests: AsyncIterator[Message], context: Context) -> AsyncIterator[Message]:
        async for item in requests:
            yield item

    async def download(request: Message, context: Context) -> AsyncIterator[Message]:
        for part in (b"Hello ", b"World"):
            yield http_body(content_type="text/plain", data=part)

    async def stream_empty_rpc(requests: AsyncIterator[Message], context: Context) -> Message:
        async for _ in requests:
            pass
        return empty_proto()

    async def rpc_empty_stream(request: Message, context: Context) -> AsyncIterator[Message]:
        for _ in range(3):
            yield empty_proto()

    async def rpc_body_stream(request: Message, context: Context) -> AsyncIterator[Message]:
        yield empty_proto()

    return {
        STREAM_SERVICE: {
            "BulkCreate": bulk_create,
            "List": list_,
            "BulkEcho": echo,
            "BulkEchoDuration": echo,
            "Download": download,
        },
        FLOW: {
            "StreamEmptyRpc": stream_empty_rpc,
            "StreamEmptyStream": echo,
            "RpcEmptyStream": rpc_empty_stream,
            "RpcBodyStream": rpc_body_stream,
        },
    }


def _method_handler(service: str, name: str, behaviour: Callable[..., Any]) -> grpc.RpcMethodHandler[Any, Any]:
    method = POOL.FindServiceByName(service).methods_by_name[name]
    parse = GetMessageClass(method.input_type).FromString
    serialize = GetMessageClass(method.output_type).SerializeToString
    kind = (method.client_streaming, method.server_streaming)
    make = {
        (False, False): grpc.unary_unary_rpc_method_handler,
        (False, True): grpc.unary_stream_rpc_method_handler,
        (True, False): grpc.stream_unary_rpc_method_handler,
        (True, True): grpc.stream_stream_rpc_method_handler,
    }[kind]
    return make(behaviour, request_deserializer=parse, response_serializer=serialize)  # type: ignore[operator]


def add_upstream_services(server: Any, recorder: Recorder) -> None:
    """Register the services on ``server`` (a ``grpc.aio.Server`` or an ``InProcessBackend``)."""
    for service, methods in _handlers(recorder).items():
        handlers = {name: _method_handler(service, name, fn) for name, fn in methods.items()}
        server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler(service, handlers)])
