"""The OpenAPI v2 document for a set of proto files, built the way protoc-gen-openapiv2 builds it.

:func:`generate` takes descriptor protos and returns one document per output file (a single one when
``allow_merge`` is set). Everything below works on plain dicts; :mod:`._encode` puts keys in
protoc-gen-openapiv2's order and writes JSON or YAML.

Where protoc-gen-openapiv2 writes something other tools reject, this generator writes a valid
equivalent instead (each place says why):

* a nested path variable ``{thing.id}`` is written ``{thingId}`` (``{thing_id}`` with proto names),
  because a dot in a path parameter name breaks URL templating in clients and test tools;
* query parameters never lack a ``type``: maps with scalar values are ``name[keytype]``, maps of
  messages are left out, ``Struct``/``Value`` take their JSON text as a string;
* a message that refers to itself is expanded in the query string only ``recursive_depth`` times
  (default 1) instead of failing the whole generation;
* ``required`` never sits next to ``$ref``, never names a field that is not a property (path
  parameters removed from a body), never repeats, and a nested query parameter is required only
  when every field above it is required too.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2, json_format
from google.protobuf.message import Message as ProtoMessage

from protogw.gateway.openapi._naming import resolve_names
from protogw.gateway.openapi._options import Options
from protogw.gateway.openapi._registry import (
    Binding,
    Enum,
    Field,
    GenerationError,
    Message,
    Method,
    Param,
    Registry,
    Service,
    read_extension,
    remove_internal_comments,
)
from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as openapi_annotations
from protogw.gen.protoc_gen_openapiv2.options import openapiv2_pb2

__all__ = ["GenerationError", "generate"]

Schema = dict[str, Any]
FDP = descriptor_pb2.FieldDescriptorProto

_PARAGRAPH = "\n\n"
_REQUIRED = field_behavior_pb2.REQUIRED
_OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
_OPTIONAL = field_behavior_pb2.OPTIONAL

# Schemas of the well-known types, matching how protojson writes them.
WKT_SCHEMAS: dict[str, Schema] = {
    ".google.protobuf.FieldMask": {"type": "string"},
    ".google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    ".google.protobuf.Duration": {"type": "string"},
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
    ".google.protobuf.ListValue": {"type": "array", "items": {"type": "object"}},
    ".google.protobuf.NullValue": {"type": "string"},
}

# 64-bit integers are JSON strings in protojson; unsigned 32-bit ones need int64 to hold them.
_PRIMITIVES: dict[int, tuple[str, str]] = {
    FDP.TYPE_DOUBLE: ("number", "double"),
    FDP.TYPE_FLOAT: ("number", "float"),
    FDP.TYPE_INT64: ("string", "int64"),
    FDP.TYPE_UINT64: ("string", "uint64"),
    FDP.TYPE_INT32: ("integer", "int32"),
    FDP.TYPE_FIXED64: ("string", "uint64"),
    FDP.TYPE_FIXED32: ("integer", "int64"),
    FDP.TYPE_BOOL: ("boolean", ""),
    FDP.TYPE_STRING: ("string", ""),
    FDP.TYPE_BYTES: ("string", "byte"),
    FDP.TYPE_UINT32: ("integer", "int64"),
    FDP.TYPE_SFIXED32: ("integer", "int32"),
    FDP.TYPE_SFIXED64: ("string", "int64"),
    FDP.TYPE_SINT32: ("integer", "int32"),
    FDP.TYPE_SINT64: ("string", "int64"),
}

_JSON_SCHEMA_TYPES: dict[int, tuple[str, str]] = {
    openapiv2_pb2.JSONSchema.OBJECT: ("object", ""),
    openapiv2_pb2.JSONSchema.ARRAY: ("array", ""),
    openapiv2_pb2.JSONSchema.BOOLEAN: ("boolean", ""),
    openapiv2_pb2.JSONSchema.INTEGER: ("integer", "int32"),
    openapiv2_pb2.JSONSchema.NUMBER: ("number", "double"),
    openapiv2_pb2.JSONSchema.STRING: ("string", ""),
}

_CAN_PATTERN = re.compile(r"\{([a-zA-Z][a-zA-Z0-9_.-]*)([^}]*)\}")
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_HTTP_METHODS = ("GET", "DELETE", "POST", "PUT", "PATCH", "HEAD", "OPTIONS")


def _strip(text: str) -> str:
    return text.strip()


def _value_to_python(value: ProtoMessage) -> Any:
    return json_format.MessageToDict(value)


def _extensions(values: Any, where: str) -> dict[str, Any]:
    """``x-`` extensions from an options map of ``google.protobuf.Value``, sorted by key."""
    out: dict[str, Any] = {}
    for key in sorted(values):
        if not key.startswith("x-"):
            raise GenerationError(f'{where}: extension keys need to start with "x-": {key!r}')
        out[key] = _value_to_python(values[key])
    return out


def _raw_json(text: str, where: str) -> Any:
    """An ``example`` option: raw JSON text, written into the document as JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise GenerationError(f"{where}: example is not valid JSON: {exc}") from None


def _visible(rule: str | None, selectors: Sequence[str]) -> bool:
    if rule is None:
        return True
    return any(r.strip() in selectors for r in rule.strip().split(","))


@dataclass(frozen=True, slots=True)
class _Target:
    """What one output document is made of: its leader file and every service and message it covers."""

    leader: descriptor_pb2.FileDescriptorProto
    services: list[Service]
    messages: list[Message]


def generate(
    files: Sequence[descriptor_pb2.FileDescriptorProto],
    targets: Sequence[str] | None = None,
    options: Options | None = None,
) -> dict[str, Schema]:
    """Build the OpenAPI documents for ``targets`` (default: every file that has a service).

    ``files`` must hold the targets and everything they import (a protoc request or a descriptor
    set built with ``--include_imports``). Returns output file name -> document, for example
    ``{"kitchen/v1/kitchen.swagger.json": {...}}``; with ``allow_merge`` a single entry named after
    ``merge_file_name``.
    """
    opts = options or Options()
    reg = Registry(files)
    if targets is None:
        targets = [f.name for f in files if f.service]
    if not targets:
        raise GenerationError("no files to generate: the descriptor set has no services")
    loaded = []
    for name in targets:
        services = reg.load_services(
            name, generate_unbound=opts.generate_unbound_methods, allow_delete_body=opts.allow_delete_body
        )
        loaded.append((reg.files[name], services))
    ext = "yaml" if opts.output_format == "yaml" else "json"
    out: dict[str, Schema] = {}
    if opts.allow_merge:
        leader_idx = next(
            (
                i
                for i, (f, _) in enumerate(loaded)
                if read_extension(f.options if f.HasField("options") else None, openapi_annotations.openapiv2_swagger)
                is not None
            ),
            0,
        )
        order = [loaded[leader_idx], *(x for i, x in enumerate(loaded) if i != leader_idx)]
        target = _Target(
            leader=order[0][0],
            services=[s for _, svcs in order for s in svcs],
            messages=[m for f, _ in order for m in reg.file_messages[f.name]],
        )
        doc = _DocumentBuilder(reg, opts, target).build()
        out[f"{_strip_ext(opts.merge_file_name)}.swagger.{ext}"] = doc
        return out
    for fdp, services in loaded:
        target = _Target(leader=fdp, services=services, messages=reg.file_messages[fdp.name])
        out[f"{_strip_ext(fdp.name)}.swagger.{ext}"] = _DocumentBuilder(reg, opts, target).build()
    return out


