"""protoc-gen-openapiv2's two YAML inputs: ``grpc_api_configuration`` and ``openapi_configuration``.

``grpc_api_configuration`` names a ``google.api.Service`` YAML file whose ``http.rules`` bind methods
that carry no ``google.api.http`` option (or add bindings to those that do)::

    http:
      rules:
      - selector: pkg.EchoService.Echo
        post: "/v1/echo/{id}"

``openapi_configuration`` names a YAML file of ``openapiv2_*`` options for elements that carry none::

    openapiOptions:
      file:    [{file: a/b.proto, option: {info: {title: Echo}}}]        # openapiv2_swagger
      service: [{service: pkg.EchoService, option: {description: ...}}]  # openapiv2_tag
      method:  [{method: pkg.EchoService.Echo, option: {summary: ...}}]  # openapiv2_operation
      message: [{message: pkg.Msg, option: {json_schema: {...}}}]        # openapiv2_schema
      field:   [{field: pkg.Msg.num, option: {description: ...}}]        # openapiv2_field

Both are read as the Go plugin reads them: YAML turned into JSON, then the protobuf JSON mapping (field
names in either spelling, enums by name). An option in the proto wins over one from the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml
from google.api import http_pb2
from google.protobuf import json_format
from google.protobuf.message import Message as ProtoMessage

from protogw.gen.protoc_gen_openapiv2.options import openapiv2_pb2

__all__ = ["ConfigError", "OpenAPIConfig", "load_http_rules", "load_openapi_config"]

_M = TypeVar("_M", bound=ProtoMessage)


class ConfigError(ValueError):
    """A configuration file is missing or does not have the expected shape."""


def _load_yaml(path: str, what: str) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"{what} {path!r}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{what} {path!r}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {path!r}: expected a mapping at the top level")
    return data


def _parse(value: Any, into: _M, where: str) -> _M:
    try:
        return json_format.ParseDict(value, into)
    except json_format.ParseError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def load_http_rules(path: str) -> dict[str, list[http_pb2.HttpRule]]:
    """The ``http.rules`` of a ``google.api.Service`` YAML file, by method (``pkg.Service.Method``)."""
    data = _load_yaml(path, "grpc_api_configuration")
    http = _parse(data.get("http") or {}, http_pb2.Http(), f"grpc_api_configuration {path!r}")
    rules: dict[str, list[http_pb2.HttpRule]] = {}
    for rule in http.rules:
        if not rule.selector:
            raise ConfigError(f"grpc_api_configuration {path!r}: a rule has no selector")
        rules.setdefault(rule.selector.lstrip("."), []).append(rule)
    return rules


@dataclass
class OpenAPIConfig:
    """``openapiv2_*`` options from an ``openapi_configuration`` file, keyed by the element's full name
    (without a leading dot; files by their path)."""

    file: dict[str, openapiv2_pb2.Swagger] = field(default_factory=dict)
    service: dict[str, openapiv2_pb2.Tag] = field(default_factory=dict)
    method: dict[str, openapiv2_pb2.Operation] = field(default_factory=dict)
    message: dict[str, openapiv2_pb2.Schema] = field(default_factory=dict)
    field: dict[str, openapiv2_pb2.JSONSchema] = field(default_factory=dict)


# kind -> (key naming the element, option message type)
_KINDS: dict[str, tuple[str, type[ProtoMessage]]] = {
    "file": ("file", openapiv2_pb2.Swagger),
    "service": ("service", openapiv2_pb2.Tag),
    "method": ("method", openapiv2_pb2.Operation),
    "message": ("message", openapiv2_pb2.Schema),
    "field": ("field", openapiv2_pb2.JSONSchema),
}


def load_openapi_config(path: str) -> OpenAPIConfig:
    """The ``openapiOptions`` of an ``openapi_configuration`` YAML file."""
    data = _load_yaml(path, "openapi_configuration")
    options = data.get("openapiOptions", data.get("openapi_options")) or {}
    if not isinstance(options, dict):
        raise ConfigError(f"openapi_configuration {path!r}: openapiOptions must be a mapping")
    config = OpenAPIConfig()
    for kind, entries in options.items():
        if kind not in _KINDS:
            raise ConfigError(f"openapi_configuration {path!r}: unknown kind {kind!r} under openapiOptions")
        key, cls = _KINDS[kind]
        table: dict[str, Any] = getattr(config, kind)
        for entry in entries or []:
            name = entry.get(key) if isinstance(entry, dict) else None
            if not name:
                raise ConfigError(f"openapi_configuration {path!r}: an entry under {kind} has no {key!r}")
            where = f"openapi_configuration {path!r}: {kind} {name}"
            table[str(name).lstrip(".")] = _parse(entry.get("option") or {}, cls(), where)
    return config
