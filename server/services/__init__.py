"""The servicers, one module per area, and the class that joins them into one proto service.

Determined exposes every RPC on a single service, ``determined.api.v1.Determined``. Rather than
one large class, each area (auth, users, experiments, master) is its own class with its own
collaborators, and ``DeterminedServicer`` routes each RPC of the service descriptor to the one area
object that implements it. A missing or doubly implemented RPC fails at construction, not at the
first call. It is registered with the generated ``add_DeterminedServicer_to_server``, which
looks the methods up by name only.
"""

from __future__ import annotations

from protogw.gen.determined.api.v1 import api_pb2
from protogw.server.services.auth import AuthServicer
from protogw.server.services.experiments import ExperimentLimits, ExperimentsServicer
from protogw.server.services.master import MasterServicer
from protogw.server.services.users import UsersServicer

SERVICE = api_pb2.DESCRIPTOR.services_by_name["Determined"]

__all__ = [
    "SERVICE",
    "AuthServicer",
    "DeterminedServicer",
    "ExperimentLimits",
    "ExperimentsServicer",
    "MasterServicer",
    "UsersServicer",
]


class DeterminedServicer:
    """``determined.api.v1.Determined``, delegating each method to the area object that has it."""

    def __init__(self, *areas: object) -> None:
        for method in SERVICE.methods:
            owners = [area for area in areas if callable(getattr(area, method.name, None))]
            if len(owners) != 1:
                names = ", ".join(type(o).__name__ for o in owners) or "none"
                raise TypeError(f"RPC {method.name} must be implemented by exactly one area, found: {names}")
            setattr(self, method.name, getattr(owners[0], method.name))