def _strip_ext(name: str) -> str:
    base, dot, ext = name.rpartition(".")
    return base if dot and "/" not in ext else name


class _DocumentBuilder:
    """Builds one document. Holds the definition names, which depend on the whole generation set."""

    def __init__(self, reg: Registry, opts: Options, target: _Target) -> None:
        self.reg = reg
        self.opts = opts
        self.target = target
        self.names = self._resolve_names()
        # Fully-qualified names of types some schema refers to with $ref; each needs a definition.
        self.custom_refs: set[str] = set()
        self.definitions: dict[str, Schema] = {}

    # -- names ---------------------------------------------------------------------------------

    def _resolve_names(self) -> dict[str, str]:
        referenced: set[str] = set()

        def walk(msg: Message) -> None:
            for f in msg.fields:
                if not self._field_visible(f) or not f.type_name or f.type_name in referenced:
                    continue
                referenced.add(f.type_name)
                if f.type_name in self.reg.messages:
                    walk(self.reg.messages[f.type_name])

        for svc in self.target.services:
            if not self._visible(svc.visibility):
                continue
            for meth in svc.methods:
                if not self._visible(meth.visibility) or not meth.bindings:
                    continue
                referenced.update((meth.fqn, meth.request.fqn, meth.response.fqn))
                walk(meth.request)
                walk(meth.response)
        for msg in self.target.messages:
            referenced.add(msg.fqn)
            walk(msg)
        if not self.opts.disable_default_errors:
            referenced.add(".google.rpc.Status")
            walk(self.reg.message(".google.rpc.Status"))
        # Names compete for uniqueness only with names of the same document: this package's,
        # everything it refers to, and google.* / grpc.* (which protoc-gen-openapiv2 always keeps).
        package = self.target.leader.package
        kept: set[str] = set()
        for pkg, names in self.reg.names_by_package().items():
            full = f".{pkg}." if pkg else "."
            if (
                full.startswith(f".{package}.")
                or pkg == "google"
                or pkg.startswith(("google.", "grpc."))
                or pkg == "grpc"
            ):
                kept.update(names)
        kept.update(referenced)
        return resolve_names(sorted(kept), self.opts.openapi_naming_strategy)

    def name_of(self, fqn: str) -> str:
        try:
            return self.names[fqn]
        except KeyError:
            raise GenerationError(f"cannot name {fqn[1:]!r}: it is not in the generation set") from None

    def ref(self, fqn: str) -> str:
        return "#/definitions/" + self.name_of(fqn)

    def field_name(self, f: Field) -> str:
        return f.json_name if self.opts.json_names_for_fields else f.name

    # -- visibility ----------------------------------------------------------------------------

    def _visible(self, rule: str | None) -> bool:
        return _visible(rule, self.opts.visibility_restriction_selectors)

    def _field_visible(self, f: Field) -> bool:
        return _visible(f.visibility, self.opts.visibility_restriction_selectors)

    # -- comments ------------------------------------------------------------------------------

    def comment(self, fdp: descriptor_pb2.FileDescriptorProto, path: Sequence[int]) -> str:
        return self.reg.comment(fdp, path)

    def field_comment(self, f: Field) -> str:
        return self.comment(f.message.file, f.path)

    def apply_comment(
        self, obj: Schema, comment: str, *, summary_key: str | None, force: bool = False, schema: bool = False
    ) -> None:
        """Fill an object's summary (or title) and description from a proto comment.

        The first paragraph is the summary and the rest the description. Objects with a title
        instead of a summary take the first paragraph as title only when it does not end with a
        period; otherwise the whole comment is the description. Values already set are kept unless
        ``force`` (the file's package comment always wins).
        """
        if not comment or self.opts.ignore_comments:
            return
        if self.opts.remove_internal_comments:
            comment = remove_internal_comments(comment)
        if schema and "Output only." in comment:
            obj["readOnly"] = True
        paragraphs = comment.split(_PARAGRAPH)
        if summary_key is not None:
            summary = paragraphs[0].strip()
            description = _PARAGRAPH.join(paragraphs[1:]).strip()
            if summary_key == "summary" or (summary and not summary.endswith(".")):
                if not obj.get(summary_key) or force:
                    obj[summary_key] = summary
                if description and (not obj.get("description") or force):
                    obj["description"] = description
                return
        if not obj.get("description") or force:
            obj["description"] = comment

    # -- schemas -------------------------------------------------------------------------------

    def schema_of_field_base(self, f: Field, track_refs: bool) -> Schema:
        value = f
        aggregate = "single"
        if f.is_message and f.type_name in self.reg.messages and self.reg.messages[f.type_name].is_map_entry:
            value = self.reg.messages[f.type_name].fields[1]
            aggregate = "object"
        elif f.repeated:
            aggregate = "array"
        props: Schema | None = None
        core: Schema
        if value.is_message or value.is_enum:
            if value.type_name in WKT_SCHEMAS:
                core = copy.deepcopy(WKT_SCHEMAS[value.type_name])
                if value.type_name == ".google.protobuf.Empty":
                    props = {}
            else:
                core = {"$ref": self.ref(value.type_name)}
                if track_refs:
                    self.custom_refs.add(value.type_name)
        else:
            ftype, fmt = _PRIMITIVES[value.proto.type]
            core = {"type": ftype, "format": fmt} if fmt else {"type": ftype}
        if aggregate == "array":
            if (
                not self.opts.omit_array_item_type_when_ref_sibling
                and value.type_name not in WKT_SCHEMAS
                and value.is_message
            ):
                core = {"type": "object", **core}
            return {"type": "array", "items": core}
        if props is not None:
            core["properties"] = props
        if aggregate == "object":
            return {"type": "object", "additionalProperties": core}
        return core

    def schema_of_field(self, f: Field, track_refs: bool) -> Schema:
        schema = self.schema_of_field_base(f, track_refs)
        if f.openapi is not None:
            self.apply_json_schema(schema, f.openapi, f"field {f.message.fqn[1:]}.{f.name}")
        self.apply_field_behavior(schema, f)
        if "required" in schema:
            names = [self.field_name(f) if r == f.name else r for r in schema["required"]]
            schema["required"] = sorted(set(names))
        if self.opts.proto3_optional_nullable and f.proto.proto3_optional:
            schema["x-nullable"] = True
        if self.opts.nullable_unset_messages and self._written_as_null(f):
            schema["x-nullable"] = True
        return schema

    def _written_as_null(self, f: Field) -> bool:
        """Whether the gateway writes this field as null when it is unset: a singular message field
        outside any oneof (oneof members and proto3 optional fields are left out instead)."""
        if not f.is_message or f.repeated or f.proto.HasField("oneof_index"):
            return False
        if f.type_name == ".google.protobuf.Value":
            return False  # its schema ({}) already admits null
        return not self.reg.message(f.type_name).is_map_entry

    def apply_field_behavior(self, schema: Schema, f: Field) -> None:
        required = False
        if self.opts.use_proto3_field_semantics:
            required = not f.proto.proto3_optional and not f.proto.HasField("oneof_index")
        for behavior in f.behaviors:
            if behavior == _REQUIRED:
                required = True
            elif behavior == _OUTPUT_ONLY:
                schema["readOnly"] = True
            elif behavior == _OPTIONAL:
                required = False
        if required:
            schema.setdefault("required", []).append(self.field_name(f))

    def apply_json_schema(self, s: Schema, j: openapiv2_pb2.JSONSchema, where: str) -> None:
        """Overlay an ``openapiv2_field``-style JSONSchema option on a schema."""
        for key, value in (("title", j.title), ("description", j.description)):
            if value:
                s[key] = value
            else:
                s.pop(key, None)
        limits: Schema = {
            "maxLength": j.max_length,
            "minLength": j.min_length,
            "pattern": j.pattern,
            "default": j.default or None,
            "maxProperties": j.max_properties,
            "minProperties": j.min_properties,
            "required": list(j.required) or None,
            "minimum": j.minimum,
            "maximum": j.maximum,
            "readOnly": j.read_only,
            "multipleOf": j.multiple_of,
            "exclusiveMaximum": j.exclusive_maximum,
            "exclusiveMinimum": j.exclusive_minimum,
            "enum": list(j.enum) or None,
        }
        target = s["items"] if s.get("type") == "array" and isinstance(s.get("items"), dict) else s
        for key, value in limits.items():
            if value:
                target[key] = value
            elif key != "readOnly" or target is not s:
                target.pop(key, None)
        if j.format:
            target["format"] = j.format
        s["uniqueItems"] = j.unique_items
        s["maxItems"] = j.max_items
        s["minItems"] = j.min_items
        if j.extensions:
            s.update(_extensions(j.extensions, where))
        if j.type:
            s["type"] = openapiv2_pb2.JSONSchema.JSONSchemaSimpleTypes.Name(j.type[0]).lower()
        if j.example:
            s["example"] = _raw_json(j.example, where)

    def schema_from_option(self, option: openapiv2_pb2.Schema, where: str) -> Schema:
        """A schema written wholly in an ``openapiv2_schema`` or response option."""
        j = option.json_schema
        out: Schema = {}
        if option.HasField("external_docs"):
            out["externalDocs"] = self.external_docs(option.external_docs)
        out.update(self.json_schema_core(j))
        self.apply_json_schema(out, j, where)
        if option.example:
            out["example"] = _raw_json(option.example, where)
        return out

    def json_schema_core(self, j: openapiv2_pb2.JSONSchema | openapiv2_pb2.EnumSchema) -> Schema:
        if j.ref:
            fqn = j.ref if j.ref.startswith(".") else "." + j.ref
            if fqn in self.names:
                self.custom_refs.add(fqn)
                return {"$ref": self.ref(fqn)}
            return {"$ref": j.ref}
        types = list(j.type) if isinstance(j, openapiv2_pb2.JSONSchema) else []
        if not types or types[0] not in _JSON_SCHEMA_TYPES:
            return {}
        # protoc-gen-openapiv2 swaps type and format here, so a STRING schema carries
        # "format": "string"; the type itself is set again by apply_json_schema.
        type_, fmt = _JSON_SCHEMA_TYPES[types[0]]
        out: Schema = {}
        if fmt:
            out["type"] = fmt
        out["format"] = type_
        return out

    def external_docs(self, docs: openapiv2_pb2.ExternalDocumentation) -> Schema:
        return {"description": docs.description, "url": docs.url}

    def render_message(self, msg: Message, path_params: Sequence[tuple[str, ...]]) -> Schema:
        """A message as an object schema, leaving out fields bound to (top-level) path parameters."""
        schema: Schema = {"type": "object"}
        self.apply_comment(schema, self.comment(msg.file, msg.path), summary_key="title", schema=True)
        required: list[str] = []
        if msg.openapi is not None:
            opt = self.schema_from_option(msg.openapi, f"message {msg.fqn[1:]}")
            if opt.get("type") or opt.get("$ref"):
                for key in ("type", "format", "$ref", "x-nullable", "example", "items", "enum", "default"):
                    schema.pop(key, None)
                for key in ("type", "format", "$ref", "x-nullable", "example", "items", "enum", "default"):
                    if key in opt:
                        schema[key] = opt[key]
            for key, value in opt.items():
                if key in ("title", "description"):
                    if value:
                        schema[key] = value
                elif key == "required":
                    required = list(value)
                elif key not in ("type", "format", "$ref", "items", "enum"):
                    schema[key] = value
        excluded = {p[0] for p in path_params if len(p) == 1}
        required = [r for r in required if r not in excluded]
        properties: Schema = {}
        for f in msg.fields:
            if not self._field_visible(f) or f.name in excluded:
                continue
            if self.opts.json_names_for_fields and f.name in required:
                required[required.index(f.name)] = f.json_name
            sub = [p[1:] for p in path_params if len(p) > 1 and p[0] == f.name]
            if sub:
                field_schema, field_required = self.render_field_inline(f, sub)
                nested_required: list[str] = []
            else:
                field_schema = self.schema_of_field(f, track_refs=True)
                nested_required = field_schema.pop("required", [])
                field_required = False
            self.apply_comment(field_schema, self.field_comment(f), summary_key="title", schema=True)
            # A required field goes in the parent's list, never next to the field's own $ref.
            hoisted = [*nested_required, *([self.field_name(f)] if field_required else [])]
            required = [r for r in required if r not in hoisted] + [h for h in dict.fromkeys(hoisted)]
            if self.opts.use_allof_for_refs and "$ref" in field_schema:
                field_schema = _allof(field_schema)
            if sub and _is_empty_object(field_schema):
                # Every sub-field went to the path: nothing left to send in the body.
                required = [r for r in required if r != self.field_name(f)]
                continue
            properties[self.field_name(f)] = field_schema
        if msg.fqn == ".google.protobuf.Any":
            type_key = "typeUrl" if self.opts.json_names_for_fields else "type_url"
            if type_key in properties:
                properties = {"@type": properties[type_key]}
                schema["additionalProperties"] = {}
                # Only "@type" is left as a property; "value" is spread into the object itself.
                required = ["@type"] if type_key in required else []
        if properties:
            schema["properties"] = properties
        if required:
            schema["required"] = list(dict.fromkeys(required))
        return schema

    def render_field_inline(self, f: Field, sub: Sequence[tuple[str, ...]]) -> tuple[Schema, bool]:
        """A message field rendered in place (not by $ref) because some of its fields are path parameters.

        Returns the schema and whether the field itself is required.
        """
        schema = self.render_message(self.reg.message(f.type_name), sub)
        comment = self.field_comment(f)
        if comment:
            paragraphs = comment.split(_PARAGRAPH)
            first = paragraphs[0].strip()
            if "\n" not in first:
                schema["title"] = first
                schema["description"] = _PARAGRAPH.join(paragraphs[1:]).strip()
            else:
                schema["description"] = comment.strip()
        probe: Schema = {}
        self.apply_field_behavior(probe, f)
        if probe.get("readOnly"):
            schema["readOnly"] = True
        return schema, bool(probe.get("required"))

    def render_enum(self, enum: Enum) -> Schema:
        comment = self.comment(enum.file, enum.path)
        value_comments = self.enum_value_comments(enum)
        if value_comments:
            comment = (comment + "\n\n " + value_comments).lstrip("\n")
        schema: Schema
        if self.opts.enums_as_ints:
            schema = {
                "type": "integer",
                "format": "int32",
                "enum": self.enum_numbers(enum),
                "default": self.enum_default(enum, True),
            }
        else:
            schema = {"type": "string", "enum": self.enum_names(enum), "default": self.enum_default(enum, False)}
        if enum.openapi is not None:
            o = enum.openapi
            where = f"enum {enum.fqn[1:]}"
            if o.HasField("external_docs"):
                schema["externalDocs"] = self.external_docs(o.external_docs)
            if o.read_only:
                schema["readOnly"] = True
            if o.extensions:
                schema.update(_extensions(o.extensions, where))
            core = self.json_schema_core(o)
            if core:
                for key in ("type", "format", "$ref", "enum", "default", "items"):
                    schema.pop(key, None)
                schema.update(core)
                if o.default:
                    schema["default"] = o.default
            if o.title:
                schema["title"] = o.title
            if o.description:
                schema["description"] = o.description
            if o.example:
                schema["example"] = _raw_json(o.example, where)
        self.apply_comment(schema, comment, summary_key="title", schema=True)
        # An enum's comment is its description; a lone first line must not become a title.
        if comment and not schema.get("description") and schema.get("title"):
            schema["description"] = schema.pop("title")
        return schema

    def _enum_values(self, enum: Enum) -> list[tuple[int, descriptor_pb2.EnumValueDescriptorProto]]:
        out = []
        for i, value in enumerate(enum.proto.value):
            if self.opts.omit_enum_default_value and value.number == 0:
                continue
            if not self._visible(enum.value_visibility[i] if i < len(enum.value_visibility) else None):
                continue
            out.append((i, value))
        return out

    def enum_names(self, enum: Enum) -> list[str] | None:
        return [v.name for _, v in self._enum_values(enum)] or None

    def enum_numbers(self, enum: Enum) -> list[int] | None:
        return [v.number for _, v in self._enum_values(enum)] or None

    def enum_default(self, enum: Enum, as_int: bool) -> Any:
        if self.opts.omit_enum_default_value:
            return None
        for i, value in enumerate(enum.proto.value):
            if value.number == 0:
                if not as_int and not self._visible(
                    enum.value_visibility[i] if i < len(enum.value_visibility) else None
                ):
                    return None
                return 0 if as_int else value.name
        return None

    def enum_value_comments(self, enum: Enum) -> str:
        lines = []
        for i, value in self._enum_values(enum):
            text = self.comment(enum.file, (*enum.path, 2, i))
            if text:
                name = str(value.number) if self.opts.enums_as_ints else value.name
                lines.append(f"{name}: {text}")
        return ("- " + "\n - ".join(lines)) if lines else ""

    # -- parameters ----------------------------------------------------------------------------

    def query_params(self, meth: Method, binding: Binding) -> list[Schema]:
        body = binding.body
        if body == ():
            return []  # body "*": every field comes from the body, none from the query string.
        path_targets = {id(p.target) for p in binding.path_params}
        body_fields = {id(f) for f in body} if body else set()
        params: list[Schema] = []
        for f in meth.request.fields:
            if body and f.oneof_index is not None and body[0].oneof_index == f.oneof_index:
                continue
            if any(
                f.oneof_index is not None and p.field_path[0] is not f and p.field_path[0].oneof_index == f.oneof_index
                for p in binding.path_params
            ):
                continue
            if not self._field_visible(f):
                continue
            if (
                self.opts.allow_patch_feature
                and f.type_name == ".google.protobuf.FieldMask"
                and f.name == "update_mask"
                and binding.http_method == "PATCH"
                and body
            ):
                continue
            params.extend(self._query_params_of(meth.request, f, "", path_targets, body_fields, {}, True))
        return params

    def _query_params_of(
        self,
        msg: Message,
        f: Field,
        prefix: str,
        path_targets: set[int],
        body_fields: set[int],
        seen: dict[str, int],
        parents_required: bool,
    ) -> list[Schema]:
        if id(f) in path_targets or id(f) in body_fields:
            return []
        schema = self.schema_of_field(f, track_refs=False)
        self.apply_comment(schema, self.field_comment(f), summary_key="title", schema=True)
        required = self.field_name(f) in schema.get("required", [])
        if msg.openapi is not None and (
            f.json_name in msg.openapi.json_schema.required or f.name in msg.openapi.json_schema.required
        ):
            required = True
        required = required and parents_required
        name = prefix + self.field_name(f)
        items = schema.get("items")
        wkt = f.type_name in WKT_SCHEMAS
        if f.is_message and not wkt:
            entry = self.reg.message(f.type_name)
            if entry.is_map_entry:
                return self._map_query_param(f, entry, name, schema)
            if not f.repeated:
                return self._nested_query_params(f, entry, name, path_targets, body_fields, seen, required)
        if f.type_name in (".google.protobuf.Struct", ".google.protobuf.Value") and not f.repeated:
            # The gateway takes these as JSON text, so the document says "string".
            schema = {**{k: v for k, v in schema.items() if k not in ("type", "properties")}, "type": "string"}
        elif not f.is_enum and (
            "type" not in schema
            or schema["type"] == "object"
            or (items is not None and items.get("type", "") in ("", "object"))
        ):
            return []  # Repeated messages, Empty and ListValue cannot be written in a query string.
        param: Schema = {
            "name": name,
            "description": _merge_description(schema),
            "in": "query",
            "required": required,
            "deprecated": (f.proto.options.deprecated and self.opts.enable_field_deprecation)
            or bool(f.openapi is not None and f.openapi.field_configuration.deprecated),
            "type": schema.get("type"),
            "format": schema.get("format"),
            "uniqueItems": schema.get("uniqueItems"),
            "items": items,
            "enum": schema.get("enum"),
            "default": schema.get("default"),
            "pattern": schema.get("pattern"),
            "x-example": schema.get("example"),
            **{k: v for k, v in schema.items() if k.startswith("x-") and k != "x-nullable"},
        }
        if param["type"] == "array":
            param["collectionFormat"] = "multi"
        if f.is_enum:
            self._enum_param(param, self.reg.enum(f.type_name), repeated=items is not None)
        return [param]

    def _enum_param(self, param: Schema, enum: Enum, *, repeated: bool) -> None:
        as_int = self.opts.enums_as_ints
        values = self.enum_numbers(enum) if as_int else self.enum_names(enum)
        kind = "integer" if as_int else "string"
        if repeated:
            param["type"] = "array"
            param["items"] = {"type": kind, "enum": values}
            param["collectionFormat"] = "multi"
        else:
            param["type"] = kind
            param["enum"] = values
            param["default"] = self.enum_default(enum, as_int)
        value_comments = self.enum_value_comments(enum)
        if value_comments:
            param["description"] = ((param.get("description") or "") + "\n\n " + value_comments).lstrip("\n")

    def _map_query_param(self, f: Field, entry: Message, name: str, schema: Schema) -> list[Schema]:
        key, value = entry.fields[0], entry.fields[1]
        key_type = _PRIMITIVES.get(key.proto.type, ("", ""))[0]
        if value.is_message or key.proto.type in (FDP.TYPE_BYTES, FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE):
            return []  # Only name[key]=scalar can be written in a query string.
        param: Schema = {
            "name": f"{name}[{key_type}]",
            "description": _merge_description(schema),
            "in": "query",
            "required": False,
        }
        if value.is_enum:
            enum = self.reg.enum(value.type_name)
            param["type"] = "integer" if self.opts.enums_as_ints else "string"
            param["enum"] = self.enum_numbers(enum) if self.opts.enums_as_ints else self.enum_names(enum)
        else:
            vtype, vfmt = _PRIMITIVES[value.proto.type]
            param["type"] = vtype
            param["format"] = vfmt
        return [param]

    def _nested_query_params(
        self,
        f: Field,
        msg: Message,
        name: str,
        path_targets: set[int],
        body_fields: set[int],
        seen: dict[str, int],
        required: bool,
    ) -> list[Schema]:
        count = seen.get(msg.name, 0) + 1
        if count > self.opts.recursive_depth:
            return []  # A message inside itself: stop here rather than expand forever.
        branch = {**seen, msg.name: count}
        params: list[Schema] = []
        for nested in msg.fields:
            if self._field_visible(nested):
                params.extend(
                    self._query_params_of(msg, nested, name + ".", path_targets, body_fields, branch, required)
                )
        return params

    def path_params(
        self, meth: Method, binding: Binding, patterns: dict[str, str]
    ) -> tuple[list[Schema], dict[str, str]]:
        """Path parameters, and the renames to apply to the path (``{old}`` -> ``{new}``)."""
        params: list[Schema] = []
        renames: dict[str, str] = {}
        for p in binding.path_params:
            target = p.target
            schema = self.schema_of_field(target, track_refs=True)
            enum_values: Any = None
            if target.is_message:
                if target.repeated:
                    raise GenerationError(f"{meth.fqn[1:]}: a repeated message cannot be a path parameter")
                ptype, pfmt = schema.get("type"), schema.get("format")
            elif target.is_enum:
                enum = self.reg.enum(target.type_name)
                ptype, pfmt = ("integer", None) if self.opts.enums_as_ints else ("string", None)
                enum_values = self.enum_numbers(enum) if self.opts.enums_as_ints else self.enum_names(enum)
            else:
                ptype, pfmt = _PRIMITIVES[target.proto.type]
                pfmt = pfmt or schema.get("format")
            items = None
            collection = None
            min_items = None
            if target.repeated:
                items = {"type": ptype, "format": pfmt or None}
                if target.is_enum:
                    items["enum"] = enum_values
                    enum_values = None
                ptype, pfmt = "array", None
                collection = self.opts.repeated_path_param_separator
                min_items = 1
            desc = schema.get("description") or self.field_comment(target)
            name = self.path_param_name(meth, p)
            pattern = patterns.get(name, schema.get("pattern"))
            fc = target.openapi.field_configuration if target.openapi is not None else None
            if fc is not None and fc.path_param_name and fc.path_param_name != name:
                renames[name] = fc.path_param_name
                name = fc.path_param_name.partition("=")[0]
            elif not _SAFE_NAME.fullmatch(name):
                safe = self.safe_param_name(p, {q.proto_path for q in binding.path_params})
                renames[name] = safe
                name = safe
            params.append(
                {
                    "name": name,
                    "description": desc,
                    "in": "path",
                    "required": True,
                    "deprecated": (target.proto.options.deprecated and self.opts.enable_field_deprecation)
                    or bool(fc is not None and fc.deprecated),
                    "default": schema.get("default"),
                    "x-example": schema.get("example"),
                    "type": ptype,
                    "format": pfmt,
                    "enum": enum_values,
                    "items": items,
                    "collectionFormat": collection,
                    "minItems": min_items,
                    "pattern": pattern,
                    **{k: v for k, v in schema.items() if k.startswith("x-") and k != "x-nullable"},
                }
            )
        return params, renames

    def path_param_name(self, meth: Method, p: Param) -> str:
        if not self.opts.json_names_for_fields:
            return p.proto_path
        return ".".join(f.json_name for f in p.field_path)

    def safe_param_name(self, p: Param, others: set[str]) -> str:
        """A dotted parameter as one identifier: ``thing.id`` -> ``thingId`` (``thing_id`` with proto names)."""
        if self.opts.json_names_for_fields:
            parts = [f.json_name for f in p.field_path]
            name = parts[0] + "".join(s[:1].upper() + s[1:] for s in parts[1:])
        else:
            name = "_".join(f.name for f in p.field_path)
        taken = {o.split(".")[0] for o in others}
        base, n = name, 0
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name

    def body_param(self, meth: Method, binding: Binding) -> Schema | None:
        if binding.body is None:
            return None
        desc = ""
        top_path = [tuple(f.name for f in p.field_path) for p in binding.path_params]
        if binding.body == ():
            name = "body"
            req = meth.request
            if req.fqn in WKT_SCHEMAS:
                schema = copy.deepcopy(WKT_SCHEMAS[req.fqn])
                if req.fqn == ".google.protobuf.Empty":
                    schema["properties"] = {}
            elif not binding.path_params:
                schema = {"$ref": self.ref(req.fqn)}
                desc = self.render_message(req, []).get("description", "")
            else:
                # Path fields leave the body, so the body gets its own definition without them.
                def_name = self.name_of(meth.fqn) + "Body"
                self.definitions[def_name] = self.render_message(req, top_path)
                schema = {"$ref": "#/definitions/" + def_name}
        else:
            chain = binding.body
            body_field = chain[-1]
            if self.opts.json_names_for_fields:
                name = ".".join(f.json_name for f in chain)
            else:
                name = ".".join(f.name for f in chain)
            sub = top_path
            for f in chain:
                sub = [p[1:] for p in sub if len(p) > 1 and p[0] == f.name]
            if not sub:
                schema = self.schema_of_field_base(body_field, track_refs=True)
            else:
                schema, _ = self.render_field_inline(body_field, sub)
            desc = _merge_description(schema) if schema.get("title") else self.field_comment(body_field)
        if meth.proto.client_streaming:
            desc += " (streaming inputs)"
        return {"name": name, "description": desc, "in": "body", "required": True, "schema": schema}

    # -- operations ----------------------------------------------------------------------------

    def build_paths(self) -> list[tuple[str, dict[str, Schema]]]:
        paths: list[tuple[str, dict[str, Schema]]] = []
        index: dict[str, dict[str, Schema]] = {}
        for svc in self.target.services:
            if not self._visible(svc.visibility):
                continue
            for meth in svc.methods:
                if not self._visible(meth.visibility):
                    continue
                for binding in meth.bindings:
                    path, op = self.operation(svc, meth, binding)
                    method = binding.http_method.lower()
                    item = index.get(path)
                    if item is not None and method in item and op["parameters"]:
                        path, op = self._unique_path(index, path, method, op)
                        item = index.get(path)
                    if item is None:
                        item = {}
                        index[path] = item
                        paths.append((path, item))
                    if binding.http_method in _HTTP_METHODS:
                        item[method] = op
        if not self.opts.preserve_rpc_order:
            paths.sort(key=lambda kv: kv[0])
        return paths

    def _unique_path(
        self, index: dict[str, dict[str, Schema]], path: str, method: str, op: Schema
    ) -> tuple[str, Schema]:
        """Two bindings on the same method and path: suffix the first path parameter to tell them apart."""
        first = next((p for p in op["parameters"] if p.get("in") == "path"), None)
        if first is None:
            return path, op
        n = 0
        while True:
            n += 1
            new_name = f"{first['name']}_{n}"
            new_path = path.replace("{" + first["name"] + "}", "{" + new_name + "}")
            if method not in index.get(new_path, {}):
                break
        first["name"] = new_name
        return new_path, op

    def operation(self, svc: Service, meth: Method, binding: Binding) -> tuple[str, Schema]:
        parts = self.template_parts(binding.template, meth)
        patterns = _parts_to_patterns(parts)
        params, renames = self.path_params(meth, binding, patterns)
        body = self.body_param(meth, binding)
        if body is not None:
            params.append(body)
        params.extend(self.query_params(meth, binding))
        path = _parts_to_path(parts, renames)

        desc = "A successful response."
        response_schema: Schema
        if binding.response_body is None:
            if meth.response.fqn in WKT_SCHEMAS:
                response_schema = copy.deepcopy(WKT_SCHEMAS[meth.response.fqn])
                if meth.response.fqn == ".google.protobuf.Empty":
                    response_schema["properties"] = {}
            else:
                response_schema = {"$ref": self.ref(meth.response.fqn)}
        else:
            last = binding.response_body[-1]
            response_schema = self.schema_of_field(last, track_refs=True)
            response_schema.pop("required", None)
            desc = response_schema.get("description") or self.field_comment(last)
        if meth.proto.server_streaming:
            desc += "(streaming responses)"
            stream: Schema = {
                "type": "object",
                "title": "Stream result of " + self.name_of(meth.response.fqn),
            }
            props: Schema | None = {"result": {"$ref": response_schema.get("$ref")}}
            if not self.opts.disable_default_errors:
                assert props is not None
                props["error"] = {"$ref": self.ref(".google.rpc.Status")}
            if meth.response.fqn == ".google.api.HttpBody":
                stream = {"type": "string", "format": "binary", "title": "Free form byte stream"}
                props = {}
            stream["properties"] = props
            response_schema = stream

        op: Schema = {"parameters": params, "responses": {}}
        if self.opts.enable_rpc_deprecation and meth.proto.options.deprecated:
            op["deprecated"] = True
        if not self.opts.disable_default_responses:
            op["responses"]["200"] = {"description": desc, "schema": response_schema}
        tag = svc.name
        if self.opts.include_package_in_tags and svc.file.package:
            tag = f"{svc.file.package}.{tag}"
        if not self.opts.disable_service_tags:
            op["tags"] = [tag]
        if not self.opts.disable_default_errors:
            op["responses"]["default"] = {
                "description": "An unexpected error response.",
                "schema": {"$ref": self.ref(".google.rpc.Status")},
            }
        op_id = meth.name if self.opts.simple_operation_ids else f"{svc.name}_{meth.name}"
        if binding.index:
            op_id += str(binding.index + 1)
        op["operationId"] = op_id
        self.apply_comment(op, self.comment(svc.file, (6, svc.index, 2, meth.index)), summary_key="summary")
        if svc.openapi is not None and svc.openapi.name:
            op["tags"] = [svc.openapi.name]
        if meth.openapi is not None:
            self.apply_operation_option(op, meth.openapi, meth)
        return path, op

    def apply_operation_option(self, op: Schema, o: openapiv2_pb2.Operation, meth: Method) -> None:
        where = f"method {meth.fqn[1:]}"
        if o.HasField("external_docs"):
            op["externalDocs"] = self.external_docs(o.external_docs)
        if o.deprecated:
            op["deprecated"] = True
        if o.summary:
            op["summary"] = o.summary
        if o.description:
            op["description"] = o.description
        if o.tags:
            op["tags"] = list(o.tags)
        if o.operation_id:
            op["operationId"] = o.operation_id
        if o.security:
            security = op.get("security") or []
            for req in o.security:
                entry = {k: list(v.scope) for k, v in sorted(req.security_requirement.items())}
                if entry:
                    security.append(entry)
            op["security"] = security
        for code in sorted(o.responses):
            resp = o.responses[code]
            obj = op["responses"].get(code, {"description": "", "schema": {}})
            if resp.description:
                obj["description"] = resp.description
            if resp.HasField("schema"):
                obj["schema"] = self.schema_from_option(resp.schema, where)
            if resp.examples:
                obj["examples"] = {
                    k: (_raw_json(v, where) if k == "application/json" else v) for k, v in sorted(resp.examples.items())
                }
            if resp.headers:
                obj["headers"] = {
                    name: {
                        "description": h.description,
                        "type": h.type,
                        "format": h.format,
                        "default": _raw_json(h.default, where) if h.default else None,
                        "pattern": h.pattern,
                    }
                    for name, h in sorted(resp.headers.items())
                }
            if resp.extensions:
                obj.update(_extensions(resp.extensions, where))
            op["responses"][code] = obj
        if o.extensions:
            op.update(_extensions(o.extensions, where))
        if o.consumes:
            op["consumes"] = list(o.consumes)
        if o.produces:
            op["produces"] = list(o.produces)
        types = {
            openapiv2_pb2.HeaderParameter.STRING: "string",
            openapiv2_pb2.HeaderParameter.NUMBER: "number",
            openapiv2_pb2.HeaderParameter.INTEGER: "integer",
            openapiv2_pb2.HeaderParameter.BOOLEAN: "boolean",
        }
        for header in o.parameters.headers:
            if header.type not in types:
                raise GenerationError(f"{where}: header parameter {header.name!r} has no valid type")
            op["parameters"].append(
                {
                    "name": header.name,
                    "description": header.description,
                    "in": "header",
                    "required": header.required,
                    "type": types[header.type],
                    "format": header.format,
                }
            )

    def template_parts(self, template: str, meth: Method) -> list[str]:
        """Split a template on top-level slashes, keeping ``{var=a/*}`` whole and the verb separate.

        ``/v1/{name=projects/*/things/*}:archive`` -> ``["", "v1", "{name=projects/*/things/*}", ":archive"]``
        """
        parts: list[str] = []
        depth = 0
        buf = ""
        i = 0
        while i < len(template):
            ch = template[i]
            if ch == "{":
                depth += 1
                buf += ch
            elif ch == "}":
                if depth == 0:
                    raise GenerationError(f"{meth.fqn[1:]}: unbalanced '}}' in {template!r}")
                depth -= 1
                if self.opts.json_names_for_fields:
                    var, eq, rest = buf[1:].partition("=")
                    buf = "{" + self.json_path(meth.request, var) + eq + rest + "}"
                else:
                    buf += ch
            elif ch == "/" and depth == 0:
                parts.append(buf)
                buf = ""
            elif ch == ":" and depth == 0 and "/" not in template[i:]:
                parts.append(buf)
                parts.append(template[i:])
                return parts
            else:
                buf += ch
            i += 1
        if depth:
            raise GenerationError(f"{meth.fqn[1:]}: unbalanced '{{' in {template!r}")
        parts.append(buf)
        return parts

    def json_path(self, msg: Message, dotted: str) -> str:
        try:
            chain = self.reg.resolve_path(msg, dotted, msg.fqn[1:])
        except GenerationError:
            return dotted
        return ".".join(f.json_name for f in chain)

    # -- document ------------------------------------------------------------------------------

    def build(self) -> Schema:
        leader = self.target.leader
        doc: Schema = {
            "swagger": "2.0",
            "info": {"title": leader.name, "version": "version not set"},
            "consumes": ["application/json"],
            "produces": ["application/json"],
        }
        paths = self.build_paths()
        self.render_definitions(paths)
        self.apply_comment(doc["info"], self.comment(leader, (2,)), summary_key="title", force=True)
        option = read_extension(
            leader.options if leader.HasField("options") else None, openapi_annotations.openapiv2_swagger
        )
        tags: list[Schema] = []
        if option is not None:
            tags = self.apply_swagger_option(doc, option, paths)
        if not self.opts.disable_service_tags:
            tags = _merge_tags(tags, self.service_tags())
        if tags:
            doc["tags"] = tags
        doc["paths"] = dict(paths)
        self.add_custom_refs()
        doc["definitions"] = {k: self.definitions[k] for k in sorted(self.definitions)}
        return doc

    def service_tags(self) -> list[Schema]:
        tags = []
        for svc in self.target.services:
            if not self._visible(svc.visibility):
                continue
            name = svc.name
            if self.opts.include_package_in_tags and svc.file.package:
                name = f"{svc.file.package}.{name}"
            tag: Schema = {"name": name}
            if svc.openapi is not None:
                if svc.openapi.description:
                    tag["description"] = svc.openapi.description
                if svc.openapi.HasField("external_docs"):
                    tag["externalDocs"] = self.external_docs(svc.openapi.external_docs)
                if svc.openapi.name:
                    tag["name"] = svc.openapi.name
                if svc.openapi.extensions:
                    tag.update(_extensions(svc.openapi.extensions, f"service {svc.fqn[1:]}"))
            if not tag.get("description"):
                self.apply_comment(tag, self.comment(svc.file, (6, svc.index)), summary_key=None)
            tags.append(tag)
        return tags

    def render_definitions(self, paths: Iterable[tuple[str, dict[str, Schema]]]) -> None:
        messages: dict[str, Message] = {}
        enums: dict[str, Enum] = {}
        if not self.opts.disable_default_errors:
            messages[".google.rpc.Status"] = self.reg.message(".google.rpc.Status")
        body_refs = {
            p["schema"]["$ref"]
            for _, item in paths
            for op in item.values()
            for p in op["parameters"]
            if p.get("in") == "body" and "$ref" in p["schema"]
        }

        def nested(msg: Message) -> None:
            for f in msg.fields:
                if not self._field_visible(f) or not f.type_name or f.type_name in messages or f.type_name in enums:
                    continue
                if f.type_name in self.reg.messages:
                    messages[f.type_name] = self.reg.messages[f.type_name]
                    nested(self.reg.messages[f.type_name])
                else:
                    enums[f.type_name] = self.reg.enum(f.type_name)

        for svc in self.target.services:
            if not self._visible(svc.visibility):
                continue
            for meth in svc.methods:
                if not self._visible(meth.visibility) or not meth.bindings:
                    continue
                if self.ref(meth.request.fqn) in body_refs and meth.request.fqn not in WKT_SCHEMAS:
                    messages[meth.request.fqn] = meth.request
                nested(meth.request)
                if meth.response.fqn not in WKT_SCHEMAS:
                    messages[meth.response.fqn] = meth.response
                nested(meth.response)
        self._render(messages, enums)

    def _render(self, messages: dict[str, Message], enums: dict[str, Enum]) -> None:
        for fqn in sorted(messages):
            msg = messages[fqn]
            if fqn in WKT_SCHEMAS or msg.is_map_entry:
                continue
            self.definitions[self.name_of(fqn)] = self.render_message(msg, [])
        for fqn in sorted(enums):
            if fqn in WKT_SCHEMAS:
                continue
            self.definitions[self.name_of(fqn)] = self.render_enum(enums[fqn])

    def add_custom_refs(self) -> None:
        """Render every type some schema refers to but no earlier step produced, until none is left."""
        while True:
            missing = sorted(
                fqn
                for fqn in self.custom_refs
                if fqn in self.names and self.name_of(fqn) not in self.definitions and fqn not in WKT_SCHEMAS
            )
            if not missing:
                return
            messages = {f: self.reg.messages[f] for f in missing if f in self.reg.messages}
            enums = {f: self.reg.enums[f] for f in missing if f in self.reg.enums}
            self.custom_refs.difference_update(missing)
            self._render(messages, enums)

    def apply_swagger_option(
        self, doc: Schema, s: openapiv2_pb2.Swagger, paths: list[tuple[str, dict[str, Schema]]]
    ) -> list[Schema]:
        where = f"file {self.target.leader.name}"
        info = doc["info"]
        if s.swagger:
            doc["swagger"] = s.swagger
        if s.HasField("info"):
            i = s.info
            for key, value in (
                ("title", i.title),
                ("description", i.description),
                ("termsOfService", i.terms_of_service),
                ("version", i.version),
            ):
                if value:
                    info[key] = value
            if i.HasField("contact"):
                contact = info.setdefault("contact", {})
                for key, value in (("name", i.contact.name), ("url", i.contact.url), ("email", i.contact.email)):
                    if value:
                        contact[key] = value
            if i.HasField("license"):
                lic = info.setdefault("license", {})
                for key, value in (("name", i.license.name), ("url", i.license.url)):
                    if value:
                        lic[key] = value
            if i.extensions:
                info.update(_extensions(i.extensions, where))
        if s.host:
            doc["host"] = s.host
        if s.base_path:
            doc["basePath"] = s.base_path
        if s.schemes:
            doc["schemes"] = [openapiv2_pb2.Scheme.Name(x).lower() for x in s.schemes]
        if s.consumes:
            doc["consumes"] = list(s.consumes)
        if s.produces:
            doc["produces"] = list(s.produces)
        if s.HasField("security_definitions") and s.security_definitions.security:
            defs = doc.setdefault("securityDefinitions", {})
            for key in sorted(s.security_definitions.security):
                d = s.security_definitions.security[key]
                scheme = defs.get(key, {})
                type_names = {1: "basic", 2: "apiKey", 3: "oauth2"}
                if d.type in type_names:
                    scheme["type"] = type_names[d.type]
                if d.description:
                    scheme["description"] = d.description
                if d.name:
                    scheme["name"] = d.name
                in_value = getattr(d, "in")
                if in_value in (1, 2):
                    scheme["in"] = "query" if in_value == 1 else "header"
                flows = {1: "implicit", 2: "password", 3: "application", 4: "accessCode"}
                if d.flow in flows:
                    scheme["flow"] = flows[d.flow]
                if d.authorization_url:
                    scheme["authorizationUrl"] = d.authorization_url
                if d.token_url:
                    scheme["tokenUrl"] = d.token_url
                if d.HasField("scopes"):
                    scheme.setdefault("scopes", {}).update(dict(sorted(d.scopes.scope.items())))
                if d.extensions:
                    scheme.update(_extensions(d.extensions, where))
                scheme.setdefault("type", "")
                defs[key] = scheme
        if s.security:
            security = doc.get("security", [])
            for req in s.security:
                security.append({k: list(req.security_requirement[k].scope) for k in sorted(req.security_requirement)})
            doc["security"] = security
        if s.HasField("external_docs"):
            doc["externalDocs"] = self.external_docs(s.external_docs)
        if s.responses:
            for _, item in paths:
                for method, op in item.items():
                    if method in ("head", "options"):
                        continue
                    for code in sorted(s.responses):
                        if code in op["responses"]:
                            continue
                        resp = s.responses[code]
                        entry: Schema = {
                            "description": resp.description,
                            "schema": self.schema_from_option(resp.schema, where) if resp.HasField("schema") else {},
                        }
                        if resp.examples:
                            entry["examples"] = {
                                k: (_raw_json(v, where) if k == "application/json" else v)
                                for k, v in sorted(resp.examples.items())
                            }
                        op["responses"][code] = entry
        if s.extensions:
            doc.update(_extensions(s.extensions, where))
        tags: list[Schema] = []
        for t in s.tags:
            tag: Schema = {"name": t.name, "description": t.description}
            if t.HasField("external_docs"):
                tag["externalDocs"] = self.external_docs(t.external_docs)
            if t.extensions:
                tag.update(_extensions(t.extensions, where))
            tags.append(tag)
        return tags


