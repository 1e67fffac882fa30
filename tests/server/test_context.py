"""The per-call context: the caller is only ever what the auth interceptor set."""

from __future__ import annotations

import contextvars
from datetime import UTC, datetime

import grpc
import pytest

from protogw.server.context import Principal, current_principal, current_user, principal_var
from protogw.server.errors import ServiceError
from protogw.server.storage.models import User

USER = User(
    id=1, username="u", display_name=None, admin=False, active=True, remote=False,
    modified_at=datetime(2026, 1, 1, tzinfo=UTC), last_auth_at=None, agent_user_group=None, password_hash=None,
)  # fmt: skip


def test_no_caller_fails_closed() -> None:
    def read() -> None:
        with pytest.raises(ServiceError) as info:
            current_principal()
        assert (info.value.code, info.value.message) == (grpc.StatusCode.UNAUTHENTICATED, "token missing")

    contextvars.Context().run(read)


def test_caller_is_visible_in_its_context_only() -> None:
    def inside() -> None:
        principal_var.set(Principal(USER, 7))
        assert current_user() is USER
        assert current_principal().session_id == 7

    contextvars.Context().run(inside)
    assert principal_var.get() is None
