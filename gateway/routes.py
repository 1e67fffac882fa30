"""Routes from descriptors: every ``google.api.http`` rule (and its ``additional_bindings``) of a set of
services becomes a :class:`Binding`, checked against the request and response messages.

Start-up fails with :class:`RouteConfigError`, naming the method, when a template is invalid, two
bindings collide, or a rule names a field the message does not have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor, ServiceDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.gateway.template import InvalidTemplateError, Template, parse_template

__all__ = [
    "Binding",
    "FieldPath",
    "MethodInfo",
    "RouteConfigError",
    "bindings_for",
    "load_descriptor_set",
    "resolve_field_path",
    "services_in",
]

FieldPath = tuple[FieldDescriptor, ...]

# Message types that can be written as one string (in a path or query value).
SCALAR_MESSAGES = frozenset(
    {
        "google.protobuf.Timestamp",
        "google.protobuf.Duration",
        "google.protobuf.FieldMask",
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
        "google.protobuf.Struct",
        "google.protobuf.Value",
        "google.protobuf.ListValue",
    }
)


class RouteConfigError(ValueError):
    """The HTTP rules cannot be served; the message names the method and the problem."""


@dataclass(frozen=True, slots=True, eq=False)
class MethodInfo:
    """One RPC: its gRPC path, message types and streaming shape."""

    descriptor: MethodDescriptor
    grpc_path: str  # "/pkg.Service/Method"
    request_class: type[Message]
    response_class: type[Message]

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
        """Whether the request is a stream (not served over REST)."""
        return bool(self.descriptor.client_streaming)

    @classmethod
    def of(cls, method: MethodDescriptor) -> MethodInfo:
        """Describe ``method`` (message classes come from its descriptor pool)."""
        return cls(
            method,
            f"/{method.containing_service.full_name}/{method.name}",
            GetMessageClass(method.input_type),
            GetMessageClass(method.output_type),
        )


@dataclass(frozen=True, slots=True, eq=False)
class Binding:
    """One HTTP rule of a method: verb, template, where the body goes and what the response is."""

    method: MethodInfo
    http_method: str
    template: Template
    # None: no body; (): body "*"; otherwise the field the body decodes into.
    body: FieldPath | None
    # Empty: the whole response; otherwise the field written as the response.
    response_body: FieldPath
    path_fields: tuple[FieldPath, ...]
    index: int = 0
    body_text: str = field(default="")

    def describe(self) -> str:
        """``GET /v1/x (pkg.Svc.Method)`` for messages."""
        return f"{self.http_method} {self.template.source} ({self.method.full_name})"


def load_descriptor_set(source: bytes | str | PathLike[str]) -> descriptor_pool.DescriptorPool:
    """A fresh pool holding every file of a serialized ``FileDescriptorSet`` (bytes or a file path)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    pool = descriptor_pool.DescriptorPool()
    pending = list(fds.file)
    # Files may come in any order; add each once its dependencies are in.
    added: set[str] = set()
    while pending:
        progress = False
        for fdp in list(pending):
            if all(dep in added for dep in fdp.dependency):
                pool.Add(fdp)
                added.add(fdp.name)
                pending.remove(fdp)
                progress = True
        if not progress:
            missing = sorted({d for f in pending for d in f.dependency if d not in added})
            raise RouteConfigError(f"descriptor set is missing imported files: {', '.join(missing)}")
    return pool


