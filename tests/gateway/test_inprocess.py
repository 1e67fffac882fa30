"""The in-process backend against a real grpc.aio server: the same handlers and interceptors give the
same responses, statuses and metadata through both, for every part of the servicer context surface."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf import descriptor_pool, empty_pb2

from protogw.core.bindings import MethodInfo
from protogw.core.descriptors import load_descriptor_set
from protogw.gateway.backend import Call
from protogw.gateway.errors import GatewayError
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.proxy import ProxyBackend
from tests.gen.kitchen.v1 import kitchen_pb2 as pb

SERVICE = "test.Probe"
Behaviour = Callable[[pb.Everything, Any], Any]


def _method(name: str) -> MethodInfo:
    # Reuse Everything -> Everything message classes under a made-up service path.
    echo = descriptor_pool.Default().FindMethodByName("kitchen.v1.KitchenService.EchoQuery")
    return MethodInfo(echo, f"/{SERVICE}/{name}", pb.Everything, pb.Everything)


async def ok(req: pb.Everything, ctx: Any) -> pb.Everything:
    return pb.Everything(string_value="ok:" + req.string_value)


def sync_ok(req: pb.Everything, ctx: Any) -> pb.Everything:
    return pb.Everything(string_value="sync")


async def abort_not_found(req: pb.Everything, ctx: Any) -> pb.Everything:
    await ctx.abort(grpc.StatusCode.NOT_FOUND, "nope", (("x-why", "because"),))
    raise AssertionError("abort must raise")


async def abort_ok(req: pb.Everything, ctx: Any) -> pb.Everything:
    await ctx.abort(grpc.StatusCode.OK, "not really ok")
    raise AssertionError("abort must raise")


async def abort_twice(req: pb.Everything, ctx: Any) -> pb.Everything:
    with contextlib.suppress(grpc.aio.AbortError):
        await ctx.abort(grpc.StatusCode.ALREADY_EXISTS, "first")
    await ctx.abort(grpc.StatusCode.INTERNAL, "second")
    raise AssertionError("abort must raise")


async def set_code_only(req: pb.Everything, ctx: Any) -> pb.Everything:
    ctx.set_code(grpc.StatusCode.PERMISSION_DENIED)
    ctx.set_details("denied")
    assert ctx.code() == grpc.StatusCode.PERMISSION_DENIED
    assert ctx.details() == "denied"
    return pb.Everything()


async def raises(req: pb.Everything, ctx: Any) -> pb.Everything:
    raise RuntimeError("boom")


async def metadata(req: pb.Everything, ctx: Any) -> pb.Everything:
    md = {m.key: m.value for m in ctx.invocation_metadata()}
    await ctx.send_initial_metadata((("x-initial", md.get("x-in", "")),))
    ctx.set_trailing_metadata((("x-trailing", "t"), ("x-t-bin", b"\x01")))
    assert ctx.trailing_metadata() == [("x-trailing", "t"), ("x-t-bin", b"\x01")] or tuple(ctx.trailing_metadata())
    return pb.Everything(string_value=md.get("x-in", ""))


async def surface(req: pb.Everything, ctx: Any) -> pb.Everything:
    remaining = ctx.time_remaining()
    flags = [ctx.cancelled(), ctx.done(), bool(ctx.peer())]
    return pb.Everything(bool_value=remaining is not None and 0 < remaining <= 31, repeated_bool=flags)


async def stream_three(req: pb.Everything, ctx: Any) -> AsyncIterator[pb.Everything]:
    await ctx.send_initial_metadata((("x-stream", "s"),))
    for i in range(3):
        yield pb.Everything(int32_value=i)
    ctx.set_trailing_metadata((("x-end", "e"),))


async def stream_fails(req: pb.Everything, ctx: Any) -> AsyncIterator[pb.Everything]:
    yield pb.Everything(int32_value=0)
    await ctx.abort(grpc.StatusCode.DATA_LOSS, "lost")


UNARY_CASES: list[tuple[str, Behaviour, dict[str, str], Any]] = [
    ("ok", ok, {}, pb.Everything(string_value="ok:in")),
    ("sync-behaviour", sync_ok, {}, pb.Everything(string_value="sync")),
    ("abort", abort_not_found, {}, (grpc.StatusCode.NOT_FOUND, "nope", [("x-why", "because")])),
    ("abort-twice", abort_twice, {}, (grpc.StatusCode.ALREADY_EXISTS, "first", [])),
    ("set-code-without-raising", set_code_only, {}, (grpc.StatusCode.PERMISSION_DENIED, "denied", [])),
    ("exception", raises, {}, (grpc.StatusCode.UNKNOWN, "Unexpected <class 'RuntimeError'>: boom", [])),
    ("metadata", metadata, {"x-in": "hello"}, pb.Everything(string_value="hello")),
    ("surface", surface, {}, pb.Everything(bool_value=True, repeated_bool=[False, False, True])),
]

CALLS: list[str] = []


class Recorder(grpc.aio.ServerInterceptor):
    """Records the order interceptors and handlers run in."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def intercept_service(self, continuation: Any, handler_call_details: grpc.HandlerCallDetails) -> Any:
        CALLS.append(f"{self.name}:{handler_call_details.method.rsplit('/', 1)[1]}")
        return await continuation(handler_call_details)


