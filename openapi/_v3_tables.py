"""What the 3.1 document builder (``_v3``) looks up: ``OptionsV3`` (protoc-gen-openapiv3's two flags and
protogw's additions), the schemas of scalars, well-known types and ``google.rpc.Status``, the key order
protoc-gen-openapiv3 writes, comment cleaning, the ``openapiv3_*`` option readers and the document-level
options (info, servers, tags, external docs)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.message import Message as ProtoMessage

from protogw.gen.protoc_gen_openapiv3.options import openapiv3_pb2
from protogw.openapi._registry import GenerationError, read_extension
from protogw.openapi._schemas import WKT_SCHEMAS

__all__ = [
    "MAP_KEY_TYPES",
    "SCALARS",
    "STATUS_SCHEMA",
    "WKT",
    "OptionsV3",
    "apply_document_option",
    "clean_comment",
    "external_docs",
    "option_of",
    "options_of",
    "order_keys",
    "order_schema",
    "server_object",
    "split_summary",
]

Schema = dict[str, Any]
FDP = descriptor_pb2.FieldDescriptorProto
_INTERNAL = re.compile(r"\(--.*?--\)", re.DOTALL)


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

SCALARS: dict[int, Schema] = {
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

# The well-known types as protojson writes them: the v2 generator's table, with JSON Schema 2020-12's
# forms where 3.1 has them (a ListValue holds any values; NullValue is JSON null), and Any's object.
WKT: dict[str, Schema] = {
    **WKT_SCHEMAS,
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
STATUS_SCHEMA: Schema = {
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

MAP_KEY_TYPES: dict[int, str] = {
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


def clean_comment(raw: str) -> str:
    """A leading comment as protoc-gen-openapiv3 writes it: one space of indentation dropped per line,
    AIP-192 ``(-- internal --)`` text removed, surrounding space trimmed."""
    if not raw:
        return ""
    text = raw.rstrip("\n").replace("\n ", "\n").strip()
    return _INTERNAL.sub("", text).strip()


def split_summary(comment: str) -> tuple[str, str]:
    if not comment:
        return "", ""
    first, _, rest = comment.partition("\n\n")
    return first.strip(), rest.strip()


def option_of(options: ProtoMessage | None, ext: Any) -> Any:
    return read_extension(options, ext) if options is not None else None


def options_of(proto: Any) -> ProtoMessage | None:
    return proto.options if proto.HasField("options") else None


# -- the builder ------------------------------------------------------------------------------------


def apply_document_option(info: Schema, d: openapiv3_pb2.Document) -> tuple[list[Schema], Schema | None, list[Schema]]:
    """Fill ``info`` from a file's ``openapiv3_document`` option; return its servers, external docs and tags."""
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
        ordered = order_keys(
            info, ("title", "summary", "description", "termsOfService", "contact", "license", "version")
        )
        info.clear()
        info.update(ordered)
    servers = [server_object(s, f"openapiv3 document servers[{n}]") for n, s in enumerate(d.servers)]
    external = (
        external_docs(d.external_docs, "openapiv3 document external_docs") if d.HasField("external_docs") else None
    )
    tags: list[Schema] = []
    for n, t in enumerate(d.tags):
        if not t.name:
            raise GenerationError(f"openapiv3 document tags[{n}]: name is required")
        tag: Schema = {"name": t.name}
        if t.description:
            tag["description"] = t.description
        if t.HasField("external_docs"):
            tag["externalDocs"] = external_docs(t.external_docs, f"openapiv3 document tags[{n}] external_docs")
        tags.append(tag)
    return servers, external, tags


def order_keys(obj: Schema, order: Sequence[str]) -> Schema:
    return {k: obj[k] for k in order if k in obj}


def server_object(s: openapiv3_pb2.Server, where: str) -> Schema:
    if not s.url:
        raise GenerationError(f"{where}: server: url is required")
    out: Schema = {"url": s.url}
    if s.description:
        out["description"] = s.description
    return out


def external_docs(e: openapiv3_pb2.ExternalDocs, where: str) -> Schema:
    if not e.url:
        raise GenerationError(f"{where}: external_docs: url is required")
    out: Schema = {}
    if e.description:
        out["description"] = e.description
    out["url"] = e.url
    return out
