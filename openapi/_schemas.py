"""Schemas: fields, messages and enums as Swagger schema objects, and the definitions a document needs."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from protogw.gen.protoc_gen_openapiv2.options import openapiv2_pb2
from protogw.openapi._context import INVALID, PARAGRAPH, DocumentContext, Schema, option_extensions, raw_json
from protogw.openapi._registry import Enum, Field, Message

__all__ = ["PRIMITIVES", "WKT_SCHEMAS", "SchemaRenderer", "merge_description"]

FDP = descriptor_pb2.FieldDescriptorProto
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
PRIMITIVES: dict[int, tuple[str, str]] = {
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


class SchemaRenderer(DocumentContext):
    """Turns fields, messages and enums into schemas and collects the definitions they refer to."""

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
            ftype, fmt = PRIMITIVES[value.proto.type]
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
            s.update(option_extensions(j.extensions, where))
        if j.type:
            s["type"] = openapiv2_pb2.JSONSchema.JSONSchemaSimpleTypes.Name(j.type[0]).lower()
        if j.example:
            example = raw_json(j.example, where)
            if example is not INVALID:
                s["example"] = example

    def schema_from_option(self, option: openapiv2_pb2.Schema, where: str) -> Schema:
        """A schema written wholly in an ``openapiv2_schema`` or response option."""
        j = option.json_schema
        out: Schema = {}
        if option.HasField("external_docs"):
            out["externalDocs"] = self.external_docs(option.external_docs)
        out.update(self.json_schema_core(j))
        self.apply_json_schema(out, j, where)
        if option.example:
            example = raw_json(option.example, where)
            if example is not INVALID:
                out["example"] = example
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
            paragraphs = comment.split(PARAGRAPH)
            first = paragraphs[0].strip()
            if "\n" not in first:
                schema["title"] = first
                schema["description"] = PARAGRAPH.join(paragraphs[1:]).strip()
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
                schema.update(option_extensions(o.extensions, where))
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
                example = raw_json(o.example, where)
                if example is not INVALID:
                    schema["example"] = example
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
            # NullValue is written as a definition, as upstream does when Struct/Value are reached.
            if fqn in WKT_SCHEMAS and fqn != ".google.protobuf.NullValue":
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


def merge_description(schema: Schema) -> str:
    """A parameter has no title, so a field's title and description are joined into its description."""
    desc = str(schema.get("description") or "")
    title = schema.get("title")
    if title:
        desc = (str(title) + PARAGRAPH + desc).strip()
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
