"""The OpenAPI 3.1 generator (protogw.openapi._v3) on protos written for it (tests/openapi/protos_v3).

Tables:

* GOLDEN: whole documents under several option sets, byte for byte (``--update-golden`` rewrites
  them under tests/openapi/golden_v3), each validated with openapi-spec-validator;
* RULES: single facts (a JSON pointer and the value it must hold), one per rule of the generator;
* ERRORS: inputs that cannot be documented and the message each fails with;
* MERGE: openapiv3-merge's rules on small documents.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import google.api
import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from protogw.openapi import (
    GenerationError,
    OptionError,
    OptionsV3,
    dumps_v3,
    generate_v3,
    merge_documents,
    parse_parameter_v3,
    read_descriptor_set,
)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GOLDEN_V3 = HERE / "golden_v3"
FEATURES = "v3test/v1/features.proto"
OTHER = "v3test/v1/other.proto"

GOLDEN_CASES: dict[str, tuple[list[str], str]] = {
    "features": ([FEATURES], ""),
    "features_internal": ([FEATURES], "visibility_restriction_selectors=INTERNAL,disable_default_errors"),
    "features_gateway": ([FEATURES], "nullable_unset_messages,safe_path_param_names,recursive_depth=2"),
    "merged": ([FEATURES, OTHER], "allow_merge,merge_file_name=all"),
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[descriptor_pb2.FileDescriptorProto]:
    out = tmp_path_factory.mktemp("v3") / "v3.binpb"
    site = Path(google.api.__path__[0]).parents[1]  # googleapis-common-protos ships visibility.proto
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{HERE / 'protos_v3'}",
            f"-I{ROOT / 'proto' / 'vendor'}",
            f"-I{site}",
            f"-I{Path(grpc_tools.__file__).parent / '_proto'}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            FEATURES,
            OTHER,
        ],
        check=True,
    )
    return read_descriptor_set(out)


def _docs(files: list[descriptor_pb2.FileDescriptorProto], case: str) -> dict[str, dict[str, Any]]:
    targets, parameter = GOLDEN_CASES[case]
    return generate_v3(files, targets, parse_parameter_v3(parameter))


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str, files: list[descriptor_pb2.FileDescriptorProto], update_golden: bool) -> None:
    docs = _docs(files, case)
    for name, doc in docs.items():
        validate(doc)
        path = GOLDEN_V3 / case / name
        text = dumps_v3(doc)
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"missing golden file {path}; run pytest tests/openapi --update-golden"
        assert text == path.read_text(), f"{path} differs from the generator's output"
    on_disk = {p.relative_to(GOLDEN_V3 / case).as_posix() for p in (GOLDEN_V3 / case).rglob("*") if p.is_file()}
    assert on_disk == set(docs)


def _pointer(doc: Any, pointer: str) -> Any:
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        doc = doc[int(part)] if isinstance(doc, list) else doc[part]
    return doc


_THING = "/components/schemas/v3test.v1.Thing"
_EVENT = "/components/schemas/v3test.v1.WatchEvent"
_GET = "/paths/~1v1~1things~1{name}/get"
_PATCH = "/paths/~1v1~1things~1{thing.name}/patch"

# (case, pointer, value): one rule each.
RULES: list[tuple[str, str, Any]] = [
    # names: fully-qualified components, file stem as title, document option overrides info
    ("features", "/info", {"title": "Features", "license": {"name": "BSD-3-Clause", "identifier": "BSD-3-Clause"}, "version": "2.0"}),
    ("features", "/servers", [{"url": "https://api.example.com"}]),
    ("features", f"{_GET}/operationId", "ThingService_GetThing"),
    ("features", "/paths/~1v1~1things:byName~1{name}/get/operationId", "ThingService_GetThing_1"),
    ("features", f"{_GET}/summary", "Get a thing."),
    ("features", f"{_GET}/description", "By name."),
    # path templates: patterns spelled out, dotted names kept (upstream) or made safe (option)
    ("features", f"{_PATCH}/parameters/0/name", "thing.name"),
    ("features_gateway", "/paths/~1v1~1things~1{thing_name}/patch/parameters/0/name", "thing_name"),
    # query parameters: nested messages flattened, maps as name[key], repeated enums as arrays
    ("features", f"{_GET}/parameters/1", {"name": "filter.id", "in": "query", "description": "Its id.", "schema": {"type": "string"}}),
    ("features", f"{_GET}/parameters/2/name", "labels[string]"),
    ("features", f"{_GET}/parameters/3/schema", {"type": "array", "items": {"$ref": "#/components/schemas/v3test.v1.Kind"}}),
    ("features_gateway", "/paths/~1v1~1things~1{name}/get/parameters/2/name", "filter.inner.id"),
    # body "field": that field's schema; body "*": inline object without the path fields
    ("features", f"{_PATCH}/requestBody/content/application~1json/schema", {"$ref": "#/components/schemas/v3test.v1.Thing"}),
    ("features", f"{_PATCH}/parameters/1/name", "validateOnly"),
    ("features", "/paths/~1v1~1things~1{name}/post/requestBody/required", True),
    # scalars: int64 as string with format, uint32 as int64, wrappers inlined
    ("features", f"{_THING}/properties/size", {"type": "string", "format": "int64"}),
    ("features", f"{_THING}/properties/count", {"type": "integer", "format": "int64"}),
    ("features", f"{_THING}/properties/limit", {"type": "string", "format": "int64"}),
    # field_behavior and deprecation
    ("features", f"{_THING}/required", ["title"]),
    ("features", f"{_THING}/properties/createTime/readOnly", True),
    ("features", f"{_THING}/properties/secret/writeOnly", True),
    ("features", f"{_THING}/properties/oldPart", {"allOf": [{"$ref": "#/components/schemas/v3test.v1.Part"}], "deprecated": True}),
    ("features", "/paths/~1v1~1old~1{name}/delete/deprecated", True),
    # oneof: one constraint per group of two or more, always as an allOf item (a single group too:
    # generators read a top-level oneOf as a union of the variants and drop the properties)
    ("features", f"{_THING}/allOf/0/oneOf/1/required", ["radius"]),
    ("features", f"{_THING}/allOf/1/oneOf/0/not/anyOf", [{"required": ["color"]}, {"required": ["grey"]}]),
    ("features", f"{_EVENT}/allOf/0/oneOf/2", {"type": "object", "properties": {"deleted": {"type": "string"}}, "required": ["deleted"]}),
    ("features", f"{_EVENT}/properties/created", {"type": "string"}),
    # options on fields
    ("features", f"{_THING}/properties/annotated", {"type": "string", "title": "Annotated", "description": "Described by the option."}),
    ("features", "/paths/~1v1~1things~1{name}/post/operationId", "MakeThing"),
    ("features", "/paths/~1v1~1things~1{name}/post/tags", ["Extra"]),
    # visibility: hidden without the selector, shown with it
    ("features", "/components/schemas/v3test.v1.Kind/enum", ["KIND_UNSPECIFIED", "KIND_SMALL"]),
    ("features_internal", "/components/schemas/v3test.v1.Kind/enum", ["KIND_UNSPECIFIED", "KIND_SMALL", "KIND_SECRET"]),
    ("features_internal", f"{_THING}/properties/hiddenPart", {"$ref": "#/components/schemas/v3test.v1.Part"}),
    ("features_internal", "/paths/~1v1~1internal/get/operationId", "ThingService_InternalOnly"),
    # default errors, and disable_default_errors
    ("features", f"{_GET}/responses/default/content/application~1json/schema", {"$ref": "#/components/schemas/google.rpc.Status"}),
    ("features_internal", f"{_GET}/responses", {"200": {"description": "A thing with every kind of field.", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/v3test.v1.Thing"}}}}}),
    # server streams: the wrapper the gateway writes on each line
    (
        "features",
        "/paths/~1v1~1things:watch/get/responses/200/content/application~1json/schema",
        {
            "type": "object",
            "title": "Stream result of v3test.v1.WatchEvent",
            "properties": {
                "error": {"$ref": "#/components/schemas/google.rpc.Status"},
                "result": {"$ref": "#/components/schemas/v3test.v1.WatchEvent"},
            },
        },
    ),
    # nullable_unset_messages: JSON Schema 2020-12 null for what the gateway writes as null
    ("features_gateway", f"{_THING}/properties/part", {"anyOf": [{"$ref": "#/components/schemas/v3test.v1.Part"}, {"type": "null"}]}),
    ("features_gateway", f"{_THING}/properties/createTime/type", ["string", "null"]),
    ("features_gateway", f"{_THING}/properties/oldPart", {"anyOf": [{"$ref": "#/components/schemas/v3test.v1.Part"}, {"type": "null"}], "deprecated": True}),
    ("features_gateway", f"{_THING}/properties/square", {"$ref": "#/components/schemas/v3test.v1.Part"}),
    ("features_gateway", f"{_THING}/properties/parts/type", "array"),
    # merge: both files' paths and tags, the leader's info
    ("merged", "/info/title", "Features"),
    ("merged", "/paths/~1v1~1parts/get/operationId", "OtherService_ListParts"),
    ("merged", "/tags", [{"name": "Extra", "description": "A tag declared by the document option."}, {"name": "ThingService", "description": "Things, over REST."}, {"name": "OtherService", "description": "Other things."}]),
]  # fmt: skip


@pytest.mark.parametrize(("case", "pointer", "value"), RULES)
def test_rules(case: str, pointer: str, value: Any, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    (doc,) = [d for name, d in _docs(files, case).items() if name != "v3test/v1/other.openapi.json"]
    assert _pointer(doc, pointer) == value


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_no_component_has_a_top_level_oneof(case: str, files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    """A oneOf next to ``properties`` makes openapi-python-client (and other generators) model the
    message as a union of its oneOf variants without the other fields; it always goes under allOf."""
    for doc in _docs(files, case).values():
        schemas = doc["components"]["schemas"]
        assert [name for name, schema in schemas.items() if "oneOf" in schema] == []
        assert any("allOf" in schema and "properties" in schema for schema in schemas.values())


def test_hidden_without_selector(files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    doc = _docs(files, "features")["v3test/v1/features.openapi.json"]
    assert "hiddenPart" not in _pointer(doc, f"{_THING}/properties")
    assert "/v1/internal" not in doc["paths"]


PARAMETERS: list[tuple[str, OptionsV3 | str]] = [
    ("", OptionsV3()),
    ("disable_default_errors", OptionsV3(disable_default_errors=True)),
    (
        "visibility_restriction_selectors=A,visibility_restriction_selectors=B,Mfoo.proto=x/y",
        OptionsV3(visibility_restriction_selectors=("A", "B")),
    ),
    ("allow_merge=true,merge_file_name=api,recursive_depth=3", OptionsV3(allow_merge=True, merge_file_name="api", recursive_depth=3)),
    ("bogus", "unknown option 'bogus'"),
    ("disable_default_errors=maybe", "takes a boolean"),
    ("recursive_depth=x", "takes an integer"),
]  # fmt: skip


@pytest.mark.parametrize(("parameter", "expected"), PARAMETERS)
def test_parse_parameter(parameter: str, expected: OptionsV3 | str) -> None:
    if isinstance(expected, str):
        with pytest.raises(OptionError, match=expected):
            parse_parameter_v3(parameter)
    else:
        assert parse_parameter_v3(parameter) == expected


def _doc(**extra: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, **extra}


MERGE: list[tuple[list[dict[str, Any]], dict[str, Any] | str]] = [
    (
        [_doc(paths={"/a": {}}, tags=[{"name": "A"}]), _doc(info={"title": "other"}, paths={"/b": {}}, tags=[{"name": "A"}, {"name": "B"}])],
        _doc(paths={"/a": {}, "/b": {}}, tags=[{"name": "A"}, {"name": "B"}]),
    ),
    (
        [_doc(components={"schemas": {"Z": {"type": "string"}}}), _doc(components={"schemas": {"A": {}, "Z": {"type": "string"}}})],
        _doc(components={"schemas": {"A": {}, "Z": {"type": "string"}}}),
    ),
    ([_doc(paths={"/a": {"get": {}}}), _doc(paths={"/a": {"post": {}}})], "redefines an entry with a different value"),
    ([_doc(components={"schemas": {"Z": {}}}), _doc(components={"schemas": {"Z": {"type": "null"}}})], "components.schemas.'Z'"),
    ([_doc(tags=[{"name": "A"}]), _doc(tags=[{"name": "A", "description": "x"}])], "redefines a tag"),
    ([_doc(security=[{"k": []}]), _doc(security=[{"j": []}])], "different requirements"),
    ([_doc(), {**_doc(), "openapi": "3.0.3"}], "declares"),
    ([_doc(), _doc(**{"x-a": 1})], {**_doc(), "x-a": 1}),
]  # fmt: skip


@pytest.mark.parametrize(("docs", "expected"), MERGE)
def test_merge(docs: list[dict[str, Any]], expected: dict[str, Any] | str) -> None:
    named = [(f"doc{i}", d) for i, d in enumerate(docs)]
    if isinstance(expected, str):
        with pytest.raises(GenerationError, match=expected):
            merge_documents(named)
    else:
        assert merge_documents(named) == expected


def _file(text: str) -> descriptor_pb2.FileDescriptorProto:
    from google.protobuf import text_format

    return text_format.Parse(text, descriptor_pb2.FileDescriptorProto())


_ERROR_FILE = """
name: "e.proto" package: "e"
message_type { name: "M" field { name: "a" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "a" } }
service { name: "S"
  method { name: "One" input_type: ".e.M" output_type: ".e.M" options { [google.api.http] { get: "/one" } %s } }
  method { name: "Two" input_type: ".e.M" output_type: ".e.M" options { [google.api.http] { get: "/two" } %s } }
}
"""
_OP = "[grpc.gateway.protoc_gen_openapiv3.options.openapiv3_operation] { %s }"

ERRORS: list[tuple[str, str]] = [
    (_ERROR_FILE % (_OP % 'operation_id: "X"', _OP % 'operation_id: "X"'), "duplicate operationId 'X'"),
    (_ERROR_FILE % (_OP % 'tags: "Nowhere"', ""), "references undeclared tag 'Nowhere'"),
    (_ERROR_FILE % (_OP % 'external_docs { description: "d" }', ""), "url is required"),
    (_ERROR_FILE % (_OP % 'servers { description: "d" }', ""), "url is required"),
]


@pytest.mark.parametrize(("text", "message"), ERRORS)
def test_errors(text: str, message: str) -> None:
    from google.api import annotations_pb2  # noqa: F401  (google.api.http in the text format)

    from protogw.gen.protoc_gen_openapiv3.options import annotations_pb2 as v3  # noqa: F401

    with pytest.raises(GenerationError, match=message):
        generate_v3([_file(text)], ["e.proto"])


def test_file_without_bindings_gives_no_document(files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    assert generate_v3(files, ["google/protobuf/struct.proto"]) == {}


def test_editions_file(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    """An edition-2023 file (tests/protos/editions) documents like any other: valid 3.1, every binding."""
    (doc,) = generate_v3(testing_files, ["editions/v1/editions.proto"]).values()
    validate(doc)
    assert sum(len(item) for item in doc["paths"].values()) == 3
    assert all(name.startswith(("editions.v1.", "google.")) for name in doc["components"]["schemas"])
