"""A proto set built in code, whose types no module of this process defines, and a service that fails
every call with a rich status: the fixture for rendering error details from the gateway's own pool.

``errdemo/v1/errdemo.proto`` (package ``errdemo.v1``) exists only as the ``FileDescriptorProto`` below:
its messages live in the pool :func:`descriptor_set` builds (or in a ``protogw gateway`` process given
its bytes), never in the default pool. ``ErrorDemo.Fail`` (``GET /v1/fail/{scenario}``) aborts with the
scenario's details; ``ErrorDemo.FailStream`` (``GET /v1/fail/{scenario}:stream``) sends one response
first, then aborts the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import grpc
import grpc.aio
from google.api import annotations_pb2, http_pb2
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool, duration_pb2, json_format
from google.protobuf.descriptor_pb2 import FieldDescriptorProto as F
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

from protogw.core.descriptors import pool_of

SERVICE = "errdemo.v1.ErrorDemo"
PREFIX = "type.googleapis.com/"


def _field(name: str, number: int, kind: int, type_name: str = "", *, repeated: bool = False) -> F:
    label = F.LABEL_REPEATED if repeated else F.LABEL_OPTIONAL
    field = F(name=name, number=number, type=kind, label=label)  # type: ignore[arg-type]
    if type_name:
        field.type_name = type_name
    return field


def _proto_file() -> descriptor_pb2.FileDescriptorProto:
    fdp = descriptor_pb2.FileDescriptorProto(
        name="errdemo/v1/errdemo.proto",
        package="errdemo.v1",
        syntax="proto3",
        dependency=["google/api/annotations.proto", "google/protobuf/any.proto", "google/protobuf/duration.proto"],
    )
    kind = fdp.enum_type.add(name="Kind")
    kind.value.add(name="KIND_UNSPECIFIED", number=0)
    kind.value.add(name="KIND_RATE", number=1)
    # A detail with a field of every shape json_format writes differently.
    limit = fdp.message_type.add(name="LimitDetail")
    limit.field.extend(
        [
            _field("resource", 1, F.TYPE_STRING),
            _field("limit", 2, F.TYPE_INT64),
            _field("kind", 3, F.TYPE_ENUM, ".errdemo.v1.Kind"),
            _field("window", 4, F.TYPE_MESSAGE, ".errdemo.v1.LimitDetail.Window"),
            _field("tags", 5, F.TYPE_STRING, repeated=True),
            _field("used_by_user", 6, F.TYPE_MESSAGE, ".errdemo.v1.LimitDetail.UsedByUserEntry", repeated=True),
            _field("hard", 7, F.TYPE_BOOL),
        ]
    )
    window = limit.nested_type.add(name="Window")
    window.field.append(_field("length", 1, F.TYPE_MESSAGE, ".google.protobuf.Duration"))
    entry = limit.nested_type.add(name="UsedByUserEntry")
    entry.options.map_entry = True
    entry.field.extend([_field("key", 1, F.TYPE_STRING), _field("value", 2, F.TYPE_INT32)])
    fdp.message_type.add(name="RetryDetail").field.append(
        _field("after", 1, F.TYPE_MESSAGE, ".google.protobuf.Duration")
    )
    # A detail carrying another in an Any (whose type may be one only the default pool knows).
    fdp.message_type.add(name="CauseDetail").field.append(_field("cause", 1, F.TYPE_MESSAGE, ".google.protobuf.Any"))
    fdp.message_type.add(name="FailRequest").field.append(_field("scenario", 1, F.TYPE_STRING))
    fdp.message_type.add(name="FailResponse").field.append(_field("scenario", 1, F.TYPE_STRING))
    service = fdp.service.add(name="ErrorDemo")
    for name, path, streaming in (
        ("Fail", "/v1/fail/{scenario}", False),
        ("FailStream", "/v1/fail/{scenario}:stream", True),
    ):
        method = service.method.add(
            name=name, input_type=".errdemo.v1.FailRequest", output_type=".errdemo.v1.FailResponse"
        )
        method.server_streaming = streaming
        method.options.Extensions[annotations_pb2.http].CopyFrom(http_pb2.HttpRule(get=path))
    return fdp


def descriptor_set() -> bytes:
    """The serialized ``FileDescriptorSet``: the demo file and its imports (as ``buf build`` writes)."""
    files = []
    for module in (descriptor_pb2, http_pb2, annotations_pb2, any_pb2, duration_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        files.append(fdp)
    files.append(_proto_file())
    return descriptor_pb2.FileDescriptorSet(file=files).SerializeToString()


def demo_pool() -> descriptor_pool.DescriptorPool:
    """A fresh pool holding the set's files: its types are nowhere else in this process."""
    return pool_of(descriptor_pb2.FileDescriptorSet.FromString(descriptor_set()).file)


def message(pool: descriptor_pool.DescriptorPool, name: str, **fields: Any) -> Message:
    """An ``errdemo.v1`` message of ``pool``, set from JSON-style ``fields``."""
    return json_format.ParseDict(fields, GetMessageClass(pool.FindMessageTypeByName(f"errdemo.v1.{name}"))())


def packed(msg: Message) -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(msg)
    return detail


