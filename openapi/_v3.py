"""OpenAPI 3.1.0 documents from proto descriptors, compatible with grpc-gateway's protoc-gen-openapiv3.

One document per target file that has HTTP bindings (``a/b.proto`` -> ``a/b.openapi.json``), or one
merged document (:func:`merge_documents`, the rules of grpc-gateway's ``openapiv3-merge``). Built on
the same :class:`~._registry.Registry` as the v2 generator, so bindings, comments, visibility and the
core's google.api.http rules are shared; what differs is the shape of the document:

* component names are fully-qualified proto names (``pkg.v1.Message``), referenced as
  ``#/components/schemas/...``; every message and enum reached from an operation is a component,
  well-known types are inlined in their protojson form;
* a path variable with a pattern is spelled out in the path: ``{name=shelves/*/books/*}`` becomes
  ``shelves/{name}/books/{name_1}``; path parameters keep the template's (proto) field paths, query
  parameters use JSON names and flatten nested messages (``filter.kind``);
* ``body: "*"`` is an inline object without the path fields; ``body: "field"`` is that field's schema;
* responses: ``200`` (the response message, described by its comment) and ``default``
  (``google.rpc.Status``) unless ``disable_default_errors``;
* proto ``oneof`` groups of two or more fields become a JSON Schema ``oneOf`` (none or exactly one
  set), ``field_behavior`` REQUIRED goes to ``required``, OUTPUT_ONLY / INPUT_ONLY to
  ``readOnly`` / ``writeOnly``, and ``deprecated`` cascades from file and message.

Where protogw deliberately writes something else (each is listed in the README with its reason):

* a server-streaming method's 200 response is the ``{"result": ..., "error": ...}`` object the
  gateway writes on each line of the stream, not the bare message;
* a field bound to a nested path variable (``{book.name}``) is not offered again as a query
  parameter (the gateway ignores it there: the path wins);
* a self-referencing message is flattened into query parameters ``recursive_depth`` times (default
  1, like the v2 generator) instead of upstream's 1000;
* with ``safe_path_param_names`` (the Determined document) a nested path variable ``{a.b}`` is
  named ``{a_b}``: client generators cannot turn a dotted name into an argument;
* with ``nullable_unset_messages`` (what the Determined document uses) a singular message field that
  the gateway writes as ``null`` when unset is ``anyOf: [$ref, {type: null}]`` (or ``type: [..., "null"]``
  for well-known types written as scalars), so strict clients accept the gateway's real output.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2
from google.protobuf.message import Message as ProtoMessage

from protogw.gen.protoc_gen_openapiv3.options import annotations_pb2 as v3_annotations
from protogw.gen.protoc_gen_openapiv3.options import openapiv3_pb2
from protogw.openapi._context import is_visible
from protogw.openapi._registry import (
    Binding,
    Enum,
    Field,
    GenerationError,
    Message,
    Method,
    Registry,
    Service,
    read_extension,
)

__all__ = ["OptionsV3", "generate_v3", "merge_documents"]

Schema = dict[str, Any]
FDP = descriptor_pb2.FieldDescriptorProto
_REQUIRED = field_behavior_pb2.REQUIRED
_OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
_INPUT_ONLY = field_behavior_pb2.INPUT_ONLY
_STATUS = "google.rpc.Status"
_REF = "#/components/schemas/"
_PATH_VAR = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_.]*)(?:=([^}]*))?\}")
_INTERNAL = re.compile(r"\(--.*?--\)", re.DOTALL)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PATH_ITEM_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True, slots=True)
class OptionsV3:
    """Switches of the 3.1 generator: protoc-gen-openapiv3's two flags, then protogw's additions."""

    visibility_restriction_selectors: tuple[str, ...] = field(default_factory=tuple)
    disable_default_errors: bool = False
    # protogw: the gateway writes an unset singular message as null (EmitUnpopulated); say so.
    nullable_unset_messages: bool = False
    # protogw: one document for every target, merged as openapiv3-merge merges (first file's info).
    allow_merge: bool = False
    merge_file_name: str = "apidocs"
    # protogw: how often a message may repeat along one chain of flattened query parameters.
    recursive_depth: int = 1
    # protogw: a nested path variable {a.b} is named {a_b} in the path, because client generators
    # (openapi-python-client among them) cannot map a dotted parameter name to an argument.
    safe_path_param_names: bool = False


# -- schemas of scalars and well-known types -------------------------------------------------------

_SCALARS: dict[int, Schema] = {
    FDP.TYPE_STRING: {"type": "string"},
    FDP.TYPE_INT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SINT32: {"type": "integer", "format": "int32"},
    FDP.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    FDP.TYPE_INT64: {"type": "string", "format": "int64"},
    FDP.TYPE_SINT64: {"type": "string", "format": "int64"},
    FDP.TYPE_SFIXED64: {"type": "string", "format": "int64"},
    FDP.TYPE_UINT32: {"type": "integer", "format": "int64"},
    FDP.TYPE_FIXED32: {"type": "integer", "format": "int64"},
    FDP.TYPE_UINT64: {"type": "string", "format": "uint64"},
    FDP.TYPE_FIXED64: {"type": "string", "format": "uint64"},
    FDP.TYPE_FLOAT: {"type": "number", "format": "float"},
    FDP.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FDP.TYPE_BOOL: {"type": "boolean"},
    FDP.TYPE_BYTES: {"type": "string", "format": "byte"},
}

_WKT: dict[str, Schema] = {
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": {"type": "string"},
    ".google.protobuf.FieldMask": {"type": "string"},
    ".google.protobuf.StringValue": {"type": "string"},
    ".google.protobuf.BytesValue": {"type": "string", "format": "byte"},
    ".google.protobuf.Int32Value": {"type": "integer", "format": "int32"},
    ".google.protobuf.UInt32Value": {"type": "integer", "format": "int64"},
    ".google.protobuf.Int64Value": {"type": "string", "format": "int64"},
    ".google.protobuf.UInt64Value": {"type": "string", "format": "uint64"},
    ".google.protobuf.FloatValue": {"type": "number", "format": "float"},
    ".google.protobuf.DoubleValue": {"type": "number", "format": "double"},
    ".google.protobuf.BoolValue": {"type": "boolean"},
    ".google.protobuf.Empty": {"type": "object"},
    ".google.protobuf.Struct": {"type": "object"},
    ".google.protobuf.Value": {},
    ".google.protobuf.ListValue": {"type": "array", "items": {}},
    ".google.protobuf.NullValue": {"type": "null"},
    ".google.protobuf.Any": {
        "type": "object",
        "properties": {
            "@type": {
                "type": "string",
                "description": "A URL/resource name that uniquely identifies the type of the serialized protocol buffer message.",
            }
        },
        "additionalProperties": True,
    },
}

# protoc-gen-openapiv3 writes this fixed schema for the default error response.
_STATUS_SCHEMA: Schema = {
    "type": "object",
    "description": "The Status type defines a logical error model suitable for different programming environments.",
    "properties": {
        "code": {
            "type": "integer",
            "format": "int32",
            "description": "The status code, which should be an enum value of google.rpc.Code.",
        },
        "details": {
            "type": "array",
            "description": "A list of messages that carry the error details.",
            "items": {"type": "object", "properties": {"@type": {"type": "string"}}, "additionalProperties": True},
        },
        "message": {"type": "string", "description": "A developer-facing error message."},
    },
}

_MAP_KEY_TYPES: dict[int, str] = {
    FDP.TYPE_STRING: "string",
    FDP.TYPE_BOOL: "boolean",
    **dict.fromkeys(
        (
            FDP.TYPE_INT32,
            FDP.TYPE_SINT32,
            FDP.TYPE_SFIXED32,
            FDP.TYPE_INT64,
            FDP.TYPE_SINT64,
            FDP.TYPE_SFIXED64,
            FDP.TYPE_UINT32,
            FDP.TYPE_FIXED32,
            FDP.TYPE_UINT64,
            FDP.TYPE_FIXED64,
        ),
        "integer",
    ),
}

_SCHEMA_ORDER = (
    "$ref", "type", "format", "title", "description", "default", "examples", "enum", "properties", "required",
    "additionalProperties", "items", "allOf", "oneOf", "anyOf", "not", "readOnly", "writeOnly", "deprecated",
)  # fmt: skip
_SCHEMA_RANK = {k: i for i, k in enumerate(_SCHEMA_ORDER)}


def order_schema(s: Schema) -> Schema:
    """Keys in protoc-gen-openapiv3's order (its Go struct), properties sorted, sub-schemas too."""
    if "$ref" in s and len(s) <= 3 and set(s) <= {"$ref", "description", "summary"}:
        return {k: s[k] for k in sorted(s)}
    out: Schema = {}
    for key in sorted(s, key=lambda k: (_SCHEMA_RANK.get(k, len(_SCHEMA_ORDER)), k)):
        value = s[key]
        if key == "properties":
            value = {k: order_schema(v) for k, v in sorted(value.items())}
        elif key in ("items", "not") or (key == "additionalProperties" and isinstance(value, dict)):
            value = order_schema(value)
        elif key in ("allOf", "oneOf", "anyOf"):
            value = [order_schema(v) for v in value]
        out[key] = value
    return out


