"""An index over a set of ``FileDescriptorProto`` s: messages, enums, services and HTTP bindings.

The generator works on descriptor *protos* (what a protoc plugin receives and what a descriptor set
holds), not on a live descriptor pool, so it can read files that were never imported into Python.
Custom options (``google.api.http``, ``field_behavior``, the ``openapiv2_*`` extensions) are read by
re-parsing each options message into the generated ``descriptor_pb2`` class: options that were
parsed before the extension modules were imported, or by a fresh pool, otherwise keep them as
unknown fields.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from google.api import field_behavior_pb2, visibility_pb2
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool
from google.protobuf.descriptor import FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message as ProtoMessage
from google.rpc import status_pb2

from protogw.core.bindings import FieldPath, HttpRuleError, RuleOptions, method_bindings
from protogw.core.descriptors import DescriptorError, pool_of
from protogw.core.template import Template
from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as openapi_annotations
from protogw.gen.protoc_gen_openapiv2.options import openapiv2_pb2

__all__ = [
    "Binding",
    "Enum",
    "Field",
    "GenerationError",
    "Message",
    "Method",
    "Param",
    "Registry",
    "Service",
    "json_camel_case",
    "read_extension",
    "remove_internal_comments",
]

FDP = descriptor_pb2.FieldDescriptorProto
T = TypeVar("T", bound=ProtoMessage)

# Source-info path numbers (field numbers in descriptor.proto).
_FILE_MESSAGE, _FILE_ENUM, _FILE_SERVICE, _FILE_PACKAGE = 4, 5, 6, 2
_MSG_FIELD, _MSG_NESTED, _MSG_ENUM = 2, 3, 4
_ENUM_VALUE, _SERVICE_METHOD = 2, 2

_OPTION_CLASSES: dict[str, type[ProtoMessage]] = {
    cls.DESCRIPTOR.full_name: cls
    for cls in (
        descriptor_pb2.FileOptions,
        descriptor_pb2.MessageOptions,
        descriptor_pb2.FieldOptions,
        descriptor_pb2.EnumOptions,
        descriptor_pb2.EnumValueOptions,
        descriptor_pb2.ServiceOptions,
        descriptor_pb2.MethodOptions,
    )
}


class GenerationError(DescriptorError):
    """The descriptors cannot be turned into a document (bad template, unknown field, bad option)."""


def read_extension(options: ProtoMessage | None, ext: FieldDescriptor) -> Any:
    """The value of extension ``ext`` in ``options``, or None when unset.

    Repeated extensions come back as a list (empty when unset).
    """
    if options is None:
        return [] if ext.is_repeated else None
    assert ext.containing_type is not None
    fresh = _OPTION_CLASSES[ext.containing_type.full_name]()
    fresh.ParseFromString(options.SerializeToString())
    if ext.is_repeated:
        return list(fresh.Extensions[ext])  # type: ignore[index]
    if not fresh.HasExtension(ext):  # type: ignore[arg-type]
        return None
    return fresh.Extensions[ext]  # type: ignore[index]


def json_camel_case(name: str) -> str:
    """protoc's default json_name: drop underscores, capitalising the letter after each."""
    out: list[str] = []
    upper = False
    for ch in name:
        if ch == "_":
            upper = True
        elif upper:
            out.append(ch.upper())
            upper = False
        else:
            out.append(ch)
    return "".join(out)


@dataclass(eq=False)
class Field:
    """A message field, with the message that holds it and its source path."""

    proto: descriptor_pb2.FieldDescriptorProto
    message: Message
    index: int
    behaviors: tuple[int, ...] = ()
    openapi: openapiv2_pb2.JSONSchema | None = None
    visibility: str | None = None

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def json_name(self) -> str:
        return self.proto.json_name if self.proto.HasField("json_name") else json_camel_case(self.proto.name)

    @property
    def type_name(self) -> str:
        return self.proto.type_name

    @property
    def repeated(self) -> bool:
        return self.proto.label == FDP.LABEL_REPEATED

    @property
    def is_message(self) -> bool:
        return self.proto.type in (FDP.TYPE_MESSAGE, FDP.TYPE_GROUP)

    @property
    def is_enum(self) -> bool:
        return self.proto.type == FDP.TYPE_ENUM

    @property
    def oneof_index(self) -> int | None:
        # A proto3 optional field sits in a synthetic oneof that is not a real choice between fields.
        if not self.proto.HasField("oneof_index") or self.proto.proto3_optional:
            return None
        return self.proto.oneof_index

    @property
    def path(self) -> tuple[int, ...]:
        return (*self.message.path, _MSG_FIELD, self.index)