def register(server: Any) -> None:
    handlers: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        name: grpc.unary_unary_rpc_method_handler(fn, pb.Everything.FromString, pb.Everything.SerializeToString)
        for name, fn, _, _ in UNARY_CASES
    }
    handlers["stream_three"] = grpc.unary_stream_rpc_method_handler(
        stream_three, pb.Everything.FromString, pb.Everything.SerializeToString
    )
    # Half through the registered-method path, half through generic handlers only.
    generic = {
        "stream_fails": grpc.unary_stream_rpc_method_handler(
            stream_fails, pb.Everything.FromString, pb.Everything.SerializeToString
        )
    }
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {**handlers, **generic}),))
    server.add_registered_method_handlers(SERVICE, handlers)


@pytest.fixture(params=["inprocess", "grpc-server"])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[InProcessBackend | ProxyBackend]:
    interceptors = [Recorder("first"), Recorder("second")]
    if request.param == "inprocess":
        inproc = InProcessBackend(interceptors)
        register(inproc)
        yield inproc
        return
    server = grpc.aio.server(interceptors=interceptors)
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    proxy = ProxyBackend(f"127.0.0.1:{port}")
    try:
        yield proxy
    finally:
        await proxy.close()
        await server.stop(None)


@pytest.mark.parametrize(
    ("name", "metadata_in", "expected"), [(c[0], c[2], c[3]) for c in UNARY_CASES], ids=[c[0] for c in UNARY_CASES]
)
async def test_unary(
    backend: InProcessBackend | ProxyBackend, name: str, metadata_in: dict[str, str], expected: Any
) -> None:
    CALLS.clear()
    call = Call.with_timeout(list(metadata_in.items()), 30.0 if name == "surface" else None, peer="ipv4:127.0.0.1:1")
    if isinstance(expected, tuple):
        with pytest.raises(GatewayError) as info:
            await backend.unary(_method(name), pb.Everything(string_value="in"), call)
        code, message, trailing = expected
        assert (info.value.code, info.value.message) == (code, message)
        assert [(k, v) for k, v in info.value.trailing_metadata if k.startswith("x-")] == trailing
    else:
        result = await backend.unary(_method(name), pb.Everything(string_value="in"), call)
        assert result.response == expected
        if name == "metadata":
            assert [(k, v) for k, v in result.header_metadata if k.startswith("x-")] == [("x-initial", "hello")]
            assert [(k, v) for k, v in result.trailing_metadata if k.startswith("x-")] == [
                ("x-trailing", "t"),
                ("x-t-bin", b"\x01"),
            ]
    assert [f"first:{name}", f"second:{name}"] == CALLS


async def test_unknown_method(backend: InProcessBackend | ProxyBackend) -> None:
    with pytest.raises(GatewayError) as info:
        await backend.unary(_method("missing"), pb.Everything(), Call([]))
    assert info.value.code == grpc.StatusCode.UNIMPLEMENTED


async def test_stream(backend: InProcessBackend | ProxyBackend) -> None:
    stream = backend.server_stream(_method("stream_three"), pb.Everything(), Call([]))
    items = [m.int32_value async for m in stream]
    assert items == [0, 1, 2]
    assert [(k, v) for k, v in stream.header_metadata() if k.startswith("x-")] == [("x-stream", "s")]
    assert [(k, v) for k, v in stream.trailing_metadata() if k.startswith("x-")] == [("x-end", "e")]


async def test_stream_failure_after_message(backend: InProcessBackend | ProxyBackend) -> None:
    got: list[int] = []

    async def drain() -> None:
        async for m in backend.server_stream(_method("stream_fails"), pb.Everything(), Call([])):
            got.append(m.int32_value)

    with pytest.raises(GatewayError) as info:
        await drain()
    assert got == [0]
    assert (info.value.code, info.value.message) == (grpc.StatusCode.DATA_LOSS, "lost")


async def test_inprocess_abort_with_ok() -> None:
    """grpc.aio raises AssertionError for abort(OK) and leaves the client waiting; in-process fails the
    call with UNKNOWN straight away."""
    backend = InProcessBackend()
    backend.add_registered_method_handlers(SERVICE, {"abort_ok": grpc.unary_unary_rpc_method_handler(abort_ok)})
    with pytest.raises(GatewayError) as info:
        await backend.unary(_method("abort_ok"), pb.Everything(), Call([]))
    assert (info.value.code, info.value.message) == (grpc.StatusCode.UNKNOWN, "not really ok")