# -- comments ----------------------------------------------------------------------------------------


def _clean_comment(raw: str) -> str:
    """A leading comment as protoc-gen-openapiv3 writes it: one space of indentation dropped per line,
    AIP-192 ``(-- internal --)`` text removed, surrounding space trimmed."""
    if not raw:
        return ""
    text = raw.rstrip("\n").replace("\n ", "\n").strip()
    return _INTERNAL.sub("", text).strip()


def _split_summary(comment: str) -> tuple[str, str]:
    if not comment:
        return "", ""
    first, _, rest = comment.partition("\n\n")
    return first.strip(), rest.strip()


def _option(options: ProtoMessage | None, ext: Any) -> Any:
    return read_extension(options, ext) if options is not None else None


def _opts(proto: Any) -> ProtoMessage | None:
    return proto.options if proto.HasField("options") else None


# -- the builder ------------------------------------------------------------------------------------


class _DocumentV3:
    """One document: paths in declaration order, components added as operations refer to them."""

    def __init__(self, reg: Registry, opts: OptionsV3, fdp: descriptor_pb2.FileDescriptorProto) -> None:
        self.reg = reg
        self.opts = opts
        self.fdp = fdp
        self.schemas: dict[str, Schema] = {}

    # visibility, comments, flags

    def visible(self, rule: str | None) -> bool:
        return is_visible(rule, self.opts.visibility_restriction_selectors)

    def comment(self, fdp: descriptor_pb2.FileDescriptorProto, path: Sequence[int]) -> str:
        return _clean_comment(self.reg.leading_comment(fdp, path))

    def field_comment(self, f: Field) -> str:
        return self.comment(f.message.file, f.path)

    def field_deprecated(self, f: Field) -> bool:
        return bool(
            f.proto.options.deprecated or f.message.proto.options.deprecated or f.message.file.options.deprecated
        )

    # schemas

    def field_schema(self, f: Field) -> Schema:
        """The schema of a field's type: array for repeated, object with additionalProperties for maps."""
        if f.repeated:
            if f.is_message and f.type_name in self.reg.messages:
                entry = self.reg.messages[f.type_name]
                if entry.is_map_entry:
                    value = next((x for x in entry.fields if x.proto.number == 2), None)
                    if value is None:
                        return {"type": "object"}
                    return {"type": "object", "additionalProperties": self.scalar_or_ref(value)}
            return {"type": "array", "items": self.scalar_or_ref(f)}
        return self.scalar_or_ref(f)

    def scalar_or_ref(self, f: Field) -> Schema:
        if f.is_message:
            if f.type_name in _WKT:
                return copy.deepcopy(_WKT[f.type_name])
            if f.type_name not in self.reg.messages:
                return {"type": "object"}
            self.ensure_message(self.reg.messages[f.type_name])
            return {"$ref": _REF + f.type_name[1:]}
        if f.is_enum:
            if f.type_name not in self.reg.enums:
                return {"type": "string"}
            self.ensure_enum(self.reg.enums[f.type_name])
            return {"$ref": _REF + f.type_name[1:]}
        return dict(_SCALARS.get(f.proto.type, {"type": "string"}))

    def ensure_message(self, msg: Message) -> None:
        if msg.is_map_entry:
            return
        name = msg.fqn[1:]
        if name in self.schemas:
            return
        schema: Schema = {"type": "object"}
        if msg.proto.options.deprecated or msg.file.options.deprecated:
            schema["deprecated"] = True
        desc = self.comment(msg.file, msg.path)
        if desc:
            schema["description"] = desc
        ann = _option(_opts(msg.proto), v3_annotations.openapiv3_schema)
        if ann is not None:
            self._apply_schema_body(schema, ann)
            if ann.description:
                schema["description"] = ann.description
        # Reserved before the fields are walked, so a message that contains itself terminates.
        self.schemas[name] = schema
        regular = [f for f in msg.fields if f.oneof_index is None]
        groups: dict[int, list[Field]] = {}
        for f in msg.fields:
            if f.oneof_index is not None:
                groups.setdefault(f.oneof_index, []).append(f)
        ordered_groups = [groups[i] for i in sorted(groups)]
        properties: Schema = {}
        required: list[str] = []
        for f in [*regular, *(f for g in ordered_groups for f in g)]:
            if not self.visible(f.visibility):
                continue
            self._add_property(properties, required, f)
        if properties:
            schema["properties"] = properties
        if required:
            schema["required"] = required
        constraints = []
        for group in ordered_groups:
            members = [f for f in group if self.visible(f.visibility)]
            if len(members) < 2:
                continue
            options: list[Schema] = [
                {"type": "object", "not": {"anyOf": [{"required": [f.json_name]} for f in members]}}
            ]
            options.extend(
                {"type": "object", "properties": {f.json_name: self.field_schema(f)}, "required": [f.json_name]}
                for f in members
            )
            constraints.append(options)
        if len(constraints) == 1:
            schema["oneOf"] = constraints[0]
        elif constraints:
            schema["allOf"] = [{"oneOf": c} for c in constraints]

    def _apply_schema_body(self, schema: Schema, ann: openapiv3_pb2.Schema) -> None:
        if ann.title:
            schema["title"] = ann.title
        if ann.deprecated:
            schema["deprecated"] = True

    def _add_property(self, properties: Schema, required: list[str], f: Field) -> None:
        properties[f.json_name] = self.property_schema(f)
        if _REQUIRED in f.behaviors:
            required.append(f.json_name)

    def property_schema(self, f: Field) -> Schema:
        prop = self.field_schema(f)
        desc = self.field_comment(f)
        ann = _option(_opts(f.proto), v3_annotations.openapiv3_field)
        if ann is not None and ann.description:
            desc = ann.description
        nullable = self.opts.nullable_unset_messages and self._written_as_null(f)
        if "$ref" in prop:
            needs_body = (
                self.field_deprecated(f)
                or _OUTPUT_ONLY in f.behaviors
                or _INPUT_ONLY in f.behaviors
                or (ann is not None and (ann.title or ann.deprecated))
            )
            if needs_body:
                # The flags need a schema body next to the $ref: allOf wraps it (anyOf with null
                # when the gateway may write null).
                ref = [{"$ref": prop["$ref"]}]
                wrapped: Schema = {"anyOf": [*ref, {"type": "null"}]} if nullable else {"allOf": ref}
                if desc:
                    wrapped["description"] = desc
                self._apply_field_flags(wrapped, f)
                if ann is not None:
                    self._apply_schema_body(wrapped, ann)
                return wrapped
            if nullable:
                out: Schema = {"anyOf": [{"$ref": prop["$ref"]}, {"type": "null"}]}
                if desc:
                    out["description"] = desc
                return out
            if desc:
                prop["description"] = desc
            return prop
        if desc:
            prop["description"] = desc
        self._apply_field_flags(prop, f)
        if ann is not None:
            self._apply_schema_body(prop, ann)
        if nullable:
            kind = prop.get("type")
            if isinstance(kind, str):
                prop["type"] = [kind, "null"]
        return prop

    def _apply_field_flags(self, s: Schema, f: Field) -> None:
        if self.field_deprecated(f):
            s["deprecated"] = True
        if _OUTPUT_ONLY in f.behaviors:
            s["readOnly"] = True
        if _INPUT_ONLY in f.behaviors:
            s["writeOnly"] = True

    def _written_as_null(self, f: Field) -> bool:
        """Singular message fields outside any oneof: grpc-gateway's marshaler writes them as null when
        unset (oneof members and proto3 optional fields are left out instead)."""
        if not f.is_message or f.repeated or f.proto.HasField("oneof_index"):
            return False
        if f.type_name in (".google.protobuf.Value", ".google.protobuf.NullValue"):
            return False  # their schemas already admit null
        return not (f.type_name in self.reg.messages and self.reg.messages[f.type_name].is_map_entry)

    def ensure_enum(self, enum: Enum) -> None:
        name = enum.fqn[1:]
        if name in self.schemas:
            return
        values = [
            v.name
            for i, v in enumerate(enum.proto.value)
            if self.visible(enum.value_visibility[i] if i < len(enum.value_visibility) else None)
        ]
        schema: Schema = {"type": "string"}
        if enum.proto.options.deprecated or enum.file.options.deprecated:
            schema["deprecated"] = True
        if values:
            schema["enum"] = values
        desc = self.comment(enum.file, enum.path)
        if desc:
            schema["description"] = desc
        self.schemas[name] = schema

    def ensure_status(self) -> None:
        if _STATUS not in self.schemas:
            self.schemas[_STATUS] = copy.deepcopy(_STATUS_SCHEMA)

    # operations

    def operation(self, svc: Service, meth: Method, binding: Binding, path_params: list[tuple[str, str]]) -> Schema:
        summary, description = _split_summary(self.comment(svc.file, (6, svc.index, 2, meth.index)))
        op: Schema = {"tags": [svc.name]}
        if summary:
            op["summary"] = summary
        if description:
            op["description"] = description
        op_id = f"{svc.name}_{meth.name}"
        if binding.index:
            op_id += f"_{binding.index}"
        op["operationId"] = op_id
        params = self.parameters(meth, binding, path_params)
        if params:
            op["parameters"] = params
        if binding.http_method in _BODY_METHODS and binding.body is not None:
            op["requestBody"] = self.request_body(meth, binding)
        op["responses"] = self.responses(meth)
        if meth.proto.options.deprecated or svc.proto.options.deprecated or svc.file.options.deprecated:
            op["deprecated"] = True
        ann = _option(_opts(meth.proto), v3_annotations.openapiv3_operation)
        if ann is not None:
            self._apply_operation_option(op, ann, f"{svc.name}.{meth.name}")
        return _order_keys(
            op,
            (
                "tags",
                "summary",
                "description",
                "externalDocs",
                "operationId",
                "parameters",
                "requestBody",
                "responses",
                "deprecated",
                "security",
                "servers",
            ),
        )

    def _apply_operation_option(self, op: Schema, o: openapiv3_pb2.Operation, where: str) -> None:
        if o.tags:
            op["tags"] = list(o.tags)
        if o.summary:
            op["summary"] = o.summary
        if o.description:
            op["description"] = o.description
        if o.operation_id:
            op["operationId"] = o.operation_id
        if o.HasField("external_docs"):
            op["externalDocs"] = _external_docs(o.external_docs, f"openapiv3 operation {where}: external_docs")
        if o.deprecated:
            op["deprecated"] = True
        for i, server in enumerate(o.servers):
            op.setdefault("servers", []).append(_server(server, f"openapiv3 operation {where}: servers[{i}]"))

    def parameters(self, meth: Method, binding: Binding, path_params: list[tuple[str, str]]) -> list[Schema]:
        params: list[Schema] = []
        by_field = {p.proto_path: p for p in binding.path_params}
        for openapi_name, field_path in path_params:
            p = by_field.get(field_path)
            if p is None:
                params.append({"name": openapi_name, "in": "path", "required": True, "schema": {"type": "string"}})
                continue
            target = p.target
            param: Schema = {"name": openapi_name, "in": "path"}
            desc = self.field_comment(target)
            if desc:
                param["description"] = desc
            param["required"] = True
            if self.field_deprecated(target):
                param["deprecated"] = True
            param["schema"] = self.field_schema(target)
            params.append(param)
        path_targets = {id(p.target) for p in binding.path_params}
        body = binding.body
        for f in meth.request.fields:
            if not self.visible(f.visibility) or id(f) in path_targets:
                continue
            if body is not None and (body == () or any(b is f for b in body)):
                continue
            params.extend(self.query_parameters(f, "", False, {}, path_targets))
        return params

    def query_parameters(
        self, f: Field, prefix: str, parent_deprecated: bool, depth: dict[str, int], path_targets: set[int]
    ) -> list[Schema]:
        if id(f) in path_targets:
            return []  # bound to a nested path variable: the path sets it, the query cannot.
        name = prefix + f.json_name
        deprecated = parent_deprecated or self.field_deprecated(f)
        if f.is_message and f.type_name not in _WKT and f.type_name in self.reg.messages:
            msg = self.reg.messages[f.type_name]
            if msg.is_map_entry:
                return self._map_query_parameter(f, msg, name, deprecated)
            if f.repeated:
                return []  # a repeated message has no query-string form
            if depth.get(msg.fqn, 0) >= self.opts.recursive_depth:
                return []
            branch = {**depth, msg.fqn: depth.get(msg.fqn, 0) + 1}
            out: list[Schema] = []
            for nested in msg.fields:
                if self.visible(nested.visibility):
                    out.extend(self.query_parameters(nested, name + ".", deprecated, branch, path_targets))
            return out
        param: Schema = {"name": name, "in": "query"}
        desc = self.field_comment(f)
        if desc:
            param["description"] = desc
        if _REQUIRED in f.behaviors:
            param["required"] = True
        if deprecated:
            param["deprecated"] = True
        param["schema"] = self.field_schema(f)
        return [param]

    def _map_query_parameter(self, f: Field, entry: Message, name: str, deprecated: bool) -> list[Schema]:
        key = next((x for x in entry.fields if x.proto.number == 1), None)
        value = next((x for x in entry.fields if x.proto.number == 2), None)
        if key is None or value is None or key.proto.type not in _MAP_KEY_TYPES:
            return []
        param: Schema = {"name": f"{name}[{_MAP_KEY_TYPES[key.proto.type]}]", "in": "query"}
        desc = self.field_comment(f)
        if desc:
            param["description"] = desc
        if _REQUIRED in f.behaviors:
            param["required"] = True
        if deprecated:
            param["deprecated"] = True
        param["schema"] = self.scalar_or_ref(value)
        return [param]

    def request_body(self, meth: Method, binding: Binding) -> Schema:
        assert binding.body is not None
        schema: Schema
        if binding.body == ():
            schema = {"type": "object"}
            properties: Schema = {}
            required: list[str] = []
            paths = [p.field_path for p in binding.path_params]
            for f in meth.request.fields:
                if not self.visible(f.visibility) or self._consumed_by_path(f, paths):
                    continue
                self._add_property(properties, required, f)
            if properties:
                schema["properties"] = properties
            if required:
                schema["required"] = required
        else:
            schema = self.field_schema(binding.body[-1])
        return {"content": {"application/json": {"schema": schema}}, "required": True}

    def _consumed_by_path(self, f: Field, paths: Sequence[tuple[Field, ...]]) -> bool:
        """Whether every part of ``f`` is set from the path (then the body leaves it out)."""
        if any(len(p) == 1 and p[0] is f for p in paths):
            return True
        if not f.is_message or f.repeated:
            return False
        sub = [p[1:] for p in paths if len(p) > 1 and p[0] is f]
        if not sub or f.type_name not in self.reg.messages:
            return False
        msg = self.reg.messages[f.type_name]
        return bool(msg.fields) and all(self._consumed_by_path(x, sub) for x in msg.fields)

    def responses(self, meth: Method) -> Schema:
        out: Schema = {}
        desc = self.comment(meth.response.file, meth.response.path) or "A successful response."
        schema: Schema
        if meth.response.fqn in _WKT:
            schema = copy.deepcopy(_WKT[meth.response.fqn])
        else:
            self.ensure_message(meth.response)
            schema = {"$ref": _REF + meth.response.fqn[1:]}
        if meth.proto.server_streaming:
            # What the gateway writes on each line of a server stream.
            properties: Schema = {"result": schema}
            if not self.opts.disable_default_errors:
                properties["error"] = {"$ref": _REF + _STATUS}
            schema = {
                "type": "object",
                "title": "Stream result of " + meth.response.fqn[1:],
                "properties": properties,
            }
            desc += " (streaming responses)"
        if not self.opts.disable_default_errors:
            self.ensure_status()
            out["default"] = {
                "description": "An unexpected error response.",
                "content": {"application/json": {"schema": {"$ref": _REF + _STATUS}}},
            }
        out["200"] = {"description": desc, "content": {"application/json": {"schema": schema}}}
        return out

    # the document

    def build(self, services: list[Service]) -> Schema | None:
        name = self.fdp.name
        base = name.rsplit("/", 1)[-1]
        title = base.rsplit(".", 1)[0] if "." in base else base
        info: Schema = {"title": title, "version": "1.0.0"}
        doc: Schema = {"openapi": "3.1.0", "info": info}
        tags: list[Schema] = []
        document_option = _option(_opts(self.fdp), v3_annotations.openapiv3_document)
        servers: list[Schema] = []
        external: Schema | None = None
        if document_option is not None:
            servers, external, tags = self._apply_document_option(info, document_option)
        seen_tags = {t["name"] for t in tags}
        seen_ids: dict[str, str] = {}
        tag_refs: list[tuple[str, str]] = []
        paths: dict[str, dict[str, Schema]] = {}
        for svc in services:
            if not self.visible(svc.visibility):
                continue
            any_visible = False
            for meth in svc.methods:
                if not self.visible(meth.visibility):
                    continue
                for binding in meth.bindings:
                    url, path_params = convert_path_template(binding.template.source)
                    if self.opts.safe_path_param_names:
                        url, path_params = _safe_names(url, path_params)
                    op = self.operation(svc, meth, binding, path_params)
                    op_id = op["operationId"]
                    if op_id in seen_ids:
                        raise GenerationError(
                            f"openapiv3: duplicate operationId {op_id!r} (used by {seen_ids[op_id]} and "
                            f"{svc.name}.{meth.name}); set a unique openapiv3_operation.operation_id"
                        )
                    seen_ids[op_id] = f"{svc.name}.{meth.name}"
                    tag_refs.extend((op_id, t) for t in op.get("tags", []))
                    paths.setdefault(url, {})[binding.http_method.lower()] = op
                any_visible = True
            if any_visible and svc.name not in seen_tags:
                seen_tags.add(svc.name)
                tag: Schema = {"name": svc.name}
                desc = self.comment(svc.file, (6, svc.index))
                if desc:
                    tag["description"] = desc
                tags.append(tag)
        for op_id, tag_name in tag_refs:
            if tag_name not in seen_tags:
                raise GenerationError(
                    f"openapiv3: operation {op_id!r} references undeclared tag {tag_name!r}; "
                    "add it to openapiv3_document.tags"
                )
        if not paths:
            return None
        if servers:
            doc["servers"] = servers
        doc["paths"] = {url: {m: item[m] for m in _PATH_ITEM_ORDER if m in item} for url, item in paths.items()}
        if self.schemas:
            doc["components"] = {"schemas": {k: order_schema(v) for k, v in sorted(self.schemas.items())}}
        for item in doc["paths"].values():
            for op in item.values():
                _order_operation_schemas(op)
        if tags:
            doc["tags"] = tags
        if external is not None:
            doc["externalDocs"] = external
        return doc

    def _apply_document_option(
        self, info: Schema, d: openapiv3_pb2.Document
    ) -> tuple[list[Schema], Schema | None, list[Schema]]:
        if d.HasField("info"):
            i = d.info
            for key, value in (
                ("title", i.title),
                ("summary", i.summary),
                ("description", i.description),
                ("termsOfService", i.terms_of_service),
                ("version", i.version),
            ):
                if value:
                    info[key] = value
            if i.HasField("contact"):
                info["contact"] = {
                    k: v for k, v in (("name", i.contact.name), ("url", i.contact.url), ("email", i.contact.email)) if v
                }
            if i.HasField("license"):
                if not i.license.name:
                    raise GenerationError("openapiv3 license: name is required")
                lic: Schema = {"name": i.license.name}
                if i.license.identifier:
                    lic["identifier"] = i.license.identifier
                if i.license.url:
                    lic["url"] = i.license.url
                info["license"] = lic
            ordered = _order_keys(
                info, ("title", "summary", "description", "termsOfService", "contact", "license", "version")
            )
            info.clear()
            info.update(ordered)
        servers = [_server(s, f"openapiv3 document servers[{n}]") for n, s in enumerate(d.servers)]
        external = (
            _external_docs(d.external_docs, "openapiv3 document external_docs") if d.HasField("external_docs") else None
        )
        tags: list[Schema] = []
        for n, t in enumerate(d.tags):
            if not t.name:
                raise GenerationError(f"openapiv3 document tags[{n}]: name is required")
            tag: Schema = {"name": t.name}
            if t.description:
                tag["description"] = t.description
            if t.HasField("external_docs"):
                tag["externalDocs"] = _external_docs(t.external_docs, f"openapiv3 document tags[{n}] external_docs")
            tags.append(tag)
        return servers, external, tags


