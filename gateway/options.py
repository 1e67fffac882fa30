"""Everything about the gateway that can be switched, in one frozen object. Defaults follow grpc-gateway v2."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field

from google.protobuf.message import Message

from protogw.core.bindings import MethodInfo, RuleOptions
from protogw.core.codec import JsonOptions
from protogw.gateway.errors import DEFAULT_RENDERER, ErrorRenderer
from protogw.gateway.headers import HeaderMatcher, Metadata, MetadataAnnotator, default_header_matcher
from protogw.gateway.router import UnescapingMode

__all__ = ["BodyGate", "GatewayOptions", "ResponseHook"]

#: ``hook(method, request, response) -> extra headers`` for a successful unary call.
ResponseHook = Callable[[MethodInfo, Message, Message], Iterable[tuple[str, str]]]


#: ``await gate(method, metadata)`` before a request body is read; raise ``GatewayError`` to refuse the
#: call. The body (and ``Expect: 100-continue``'s interim answer) then never happens: e.g. a service's
#: token check, so an anonymous upload is refused before any of it is received.
BodyGate = Callable[[MethodInfo, Metadata], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class GatewayOptions:
    """Everything about the gateway that can be switched. Defaults follow grpc-gateway v2."""

    json: JsonOptions = field(default_factory=JsonOptions)
    # Answer unknown query parameters with 400 instead of ignoring them.
    reject_unknown_query: bool = False
    # 501 (grpc-gateway: the 405 becomes gRPC UNIMPLEMENTED) or 405 (with an Allow header).
    method_not_allowed: int = 501
    # http.proto's rule (all escapes decoded but %2F in multi-segment values); see UnescapingMode.
    unescaping: UnescapingMode = UnescapingMode.ALL_EXCEPT_SLASH
    # Larger request bodies get 413.
    max_body_bytes: int = 4 * 1024 * 1024
    header_matcher: HeaderMatcher = default_header_matcher
    annotators: Sequence[MetadataAnnotator] = ()
    # Echoed or generated, forwarded as metadata of the same name; None turns it off.
    request_id_header: str | None = "x-request-id"
    # Writes error bodies. The routes hand it their descriptor pools and the json options (errors.bind),
    # so details of types only the descriptor set defines render with their fields, marshalled as the
    # responses are.
    error_renderer: ErrorRenderer = DEFAULT_RENDERER
    # GET here runs grpc.health.v1.Health/Check on the backend; None turns it off.
    healthz_path: str | None = "/healthz"
    # A form-encoded POST to a path that only has a GET route is served as that GET (grpc-gateway's
    # path-length fallback; X-HTTP-Method-Override picks another method).
    form_fallback: bool = True
    # Methods without an http rule are served as POST /pkg.Service/Method with body "*" (grpc-gateway's
    # generate_unbound_methods, Envoy's auto_mapping).
    unbound_methods: bool = False
    # DELETE bindings with a body (protoc-gen-grpc-gateway's allow_delete_body; off there too).
    allow_delete_body: bool = False
    # Called after a unary call succeeds, before the response is written; each returns extra
    # (name, value) headers. grpc-gateway's WithForwardResponseOption: e.g. set a cookie on login.
    response_hooks: Sequence[ResponseHook] = ()
    # Consulted before any request body is read (see BodyGate); None reads bodies unconditionally.
    body_gate: BodyGate | None = None
    # Bytes of unary response bodies remembered by the response's wire form (core.codec.WireMemo), so
    # the same answer again (a resource polled by many clients) is not encoded again; 0 turns it off.
    response_memo_bytes: int = 8 * 1024 * 1024

    def rules(self) -> RuleOptions:
        """The choices core.bindings needs when it reads the rules."""
        return RuleOptions(allow_delete_body=self.allow_delete_body, unbound_methods=self.unbound_methods)