async def test_inprocess_context_details() -> None:
    """Deadlines, cancellation and done callbacks, which only the in-process context exposes to tests."""
    seen: list[tuple[bool, bool]] = []

    async def slow(req: pb.Everything, ctx: Any) -> pb.Everything:
        ctx.add_done_callback(lambda c: seen.append((c.cancelled(), c.done())))
        await asyncio.sleep(5)
        return pb.Everything()

    backend = InProcessBackend()
    backend.add_registered_method_handlers(SERVICE, {"slow": grpc.unary_unary_rpc_method_handler(slow)})
    with pytest.raises(GatewayError) as info:
        await backend.unary(_method("slow"), pb.Everything(), Call.with_timeout([], 0.05))
    assert info.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
    assert seen == [(True, True)]

    task = asyncio.create_task(backend.unary(_method("slow"), pb.Everything(), Call([])))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen[-1] == (True, True)


async def test_inprocess_stream_cancel_closes_servicer() -> None:
    closed: list[str] = []

    async def forever(req: pb.Everything, ctx: Any) -> AsyncIterator[pb.Everything]:
        try:
            while True:
                yield pb.Everything()
                await asyncio.sleep(0)
        finally:
            closed.append("closed")

    backend = InProcessBackend()
    backend.add_registered_method_handlers(SERVICE, {"forever": grpc.unary_stream_rpc_method_handler(forever)})
    stream = backend.server_stream(_method("forever"), pb.Everything(), Call([]))
    iterator = aiter(stream)
    await anext(iterator)
    await iterator.aclose()  # type: ignore[attr-defined]
    await stream.cancel()
    assert closed == ["closed"]


async def test_foreign_pool_request_is_converted() -> None:
    """Routes built from a descriptor-set file carry their own message classes; the servicer still gets
    the generated class it expects."""
    from importlib import resources

    pool = load_descriptor_set(resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes())
    foreign = pool.FindMethodByName("kitchen.v1.KitchenService.EchoQuery")
    method = MethodInfo.of(foreign)
    assert method.request_class is not pb.Everything
    seen: list[type] = []

    async def check(req: Any, ctx: Any) -> pb.Everything:
        seen.append(type(req))
        return pb.Everything(string_value=req.string_value)

    backend = InProcessBackend()
    backend.add_registered_method_handlers(
        "kitchen.v1.KitchenService", {"EchoQuery": grpc.unary_unary_rpc_method_handler(check, pb.Everything.FromString)}
    )
    result = await backend.unary(method, method.request_class(string_value="x"), Call([]))
    assert seen == [pb.Everything]
    assert type(result.response) is method.response_class
    assert result.response.string_value == "x"  # type: ignore[attr-defined]


def test_registration_surface_matches_generated_code() -> None:
    from tests.gen.kitchen.v1 import kitchen_pb2_grpc

    backend = InProcessBackend()
    kitchen_pb2_grpc.add_KitchenServiceServicer_to_server(kitchen_pb2_grpc.KitchenServiceServicer(), backend)
    assert backend._registered.keys() >= {
        "/kitchen.v1.KitchenService/GetThing",
        "/kitchen.v1.KitchenService/WatchThings",
    }
    assert len(backend._generic) == 1
    assert empty_pb2.Empty is not None


class ScopedRecorder(Recorder):
    """A :class:`Recorder` that declares its choice of handler depends on the method alone."""

    method_scoped = True


# interceptors -> how many times the chain runs for three calls to one method and one call to another
RESOLUTION_CASES = [
    (
        "all method-scoped: once per method",
        [ScopedRecorder("a"), ScopedRecorder("b")],
        ["a:ok", "b:ok", "a:sync-behaviour", "b:sync-behaviour"],
    ),
    (
        "one per-call interceptor: every call",
        [ScopedRecorder("a"), Recorder("b")],
        ["a:ok", "b:ok"] * 3 + ["a:sync-behaviour", "b:sync-behaviour"],
    ),
]


@pytest.mark.parametrize(
    ("interceptors", "expected"), [c[1:] for c in RESOLUTION_CASES], ids=[c[0] for c in RESOLUTION_CASES]
)
async def test_method_scoped_interceptors_resolve_once_per_method(
    interceptors: list[grpc.aio.ServerInterceptor], expected: list[str]
) -> None:
    backend = InProcessBackend(interceptors)
    register(backend)
    CALLS.clear()
    for name in ("ok", "ok", "ok", "sync-behaviour"):
        result = await backend.unary(_method(name), pb.Everything(string_value="in"), Call([]))
        assert result.response.string_value in ("ok:in", "sync")
    assert expected == CALLS


async def test_registering_again_replaces_a_resolved_handler() -> None:
    backend = InProcessBackend([ScopedRecorder("a")])
    register(backend)
    assert (
        await backend.unary(_method("ok"), pb.Everything(string_value="x"), Call([]))
    ).response.string_value == "ok:x"
    backend.add_registered_method_handlers(
        SERVICE,
        {"ok": grpc.unary_unary_rpc_method_handler(sync_ok, pb.Everything.FromString, pb.Everything.SerializeToString)},
    )
    assert (
        await backend.unary(_method("ok"), pb.Everything(string_value="x"), Call([]))
    ).response.string_value == "sync"