def _order_keys(obj: Schema, order: Sequence[str]) -> Schema:
    return {k: obj[k] for k in order if k in obj}


def _order_operation_schemas(op: Schema) -> None:
    for p in op.get("parameters", []):
        p["schema"] = order_schema(p["schema"])
    body = op.get("requestBody")
    if body is not None:
        for media in body["content"].values():
            media["schema"] = order_schema(media["schema"])
    for resp in op["responses"].values():
        for media in resp.get("content", {}).values():
            media["schema"] = order_schema(media["schema"])


def _server(s: openapiv3_pb2.Server, where: str) -> Schema:
    if not s.url:
        raise GenerationError(f"{where}: server: url is required")
    out: Schema = {"url": s.url}
    if s.description:
        out["description"] = s.description
    return out


def _external_docs(e: openapiv3_pb2.ExternalDocs, where: str) -> Schema:
    if not e.url:
        raise GenerationError(f"{where}: external_docs: url is required")
    out: Schema = {}
    if e.description:
        out["description"] = e.description
    out["url"] = e.url
    return out


def convert_path_template(template: str) -> tuple[str, list[tuple[str, str]]]:
    """An http rule template as an OpenAPI path, and its parameters as (OpenAPI name, field path).

    ``/v1/{name=shelves/*/books/*}`` -> ``/v1/shelves/{name}/books/{name_1}``, parameters
    ``[("name", "name"), ("name_1", "name")]``; ``**`` is one parameter like ``*``.
    """
    params: list[tuple[str, str]] = []

    def expand(m: re.Match[str]) -> str:
        field_path, pattern = m.group(1), m.group(2)
        if pattern is None or pattern == "":
            params.append((field_path, field_path))
            return "{" + field_path + "}"
        out: list[str] = []
        wild = 0
        for segment in pattern.split("/"):
            if segment not in ("*", "**"):
                out.append(segment)
                continue
            name = field_path if wild == 0 else f"{field_path}_{wild}"
            out.append("{" + name + "}")
            params.append((name, field_path))
            wild += 1
        return "/".join(out)

    return _PATH_VAR.sub(expand, template), params


