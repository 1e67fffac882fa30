"""Determined's REST error envelope, read for :class:`~protogw.clients.rest.RestTransport`.

A real Determined master answers errors as ``{"error": {"code": 9, "reason": "FailedPrecondition",
"error": "..."}}``; protogw's service sends that and the ``google.rpc.Status`` fields side by side::

    RestTransport(base_url=url, error_body=read_determined_body)
"""

from __future__ import annotations

from collections.abc import Mapping

from protogw.clients.errors import ErrorBody, read_status_body

__all__ = ["read_determined_body"]


def read_determined_body(body: object) -> ErrorBody:
    """Determined's reader: ``google.rpc.Status`` fields first, then its ``{"error": {"code", "error"}}``
    envelope (a real Determined master sends only the envelope; protogw's service sends both)."""
    code, message, details = read_status_body(body)
    envelope = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(envelope, Mapping):
        if code is None and isinstance(envelope.get("code"), int):
            code = envelope["code"]
        if message is None and isinstance(envelope.get("error"), str):
            message = envelope["error"]
        if message is None and isinstance(envelope.get("message"), str):
            message = envelope["message"]
    elif isinstance(envelope, str) and message is None:
        message = envelope
    return code, message, details
