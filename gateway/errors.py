"""gRPC status -> HTTP status, the gateway's error type and the pluggable error body renderer.

The status table follows grpc-gateway v2 (``runtime/errors.go``) exactly. The body is produced by an
:class:`ErrorRenderer`; the default writes ``google.rpc.Status`` JSON (``{"code","message","details"}``,
with ``details`` rendered as ``Any`` JSON). A service with its own error envelope passes another
renderer to the application factory - see :class:`StatusRenderer` for the shape to follow.

A detail's type is looked up in the gateway's own descriptor pools first (those its routes were built
from: in proxy mode, the descriptor set's), then in the default pool, and the status is written with the
gateway's marshaler options (``GatewayOptions.json``: proto names, enum numbers, unpopulated fields), as
grpc-gateway writes it with its marshaler. The gateway hands both to the renderer once, when the routes
are built (:func:`bind`): a renderer that defines ``with_pools(pools)`` / ``with_json(json)`` returns a
copy that uses them, as :class:`StatusRenderer` does.
"""

from __future__ import annotations

import base64
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import grpc
from google.protobuf import any_pb2
from google.protobuf.descriptor_pool import DescriptorPool
from google.rpc import error_details_pb2  # noqa: F401  (registers the standard detail types)

from protogw.core.codec import CodecError, JsonOptions, dumps, encode_any
from protogw.core.status import code_number, http_status_from_code

__all__ = [
    "DEFAULT_RENDERER",
    "ErrorRenderer",
    "GatewayError",
    "Headers",
    "StatusRenderer",
    "any_to_json",
    "bind",
    "http_status_from_code",
]

log = logging.getLogger(__name__)

Headers = list[tuple[bytes, bytes]]

#: grpc-gateway's default marshaler options.
_DEFAULT_JSON = JsonOptions()


@dataclass(slots=True)
class GatewayError(Exception):
    """A failed call, from the gateway itself (bad request, unknown route) or from the backend.

    ``http_status`` overrides the status that :func:`http_status_from_code` would give (grpc-gateway's
    ``HTTPStatusError``), e.g. 413 for an oversized body or 405 when that option is on.
    """

    code: grpc.StatusCode
    message: str
    details: Sequence[any_pb2.Any] = ()
    http_status: int | None = None
    # Metadata the backend sent before failing (returned as Grpc-Metadata-* / Grpc-Trailer-* headers).
    header_metadata: Sequence[tuple[str, str | bytes]] = field(default=())
    trailing_metadata: Sequence[tuple[str, str | bytes]] = field(default=())
    # HTTP headers to add to the error response (e.g. Allow with a 405).
    headers: Sequence[tuple[bytes, bytes]] = field(default=())

    def __str__(self) -> str:
        return f"{self.code.name}: {self.message}"

    @property
    def status(self) -> int:
        """The HTTP status to answer with."""
        return self.http_status if self.http_status is not None else http_status_from_code(self.code)


class ErrorRenderer(Protocol):
    """Turns a failed call into response headers and body.

    ``streaming`` is true for an error that ends a stream: the body then becomes one line of the stream
    (the default wraps it as ``{"error": ...}``). Headers returned must include the content type.
    """

    def __call__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: Sequence[any_pb2.Any],
        http_status: int,
        *,
        pretty: bool = False,
    ) -> tuple[Headers, Any]: ...


def any_to_json(detail: any_pb2.Any, pools: Sequence[DescriptorPool] = (), json: JsonOptions = _DEFAULT_JSON) -> Any:
    """An ``Any`` as the gateway renders one in a response (the marshaler options ``json``), or its
    raw form when its type is not known here.

    The packed type is looked up in ``pools`` first, in order (the gateway's own: a gateway serving
    from a descriptor set knows types no module of this process defines), then in the default pool,
    and so is any ``Any`` nested in it. The standard detail types (``google.rpc.error_details``:
    BadRequest, DebugInfo, ErrorInfo...) are always known there: their module is imported here, since
    a gateway serving from a descriptor set alone may have imported nothing that defines them. A type
    found nowhere (or a value that does not parse as it) gives ``{"@type": ..., "value": <base64>}``."""
    try:
        return encode_any(detail.type_url, detail.value, pools, json)
    except CodecError:
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode("ascii")}