def _safe_names(url: str, params: list[tuple[str, str]]) -> tuple[str, list[tuple[str, str]]]:
    """``{a.b}`` -> ``{a_b}`` (suffixed with ``_p`` while the new name is taken by another parameter)."""
    taken = {name for name, _ in params}
    out: list[tuple[str, str]] = []
    for name, field_path in params:
        if "." in name:
            new = name.replace(".", "_")
            while new in taken:
                new += "_p"
            taken.add(new)
            url = url.replace("{" + name + "}", "{" + new + "}")
            name = new
        out.append((name, field_path))
    return url, out


def generate_v3(
    files: Sequence[descriptor_pb2.FileDescriptorProto],
    targets: Sequence[str] | None = None,
    options: OptionsV3 | None = None,
) -> dict[str, Schema]:
    """OpenAPI 3.1 documents for ``targets`` (default: every file with a service), keyed by output name
    (``a/b.openapi.json``); files without HTTP bindings give no document. With ``allow_merge`` one
    document named after ``merge_file_name``."""
    opts = options or OptionsV3()
    reg = Registry(files)
    if targets is None:
        targets = [f.name for f in files if f.service]
    if not targets:
        raise GenerationError("no files to generate: the descriptor set has no services")
    out: dict[str, Schema] = {}
    for name in targets:
        services = reg.load_services(name, generate_unbound=False, allow_delete_body=True)
        fdp = reg.files[name]
        try:
            doc = _DocumentV3(reg, opts, fdp).build(services)
        except GenerationError as exc:
            raise GenerationError(f"{name}: {exc}") from None
        if doc is not None:
            out[_strip_ext(name) + ".openapi.json"] = doc
    if opts.allow_merge:
        if not out:
            raise GenerationError("no document to merge: no target file has an HTTP binding")
        return {_strip_ext(opts.merge_file_name) + ".openapi.json": merge_documents(list(out.items()))}
    return out


