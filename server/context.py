"""Per-call state shared between the interceptors and the servicers through context variables.

grpc.aio (and the REST gateway's in-process backend) run an RPC's interceptor wrappers and its
servicer method in one task, so a value set by a wrapper is visible to everything it calls and to
nothing else. ``CallState`` is created by the request-id interceptor; the auth interceptor fills in
the caller.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass

import grpc

from protogw.server.errors import unauthenticated
from protogw.server.storage.models import User


@dataclass(slots=True)
class Principal:
    """The authenticated caller: the user and the session whose token they presented."""

    user: User
    session_id: int


@dataclass(slots=True)
class CallState:
    """What the pipeline knows about the call in progress; the logging interceptor reports it."""

    method: str
    request_id: str
    principal: Principal | None = None
    code: grpc.StatusCode = grpc.StatusCode.OK
    details: str = ""


call_state: ContextVar[CallState | None] = ContextVar("protogw_call_state", default=None)
principal_var: ContextVar[Principal | None] = ContextVar("protogw_principal", default=None)


def current_principal() -> Principal:
    """The caller of the RPC being served.

    Raises UNAUTHENTICATED if the auth interceptor did not run for this call; that can only happen
    if a public method asks for a caller, and it must fail closed rather than act anonymously.
    """
    principal = principal_var.get()
    if principal is None:
        raise unauthenticated("token missing")
    return principal


def current_user() -> User:
    """The user making the RPC being served (see ``current_principal``)."""
    return current_principal().user
