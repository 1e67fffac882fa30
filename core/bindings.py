"""The one model of ``google.api.http``: every rule of a set of services (``additional_bindings``
included) becomes a :class:`Binding`, checked against the request and response messages by one set of
rules that the gateway, the OpenAPI generators, the Envoy config and the clients all share.

Two kinds of problem, so that each consumer decides what a rule it cannot use means to it:

* :class:`HttpRuleError` (raised): the rule is wrong for every consumer - an invalid template, a field
  the message does not have, a body on GET, a path variable bound to a message. The message names the
  method.
* :attr:`Binding.unservable` (a reason, or None): the rule is valid and documented as written, but the
  REST gateway cannot serve it (a trailing slash, path parameters on a client stream, a nested
  ``response_body``). protoc-gen-openapiv2 writes such operations; the gateway logs a warning and
  answers 501 at their path, so one method never takes the API down.

Example::

    pool = load_descriptor_set("api.binpb")
    for b in bindings_for(pool, services_in("api.binpb")):
        print(b.describe(), b.body, b.unservable)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from google.api import http_pb2
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.core.descriptors import DescriptorError, http_rule_of, is_map, is_message, is_repeated
from protogw.core.template import InvalidTemplateError, Template, parse_template
from protogw.core.wkt import SCALAR_MESSAGES

__all__ = [
    "Binding",
    "FieldPath",
    "HttpRuleError",
    "MethodInfo",
    "RuleOptions",
    "bindings_for",
    "method_bindings",
    "resolve_field_path",
]

FieldPath = tuple[FieldDescriptor, ...]


class HttpRuleError(DescriptorError):
    """An HTTP rule that no consumer can use; the message names the method and the problem."""


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """Choices protoc-gen-grpc-gateway and protoc-gen-openapiv2 leave to the user.

    ``allow_delete_body``: DELETE bindings may have a body (off by default, as upstream).
    ``unbound_methods``: a method without a rule gets ``POST /pkg.Service/Method`` with ``body: "*"``.
    """

    allow_delete_body: bool = False
    unbound_methods: bool = False


class MethodInfo:
    """One RPC: its gRPC path, message classes and streaming shape.

    The message classes are made on first use, so documenting a large proto set never builds them.
    """

    __slots__ = ("_request_class", "_response_class", "descriptor", "grpc_path")

    def __init__(
        self,
        descriptor: MethodDescriptor,
        grpc_path: str | None = None,
        request_class: type[Message] | None = None,
        response_class: type[Message] | None = None,
    ) -> None:
        self.descriptor = descriptor
        self.grpc_path = grpc_path or f"/{descriptor.containing_service.full_name}/{descriptor.name}"
        self._request_class = request_class
        self._response_class = response_class

    @classmethod
    def of(cls, method: MethodDescriptor) -> MethodInfo:
        """Describe ``method`` (message classes come from its descriptor pool)."""
        return cls(method)

    @property
    def request_class(self) -> type[Message]:
        if self._request_class is None:
            self._request_class = GetMessageClass(self.descriptor.input_type)
        return self._request_class

    @property
    def response_class(self) -> type[Message]:
        if self._response_class is None:
            self._response_class = GetMessageClass(self.descriptor.output_type)
        return self._response_class

    @property
    def full_name(self) -> str:
        """``pkg.Service.Method``."""
        return self.descriptor.full_name

    @property
    def server_streaming(self) -> bool:
        """Whether the response is a stream."""
        return bool(self.descriptor.server_streaming)

    @property
    def client_streaming(self) -> bool:
        """Whether the request is a stream."""
        return bool(self.descriptor.client_streaming)


@dataclass(frozen=True, slots=True, eq=False)
class Binding:
    """One HTTP rule of a method: verb, template, where the body goes and what the response is."""

    method: MethodInfo
    http_method: str
    template: Template
    # None: no body; (): body "*"; otherwise the fields down to the one the body decodes into.
    body: FieldPath | None
    # Empty: the whole response; otherwise the fields down to the one written as the response.
    response_body: FieldPath
    path_fields: tuple[FieldPath, ...]
    index: int = 0
    body_text: str = field(default="")
    # Why the REST gateway cannot serve this valid rule (None: it can).
    unservable: str | None = None

    def describe(self) -> str:
        """``GET /v1/x (pkg.Svc.Method)`` for messages."""
        return f"{self.http_method} {self.template.source} ({self.method.full_name})"


def resolve_field_path(message: Descriptor, dotted: str, *, what: str) -> FieldPath:
    """The fields along ``dotted`` (proto names) in ``message``; every step but the last must be a
    singular message field."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for name in dotted.split("."):
        if current is None:
            raise HttpRuleError(f"{what} {dotted!r}: {fields[-1].name!r} is not a message field")
        fd = current.fields_by_name.get(name)
        if fd is None:
            raise HttpRuleError(f"{what} {dotted!r}: no field {name!r} in {current.full_name}")
        if fields and is_repeated(fields[-1]):
            raise HttpRuleError(f"{what} {dotted!r}: {fields[-1].name!r} is repeated")
        fields.append(fd)
        current = fd.message_type if is_message(fd) and not is_map(fd) else None
    return tuple(fields)