def _strip_ext(name: str) -> str:
    base, dot, ext = name.rpartition(".")
    return base if dot and "/" not in ext else name


_MERGED_COMPONENTS = (
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
    "pathItems",
)
_ROOT_KEYS = ("openapi", "info", "servers", "paths", "webhooks", "components", "security", "tags", "externalDocs")


def merge_documents(docs: Sequence[tuple[str, Schema]]) -> Schema:
    """Several 3.1 documents as one, by openapiv3-merge's rules: the first document's ``info``,
    ``servers`` and ``externalDocs``; paths, webhooks, components and tags unioned (an entry defined
    twice must be equal, else :class:`GenerationError`); ``security`` must agree; other top-level
    keys from the first document that has them."""
    if not docs:
        raise GenerationError("at least one document is required")
    first_name, first = docs[0]
    out: Schema = {"openapi": first.get("openapi", ""), "info": first.get("info")}
    for key in ("servers", "externalDocs"):
        if key in first:
            out[key] = first[key]
    paths: Schema = {}
    webhooks: Schema = {}
    components: dict[str, Schema] = {}
    tags: list[Schema] = []
    seen_tags: dict[str, Schema] = {}
    security: list[Any] | None = None
    extras: Schema = {}
    for name, doc in docs:
        if doc.get("openapi") != out["openapi"]:
            raise GenerationError(
                f"openapi: {first_name} declares {out['openapi']!r} but {name} declares {doc.get('openapi')!r}"
            )
        for field_name, target in (("paths", paths), ("webhooks", webhooks)):
            for key, value in (doc.get(field_name) or {}).items():
                if key in target and target[key] != value:
                    raise GenerationError(f"{field_name}.{key!r}: {name} redefines an entry with a different value")
                target.setdefault(key, value)
        for kind, entries in (doc.get("components") or {}).items():
            bucket = components.setdefault(kind, {})
            for key, value in entries.items():
                if key in bucket and bucket[key] != value:
                    raise GenerationError(
                        f"components.{kind}.{key!r}: {name} redefines an entry with a different value"
                    )
                bucket.setdefault(key, value)
        for tag in doc.get("tags") or []:
            tag_name = tag.get("name")
            if not tag_name:
                raise GenerationError(f'{name}: tags: tag entry missing required "name"')
            if tag_name in seen_tags:
                if seen_tags[tag_name] != tag:
                    raise GenerationError(f"tags[{tag_name!r}]: {name} redefines a tag with different metadata")
                continue
            seen_tags[tag_name] = tag
            tags.append(tag)
        if doc.get("security"):
            if security is None:
                security = doc["security"]
            elif security != doc["security"]:
                raise GenerationError(f"security: {name} declares different requirements")
        for key, value in doc.items():
            if key not in _ROOT_KEYS:
                extras.setdefault(key, value)
    if paths:
        out["paths"] = paths
    if webhooks:
        out["webhooks"] = webhooks
    merged = {k: dict(sorted(components[k].items())) for k in _MERGED_COMPONENTS if components.get(k)}
    if merged:
        out["components"] = merged
    if security:
        out["security"] = security
    if tags:
        out["tags"] = tags
    ordered = {k: out[k] for k in _ROOT_KEYS if k in out}
    ordered.update(extras)
    return ordered
