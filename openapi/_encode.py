"""Writing a document: keys in protoc-gen-openapiv2's order, then JSON (as Go's encoder writes it) or YAML.

The generator builds loose dicts; :func:`normalize` walks the document knowing what each object is
(schema, parameter, operation...), drops the keys Go would omit as empty and orders the rest like the
fields of protoc-gen-openapiv2's structs, with ``x-`` extensions last in key order.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

__all__ = ["dumps", "normalize"]

Obj = dict[str, Any]

# (key, keep-when-empty). Keys kept when empty are always written by Go (no omitempty) or are
# pointers that Go writes whenever they are set, even to an empty value.
_ALWAYS, _SET, _NONEMPTY = "always", "set", "nonempty"

_SCHEMA = [
    ("type", _NONEMPTY), ("format", _NONEMPTY), ("$ref", _NONEMPTY), ("x-nullable", _NONEMPTY),
    ("example", _SET), ("items", _SET), ("enum", _SET), ("default", _SET),
    ("properties", _SET), ("additionalProperties", _SET), ("description", _NONEMPTY), ("title", _NONEMPTY),
    ("externalDocs", _SET), ("readOnly", _NONEMPTY), ("multipleOf", _NONEMPTY), ("maximum", _NONEMPTY),
    ("exclusiveMaximum", _NONEMPTY), ("minimum", _NONEMPTY), ("exclusiveMinimum", _NONEMPTY),
    ("maxLength", _NONEMPTY), ("minLength", _NONEMPTY), ("pattern", _NONEMPTY), ("maxItems", _NONEMPTY),
    ("minItems", _NONEMPTY), ("uniqueItems", _NONEMPTY), ("maxProperties", _NONEMPTY),
    ("minProperties", _NONEMPTY), ("required", _NONEMPTY), ("allOf", _NONEMPTY),
]  # fmt: skip
_PARAMETER = [
    ("name", _ALWAYS), ("description", _NONEMPTY), ("in", _NONEMPTY), ("required", _ALWAYS),
    ("deprecated", _NONEMPTY), ("type", _NONEMPTY), ("format", _NONEMPTY), ("uniqueItems", _NONEMPTY),
    ("items", _SET), ("enum", _SET), ("collectionFormat", _NONEMPTY), ("default", _SET), ("minItems", _SET),
    ("pattern", _NONEMPTY), ("x-example", _SET), ("schema", _SET),
]  # fmt: skip
_OPERATION = [
    ("summary", _NONEMPTY), ("description", _NONEMPTY), ("operationId", _ALWAYS), ("responses", _ALWAYS),
    ("parameters", _NONEMPTY), ("tags", _NONEMPTY), ("deprecated", _NONEMPTY), ("consumes", _NONEMPTY),
    ("produces", _NONEMPTY), ("security", _SET), ("externalDocs", _SET),
]  # fmt: skip
_RESPONSE = [("description", _ALWAYS), ("schema", _ALWAYS), ("examples", _NONEMPTY), ("headers", _NONEMPTY)]
_HEADER = [
    ("description", _NONEMPTY),
    ("type", _NONEMPTY),
    ("format", _NONEMPTY),
    ("default", _SET),
    ("pattern", _NONEMPTY),
]
_ROOT = [
    ("swagger", _ALWAYS), ("info", _ALWAYS), ("tags", _NONEMPTY), ("host", _NONEMPTY), ("basePath", _NONEMPTY),
    ("schemes", _NONEMPTY), ("consumes", _ALWAYS), ("produces", _ALWAYS), ("paths", _ALWAYS),
    ("definitions", _ALWAYS), ("securityDefinitions", _NONEMPTY), ("security", _NONEMPTY), ("externalDocs", _SET),
]  # fmt: skip
_INFO = [
    ("title", _ALWAYS), ("description", _NONEMPTY), ("termsOfService", _NONEMPTY), ("version", _ALWAYS),
    ("contact", _SET), ("license", _SET),
]  # fmt: skip
_CONTACT = [("name", _NONEMPTY), ("url", _NONEMPTY), ("email", _NONEMPTY)]
_LICENSE = [("name", _NONEMPTY), ("url", _NONEMPTY)]
_DOCS = [("description", _NONEMPTY), ("url", _NONEMPTY)]
_TAG = [("name", _ALWAYS), ("description", _NONEMPTY), ("externalDocs", _SET)]
_SCHEME = [
    ("type", _ALWAYS), ("description", _NONEMPTY), ("name", _NONEMPTY), ("in", _NONEMPTY), ("flow", _NONEMPTY),
    ("authorizationUrl", _NONEMPTY), ("tokenUrl", _NONEMPTY), ("scopes", _NONEMPTY),
]  # fmt: skip
_PATH_ITEM = ["get", "delete", "post", "put", "patch", "head", "options"]


def _empty(value: Any) -> bool:
    return (
        value is None
        or value is False
        or value == ""
        or (value == 0 and not isinstance(value, bool))
        or value in ([], {})
    )


_RANKS: dict[int, dict[str, tuple[int, str]]] = {}


def _order(obj: Obj, spec: list[tuple[str, str]], extensions: bool = True) -> Obj:
    ranks = _RANKS.get(id(spec))
    if ranks is None:
        ranks = _RANKS[id(spec)] = {key: (i, mode) for i, (key, mode) in enumerate(spec)}
    kept: list[tuple[int, str, Any]] = []
    extra: list[str] = []
    for key, value in obj.items():
        rank = ranks.get(key)
        if rank is None:
            if extensions and key.startswith("x-"):
                extra.append(key)
            continue
        if value is None or (rank[1] == _NONEMPTY and _empty(value)):
            continue
        kept.append((rank[0], key, value))
    kept.sort(key=lambda item: item[0])
    out: Obj = {key: value for _, key, value in kept}
    for key in sorted(extra):
        out[key] = obj[key]
    return out


def _schema(obj: Obj) -> Obj:
    out = _order(obj, _SCHEMA)
    for key in ("items", "additionalProperties"):
        if isinstance(out.get(key), dict):
            out[key] = _schema(out[key])
    if isinstance(out.get("properties"), dict):
        out["properties"] = {k: _schema(v) for k, v in out["properties"].items()}
    if "externalDocs" in out:
        out["externalDocs"] = _order(out["externalDocs"], _DOCS, False)
    return out


def _parameter(obj: Obj) -> Obj:
    out = _order(obj, _PARAMETER)
    if isinstance(out.get("items"), dict):
        out["items"] = _schema(out["items"])
    if isinstance(out.get("schema"), dict):
        out["schema"] = _schema(out["schema"])
    return out


def _response(obj: Obj) -> Obj:
    out = _order(obj, _RESPONSE)
    out["schema"] = _schema(out.get("schema") or {})
    if "headers" in out:
        out["headers"] = {k: _order(v, _HEADER, False) for k, v in sorted(out["headers"].items())}
    return out


def _operation(obj: Obj) -> Obj:
    out = _order(obj, _OPERATION)
    out["responses"] = {k: _response(v) for k, v in sorted(out["responses"].items())}
    if "parameters" in out:
        out["parameters"] = [_parameter(p) for p in out["parameters"]]
    if "externalDocs" in out:
        out["externalDocs"] = _order(out["externalDocs"], _DOCS, False)
    return out


def normalize(doc: Obj) -> Obj:
    """Order and prune a generated document the way protoc-gen-openapiv2 writes it."""
    out = _order(doc, _ROOT)
    info = _order(out["info"], _INFO)
    if "contact" in info:
        info["contact"] = _order(info["contact"], _CONTACT, False)
    if "license" in info:
        info["license"] = _order(info["license"], _LICENSE, False)
    out["info"] = info
    if "tags" in out:
        tags = []
        for tag in out["tags"]:
            t = _order(tag, _TAG)
            if "externalDocs" in t:
                t["externalDocs"] = _order(t["externalDocs"], _DOCS, False)
            tags.append(t)
        out["tags"] = tags
    out["paths"] = {
        path: {m: _operation(item[m]) for m in _PATH_ITEM if m in item} for path, item in out["paths"].items()
    }
    out["definitions"] = {k: _schema(v) for k, v in sorted(out["definitions"].items())}
    if "securityDefinitions" in out:
        out["securityDefinitions"] = {k: _order(v, _SCHEME) for k, v in sorted(out["securityDefinitions"].items())}
    if "externalDocs" in out:
        out["externalDocs"] = _order(out["externalDocs"], _DOCS, False)
    return out


def _plain_numbers(value: Any) -> Any:
    """Go writes a float64 that holds an integer without a fraction (100, not 100.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return int(value)
    if isinstance(value, dict):
        return {k: _plain_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain_numbers(v) for v in value]
    return value


class _Dumper(yaml.SafeDumper):
    """Block style with sequences indented under their key, as go-yaml writes them."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def dumps(doc: Obj, output_format: str = "json", *, newline: bool = True) -> str:
    """Serialise a normalised document: JSON like Go's ``json.Encoder`` (2-space indent, HTML-safe
    escapes, trailing newline; ``newline=False`` as ``json.MarshalIndent`` writes it, which is what
    protoc-gen-openapiv3 does) or block-style YAML."""
    data = _plain_numbers(doc)
    if output_format == "yaml":
        return yaml.dump(
            data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=10**9
        )
    text = json.dumps(data, indent=2, ensure_ascii=False)
    # Go escapes these so the JSON can sit inside HTML; they only ever occur inside strings here.
    for raw, escaped in (
        ("&", "\\u0026"),
        ("<", "\\u003c"),
        (">", "\\u003e"),
        ("\u2028", "\\u2028"),
        ("\u2029", "\\u2029"),
    ):
        text = text.replace(raw, escaped)
    return text + "\n" if newline else text
