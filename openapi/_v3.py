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
  set), one ``allOf`` item per group; ``field_behavior`` REQUIRED goes to ``required``, OUTPUT_ONLY /
  INPUT_ONLY to ``readOnly`` / ``writeOnly``, and ``deprecated`` cascades from file and message.

Where protogw deliberately writes something else (each is listed in the README with its reason):

* a message with a single oneof group keeps its ``oneOf`` under ``allOf: [{oneOf: ...}]`` (the
  same constraint) instead of next to ``properties``, where client generators read the message as a
  union of the variants and lose its other fields;

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
from typing import Any

from google.api import field_behavior_pb2
from google.protobuf import descriptor_pb2

from protogw.core.template import Literal, Template, Variable
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
)
from protogw.openapi._v3_merge import merge_documents, strip_ext
from protogw.openapi._v3_tables import (
    MAP_KEY_TYPES,
    SCALARS,
    STATUS_SCHEMA,
    WKT,
    OptionsV3,
    apply_document_option,
    clean_comment,
    external_docs,
    option_of,
    options_of,
    order_keys,
    order_schema,
    server_object,
    split_summary,
)

__all__ = ["generate_v3", "path_of"]

Schema = dict[str, Any]
FDP = descriptor_pb2.FieldDescriptorProto
_REQUIRED = field_behavior_pb2.REQUIRED
_OUTPUT_ONLY = field_behavior_pb2.OUTPUT_ONLY
_INPUT_ONLY = field_behavior_pb2.INPUT_ONLY
_STATUS = "google.rpc.Status"
_REF = "#/components/schemas/"
_INTERNAL = re.compile(r"\(--.*?--\)", re.DOTALL)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_PATH_ITEM_ORDER = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


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
        return clean_comment(self.reg.leading_comment(fdp, path))

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
            if f.type_name in WKT:
                return copy.deepcopy(WKT[f.type_name])
            if f.type_name not in self.reg.messages:
                return {"type": "object"}
            self.ensure_message(self.reg.messages[f.type_name])
            return {"$ref": _REF + f.type_name[1:]}
        if f.is_enum:
            if f.type_name not in self.reg.enums:
                return {"type": "string"}
            self.ensure_enum(self.reg.enums[f.type_name])
            return {"$ref": _REF + f.type_name[1:]}
        return dict(SCALARS.get(f.proto.type, {"type": "string"}))

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
        ann = option_of(options_of(msg.proto), v3_annotations.openapiv3_schema)
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
        if constraints:
            # Always under allOf, even for one group (upstream hoists a single group's oneOf next to
            # `properties`): generators such as openapi-python-client read a schema with a top-level
            # oneOf as a union of its variants and drop its properties, and skip oneOf inside allOf.
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
        ann = option_of(options_of(f.proto), v3_annotations.openapiv3_field)
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
            self.schemas[_STATUS] = copy.deepcopy(STATUS_SCHEMA)

    # operations

    def operation(self, svc: Service, meth: Method, binding: Binding, path_params: list[tuple[str, str]]) -> Schema:
        summary, description = split_summary(self.comment(svc.file, (6, svc.index, 2, meth.index)))
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
        ann = option_of(options_of(meth.proto), v3_annotations.openapiv3_operation)
        if ann is not None:
            self._apply_operation_option(op, ann, f"{svc.name}.{meth.name}")
        return order_keys(
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
            op["externalDocs"] = external_docs(o.external_docs, f"openapiv3 operation {where}: external_docs")
        if o.deprecated:
            op["deprecated"] = True
        for i, server in enumerate(o.servers):
            op.setdefault("servers", []).append(server_object(server, f"openapiv3 operation {where}: servers[{i}]"))

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
        if f.is_message and f.type_name not in WKT and f.type_name in self.reg.messages:
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
        if key is None or value is None or key.proto.type not in MAP_KEY_TYPES:
            return []
        param: Schema = {"name": f"{name}[{MAP_KEY_TYPES[key.proto.type]}]", "in": "query"}
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
        if meth.response.fqn in WKT:
            schema = copy.deepcopy(WKT[meth.response.fqn])
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
        document_option = option_of(options_of(self.fdp), v3_annotations.openapiv3_document)
        servers: list[Schema] = []
        external: Schema | None = None
        if document_option is not None:
            servers, external, tags = apply_document_option(info, document_option)
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
                    url, path_params = path_of(binding.template)
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


def path_of(template: Template) -> tuple[str, list[tuple[str, str]]]:
    """A parsed http rule template as an OpenAPI path, and its parameters as (OpenAPI name, field path).

    ``/v1/{name=shelves/*/books/*}`` -> ``/v1/shelves/{name}/books/{name_1}``, parameters
    ``[("name", "name"), ("name_1", "name")]``; ``**`` is one parameter like ``*``.
    """
    parts: list[str] = []
    params: list[tuple[str, str]] = []
    for seg in template.segments:
        if not isinstance(seg, Variable):
            parts.append(str(seg))
            continue
        field_path = ".".join(seg.field_path)
        wild = 0
        for atom in seg.segments:
            if isinstance(atom, Literal):
                parts.append(atom.value)
                continue
            name = field_path if wild == 0 else f"{field_path}_{wild}"
            parts.append("{" + name + "}")
            params.append((name, field_path))
            wild += 1
    url = "/" + "/".join(parts) + ("/" if template.trailing_slash else "")
    return url + (":" + template.verb if template.verb else ""), params


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
            out[strip_ext(name) + ".openapi.json"] = doc
    if opts.allow_merge:
        if not out:
            raise GenerationError("no document to merge: no target file has an HTTP binding")
        return {strip_ext(opts.merge_file_name) + ".openapi.json": merge_documents(list(out.items()))}
    return out