def expected_json(msg: Message) -> dict[str, Any]:
    """What grpc-gateway's marshaler writes for ``msg`` packed in an ``Any``: ``@type`` and the
    message's own fields - json_format's with unpopulated fields, except that protojson's
    EmitUnpopulated also writes an unset message field (outside a oneof) as null."""
    fields = json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)
    for field in msg.DESCRIPTOR.fields:
        unset_message = field.message_type is not None and not field.is_repeated
        if unset_message and field.containing_oneof is None and not msg.HasField(field.name):
            fields[field.json_name] = None
    return {"@type": PREFIX + msg.DESCRIPTOR.full_name, **fields}


@dataclass(frozen=True)
class Scenario:
    """One rich status: the details the server sends, and the JSON each must render as."""

    name: str
    code: grpc.StatusCode
    details: Callable[[descriptor_pool.DescriptorPool], list[tuple[any_pb2.Any, dict[str, Any]]]]


def _own(pool: descriptor_pool.DescriptorPool) -> list[tuple[any_pb2.Any, dict[str, Any]]]:
    msg = message(
        pool,
        "LimitDetail",
        resource="cpu",
        limit="5",
        kind="KIND_RATE",
        window={"length": "60s"},
        tags=["a", "b"],
        usedByUser={"ann": 3},
    )
    return [(packed(msg), expected_json(msg))]


def _own_literal(pool: descriptor_pool.DescriptorPool) -> list[tuple[any_pb2.Any, dict[str, Any]]]:
    # Spelled out once, so the expectation does not only come from json_format: proto3 zero values
    # are written, and an unset message field is null (grpc-gateway's protojson EmitUnpopulated).
    msg = message(pool, "LimitDetail", resource="disk")
    return [
        (
            packed(msg),
            {
                "@type": "type.googleapis.com/errdemo.v1.LimitDetail",
                "resource": "disk",
                "limit": "0",
                "kind": "KIND_UNSPECIFIED",
                "window": None,
                "tags": [],
                "usedByUser": {},
                "hard": False,
            },
        )
    ]


def _standard(pool: descriptor_pool.DescriptorPool) -> list[tuple[any_pb2.Any, dict[str, Any]]]:
    info = error_details_pb2.ErrorInfo(reason="QUOTA", domain="errdemo.example", metadata={"k": "v"})
    return [(packed(info), expected_json(info))]


def _unknown(pool: descriptor_pool.DescriptorPool) -> list[tuple[any_pb2.Any, dict[str, Any]]]:
    detail = any_pb2.Any(type_url="type.googleapis.com/errdemo.v1.Nowhere", value=b"\x08\x01")
    return [(detail, {"@type": "type.googleapis.com/errdemo.v1.Nowhere", "value": "CAE="})]


def _several(pool: descriptor_pool.DescriptorPool) -> list[tuple[any_pb2.Any, dict[str, Any]]]:
    retry = message(pool, "RetryDetail", after="1.500s")
    return [*_own(pool), *_standard(pool), *_unknown(pool), (packed(retry), expected_json(retry)), *_own_literal(pool)]


SCENARIOS = [
    Scenario("own", grpc.StatusCode.RESOURCE_EXHAUSTED, _own),
    Scenario("own_zero_values", grpc.StatusCode.RESOURCE_EXHAUSTED, _own_literal),
    Scenario("standard", grpc.StatusCode.FAILED_PRECONDITION, _standard),
    Scenario("unknown", grpc.StatusCode.INTERNAL, _unknown),
    Scenario("several", grpc.StatusCode.UNAVAILABLE, _several),
]
BY_NAME = {s.name: s for s in SCENARIOS}


def status_of(scenario: Scenario, pool: descriptor_pool.DescriptorPool) -> status_pb2.Status:
    return status_pb2.Status(
        code=scenario.code.value[0],
        message=f"failed: {scenario.name}",
        details=[detail for detail, _ in scenario.details(pool)],
    )


def handlers(pool: descriptor_pool.DescriptorPool) -> grpc.GenericRpcHandler:
    """``ErrorDemo``'s handlers, with messages of ``pool``: for a ``grpc.aio`` server or an in-process
    backend (``add_generic_rpc_handlers``)."""
    request_class = GetMessageClass(pool.FindMessageTypeByName("errdemo.v1.FailRequest"))
    response_class = GetMessageClass(pool.FindMessageTypeByName("errdemo.v1.FailResponse"))

    async def fail(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Message:
        await context.abort_with_status(rpc_status.to_status(status_of(BY_NAME[request.scenario], pool)))
        raise AssertionError("abort returned")

    async def fail_stream(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[Message]:
        yield json_format.ParseDict({"scenario": request.scenario}, response_class())
        await context.abort_with_status(rpc_status.to_status(status_of(BY_NAME[request.scenario], pool)))

    def serialize(msg: Message) -> bytes:
        return msg.SerializeToString()

    return grpc.method_handlers_generic_handler(
        SERVICE,
        {
            "Fail": grpc.unary_unary_rpc_method_handler(
                fail, request_deserializer=request_class.FromString, response_serializer=serialize
            ),
            "FailStream": grpc.unary_stream_rpc_method_handler(
                fail_stream, request_deserializer=request_class.FromString, response_serializer=serialize
            ),
        },
    )


async def start_server(pool: descriptor_pool.DescriptorPool) -> tuple[grpc.aio.Server, int]:
    """A real ``grpc.aio`` server for ``ErrorDemo`` on port 0."""
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([handlers(pool)])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port