@dataclass(eq=False)
class Message:
    """A message type (nested ones included) with its fully-qualified name (``.pkg.Outer.Inner``)."""

    fqn: str
    proto: descriptor_pb2.DescriptorProto
    file: descriptor_pb2.FileDescriptorProto
    path: tuple[int, ...]
    fields: list[Field] = field(default_factory=list)
    openapi: openapiv2_pb2.Schema | None = None

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def is_map_entry(self) -> bool:
        return self.proto.options.map_entry


@dataclass(eq=False)
class Enum:
    """An enum type with its fully-qualified name."""

    fqn: str
    proto: descriptor_pb2.EnumDescriptorProto
    file: descriptor_pb2.FileDescriptorProto
    path: tuple[int, ...]
    openapi: openapiv2_pb2.EnumSchema | None = None
    value_visibility: tuple[str | None, ...] = ()


@dataclass(eq=False)
class Param:
    """A path parameter: the chain of fields from the request message down to the bound field."""

    field_path: tuple[Field, ...]

    @property
    def target(self) -> Field:
        return self.field_path[-1]

    @property
    def proto_path(self) -> str:
        return ".".join(f.name for f in self.field_path)


@dataclass(eq=False)
class Binding:
    """One HTTP rule of a method (the main rule or one of its additional bindings)."""

    method: Method
    index: int
    http_method: str
    template: Template
    path_params: list[Param]
    # None: no body. Empty tuple: body "*". Otherwise the chain of fields named by ``body``.
    body: tuple[Field, ...] | None
    response_body: tuple[Field, ...] | None


@dataclass(eq=False)
class Method:
    """An RPC with its request/response messages and HTTP bindings."""

    proto: descriptor_pb2.MethodDescriptorProto
    service: Service
    index: int
    request: Message
    response: Message
    bindings: list[Binding] = field(default_factory=list)
    openapi: openapiv2_pb2.Operation | None = None
    visibility: str | None = None

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def fqn(self) -> str:
        return f"{self.service.fqn}.{self.proto.name}"


@dataclass(eq=False)
class Service:
    """A service of a file being generated."""

    proto: descriptor_pb2.ServiceDescriptorProto
    file: descriptor_pb2.FileDescriptorProto
    index: int
    methods: list[Method] = field(default_factory=list)
    openapi: openapiv2_pb2.Tag | None = None
    visibility: str | None = None

    @property
    def name(self) -> str:
        return self.proto.name

    @property
    def fqn(self) -> str:
        pkg = self.file.package
        return f".{pkg}.{self.proto.name}" if pkg else f".{self.proto.name}"


def _builtin_files() -> list[descriptor_pb2.FileDescriptorProto]:
    """google.rpc.Status and google.protobuf.Any, for the default error response (no comments)."""
    out = []
    for module in (any_pb2, status_pb2):
        fdp = descriptor_pb2.FileDescriptorProto()
        module.DESCRIPTOR.CopyToProto(fdp)
        out.append(fdp)
    return out


def _visibility(options: ProtoMessage | None, ext: FieldDescriptor) -> str | None:
    rule = read_extension(options, ext)
    return None if rule is None else str(rule.restriction)


