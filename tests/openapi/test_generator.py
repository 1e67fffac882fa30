"""The generator (protogw.openapi._generator) against golden files, rule by rule.

Three tables:

* GOLDEN: whole documents for the test protos under several option sets, compared byte for byte
  (``--update-golden`` rewrites them) and validated with openapi-spec-validator;
* RULES: single facts inside those documents (a JSON pointer and the value it must hold), one per
  rule of protoc-gen-openapiv2's output, including the ``required`` cases it got wrong;
* ERRORS: descriptors that cannot be documented, and the message each must fail with.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from google.protobuf import descriptor_pb2
from openapi_spec_validator import validate

from protogw.openapi import GenerationError, Options, dumps, generate, parse_parameter
from tests.openapi.conftest import GOLDEN

KITCHEN = ["kitchen/v1/kitchen.proto"]
WIDGETS = ["openapitest/v1/widgets.proto"]
GADGETS = ["openapitest/v1/gadgets.proto"]
BOTH = [*WIDGETS, *GADGETS]

# name -> (files to generate, plugin parameter string). Each case writes one golden file per output.
GOLDEN_CASES: dict[str, tuple[list[str], str]] = {
    "kitchen": (KITCHEN, ""),
    "kitchen_proto_names": (KITCHEN, "json_names_for_fields=false,simple_operation_ids=true"),
    "kitchen_yaml": (KITCHEN, "output_format=yaml,disable_default_errors=true,include_package_in_tags=true"),
    "kitchen_ints_fqn": (
        KITCHEN,
        "enums_as_ints=true,omit_enum_default_value=true,openapi_naming_strategy=fqn,preserve_rpc_order=true",
    ),
    "openapitest_merged": (BOTH, "allow_merge=true,merge_file_name=openapitest,proto3_optional_nullable=true"),
    "widgets": (WIDGETS, ""),
    "gadgets": (GADGETS, "disable_service_tags=true,disable_default_responses=true"),
    "widgets_allof": (
        WIDGETS,
        "use_allof_for_refs=true,use_proto3_field_semantics=true,omit_array_item_type_when_ref_sibling=true,openapi_naming_strategy=simple,enable_field_deprecation=true",
    ),
    "kitchen_expanded": (KITCHEN, "expand_slashed_path_patterns=true,repeated_path_param_separator=pipes"),
    "widgets_no_comments": (
        WIDGETS,
        "ignore_comments=true,openapi_naming_strategy=package,nullable_unset_messages=true",
    ),
}


def _generate(files: list[descriptor_pb2.FileDescriptorProto], case: str) -> dict[str, str]:
    targets, parameter = GOLDEN_CASES[case]
    options = parse_parameter(parameter)
    return {name: dumps(doc, options.output_format) for name, doc in generate(files, targets, options).items()}


def _golden_path(case: str, output: str) -> Path:
    return GOLDEN / case / output


@pytest.mark.parametrize("case", sorted(GOLDEN_CASES))
def test_golden(case: str, testing_files: list[descriptor_pb2.FileDescriptorProto], update_golden: bool) -> None:
    outputs = _generate(testing_files, case)
    for output, text in outputs.items():
        path = _golden_path(case, output)
        if update_golden:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        assert path.exists(), f"missing golden file {path}; run pytest tests/openapi --update-golden"
        assert text == path.read_text(), f"{path} differs from the generator's output"
    # The golden directory holds exactly this case's outputs: nothing stale is left behind.
    on_disk = {p.relative_to(GOLDEN / case).as_posix() for p in (GOLDEN / case).rglob("*") if p.is_file()}
    assert on_disk == set(outputs)


def _documents(files: list[descriptor_pb2.FileDescriptorProto]) -> Iterator[tuple[str, dict[str, Any]]]:
    for case in sorted(GOLDEN_CASES):
        for output, text in _generate(files, case).items():
            doc = yaml.safe_load(text) if output.endswith(".yaml") else json.loads(text)
            yield f"{case}:{output}", doc


@pytest.fixture(scope="module")
def documents(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, dict[str, Any]]:
    return dict(_documents(testing_files))


@pytest.fixture(scope="module")
def by_case(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> dict[str, dict[str, Any]]:
    """The first (or only) document of each case."""
    out = {}
    for case in GOLDEN_CASES:
        targets, parameter = GOLDEN_CASES[case]
        out[case] = next(iter(generate(testing_files, targets, parse_parameter(parameter)).values()))
    return out


def test_every_document_is_valid_swagger(documents: dict[str, dict[str, Any]]) -> None:
    for name, doc in documents.items():
        try:
            validate(doc)
        except Exception as exc:  # the validator's own error type; name the document that failed
            raise AssertionError(f"{name}: {exc}") from None


def _schemas(node: Any, where: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(node, dict):
        if "required" in node and isinstance(node["required"], list):
            yield where, node
        for key, value in node.items():
            yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _schemas(value, f"{where}/{i}")


def test_required_lists_are_sound(documents: dict[str, dict[str, Any]]) -> None:
    """No duplicate, no name that is not a property, and never next to $ref (#3058, #4666, #6088)."""
    for name, doc in documents.items():
        for where, schema in _schemas(doc["definitions"], "/definitions"):
            required = schema["required"]
            assert len(required) == len(set(required)), f"{name}{where}: duplicate in {required}"
            assert "$ref" not in schema, f"{name}{where}: required next to $ref"
            props = schema.get("properties", {})
            assert set(required) <= set(props), f"{name}{where}: {required} not all in {sorted(props)}"
        for path, item in doc["paths"].items():
            for method, op in item.items():
                for param in op.get("parameters", []):
                    if param["in"] == "body":
                        for where, schema in _schemas(param["schema"], f"{path} {method} body"):
                            assert set(schema["required"]) <= set(schema.get("properties", {})), (name, where)
                            assert len(schema["required"]) == len(set(schema["required"])), (name, where)


def test_parameters_are_usable(documents: dict[str, dict[str, Any]]) -> None:
    """Every templated path segment has a safe name and a path parameter; query parameters are typed."""
    for name, doc in documents.items():
        for path, item in doc["paths"].items():
            names = re.findall(r"\{([^}]*)\}", path)
            for param_name in names:
                assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", param_name), f"{name}: {path}"
            for method, op in item.items():
                params = op.get("parameters", [])
                in_path = sorted(p["name"] for p in params if p["in"] == "path")
                assert in_path == sorted(names), f"{name}: {method} {path}"
                for p in params:
                    if p["in"] in ("query", "path", "header"):
                        assert p.get("type"), f"{name}: {method} {path} {p['name']} has no type"
                    if p["in"] == "query" and p["type"] == "array":
                        assert p["collectionFormat"] == "multi"
                assert len({(p["in"], p["name"]) for p in params}) == len(params), f"{name}: {method} {path}"
                body = [p for p in params if p["in"] == "body"]
                assert len(body) <= 1


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for raw in pointer.split("/")[1:]:
        key = raw.replace("~1", "/").replace("~0", "~")
        node = node[int(key)] if isinstance(node, list) else node[key]
    return node


def _param(doc: dict[str, Any], path: str, method: str, name: str) -> dict[str, Any]:
    params = doc["paths"][path][method].get("parameters", [])
    found = [p for p in params if p["name"] == name]
    assert found, f"no parameter {name} in {method} {path}: {[p['name'] for p in params]}"
    return found[0]


def _query_names(doc: dict[str, Any], path: str, method: str) -> list[str]:
    return [p["name"] for p in doc["paths"][path][method].get("parameters", []) if p["in"] == "query"]


ABSENT = object()

# (case, JSON pointer, expected value). ABSENT means the pointer must not resolve.
RULES: list[tuple[str, str, Any]] = [
    # Header and defaults.
    ("kitchen", "/swagger", "2.0"),
    ("kitchen", "/info", {"title": "kitchen/v1/kitchen.proto", "version": "version not set"}),
    ("kitchen", "/consumes", ["application/json"]),
    ("kitchen", "/tags", [{"name": "KitchenService", "description": "The kitchen-sink service."}]),
    # Operations: ids, additional bindings, tags, summary from the first comment paragraph.
    ("kitchen", "/paths/~1v1~1things~1{id}/get/operationId", "KitchenService_GetThing"),
    ("kitchen", "/paths/~1v1~1shelves~1{shelf}~1things~1{id}/get/operationId", "KitchenService_GetThing2"),
    ("kitchen_proto_names", "/paths/~1v1~1things~1{id}/get/operationId", "GetThing"),
    ("kitchen", "/paths/~1v1~1things~1{id}/get/tags", ["KitchenService"]),
    ("kitchen_yaml", "/paths/~1v1~1things~1{id}/get/tags", ["kitchen.v1.KitchenService"]),
    ("kitchen", "/paths/~1v1~1things~1{id}/get/summary", "Get by id, with an additional binding under a shelf."),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/description", "The rest of the comment is the description."),
    # Responses: 200 and the default rpcStatus error; Empty inline; streaming wrapper.
    ("kitchen", "/paths/~1v1~1things~1{id}/get/responses/default/schema", {"$ref": "#/definitions/rpcStatus"}),
    ("kitchen", "/paths/~1v1~1things~1{id}/delete/responses/200/schema", {"type": "object", "properties": {}}),
    ("kitchen_yaml", "/paths/~1v1~1things~1{id}/get/responses/default", ABSENT),
    ("kitchen_yaml", "/definitions/rpcStatus", ABSENT),
    ("gadgets", "/paths/~1v1~1gadgets:upload/post/responses/200", ABSENT),
    (
        "kitchen",
        "/paths/~1v1~1things:watch/get/responses/200/description",
        "A successful response.(streaming responses)",
    ),
    (
        "kitchen",
        "/paths/~1v1~1things:watch/get/responses/200/schema",
        {
            "type": "object",
            "properties": {
                "result": {"$ref": "#/definitions/v1WatchThingsResponse"},
                "error": {"$ref": "#/definitions/rpcStatus"},
            },
            "title": "Stream result of v1WatchThingsResponse",
        },
    ),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/responses/404/schema", {"type": "string", "format": "string"}),
    ("kitchen", "/paths/~1v1~1content~1{path}:raw/get/responses/200/schema", {"type": "string", "format": "byte"}),
    # Paths: multi-segment captures become {param} + pattern; verbs stay literal; ** is .+.
    ("kitchen", "/paths/~1v1~1{name}/get/parameters/0/pattern", "projects/[^/]+/things/[^/]+"),
    ("kitchen", "/paths/~1v1~1files~1{path}/get/parameters/0/pattern", ".+"),
    ("kitchen", "/paths/~1v1~1things~1{id}:archive/post/operationId", "KitchenService_ArchiveThing"),
    # Nested path variable {thing.id}: a safe name in the path and the parameter.
    ("kitchen", "/paths/~1v1~1things~1{thingId}/patch/parameters/0/name", "thingId"),
    ("kitchen_proto_names", "/paths/~1v1~1things~1{thing_id}/patch/parameters/0/name", "thing_id"),
    # expand_slashed_path_patterns: each * of a multi-segment variable becomes its own parameter.
    (
        "kitchen_expanded",
        "/paths/~1v1~1projects~1{project}~1things~1{thing}/get/parameters",
        [
            {"name": "project", "in": "path", "required": True, "type": "string"},
            {"name": "thing", "in": "path", "required": True, "type": "string"},
        ],
    ),
    ("kitchen_expanded", "/paths/~1v1~1{name}", ABSENT),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/parameters/0/name", "widgetRef"),
    # Path parameter types.
    (
        "kitchen",
        "/paths/~1v1~1things~1{id}/get/parameters/0",
        {"name": "id", "description": "The id.", "in": "path", "required": True, "type": "string", "format": "int64"},
    ),
    # Body: named field, "*" without path params -> the request message, "*" with path params -> synthetic.
    (
        "kitchen",
        "/paths/~1v1~1things/post/parameters/0",
        {
            "name": "thing",
            "description": "Thing to create.",
            "in": "body",
            "required": True,
            "schema": {"$ref": "#/definitions/v1Thing"},
        },
    ),
    ("kitchen", "/paths/~1v1~1echo/post/parameters/0/schema", {"$ref": "#/definitions/v1Everything"}),
    (
        "kitchen",
        "/paths/~1v1~1shelves~1{shelf}~1things/post/parameters/1/schema",
        {"$ref": "#/definitions/KitchenServiceCreateThingOnShelfBody"},
    ),
    ("kitchen", "/definitions/KitchenServiceCreateThingOnShelfBody/properties/shelf", ABSENT),
    ("kitchen", "/definitions/KitchenServiceUpdateThingBody/properties/thing/properties/id", ABSENT),
    ("kitchen", "/paths/~1v1~1things~1{thingId}/patch/parameters/1/schema/properties/id", ABSENT),
    (
        "gadgets",
        "/paths/~1v1~1gadgets:upload/post/parameters/0/description",
        "A gadget upload chunk. (streaming inputs)",
    ),
    # Scalars.
    ("kitchen", "/definitions/v1Everything/properties/int32Value", {"type": "integer", "format": "int32"}),
    ("kitchen", "/definitions/v1Everything/properties/uint32Value", {"type": "integer", "format": "int64"}),
    ("kitchen", "/definitions/v1Everything/properties/fixed32Value", {"type": "integer", "format": "int64"}),
    ("kitchen", "/definitions/v1Everything/properties/int64Value", {"type": "string", "format": "int64"}),
    ("kitchen", "/definitions/v1Everything/properties/uint64Value", {"type": "string", "format": "uint64"}),
    ("kitchen", "/definitions/v1Everything/properties/floatValue", {"type": "number", "format": "float"}),
    ("kitchen", "/definitions/v1Everything/properties/doubleValue", {"type": "number", "format": "double"}),
    ("kitchen", "/definitions/v1Everything/properties/boolValue", {"type": "boolean"}),
    ("kitchen", "/definitions/v1Everything/properties/bytesValue", {"type": "string", "format": "byte"}),
    # Well-known types.
    ("kitchen", "/definitions/v1Everything/properties/timestamp", {"type": "string", "format": "date-time"}),
    ("kitchen", "/definitions/v1Everything/properties/duration", {"type": "string"}),
    ("kitchen", "/definitions/v1Everything/properties/fieldMask", {"type": "string"}),
    ("kitchen", "/definitions/v1Everything/properties/structValue", {"type": "object"}),
    ("kitchen", "/definitions/v1Everything/properties/value", {}),
    ("kitchen", "/definitions/v1Everything/properties/listValue", {"type": "array", "items": {"type": "object"}}),
    ("kitchen", "/definitions/v1Everything/properties/empty", {"type": "object", "properties": {}}),
    ("kitchen", "/definitions/v1Everything/properties/anyValue", {"$ref": "#/definitions/protobufAny"}),
    ("kitchen", "/definitions/v1Everything/properties/wrappedInt64", {"type": "string", "format": "int64"}),
    ("kitchen", "/definitions/v1Everything/properties/wrappedUint32", {"type": "integer", "format": "int64"}),
    ("kitchen", "/definitions/protobufAny/additionalProperties", {}),
    ("kitchen", "/definitions/protobufAny/properties/@type/type", "string"),
    # Maps, repeated, oneofs, json_name.
    (
        "kitchen",
        "/definitions/v1Everything/properties/stringMap",
        {"type": "object", "additionalProperties": {"type": "string"}},
    ),
    (
        "kitchen",
        "/definitions/v1Everything/properties/intMap",
        {"type": "object", "additionalProperties": {"$ref": "#/definitions/v1Nested"}},
    ),
    (
        "kitchen",
        "/definitions/v1Everything/properties/repeatedNested",
        {"type": "array", "items": {"type": "object", "$ref": "#/definitions/v1Nested"}},
    ),
    ("widgets_allof", "/definitions/Widget/properties/spares/items", {"$ref": "#/definitions/Part"}),
    ("kitchen", "/definitions/v1Everything/properties/choiceString", {"type": "string"}),
    (
        "kitchen",
        "/definitions/v1Everything/properties/customJsonName/description",
        "A field whose JSON name is set explicitly.",
    ),
    (
        "kitchen_proto_names",
        "/definitions/v1Everything/properties/renamed/description",
        "A field whose JSON name is set explicitly.",
    ),
    # Enums: strings with the first value as default; value comments appended; ints on request.
    ("kitchen", "/definitions/v1Color/enum", ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN", "COLOR_BLUE"]),
    ("kitchen", "/definitions/v1Color/default", "COLOR_UNSPECIFIED"),
    (
        "kitchen",
        "/definitions/NestedKind/description",
        "Inner enum of a nested message.\n\n - KIND_UNSPECIFIED: Not set.\n - KIND_LEAF: A leaf.\n - KIND_BRANCH: A branch.",
    ),
    (
        "kitchen_ints_fqn",
        "/definitions/kitchen.v1.Color",
        {
            "type": "integer",
            "format": "int32",
            "enum": [1, 2, 3],
            "description": "Colour is a plain enum used as a field, a repeated field and a map value.\n\n - 1: Red.\n - 2: Green.\n - 3: Blue.",
        },
    ),
    # Definitions: legacy names; comments to title/description; Output only.
    ("kitchen", "/definitions/v1Thing/description", "A thing on a shelf."),
    ("widgets", "/definitions/v1Part/title", "A part of a widget"),
    ("widgets", "/definitions/v1Widget/properties/created/readOnly", True),
    ("widgets", "/definitions/v1Widget/properties/revision/readOnly", True),
    ("widgets_no_comments", "/definitions/Part/title", ABSENT),
    # nullable_unset_messages: singular messages (the gateway writes null when unset), not oneofs or optionals.
    (
        "widgets_no_comments",
        "/definitions/Widget/properties/mainPart",
        {"$ref": "#/definitions/Part", "x-nullable": True},
    ),
    (
        "widgets_no_comments",
        "/definitions/Widget/properties/created",
        {"type": "string", "format": "date-time", "x-nullable": True},
    ),
    ("widgets_no_comments", "/definitions/Widget/properties/spares/x-nullable", ABSENT),
    ("widgets_no_comments", "/definitions/Widget/properties/radius/x-nullable", ABSENT),
    ("widgets_no_comments", "/definitions/Widget/properties/note/x-nullable", ABSENT),
    ("widgets", "/definitions/v1Widget/properties/created/x-nullable", ABSENT),
    ("widgets_no_comments", "/definitions/openapitest.v1.Status", ABSENT),
    ("openapitest_merged", "/definitions/googleRpcStatus/type", "object"),
    (
        "openapitest_merged",
        "/definitions/openapitestV1Status/properties/on",
        {"type": "boolean", "description": "Is it on."},
    ),
    # required: REQUIRED fields and schema-option names, once each, never next to $ref.
    ("kitchen", "/definitions/v1Everything/required", ["requiredField"]),
    ("widgets", "/definitions/v1Widget/required", ["displayName", "id", "name", "mainPart"]),
    (
        "widgets",
        "/definitions/v1Widget/properties/mainPart",
        {
            "$ref": "#/definitions/v1Part",
            "description": "The main part; required, so it goes in Widget's required list, never next to its $ref.",
        },
    ),
    (
        "widgets",
        "/paths/~1v1~1widgets~1{widgetId}/patch/parameters/1/schema/required",
        ["displayName", "name", "mainPart"],
    ),
    ("widgets", "/definitions/WidgetServiceCreateWidgetBody/required", ["widget"]),
    ("widgets", "/definitions/WidgetServiceCreateWidgetBody/properties/shelf", ABSENT),
    (
        "widgets_allof",
        "/definitions/Widget/properties/mainPart",
        {
            "description": "The main part; required, so it goes in Widget's required list, never next to its $ref.",
            "allOf": [{"$ref": "#/definitions/Part"}],
        },
    ),
    ("widgets_allof", "/definitions/Part/required", ["serial", "count"]),
    # Query parameters.
    (
        "widgets",
        "/paths/~1v1~1widgets~1{widgetRef}/get/parameters/1",
        {"name": "view", "description": "Required query parameter.", "in": "query", "required": True, "type": "string"},
    ),
    # openapiv2_* options.
    ("widgets", "/info/title", "Widgets API"),
    ("widgets", "/info/x-info-extension", "info"),
    ("widgets", "/schemes", ["http", "https", "wss"]),
    ("widgets", "/security", [{"BearerToken": []}, {"OAuth2": ["read"]}]),
    (
        "widgets",
        "/securityDefinitions/BearerToken",
        {"type": "apiKey", "description": "Paste 'Bearer <token>'.", "name": "Authorization", "in": "header"},
    ),
    ("widgets", "/securityDefinitions/OAuth2/scopes", {"read": "Read widgets", "write": "Write widgets"}),
    ("widgets", "/x-document-extension", 42),
    ("widgets", "/x-another", ["a", None]),
    (
        "widgets",
        "/tags/0",
        {
            "name": "Widgets",
            "description": "Manage widgets",
            "externalDocs": {"description": "Widget handbook", "url": "https://example.com/widgets"},
        },
    ),
    ("widgets", "/paths/~1v1~1shelves~1{shelf}~1widgets/post/security", []),
    ("widgets", "/paths/~1v1~1shelves~1{shelf}~1widgets/post/responses/418/schema", {"$ref": "#/definitions/v1Widget"}),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/operationId", "FetchWidget"),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/tags", ["Widgets", "Admin"]),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/responses/200/headers/X-Rate-Limit/default", 10),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/responses/200/examples", {"application/json": {"id": "1"}}),
    ("widgets", "/paths/~1v1~1widgets~1{widgetRef}/get/x-operation-extension", False),
    ("widgets", "/paths/~1v1~1widgets~1{widgetId}/patch/deprecated", True),
    ("widgets", "/paths/~1v1~1widgets~1{widgetId}/patch/summary", "Summary from the option"),
    ("widgets", "/paths/~1v1~1widgets~1{widgetId}/patch/security", [{"OAuth2": ["write"]}]),
    ("widgets", "/definitions/v1Widget/title", "Widget (from the option)"),
    ("widgets", "/definitions/v1Widget/example", {"id": "1", "name": "w"}),
    ("widgets", "/definitions/v1Widget/x-widget", True),
    ("widgets", "/definitions/v1Widget/properties/code/pattern", "^[A-Z]+$"),
    ("widgets", "/definitions/v1Widget/properties/code/example", "XYZ"),
    ("widgets", "/definitions/v1Widget/properties/weight/maximum", 100),
    ("widgets", "/definitions/v1Widget/properties/tags/items/pattern", "^[a-z]+$"),
    (
        "widgets",
        "/definitions/v1Widget/properties/big",
        {
            "type": "integer",
            "format": "int64",
            "description": "A 64-bit number shown as an integer by a type override.",
        },
    ),
    ("widgets", "/definitions/v1Finish/title", "Finish title from the option"),
    ("widgets", "/definitions/v1Finish/example", "FINISH_MATTE"),
    ("openapitest_merged", "/definitions/v1Widget/properties/note/x-nullable", True),
    ("openapitest_merged", "/info/title", "Widgets API"),
    ("openapitest_merged", "/tags/2", {"name": "GadgetService", "description": "Gadgets, with streaming calls."}),
    ("gadgets", "/info/title", "openapitest/v1/gadgets.proto"),
    ("gadgets", "/tags", ABSENT),
    ("gadgets", "/paths/~1v1~1{name}:download/get/parameters/0/pattern", "gadgets/[^/]+/images/.+"),
    ("widgets", "/paths/~1v1~1ping/post/parameters/0/schema", {"type": "object", "properties": {}}),
]


