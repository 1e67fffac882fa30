"""The proxy backend's own behaviour: one reused channel, unreachable servers, closing and reopening."""

from __future__ import annotations

import grpc
import pytest
from google.protobuf import descriptor_pool

from protogw.core.bindings import MethodInfo
from protogw.gateway.backend import Call
from protogw.gateway.errors import GatewayError
from protogw.gateway.proxy import ProxyBackend
from tests.gateway.conftest import start_grpc_server
from tests.gateway.kitchen_service import ThingStore
from tests.gen.kitchen.v1 import kitchen_pb2 as pb


def method(name: str) -> MethodInfo:
    return MethodInfo.of(descriptor_pool.Default().FindMethodByName(f"kitchen.v1.KitchenService.{name}"))


@pytest.mark.parametrize("channels", [1, 2])
async def test_channels_are_reused_for_all_calls(channels: int) -> None:
    store = ThingStore()
    store.add(pb.Thing(display_name="a"))
    server, port = await start_grpc_server(store)
    backend = ProxyBackend(f"127.0.0.1:{port}", channels=channels)
    try:
        await backend.start()
        opened = [lane.channel for lane in backend._lanes]
        assert len(opened) == channels
        for _ in range(3):
            result = await backend.unary(method("GetThing"), pb.GetThingRequest(id=1), Call([]))
            assert result.response == store.things[1]
        items = [
            m.seq async for m in backend.server_stream(method("WatchThings"), pb.WatchThingsRequest(count=2), Call([]))
        ]
        assert items == [0, 1]
        assert [lane.channel for lane in backend._lanes] == opened
        # Round-robin: with several channels, the three unary calls used every one of them.
        unary = ("unary_unary", "/kitchen.v1.KitchenService/GetThing")
        assert all(unary in lane.callables for lane in backend._lanes)
        await backend.close()
        assert backend._lanes == []
        # Closing is not final: the next call opens a new channel.
        result = await backend.unary(method("GetThing"), pb.GetThingRequest(id=1), Call([]))
        assert result.response.display_name == "a"  # type: ignore[attr-defined]
    finally:
        await backend.close()
        await server.stop(None)


@pytest.mark.parametrize("streaming", [False, True])
async def test_unreachable_server(streaming: bool) -> None:
    backend = ProxyBackend("127.0.0.1:1")
    try:

        async def call() -> None:
            if streaming:
                stream = backend.server_stream(
                    method("WatchThings"), pb.WatchThingsRequest(count=1), Call.with_timeout([], 5)
                )
                async for _ in stream:
                    pass
            else:
                await backend.unary(method("GetThing"), pb.GetThingRequest(id=1), Call.with_timeout([], 5))

        with pytest.raises(GatewayError) as info:
            await call()
        assert info.value.code == grpc.StatusCode.UNAVAILABLE
        assert info.value.status == 503
    finally:
        await backend.close()


async def test_stream_cancel() -> None:
    server, port = await start_grpc_server(ThingStore())
    backend = ProxyBackend(f"127.0.0.1:{port}")
    try:
        stream = backend.server_stream(
            method("WatchThings"), pb.WatchThingsRequest(count=1000, interval_ms=5), Call([])
        )
        iterator = aiter(stream)
        first = await anext(iterator)
        assert first.seq == 0  # type: ignore[attr-defined]
        await stream.cancel()
        with pytest.raises(GatewayError) as info:
            await anext(iterator)
        assert info.value.code == grpc.StatusCode.CANCELLED
    finally:
        await backend.close()
        await server.stop(None)
