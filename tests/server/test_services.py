"""Composing the area servicers into the one Determined service."""

from __future__ import annotations

import pytest

from protogw.server.services import SERVICE, DeterminedServicer


class Everything:
    """An area object with a method for every RPC of the service."""


for _method in SERVICE.methods:
    setattr(Everything, _method.name, lambda self, request, context: None)


class One:
    def Login(self) -> None:
        pass


def test_each_rpc_routes_to_its_area() -> None:
    area = Everything()
    servicer = DeterminedServicer(area)
    for method in SERVICE.methods:
        assert getattr(servicer, method.name).__self__ is area


# (areas, fragment of the error)
BAD = [
    ((), "RPC Login must be implemented by exactly one area, found: none"),
    ((One(),), "RPC CurrentUser must be implemented by exactly one area, found: none"),
    ((Everything(), One()), "RPC Login must be implemented by exactly one area, found: Everything, One"),
]


@pytest.mark.parametrize(("areas", "message"), BAD)
def test_missing_or_duplicate_rpcs_fail_at_construction(areas: tuple[object, ...], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        DeterminedServicer(*areas)