@pytest.mark.parametrize(("case", "pointer", "expected"), RULES)
def test_rule(case: str, pointer: str, expected: Any, by_case: dict[str, dict[str, Any]]) -> None:
    doc = by_case[case]
    if expected is ABSENT:
        with pytest.raises((KeyError, IndexError)):
            _pointer(doc, pointer)
        return
    assert _pointer(doc, pointer) == expected


QUERY_RULES: list[tuple[str, str, str, list[str], list[str]]] = [
    # (case, path, method, names that must be query parameters, names that must not be)
    (
        "kitchen",
        "/v1/things",
        "get",
        ["pageSize", "filter.nested.name", "colors", "filter.stringMap[string]", "filter.structValue"],
        [
            "filter.nested.child.name",
            "filter.repeatedNested",
            "filter.intMap[int32]",
            "filter.listValue",
            "filter.empty",
        ],
    ),
    ("kitchen", "/v1/echo", "post", [], ["doubleValue", "nested.name"]),  # body "*": no query at all
    ("kitchen", "/v1/things", "post", ["requestId"], ["thing"]),
    ("kitchen", "/v1/things/{thingId}", "patch", [], ["updateMask", "thing.id"]),  # PATCH field mask hidden
    (
        "kitchen",
        "/v1/echo/{s}/{i64}/{b}/{color}/{u32}/{d}/{nestedName}",
        "get",
        ["nested.amount", "rest.int32Value"],
        ["nested.name", "s"],
    ),
    ("kitchen", "/v1/things/{id}", "get", ["shelf", "readMask"], ["id"]),
    (
        "kitchen_proto_names",
        "/v1/things",
        "get",
        ["page_size", "filter.nested.name", "filter.string_map[string]"],
        ["pageSize"],
    ),
    ("widgets", "/v1/widgets/{widgetRef}", "get", ["view", "partFilter.serial", "requiredFilter.serial"], ["widgetId"]),
]