@dataclass(frozen=True, slots=True)
class StatusRenderer:
    """The default renderer: the ``google.rpc.Status`` JSON object grpc-gateway writes.

    For UNAUTHENTICATED, the message is also put in ``WWW-Authenticate`` as grpc-gateway does.
    Subclass or wrap it to add fields: ``status_json`` returns the dict before serialisation.
    ``pools`` are where details' types are looked up before the default pool (see :func:`any_to_json`);
    the gateway adds the pools of its routes through :meth:`with_pools`.
    """

    content_type: bytes = b"application/json"
    pools: tuple[DescriptorPool, ...] = ()
    json: JsonOptions = _DEFAULT_JSON

    def with_pools(self, pools: Sequence[DescriptorPool]) -> StatusRenderer:
        """This renderer, also resolving details in ``pools`` (after its own); ``self`` if it already does."""
        added = tuple(p for p in dict.fromkeys(pools) if p not in self.pools)
        return dataclasses.replace(self, pools=self.pools + added) if added else self

    def with_json(self, json: JsonOptions) -> StatusRenderer:
        """This renderer writing the status with the marshaler options ``json`` (the gateway's)."""
        return self if json == self.json else dataclasses.replace(self, json=json)

    def status_json(self, code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any]) -> dict[str, Any]:
        """The ``google.rpc.Status`` JSON value, marshalled as the responses are (grpc-gateway writes it
        with the same marshaler): details as ``Any`` JSON; with ``emit_unpopulated`` off, an empty
        message or list of details is left out as protojson leaves out any unset field."""
        pools, json = self.pools, self.json
        body: dict[str, Any] = {
            "code": code_number(code),
            "message": message,
            "details": [any_to_json(d, pools, json) for d in details],
        }
        if not json.emit_unpopulated:
            body = {k: v for k, v in body.items() if v}
        return body

    def __call__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: Sequence[any_pb2.Any],
        http_status: int,
        *,
        pretty: bool = False,
    ) -> tuple[Headers, Any]:
        headers: Headers = [(b"content-type", self.content_type)]
        if code is grpc.StatusCode.UNAUTHENTICATED:
            headers.append((b"www-authenticate", _header_safe(message)))
        return headers, self.status_json(code, message, details)


def _header_safe(text: str) -> bytes:
    """A header value that cannot break the response: control characters dropped, non-ASCII escaped."""
    cleaned = "".join(ch for ch in text if ch >= " " and ch != "\x7f")
    return cleaned.encode("ascii", "backslashreplace")


DEFAULT_RENDERER: ErrorRenderer = StatusRenderer()


def bind(
    renderer: ErrorRenderer, *, pools: Sequence[DescriptorPool] = (), json: JsonOptions | None = None
) -> ErrorRenderer:
    """``renderer`` as a gateway uses it: resolving error details in ``pools`` before the default pool
    and writing with the gateway's marshaler options ``json``, if it can.

    A renderer opts in to each by defining ``with_pools(pools)`` / ``with_json(json)`` (as
    :class:`StatusRenderer` and its subclasses do); any other renderer is returned as it is, and
    resolves details itself (e.g. with :func:`any_to_json` and the pools and options of its
    :class:`~protogw.gateway.routes.RouteTable`). The gateway calls this once, when its routes are
    built, never per call.
    """
    bound: ErrorRenderer = renderer
    add_pools = getattr(bound, "with_pools", None)
    if add_pools is not None and pools:
        bound = add_pools(pools)
    set_json = getattr(bound, "with_json", None)
    if set_json is not None and json is not None:
        bound = set_json(json)
    return bound


# What grpc-gateway writes when the error itself cannot be marshalled.
FALLBACK_BODY = b'{"code": 13, "message": "failed to marshal error message"}'


def render_error(renderer: ErrorRenderer, err: GatewayError, *, pretty: bool = False) -> tuple[int, Headers, bytes]:
    """Run ``renderer`` over ``err``; a renderer that fails gives grpc-gateway's fallback 500 body."""
    status = err.status
    try:
        headers, value = renderer(err.code, err.message, err.details, status, pretty=pretty)
        body = value if isinstance(value, bytes) else dumps(value, pretty=pretty)
    except Exception:
        log.exception("error renderer failed for %s", err)
        return 500, [(b"content-type", b"application/json")], FALLBACK_BODY
    return status, headers, body