def _verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return kind.upper(), getattr(rule, kind)


def _binding(method: MethodInfo, rule: http_pb2.HttpRule, index: int, options: RuleOptions) -> Binding:
    name = method.full_name
    verb_path = _verb_and_path(rule)
    if verb_path is None:
        raise HttpRuleError(f"{name}: http rule #{index} has no pattern")
    http_method, path = verb_path
    if not http_method:
        raise HttpRuleError(f"{name}: custom http rule #{index} has no kind")
    where = f"{name} ({http_method} {path!r})"
    try:
        template = parse_template(path)
    except InvalidTemplateError as exc:
        raise HttpRuleError(f"{name}: {exc}") from exc
    if http_method == "GET" and rule.body:
        raise HttpRuleError(f"{where}: a GET binding may not have a body")
    if http_method == "DELETE" and rule.body and not options.allow_delete_body:
        raise HttpRuleError(f"{where}: a DELETE binding may not have a body unless allow_delete_body is set")
    request = method.descriptor.input_type
    path_fields: list[FieldPath] = []
    for fp in template.field_paths:
        dotted = ".".join(fp)
        resolved = resolve_field_path(request, dotted, what=f"{name}: path variable")
        leaf = resolved[-1]
        if is_message(leaf) and (
            is_map(leaf) or leaf.message_type is None or leaf.message_type.full_name not in SCALAR_MESSAGES
        ):
            raise HttpRuleError(f"{name}: path variable {dotted!r} must be a scalar field")
        path_fields.append(resolved)
    body: FieldPath | None
    if not rule.body:
        body = None
    elif rule.body == "*":
        body = ()
    else:
        body = resolve_field_path(request, rule.body, what=f"{name}: body field")
    response_body: FieldPath = ()
    if rule.response_body and rule.response_body != "*":
        response_body = resolve_field_path(
            method.descriptor.output_type, rule.response_body, what=f"{name}: response_body"
        )
    unservable = None
    if template.trailing_slash:
        unservable = "a path template may not end with '/'"
    elif method.client_streaming and path_fields:
        # The body is the stream of messages; there is no one message for path values to go into.
        unservable = "a client-streaming method cannot have path parameters"
    elif len(response_body) > 1:
        unservable = "response_body must be a top-level field"
    return Binding(method, http_method, template, body, response_body, tuple(path_fields), index, rule.body, unservable)


def method_bindings(
    method: MethodDescriptor, options: RuleOptions = RuleOptions(), *, rule: http_pb2.HttpRule | None = None
) -> list[Binding]:
    """The bindings of one method (its rule, then each additional binding); empty without a rule.

    ``rule`` overrides the method's own option (e.g. rules from a ``google.api.Service`` YAML).
    """
    if rule is None:
        rule = http_rule_of(method)
    if rule is None:
        if not options.unbound_methods:
            return []
        rule = http_pb2.HttpRule(post=f"/{method.containing_service.full_name}/{method.name}", body="*")
    info = MethodInfo.of(method)
    rules: Sequence[http_pb2.HttpRule] = [rule, *rule.additional_bindings]
    result: list[Binding] = []
    for i, r in enumerate(rules):
        if i > 0 and r.additional_bindings:
            raise HttpRuleError(f"{method.full_name}: additional_bindings may not nest")
        result.append(_binding(info, r, i, options))
    return result


def bindings_for(
    pool: descriptor_pool.DescriptorPool,
    services: Iterable[str],
    options: RuleOptions = RuleOptions(),
) -> list[Binding]:
    """All bindings of ``services`` (full names) in ``pool``, additional bindings included."""
    result: list[Binding] = []
    for service_name in services:
        try:
            service: ServiceDescriptor = pool.FindServiceByName(service_name)
        except KeyError as exc:
            raise HttpRuleError(f"unknown service {service_name!r}") from exc
        for md in service.methods:
            result.extend(method_bindings(md, options))
    return result
