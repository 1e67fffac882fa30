"""grpc_api_configuration and openapi_configuration (protogw.openapi._config): YAML in, document out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2

from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as openapi_annotations
from protogw.openapi import GenerationError, Options, generate

FDP = descriptor_pb2.FieldDescriptorProto
FILE = "cfg/v1/cfg.proto"


def cfg_file() -> descriptor_pb2.FileDescriptorProto:
    """``cfg.v1.Echo``: ``Plain`` has no HTTP rule, ``Bound`` has ``GET /v1/bound/{id}``; ``Msg.id``
    carries a proto ``openapiv2_field`` option and ``Msg`` none."""
    fdp = descriptor_pb2.FileDescriptorProto(name=FILE, package="cfg.v1", syntax="proto3")
    msg = fdp.message_type.add(name="Msg")
    fid = msg.field.add(name="id", number=1, type=FDP.TYPE_STRING, label=FDP.LABEL_OPTIONAL, json_name="id")
    fid.options.Extensions[openapi_annotations.openapiv2_field].description = "from the proto"
    msg.field.add(name="num", number=2, type=FDP.TYPE_INT64, label=FDP.LABEL_OPTIONAL, json_name="num")
    svc = fdp.service.add(name="Echo")
    svc.method.add(name="Plain", input_type=".cfg.v1.Msg", output_type=".cfg.v1.Msg")
    bound = svc.method.add(name="Bound", input_type=".cfg.v1.Msg", output_type=".cfg.v1.Msg")
    bound.options.Extensions[annotations_pb2.http].CopyFrom(http_pb2.HttpRule(get="/v1/bound/{id}"))
    return fdp


API = """
http:
  rules:
  - selector: cfg.v1.Echo.Plain
    post: "/v1/plain/{id}"
    body: "*"
    additional_bindings:
    - get: "/v1/plain"
  - selector: cfg.v1.Echo.Bound
    get: "/v1/other/{num}"
"""

OPENAPI = """
openapiOptions:
  file:
  - file: cfg/v1/cfg.proto
    option:
      info: {title: From YAML, version: "2.0"}
  service:
  - service: cfg.v1.Echo
    option: {description: Echo from YAML}
  method:
  - method: cfg.v1.Echo.Plain
    option: {summary: Plain from YAML}
  message:
  - message: cfg.v1.Msg
    option:
      json_schema: {title: Msg from YAML}
  field:
  - field: cfg.v1.Msg.id
    option: {description: id from YAML}
  - field: cfg.v1.Msg.num
    option: {description: num from YAML, default: "7"}
"""


def run(tmp_path: Path, api: str | None, openapi: str | None) -> dict[str, Any]:
    values: dict[str, str] = {}
    for name, text in (("grpc_api_configuration", api), ("openapi_configuration", openapi)):
        if text is not None:
            (tmp_path / name).write_text(text)
            values[name] = str(tmp_path / name)
    (doc,) = generate([cfg_file()], [FILE], Options(**values)).values()  # type: ignore[arg-type]
    return doc


def ops(doc: dict[str, Any]) -> list[str]:
    return [f"{m.upper()} {p} {op['operationId']}" for p, item in doc["paths"].items() for m, op in item.items()]


# (api yaml, openapi yaml, pointer into the document, expected)
CASES: list[tuple[str | None, str | None, str, Any]] = [
    # Without the files only the annotated method is bound.
    (None, None, "ops", ["GET /v1/bound/{id} Echo_Bound"]),
    # The YAML rules bind Plain (with its additional binding) and add a binding to Bound before its
    # own (so the YAML one is Echo_Bound); paths are sorted, as without preserve_rpc_order.
    (
        API,
        None,
        "ops",
        [
            "GET /v1/bound/{id} Echo_Bound2",
            "GET /v1/other/{num} Echo_Bound",
            "GET /v1/plain Echo_Plain2",
            "POST /v1/plain/{id} Echo_Plain",
        ],
    ),
    (API, OPENAPI, "info", {"title": "From YAML", "version": "2.0"}),
    (API, OPENAPI, "tags", [{"name": "Echo", "description": "Echo from YAML"}]),
    (API, OPENAPI, "summary", "Plain from YAML"),
    (API, OPENAPI, "title", "Msg from YAML"),
    # The proto's own option wins over the YAML one; the YAML one applies where the proto has none.
    (API, OPENAPI, "id", "from the proto"),
    (API, OPENAPI, "num", {"type": "string", "format": "int64", "description": "num from YAML", "default": "7"}),
]


@pytest.mark.parametrize(("api", "openapi", "pointer", "expected"), CASES)
def test_configuration(tmp_path: Path, api: str | None, openapi: str | None, pointer: str, expected: Any) -> None:
    doc = run(tmp_path, api, openapi)
    msg = doc["definitions"]["v1Msg"]
    got = {
        "ops": lambda: ops(doc),
        "info": lambda: doc["info"],
        "tags": lambda: doc["tags"],
        "summary": lambda: doc["paths"]["/v1/plain/{id}"]["post"]["summary"],
        "title": lambda: msg["title"],
        "id": lambda: msg["properties"]["id"]["description"],
        "num": lambda: msg["properties"]["num"],
    }[pointer]()
    assert got == expected


ERRORS: list[tuple[str | None, str | None, str]] = [
    ("http: {rules: [{get: /v1/x}]}", None, "a rule has no selector"),
    ("http: {rules: [{selector: cfg.v1.Echo.Plain, gett: /v1/x}]}", None, "gett"),
    ("- not a mapping", None, "expected a mapping"),
    ("http: [", None, "grpc_api_configuration"),
    (None, "openapiOptions: {enum: []}", "unknown kind 'enum'"),
    (None, "openapiOptions: {field: [{option: {}}]}", "has no 'field'"),
    (None, "openapiOptions: {field: [{field: cfg.v1.Msg.id, option: {descr: x}}]}", "field cfg.v1.Msg.id"),
]


@pytest.mark.parametrize(("api", "openapi", "message"), ERRORS)
def test_errors(tmp_path: Path, api: str | None, openapi: str | None, message: str) -> None:
    with pytest.raises(GenerationError, match=message):
        run(tmp_path, api, openapi)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GenerationError, match=r"openapi_configuration .*No such file"):
        generate([cfg_file()], [FILE], Options(openapi_configuration=str(tmp_path / "absent.yaml")))
