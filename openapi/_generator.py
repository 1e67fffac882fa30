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
from collections.abc import Sequence

from google.protobuf import descriptor_pb2

from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as openapi_annotations
from protogw.gen.protoc_gen_openapiv2.options import openapiv2_pb2
from protogw.openapi._context import INVALID, Schema, Target, json_values, option_extensions, raw_json
from protogw.openapi._options import Options
from protogw.openapi._parameters import ParameterRenderer, parts_to_path, parts_to_patterns
from protogw.openapi._registry import (
    Binding,
    GenerationError,
    Method,
    Registry,
    Service,
    read_extension,
)
from protogw.openapi._schemas import WKT_SCHEMAS

__all__ = ["GenerationError", "generate"]

_HTTP_METHODS = ("GET", "DELETE", "POST", "PUT", "PATCH", "HEAD", "OPTIONS")


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
        target = Target(
            leader=order[0][0],
            services=[s for _, svcs in order for s in svcs],
            messages=[m for f, _ in order for m in reg.file_messages[f.name]],
        )
        doc = _DocumentBuilder(reg, opts, target).build()
        out[f"{_strip_ext(opts.merge_file_name)}.swagger.{ext}"] = doc
        return out
    for fdp, services in loaded:
        target = Target(leader=fdp, services=services, messages=reg.file_messages[fdp.name])
        out[f"{_strip_ext(fdp.name)}.swagger.{ext}"] = _DocumentBuilder(reg, opts, target).build()
    return out


def _or_none(value: object) -> object:
    return None if value is INVALID else value


def _strip_ext(name: str) -> str:
    base, dot, ext = name.rpartition(".")
    return base if dot and "/" not in ext else name


class _DocumentBuilder(ParameterRenderer):
    """Builds one document: operations, paths, tags, the file-level options and the definitions."""

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
        replaced: set[str] = set()
        added: list[str] = []
        if self.opts.expand_slashed_path_patterns:
            parts, replaced, added = self.expand_slashed(parts)
        patterns = parts_to_patterns(parts)
        params, renames = self.path_params(meth, binding, patterns, frozenset(replaced), added)
        body = self.body_param(meth, binding)
        if body is not None:
            params.append(body)
        params.extend(self.query_params(meth, binding))
        path = parts_to_path(parts, renames)

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
                obj["examples"] = json_values(resp.examples, where)
            if resp.headers:
                obj["headers"] = {
                    name: {
                        "description": h.description,
                        "type": h.type,
                        "format": h.format,
                        "default": _or_none(raw_json(h.default, where, f"header {name} default"))
                        if h.default
                        else None,
                        "pattern": h.pattern,
                    }
                    for name, h in sorted(resp.headers.items())
                }
            if resp.extensions:
                obj.update(option_extensions(resp.extensions, where))
            op["responses"][code] = obj
        if o.extensions:
            op.update(option_extensions(o.extensions, where))
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
                    tag.update(option_extensions(svc.openapi.extensions, f"service {svc.fqn[1:]}"))
            if not tag.get("description"):
                self.apply_comment(tag, self.comment(svc.file, (6, svc.index)), summary_key=None)
            tags.append(tag)
        return tags

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
                info.update(option_extensions(i.extensions, where))
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
                    scheme.update(option_extensions(d.extensions, where))
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
                            entry["examples"] = json_values(resp.examples, where)
                        op["responses"][code] = entry
        if s.extensions:
            doc.update(option_extensions(s.extensions, where))
        tags: list[Schema] = []
        for t in s.tags:
            tag: Schema = {"name": t.name, "description": t.description}
            if t.HasField("external_docs"):
                tag["externalDocs"] = self.external_docs(t.external_docs)
            if t.extensions:
                tag.update(option_extensions(t.extensions, where))
            tags.append(tag)
        return tags


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