class Registry:
    """Everything the generator looks up by name, built once from a list of files.

    Files later in the list replace earlier ones with the same name, so a caller's copy of
    ``google/rpc/status.proto`` (with comments) wins over the built-in one.
    """

    def __init__(self, files: Iterable[descriptor_pb2.FileDescriptorProto]) -> None:
        self.files: dict[str, descriptor_pb2.FileDescriptorProto] = {}
        for fdp in [*_builtin_files(), *files]:
            self.files[fdp.name] = fdp
        self.messages: dict[str, Message] = {}
        self.enums: dict[str, Enum] = {}
        self.file_messages: dict[str, list[Message]] = {}
        self._comments: dict[str, dict[tuple[int, ...], tuple[str, str]]] = {}
        for name in sorted(self.files):
            fdp = self.files[name]
            prefix = f".{fdp.package}" if fdp.package else ""
            found: list[Message] = []
            for i, msg in enumerate(fdp.message_type):
                self._add_message(fdp, prefix, msg, (_FILE_MESSAGE, i), found)
            for i, enum in enumerate(fdp.enum_type):
                self._add_enum(fdp, prefix, enum, (_FILE_ENUM, i))
            self.file_messages[name] = found
        self.services: dict[str, list[Service]] = {}
        self._pool: descriptor_pool.DescriptorPool | None = None
        self._names_by_package: dict[str, list[str]] | None = None

    # -- loading -------------------------------------------------------------------------------

    def _add_message(
        self,
        fdp: descriptor_pb2.FileDescriptorProto,
        prefix: str,
        proto: descriptor_pb2.DescriptorProto,
        path: tuple[int, ...],
        found: list[Message],
    ) -> None:
        fqn = f"{prefix}.{proto.name}"
        msg = Message(fqn, proto, fdp, path)
        msg.openapi = read_extension(
            proto.options if proto.HasField("options") else None, openapi_annotations.openapiv2_schema
        )
        for i, fd in enumerate(proto.field):
            opts = fd.options if fd.HasField("options") else None
            msg.fields.append(
                Field(
                    fd,
                    msg,
                    i,
                    behaviors=tuple(read_extension(opts, field_behavior_pb2.field_behavior)) if opts else (),
                    openapi=read_extension(opts, openapi_annotations.openapiv2_field) if opts else None,
                    visibility=_visibility(opts, visibility_pb2.field_visibility) if opts else None,
                )
            )
        self.messages[fqn] = msg
        found.append(msg)
        for i, nested in enumerate(proto.nested_type):
            self._add_message(fdp, fqn, nested, (*path, _MSG_NESTED, i), found)
        for i, enum in enumerate(proto.enum_type):
            self._add_enum(fdp, fqn, enum, (*path, _MSG_ENUM, i))

    def _add_enum(
        self,
        fdp: descriptor_pb2.FileDescriptorProto,
        prefix: str,
        proto: descriptor_pb2.EnumDescriptorProto,
        path: tuple[int, ...],
    ) -> None:
        fqn = f"{prefix}.{proto.name}"
        opts = proto.options if proto.HasField("options") else None
        self.enums[fqn] = Enum(
            fqn,
            proto,
            fdp,
            path,
            openapi=read_extension(opts, openapi_annotations.openapiv2_enum),
            value_visibility=tuple(
                _visibility(v.options if v.HasField("options") else None, visibility_pb2.value_visibility)
                for v in proto.value
            ),
        )

    def load_services(self, file_name: str, *, generate_unbound: bool, allow_delete_body: bool) -> list[Service]:
        """The services of a file to generate, with their bindings resolved (cached per file)."""
        if file_name in self.services:
            return self.services[file_name]
        try:
            fdp = self.files[file_name]
        except KeyError:
            raise GenerationError(f"file {file_name!r} is not in the descriptor set") from None
        services: list[Service] = []
        for si, sd in enumerate(fdp.service):
            sopts = sd.options if sd.HasField("options") else None
            svc = Service(
                sd,
                fdp,
                si,
                openapi=read_extension(sopts, openapi_annotations.openapiv2_tag),
                visibility=_visibility(sopts, visibility_pb2.api_visibility),
            )
            for mi, md in enumerate(sd.method):
                mopts = md.options if md.HasField("options") else None
                meth = Method(
                    md,
                    svc,
                    mi,
                    self.message(md.input_type),
                    self.message(md.output_type),
                    openapi=read_extension(mopts, openapi_annotations.openapiv2_operation),
                    visibility=_visibility(mopts, visibility_pb2.method_visibility),
                )
                rules = RuleOptions(allow_delete_body=allow_delete_body, unbound_methods=generate_unbound)
                self._add_bindings(meth, self._method_descriptor(svc, md.name), rules)
                svc.methods.append(meth)
            if svc.methods:
                services.append(svc)
        self.services[file_name] = services
        self._names_by_package = None
        return services

    def names_by_package(self) -> dict[str, list[str]]:
        """Every message, enum and (loaded) method name, grouped by the package of its file.

        Definition names are chosen among these; grouping them lets each document pick its own
        package's names without scanning the whole registry, which keeps generating many files linear.
        """
        if self._names_by_package is None:
            table: dict[str, list[str]] = {}
            for fqn, msg in self.messages.items():
                table.setdefault(msg.file.package, []).append(fqn)
            for fqn, enum in self.enums.items():
                table.setdefault(enum.file.package, []).append(fqn)
            for services in self.services.values():
                for svc in services:
                    table.setdefault(svc.file.package, []).extend(m.fqn for m in svc.methods)
            self._names_by_package = table
        return self._names_by_package

    def _method_descriptor(self, svc: Service, name: str) -> MethodDescriptor:
        """The live descriptor of a method, from a pool built once over the registry's files."""
        if self._pool is None:
            try:
                self._pool = pool_of(self.files.values(), bundled_imports=True)
            except DescriptorError as exc:
                raise GenerationError(str(exc)) from None
        method: MethodDescriptor = self._pool.FindServiceByName(svc.fqn[1:]).methods_by_name[name]
        return method

    def _add_bindings(self, meth: Method, descriptor: MethodDescriptor, rules: RuleOptions) -> None:
        """The method's bindings as the core reads and checks them, with the generator's field views."""
        try:
            bindings = method_bindings(descriptor, rules)
        except HttpRuleError as exc:
            raise GenerationError(str(exc)) from None
        for b in bindings:
            params = [Param(self._chain(meth.request, fp)) for fp in b.path_fields]
            body = None if b.body is None else self._chain(meth.request, b.body)
            response_body = self._chain(meth.response, b.response_body) or None
            meth.bindings.append(
                Binding(meth, len(meth.bindings), b.http_method, b.template, params, body, response_body)
            )

    def _chain(self, msg: Message, path: FieldPath) -> tuple[Field, ...]:
        """The generator's :class:`Field` for each step of a field path the core resolved."""
        chain: list[Field] = []
        current = msg
        for fd in path:
            if chain:
                current = self.message(chain[-1].type_name)
            chain.append(next(f for f in current.fields if f.name == fd.name))
        return tuple(chain)

    # -- lookups -------------------------------------------------------------------------------

    def message(self, fqn: str) -> Message:
        try:
            return self.messages[fqn]
        except KeyError:
            raise GenerationError(f"message {fqn[1:]!r} is not in the descriptor set") from None

    def enum(self, fqn: str) -> Enum:
        try:
            return self.enums[fqn]
        except KeyError:
            raise GenerationError(f"enum {fqn[1:]!r} is not in the descriptor set") from None

    def resolve_path(self, msg: Message, dotted: str, where: str) -> tuple[Field, ...]:
        """The fields named by ``a.b.c`` starting at ``msg``."""
        chain: list[Field] = []
        current = msg
        for i, part in enumerate(dotted.split(".")):
            if i > 0:
                prev = chain[-1]
                if not prev.is_message:
                    raise GenerationError(f"{where}: {prev.name!r} in {dotted!r} is not a message")
                current = self.message(prev.type_name)
            found = next((f for f in current.fields if f.name == part), None)
            if found is None:
                raise GenerationError(f"{where}: no field {dotted!r} in {msg.fqn[1:]}")
            chain.append(found)
        return tuple(chain)

    def _comment_table(self, fdp: descriptor_pb2.FileDescriptorProto) -> dict[tuple[int, ...], tuple[str, str]]:
        """Source path -> (leading and trailing comment as protoc-gen-openapiv2 joins them, raw leading comment)."""
        table = self._comments.get(fdp.name)
        if table is None:
            table = {}
            for loc in fdp.source_code_info.location:
                key = tuple(loc.path)
                if key in table:
                    continue
                text = ""
                if loc.HasField("leading_comments"):
                    # protoc keeps the space after "//"; dropping it after each newline undoes the
                    # indentation that every comment line carries.
                    text = loc.leading_comments.rstrip("\n").strip().replace("\n ", "\n")
                    text = remove_internal_comments(text)
                if loc.HasField("trailing_comments"):
                    trailing = loc.trailing_comments.strip()
                    text = trailing if not text else f"{text}\n\n{trailing}"
                table[key] = (text, loc.leading_comments)
            self._comments[fdp.name] = table
        return table

    def comment(self, fdp: descriptor_pb2.FileDescriptorProto, path: Sequence[int]) -> str:
        """The comment attached to the element at ``path``: leading text, then trailing text."""
        return self._comment_table(fdp).get(tuple(path), ("", ""))[0]

    def leading_comment(self, fdp: descriptor_pb2.FileDescriptorProto, path: Sequence[int]) -> str:
        """The leading comment of the element at ``path`` exactly as protoc recorded it ("" if none)."""
        return self._comment_table(fdp).get(tuple(path), ("", ""))[1]


def remove_internal_comments(comment: str) -> str:
    """Drop AIP-192 internal text: everything between ``(--`` and ``--)``."""
    kept: list[str] = []
    while comment:
        before, sep, rest = comment.partition("(--")
        if not sep:
            kept.append(before)
            break
        before = before.rstrip(" \t")
        if before.endswith("\r\n"):
            before = before[:-2]
        elif before.endswith("\n"):
            before = before[:-1]
        if before:
            kept.append(before)
        _, closed, after = rest.partition("--)")
        if not closed:
            break
        comment = after
    return "".join(kept)