def _merge_description(schema: Schema) -> str:
    """A parameter has no title, so a field's title and description are joined into its description."""
    desc = str(schema.get("description") or "")
    title = schema.get("title")
    if title:
        desc = (str(title) + _PARAGRAPH + desc).strip()
    return desc


def _is_empty_object(schema: Schema) -> bool:
    return schema.get("type") == "object" and not schema.get("properties") and "additionalProperties" not in schema


def _allof(schema: Schema) -> Schema:
    """Swagger ignores keys next to $ref; wrap the ref in allOf so title/description survive."""
    kept = {k: schema[k] for k in ("title", "description", "example", "readOnly", "x-nullable") if schema.get(k)}
    extensions = {k: v for k, v in schema.items() if k.startswith("x-") and k != "x-nullable"}
    if not kept and not extensions:
        return {"$ref": schema["$ref"]}
    return {**kept, **extensions, "allOf": [{"$ref": schema["$ref"]}]}


def _parts_to_patterns(parts: Sequence[str]) -> dict[str, str]:
    """``{name=projects/*/things/*}`` -> ``{"name": "projects/[^/]+/things/[^/]+"}`` (``**`` -> ``.+``)."""
    out: dict[str, str] = {}
    for part in parts:
        m = _CAN_PATTERN.search(part)
        if m and m.group(2).startswith("="):
            out[m.group(1)] = m.group(2)[1:].replace("**", ".+").replace("*", "[^/]+")
    return out


def _parts_to_path(parts: Sequence[str], renames: dict[str, str]) -> str:
    """Join template parts back into an OpenAPI path with plain ``{param}`` placeholders."""
    out = []
    for part in parts:
        part = _CAN_PATTERN.sub(lambda m: "{" + renames.get(m.group(1), m.group(1)).partition("=")[0] + "}", part)
        out.append(part)
    trailing = bool(out) and out[-1] == ""
    if trailing:
        out = out[:-1]
    suffix = "/" if trailing else ""
    if out and out[-1].startswith(":"):
        return "/".join(out[:-1]) + out[-1] + suffix
    return "/".join(out) + suffix


def _merge_tags(existing: list[Schema], tags: list[Schema]) -> list[Schema]:
    """File-level tags first; a service tag of the same name only fills in what they leave empty."""
    for tag in tags:
        match = next((t for t in existing if t["name"] == tag["name"]), None)
        if match is None:
            existing.append(tag)
            continue
        if not match.get("description") and tag.get("description"):
            match["description"] = tag["description"]
        if "externalDocs" not in match and "externalDocs" in tag:
            match["externalDocs"] = tag["externalDocs"]
        for key, value in tag.items():
            if key.startswith("x-") and key not in match:
                match[key] = value
    return existing
