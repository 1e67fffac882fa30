"""Definition naming strategies (protogw.openapi._naming)."""

from __future__ import annotations

import pytest

from protogw.openapi._naming import resolve_names

NAMES = [
    ".kitchen.v1.Thing",
    ".kitchen.v1.Nested.Kind",
    ".google.rpc.Status",
    ".other.v1.Status",
    ".google.protobuf.Any",
]

CASES = [
    ("legacy", ".kitchen.v1.Thing", "v1Thing"),
    ("legacy", ".kitchen.v1.Nested.Kind", "NestedKind"),
    ("legacy", ".google.rpc.Status", "googleRpcStatus"),
    ("legacy", ".other.v1.Status", "otherV1Status"),
    ("legacy", ".google.protobuf.Any", "protobufAny"),
    ("simple", ".kitchen.v1.Thing", "Thing"),
    ("simple", ".google.rpc.Status", "rpc.Status"),
    ("simple", ".kitchen.v1.Nested.Kind", "Kind"),
    ("package", ".kitchen.v1.Nested.Kind", "Nested.Kind"),
    ("package", ".other.v1.Status", "v1.Status"),
    ("fqn", ".kitchen.v1.Nested.Kind", "kitchen.v1.Nested.Kind"),
    ("LEGACY", ".kitchen.v1.Thing", "v1Thing"),
]


@pytest.mark.parametrize(("strategy", "fqn", "expected"), CASES)
def test_strategy(strategy: str, fqn: str, expected: str) -> None:
    assert resolve_names(NAMES, strategy)[fqn] == expected


@pytest.mark.parametrize(
    ("names", "fqn", "expected"),
    [
        # Alone, the empty suffix is already unique, so only the last component is kept.
        ([".a.v1.Only"], ".a.v1.Only", "Only"),
        ([".Top"], ".Top", "Top"),
        ([".google.rpc.Status", ".google.protobuf.Any"], ".google.rpc.Status", "rpcStatus"),
    ],
)
def test_lone_names(names: list[str], fqn: str, expected: str) -> None:
    assert resolve_names(names, "legacy")[fqn] == expected


def test_unknown_strategy() -> None:
    with pytest.raises(ValueError, match="invalid naming strategy 'short'"):
        resolve_names(NAMES, "short")
