"""Parameters: path parameters from the template, the body parameter and flattened query parameters,
following the rules the gateway applies to requests (grpc-gateway's)."""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

from google.protobuf import descriptor_pb2

from protogw.core.template import Template, Variable
from protogw.openapi._context import Schema
from protogw.openapi._registry import (
    Binding,
    Enum,
    Field,
    GenerationError,
    Message,
    Method,
    Param,
    json_camel_case,
)
from protogw.openapi._schemas import PRIMITIVES, WKT_SCHEMAS, SchemaRenderer, merge_description

__all__ = ["ParameterRenderer", "parts_to_path", "parts_to_patterns"]

FDP = descriptor_pb2.FieldDescriptorProto
_CAN_PATTERN = re.compile(r"\{([a-zA-Z][a-zA-Z0-9_.-]*)([^}]*)\}")
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


class ParameterRenderer(SchemaRenderer):
    """Builds the parameters of each operation."""

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
            "description": merge_description(schema),
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
        key_type = PRIMITIVES.get(key.proto.type, ("", ""))[0]
        if value.is_message or key.proto.type in (FDP.TYPE_BYTES, FDP.TYPE_FLOAT, FDP.TYPE_DOUBLE):
            return []  # Only name[key]=scalar can be written in a query string.
        param: Schema = {
            "name": f"{name}[{key_type}]",
            "description": merge_description(schema),
            "in": "query",
            "required": False,
        }
        if value.is_enum:
            enum = self.reg.enum(value.type_name)
            param["type"] = "integer" if self.opts.enums_as_ints else "string"
            param["enum"] = self.enum_numbers(enum) if self.opts.enums_as_ints else self.enum_names(enum)
        else:
            vtype, vfmt = PRIMITIVES[value.proto.type]
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

    def expand_slashed(self, parts: list[str]) -> tuple[list[str], set[str], list[str]]:
        """``expand_slashed_path_patterns``: spell multi-segment variables out in the path.

        ``["", "v1", "{name=projects/*/things/*}"]`` -> ``["", "v1", "projects", "{project}", "things",
        "{thing}"]``: each ``*`` becomes a string parameter named after the literal before it, without
        its plural "s". Returns the new parts, the variables replaced and the parameters added.
        """
        out: list[str] = []
        replaced: set[str] = set()
        added: list[str] = []
        for part in parts:
            name, eq, pattern = part[1:-1].partition("=")
            if not (part.startswith("{") and part.endswith("}")) or not eq or pattern == "*":
                out.append(part)
                continue
            replaced.add(name)
            for piece in pattern.split("/"):
                if piece != "*":
                    out.append(piece)
                    continue
                new = out[-1].removesuffix("s")
                if self.opts.json_names_for_fields:
                    new = json_camel_case(new)
                out.append("{" + new + "}")
                added.append(new)
        return out, replaced, added

    def path_params(
        self,
        meth: Method,
        binding: Binding,
        patterns: dict[str, str],
        replaced: frozenset[str] = frozenset(),
        added: Sequence[str] = (),
    ) -> tuple[list[Schema], dict[str, str]]:
        """Path parameters, and the renames to apply to the path (``{old}`` -> ``{new}``).

        ``replaced`` and ``added`` come from :meth:`expand_slashed`: variables spelled out in the
        path give way to the string parameters that replace them.
        """
        params: list[Schema] = []
        renames: dict[str, str] = {}
        for p in binding.path_params:
            if self.path_param_name(meth, p) in replaced:
                continue
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
                ptype, pfmt = PRIMITIVES[target.proto.type]
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
            elif self.opts.safe_path_param_names and not _SAFE_NAME.fullmatch(name):
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
        params.extend({"name": name, "in": "path", "required": True, "type": "string"} for name in added)
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
            desc = merge_description(schema) if schema.get("title") else self.field_comment(body_field)
        if meth.proto.client_streaming:
            desc += " (streaming inputs)"
        return {"name": name, "description": desc, "in": "body", "required": True, "schema": schema}

    def template_parts(self, template: Template, meth: Method) -> list[str]:
        """The template as written, one part per segment, with the verb separate.

        ``/v1/{name=projects/*/things/*}:archive`` -> ``["", "v1", "{name=projects/*/things/*}", ":archive"]``.
        Variables keep a pattern written out with "=" (``{x=*}`` too: it becomes the parameter's
        ``pattern``); with ``json_names_for_fields`` their field paths are in JSON names.
        """
        parts = [""]
        for seg in template.segments:
            if not isinstance(seg, Variable):
                parts.append(str(seg))
                continue
            name = ".".join(seg.field_path)
            if self.opts.json_names_for_fields:
                name = self.json_path(meth.request, name)
            parts.append("{" + name + ("=" + seg.pattern if seg.explicit else "") + "}")
        if template.trailing_slash:
            parts.append("")
        if template.verb:
            parts.append(":" + template.verb)
        return parts

    def json_path(self, msg: Message, dotted: str) -> str:
        try:
            chain = self.reg.resolve_path(msg, dotted, msg.fqn[1:])
        except GenerationError:
            return dotted
        return ".".join(f.json_name for f in chain)


def parts_to_patterns(parts: Sequence[str]) -> dict[str, str]:
    """``{name=projects/*/things/*}`` -> ``{"name": "projects/[^/]+/things/[^/]+"}`` (``**`` -> ``.+``)."""
    out: dict[str, str] = {}
    for part in parts:
        m = _CAN_PATTERN.search(part)
        if m and m.group(2).startswith("="):
            out[m.group(1)] = m.group(2)[1:].replace("**", ".+").replace("*", "[^/]+")
    return out


def parts_to_path(parts: Sequence[str], renames: dict[str, str]) -> str:
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