def services_in(source: bytes | str | PathLike[str]) -> list[str]:
    """Full names of the services a descriptor set defines."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    fds = descriptor_pb2.FileDescriptorSet.FromString(data)
    return [f"{f.package}.{s.name}" if f.package else s.name for f in fds.file for s in f.service]


def resolve_field_path(message: Descriptor, dotted: str, *, what: str) -> FieldPath:
    """The fields along ``dotted`` (proto names) in ``message``; every step but the last must be a
    singular message field."""
    fields: list[FieldDescriptor] = []
    current: Descriptor | None = message
    for name in dotted.split("."):
        if current is None:
            raise RouteConfigError(f"{what} {dotted!r}: {fields[-1].name!r} is not a message field")
        fd = current.fields_by_name.get(name)
        if fd is None:
            raise RouteConfigError(f"{what} {dotted!r}: no field {name!r} in {current.full_name}")
        if fields and _is_repeated(fields[-1]):
            raise RouteConfigError(f"{what} {dotted!r}: {fields[-1].name!r} is repeated")
        fields.append(fd)
        current = fd.message_type if fd.type == FieldDescriptor.TYPE_MESSAGE and not _is_map(fd) else None
    return tuple(fields)


def _is_repeated(fd: FieldDescriptor) -> bool:
    return bool(fd.is_repeated)


def _is_map(fd: FieldDescriptor) -> bool:
    mt = fd.message_type
    return bool(fd.is_repeated and mt is not None and mt.GetOptions().map_entry)


def http_rule_of(method: MethodDescriptor) -> http_pb2.HttpRule | None:
    """The method's ``google.api.http`` option, whichever pool the descriptor lives in."""
    raw = method.GetOptions().SerializeToString()
    options = descriptor_pb2.MethodOptions.FromString(raw)
    if not options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return rule


def _verb_and_path(rule: http_pb2.HttpRule) -> tuple[str, str] | None:
    kind = rule.WhichOneof("pattern")
    if kind is None:
        return None
    if kind == "custom":
        return rule.custom.kind.upper(), rule.custom.path
    return kind.upper(), getattr(rule, kind)


def _binding(method: MethodInfo, rule: http_pb2.HttpRule, index: int) -> Binding:
    name = method.full_name
    verb_path = _verb_and_path(rule)
    if verb_path is None:
        raise RouteConfigError(f"{name}: http rule #{index} has no pattern")
    http_method, path = verb_path
    if not http_method:
        raise RouteConfigError(f"{name}: custom http rule #{index} has no kind")
    try:
        template = parse_template(path)
    except InvalidTemplateError as exc:
        raise RouteConfigError(f"{name}: {exc}") from exc
    request = method.descriptor.input_type
    path_fields: list[FieldPath] = []
    for fp in template.field_paths:
        dotted = ".".join(fp)
        resolved = resolve_field_path(request, dotted, what=f"{name}: path variable")
        leaf = resolved[-1]
        if leaf.type == FieldDescriptor.TYPE_MESSAGE and (
            _is_map(leaf) or leaf.message_type is None or leaf.message_type.full_name not in SCALAR_MESSAGES
        ):
            raise RouteConfigError(f"{name}: path variable {dotted!r} must be a scalar field")
        path_fields.append(resolved)
    body: FieldPath | None
    if not rule.body:
        body = None
    elif rule.body == "*":
        body = ()
    else:
        body = resolve_field_path(request, rule.body, what=f"{name}: body field")
    if method.client_streaming and body is None:
        raise RouteConfigError(f"{name}: a client-streaming method needs a body")
    response_body: FieldPath = ()
    if rule.response_body:
        response_body = resolve_field_path(
            method.descriptor.output_type, rule.response_body, what=f"{name}: response_body"
        )
    return Binding(method, http_method, template, body, response_body, tuple(path_fields), index, rule.body)


def bindings_for(
    pool: descriptor_pool.DescriptorPool, services: Iterable[str], *, unbound_methods: bool = False
) -> list[Binding]:
    """All bindings of ``services`` (full names) in ``pool``, additional bindings included.

    With ``unbound_methods``, a method without an http rule gets ``POST /pkg.Service/Method`` with
    ``body: "*"``.
    """
    result: list[Binding] = []
    for service_name in services:
        try:
            service: ServiceDescriptor = pool.FindServiceByName(service_name)
        except KeyError as exc:
            raise RouteConfigError(f"unknown service {service_name!r}") from exc
        for md in service.methods:
            rule = http_rule_of(md)
            if rule is None:
                if not unbound_methods:
                    continue
                rule = http_pb2.HttpRule(post=f"/{service.full_name}/{md.name}", body="*")
            info = MethodInfo.of(md)
            rules: Sequence[http_pb2.HttpRule] = [rule, *rule.additional_bindings]
            for i, r in enumerate(rules):
                if i > 0 and r.additional_bindings:
                    raise RouteConfigError(f"{md.full_name}: additional_bindings may not nest")
                result.append(_binding(info, r, i))
    return result