@pytest.mark.parametrize(("case", "path", "method", "present", "absent"), QUERY_RULES)
def test_query_parameters(
    case: str, path: str, method: str, present: list[str], absent: list[str], by_case: dict[str, dict[str, Any]]
) -> None:
    names = _query_names(by_case[case], path, method)
    assert set(present) <= set(names), sorted(set(present) - set(names))
    assert not set(absent) & set(names), sorted(set(absent) & set(names))


PARAM_RULES: list[tuple[str, str, str, str, dict[str, Any]]] = [
    (
        "kitchen",
        "/v1/things",
        "get",
        "colors",
        {
            "type": "array",
            "collectionFormat": "multi",
            "items": {"type": "string", "enum": ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN", "COLOR_BLUE"]},
        },
    ),
    ("kitchen", "/v1/things", "get", "filter.color", {"type": "string", "default": "COLOR_UNSPECIFIED"}),
    (
        "kitchen",
        "/v1/things",
        "get",
        "filter.repeatedInt64",
        {"type": "array", "items": {"type": "string", "format": "int64"}},
    ),
    ("kitchen", "/v1/things", "get", "filter.timestamp", {"type": "string", "format": "date-time"}),
    ("kitchen", "/v1/things", "get", "filter.requiredField", {"required": False}),  # inside an optional filter
    ("kitchen", "/v1/echo", "get", "requiredField", {"required": True}),
    ("widgets", "/v1/widgets/{widgetRef}", "get", "partFilter.serial", {"required": False}),
    ("widgets", "/v1/widgets/{widgetRef}", "get", "requiredFilter.serial", {"required": True}),
    (
        "widgets",
        "/v1/widgets/{widgetRef}",
        "get",
        "X-Request-Id",
        {"in": "header", "required": True, "type": "string", "format": "uuid"},
    ),
    # proto3 field semantics: fields without presence are required, messages included.
    ("widgets_allof", "/v1/widgets/{widgetRef}", "get", "partFilter.count", {"required": True}),
    (
        "kitchen",
        "/v1/echo/{s}/{i64}/{b}/{color}/{u32}/{d}/{nestedName}",
        "get",
        "color",
        {"in": "path", "type": "string", "enum": ["COLOR_UNSPECIFIED", "COLOR_RED", "COLOR_GREEN", "COLOR_BLUE"]},
    ),
    (
        "kitchen",
        "/v1/echo/{s}/{i64}/{b}/{color}/{u32}/{d}/{nestedName}",
        "get",
        "u32",
        {"in": "path", "type": "integer", "format": "int64"},
    ),
    ("kitchen", "/v1/echo/{s}/{i64}/{b}/{color}/{u32}/{d}/{nestedName}", "get", "b", {"in": "path", "type": "boolean"}),
    ("kitchen_ints_fqn", "/v1/things", "get", "filter.color", {"type": "integer", "enum": [1, 2, 3]}),
]


@pytest.mark.parametrize(("case", "path", "method", "name", "subset"), PARAM_RULES)
def test_parameter(
    case: str, path: str, method: str, name: str, subset: dict[str, Any], by_case: dict[str, dict[str, Any]]
) -> None:
    param = _param(by_case[case], path, method, name)
    assert {k: param.get(k) for k in subset} == subset


def test_paths_sorted_unless_rpc_order(by_case: dict[str, dict[str, Any]]) -> None:
    assert list(by_case["kitchen"]["paths"]) == sorted(by_case["kitchen"]["paths"])
    # preserve_rpc_order keeps the proto order: GetThing's /v1/things/{id} comes first.
    assert next(iter(by_case["kitchen_ints_fqn"]["paths"])) == "/v1/things/{id}"


def test_deterministic(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    """Same input, byte-identical output, whatever the order of the files in the set."""
    first = _generate(testing_files, "openapitest_merged")
    shuffled = list(reversed(testing_files))
    assert _generate(shuffled, "openapitest_merged") == first


def test_default_targets_are_files_with_services(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    docs = generate(testing_files)
    assert set(docs) == {
        "editions/v1/editions.swagger.json",
        "kitchen/v1/kitchen.swagger.json",
        "openapitest/v1/widgets.swagger.json",
        "openapitest/v1/gadgets.swagger.json",
    }


def test_options_objects_parsed_before_extensions_were_known(
    testing_files: list[descriptor_pb2.FileDescriptorProto],
) -> None:
    """Options carried as unknown fields (a descriptor set parsed before the extension modules were
    imported, or read through another pool) still take effect: they are re-parsed on read."""
    stripped = []
    for f in testing_files:
        copy = descriptor_pb2.FileDescriptorProto()
        copy.ParseFromString(f.SerializeToString())
        stripped.append(copy)
    assert _generate(stripped, "widgets") == _generate(testing_files, "widgets")


def _file(name: str, body: str) -> descriptor_pb2.FileDescriptorProto:
    """A one-service file built from text format, for the error table."""
    from google.protobuf import text_format

    fdp = descriptor_pb2.FileDescriptorProto()
    text_format.Parse(body, fdp)
    fdp.name = name
    return fdp


_MSG = 'message_type { name: "Req" field { name: "id" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "id" } field { name: "sub" number: 2 type: TYPE_MESSAGE type_name: ".e.Req" label: LABEL_OPTIONAL json_name: "sub" } }'


def _service_with_rule(rule: str) -> descriptor_pb2.FileDescriptorProto:
    fdp = _file(
        "e.proto",
        f'package: "e" syntax: "proto3" {_MSG} service {{ name: "S" method {{ name: "M" input_type: ".e.Req" output_type: ".e.Req" }} }}',
    )
    from google.api import annotations_pb2, http_pb2
    from google.protobuf import text_format

    http = http_pb2.HttpRule()
    text_format.Parse(rule, http)
    fdp.service[0].method[0].options.Extensions[annotations_pb2.http].CopyFrom(http)
    return fdp


# The rules and messages are core.bindings' own: the gateway refuses the same rules with the same words.
ERRORS = [
    ('get: "v1/x"', "e.S.M: invalid path template 'v1/x': no leading /"),
    ('get: "/v1/{missing}"', "no field 'missing'"),
    ('get: "/v1/{sub}"', "path variable 'sub' must be a scalar field"),
    ('get: "/v1/{id.x}"', "path variable 'id.x': 'id' is not a message field"),
    ('get: "/v1/x" body: "*"', "GET binding may not have a body"),
    ('delete: "/v1/x" body: "*"', "allow_delete_body"),
    ('post: "/v1/x" body: "nope"', "no field 'nope'"),
    ('get: "/v1/x" response_body: "nope"', "no field 'nope'"),
    ('get: "/v1/{id"', "unclosed '{'"),
    ('get: "/v1/x" additional_bindings { get: "/v1/y" additional_bindings { get: "/v1/z" } }', "may not nest"),
]


@pytest.mark.parametrize(("rule", "message"), ERRORS)
def test_errors(rule: str, message: str) -> None:
    with pytest.raises(GenerationError, match=re.escape(message)):
        generate([_service_with_rule(rule)], ["e.proto"], Options())


def test_unknown_target() -> None:
    with pytest.raises(GenerationError, match="not in the descriptor set"):
        generate([_service_with_rule('get: "/v1/x"')], ["other.proto"])


def test_delete_body_allowed_with_option() -> None:
    docs = generate([_service_with_rule('delete: "/v1/x" body: "*"')], ["e.proto"], Options(allow_delete_body=True))
    assert docs["e.swagger.json"]["paths"]["/v1/x"]["delete"]["parameters"][0]["in"] == "body"


def test_generate_unbound_methods() -> None:
    fdp = _file(
        "e.proto",
        f'package: "e" syntax: "proto3" {_MSG} service {{ name: "S" method {{ name: "M" input_type: ".e.Req" output_type: ".e.Req" }} }}',
    )
    assert generate([fdp], ["e.proto"])["e.swagger.json"]["paths"] == {}
    paths = generate([fdp], ["e.proto"], Options(generate_unbound_methods=True))["e.swagger.json"]["paths"]
    assert list(paths) == ["/e.S/M"]
    assert paths["/e.S/M"]["post"]["parameters"][0]["schema"] == {"$ref": "#/definitions/eReq"}


def _visibility_file() -> descriptor_pb2.FileDescriptorProto:
    """A service whose field, method and enum value carry google.api visibility rules."""
    from google.api import visibility_pb2

    fdp = _file(
        "v.proto",
        'package: "v" syntax: "proto3" '
        'enum_type { name: "E" value { name: "E_UNSPECIFIED" number: 0 } value { name: "E_SECRET" number: 1 } } '
        'message_type { name: "Req" '
        'field { name: "open" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "open" } '
        'field { name: "hidden" number: 2 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "hidden" } '
        'field { name: "e" number: 3 type: TYPE_ENUM type_name: ".v.E" label: LABEL_OPTIONAL json_name: "e" } } '
        'service { name: "S" method { name: "Open" input_type: ".v.Req" output_type: ".v.Req" } '
        'method { name: "Internal" input_type: ".v.Req" output_type: ".v.Req" } }',
    )
    from google.api import annotations_pb2, http_pb2

    for method, path in zip(fdp.service[0].method, ["/v1/open", "/v1/internal"], strict=True):
        method.options.Extensions[annotations_pb2.http].CopyFrom(http_pb2.HttpRule(get=path))
    rule = visibility_pb2.VisibilityRule(restriction="INTERNAL, PREVIEW")
    fdp.message_type[0].field[1].options.Extensions[visibility_pb2.field_visibility].CopyFrom(rule)
    fdp.service[0].method[1].options.Extensions[visibility_pb2.method_visibility].CopyFrom(rule)
    fdp.enum_type[0].value[1].options.Extensions[visibility_pb2.value_visibility].CopyFrom(rule)
    return fdp


@pytest.mark.parametrize(
    ("selectors", "paths", "query", "enum"),
    [
        ((), ["/v1/open"], ["open", "e"], ["E_UNSPECIFIED"]),
        (("PREVIEW",), ["/v1/internal", "/v1/open"], ["open", "hidden", "e"], ["E_UNSPECIFIED", "E_SECRET"]),
        (("OTHER",), ["/v1/open"], ["open", "e"], ["E_UNSPECIFIED"]),
    ],
)
def test_visibility_restrictions(
    selectors: tuple[str, ...], paths: list[str], query: list[str], enum: list[str]
) -> None:
    doc = generate([_visibility_file()], ["v.proto"], Options(visibility_restriction_selectors=selectors))[
        "v.swagger.json"
    ]
    assert sorted(doc["paths"]) == paths
    assert [p["name"] for p in doc["paths"]["/v1/open"]["get"]["parameters"]] == query
    assert doc["definitions"]["vE"]["enum"] == enum
    assert sorted(doc["definitions"]["vReq"]["properties"]) == sorted(query)


@pytest.mark.parametrize(
    ("leading", "trailing", "remove", "summary", "description"),
    [
        # Internal text (AIP-192) in a leading comment is always dropped, as protoc-gen-openapiv2 does.
        ("Get it.\n\nMore. (-- internal note --) Done.", "", False, "Get it.", "More. Done."),
        ("Get it.\n(-- all\ninternal --)", "", False, "Get it.", None),
        # In a trailing comment only remove_internal_comments drops it.
        ("Get it.", "Trailing text. (-- secret --)", False, "Get it.", "Trailing text. (-- secret --)"),
        ("Get it.", "Trailing text. (-- secret --)", True, "Get it.", "Trailing text."),
    ],
)
def test_comments_to_summary(leading: str, trailing: str, remove: bool, summary: str, description: str | None) -> None:
    fdp = _service_with_rule('get: "/v1/x"')
    loc = fdp.source_code_info.location.add(path=[6, 0, 2, 0], span=[0, 0, 0])
    loc.leading_comments = " " + leading.replace("\n", "\n ") + "\n"
    if trailing:
        loc.trailing_comments = " " + trailing + "\n"
    op = generate([fdp], ["e.proto"], Options(remove_internal_comments=remove))["e.swagger.json"]["paths"]["/v1/x"][
        "get"
    ]
    assert op["summary"] == summary
    assert op.get("description") == description


def test_descriptor_set_without_imports(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    """A set built without --include_imports names the files it lacks."""
    kitchen_only = [f for f in testing_files if f.name == "kitchen/v1/kitchen.proto"]
    with pytest.raises(
        GenerationError, match=r"missing imported files: google/api/field_behavior.proto, google/api/httpbody.proto"
    ):
        generate(kitchen_only, KITCHEN)
