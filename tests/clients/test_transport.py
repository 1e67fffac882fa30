"""Both transports implement the one Transport protocol with the same call signatures."""

from __future__ import annotations

import inspect

import pytest

from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport
from protogw.clients.transport import Transport

MEMBERS = ["unary", "server_stream", "close"]
IMPLEMENTATIONS = [GrpcTransport, RestTransport]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize("member", MEMBERS)
def test_same_signature(implementation: type, member: str) -> None:
    expected = inspect.signature(getattr(Transport, member))
    got = inspect.signature(getattr(implementation, member))
    assert [(p.name, p.kind, p.default) for p in got.parameters.values()] == [
        (p.name, p.kind, p.default) for p in expected.parameters.values()
    ]


# Streams are async generators (iterated directly), unary calls and close are coroutines.
KINDS = [
    ("unary", inspect.iscoroutinefunction),
    ("server_stream", inspect.isasyncgenfunction),
    ("close", inspect.iscoroutinefunction),
]


@pytest.mark.parametrize("implementation", IMPLEMENTATIONS)
@pytest.mark.parametrize(("member", "kind"), KINDS)
def test_call_kinds(implementation: type, member: str, kind: object) -> None:
    assert callable(kind)
    assert kind(getattr(implementation, member))
