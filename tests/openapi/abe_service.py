"""grpc-gateway's ``ABitOfEverythingService`` (the methods its example server implements with behaviour:
create, lookup, update, patch, delete, echo, an error with details), from the descriptor set alone:
dynamic message classes and generic gRPC handlers, no generated code. The rules are the example
server's: a create assigns a fresh uuid; lookup, update and delete of an unknown uuid are NOT_FOUND;
an update with a field mask changes only the masked fields.

:func:`start` serves it on a real ``grpc.server`` (a thread pool) on a free port of 127.0.0.1.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from concurrent import futures
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from tests.gateway.upstream_service import PACKAGE, POOL, message_class

SERVICE = f"{PACKAGE}.ABitOfEverythingService"


class Store:
    """The service's messages by uuid, behind one lock (the server runs handlers on a thread pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.items: dict[str, Message] = {}
        self.ids = itertools.count(1)


def _handlers(store: Store) -> dict[str, Callable[[Any, grpc.ServicerContext], Message]]:
    abe = message_class(f"{PACKAGE}.ABitOfEverything")
    empty = message_class("google.protobuf.Empty")

    def not_found(context: grpc.ServicerContext) -> None:
        context.abort(grpc.StatusCode.NOT_FOUND, "not found")

    def create(msg: Any, context: grpc.ServicerContext) -> Message:
        with store.lock:
            msg.uuid = f"{next(store.ids):08x}-0000-4000-8000-000000000000"
            store.items[msg.uuid] = msg
        return msg

    def lookup(msg: Any, context: grpc.ServicerContext) -> Message:
        with store.lock:
            found = store.items.get(msg.uuid)
        if found is None:
            not_found(context)
        out = abe()
        out.CopyFrom(found)
        return out

    def update(msg: Any, context: grpc.ServicerContext) -> Message:
        with store.lock:
            if msg.uuid not in store.items:
                not_found(context)
            store.items[msg.uuid] = msg
        return empty()

    def update_v2(msg: Any, context: grpc.ServicerContext) -> Message:
        uuid = msg.abe.uuid
        with store.lock:
            stored = store.items.get(uuid)
            if stored is None:
                not_found(context)
            if msg.update_mask.paths:
                msg.update_mask.MergeMessage(msg.abe, stored, replace_message_field=True, replace_repeated_field=True)
            else:
                store.items[uuid] = msg.abe
        return empty()

    def delete(msg: Any, context: grpc.ServicerContext) -> Message:
        with store.lock:
            if store.items.pop(msg.uuid, None) is None:
                not_found(context)
        return empty()

    def echo(msg: Any, context: grpc.ServicerContext) -> Message:
        return msg  # type: ignore[no-any-return]

    def error_with_details(msg: Any, context: grpc.ServicerContext) -> Message:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.DebugInfo(stack_entries=["foo:1"], detail="error debug details"))
        status = status_pb2.Status(code=code_pb2.UNKNOWN, message="with details", details=[detail])
        context.abort_with_status(rpc_status.to_status(status))
        raise AssertionError("abort_with_status returns only by raising")

    return {
        "Create": create,
        "CreateBody": create,
        "Lookup": lookup,
        "Update": update,
        "UpdateV2": update_v2,
        "Delete": delete,
        "CheckGetQueryParams": echo,
        "ErrorWithDetails": error_with_details,
    }


def generic_handler(store: Store) -> grpc.GenericRpcHandler:
    service = POOL.FindServiceByName(SERVICE)
    table = {}
    for name, fn in _handlers(store).items():
        method = service.methods_by_name[name]
        table[name] = grpc.unary_unary_rpc_method_handler(
            fn,
            request_deserializer=message_class(method.input_type.full_name).FromString,
            response_serializer=message_class(method.output_type.full_name).SerializeToString,
        )
    return grpc.method_handlers_generic_handler(SERVICE, table)


def start(store: Store) -> tuple[grpc.Server, int]:
    """The service on a started ``grpc.server`` at 127.0.0.1 (a free port), and that port."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers([generic_handler(store)])
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    return server, port
