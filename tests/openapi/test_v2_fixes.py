"""The v2 generator's fixes from issue 9, one table each: comments of imported messages, legacy
definition names, the NullValue definition, and a bad option value that warns instead of failing."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from google.api import annotations_pb2  # noqa: F401  (google.api.http in the text format)
from google.protobuf import descriptor_pb2, text_format

from protogw.gen.protoc_gen_openapiv2.options import annotations_pb2 as v2  # noqa: F401
from protogw.openapi import generate, parse_parameter

KITCHEN = "kitchen/v1/kitchen.proto"


def _file(text: str) -> descriptor_pb2.FileDescriptorProto:
    return text_format.Parse(text, descriptor_pb2.FileDescriptorProto())


def _only(docs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    (doc,) = docs.values()
    return doc


def _without_source_info(
    files: list[descriptor_pb2.FileDescriptorProto], name: str
) -> list[descriptor_pb2.FileDescriptorProto]:
    out = []
    for f in files:
        if f.name == name:
            f = descriptor_pb2.FileDescriptorProto.FromString(f.SerializeToString())
            f.ClearField("source_code_info")
        out.append(f)
    return out


# (google/rpc/status.proto carries its source info?, description of rpcStatus.code starts with)
COMMENTS: list[tuple[bool, str | None]] = [
    (True, "The status code, which should be an enum value of"),
    (False, None),
]


@pytest.mark.parametrize(("with_source_info", "expected"), COMMENTS)
def test_imported_comments_are_kept(
    with_source_info: bool, expected: str | None, testing_files: list[descriptor_pb2.FileDescriptorProto]
) -> None:
    files = testing_files if with_source_info else _without_source_info(testing_files, "google/rpc/status.proto")
    doc = _only(generate(files, [KITCHEN]))
    status = doc["definitions"]["rpcStatus"]
    code = status["properties"]["code"].get("description")
    if expected is None:
        assert code is None
        assert "description" not in status
    else:
        assert code.startswith(expected)
        assert status["description"].startswith("The `Status` type defines a logical error model")


_LINKS = [
    'name: "common.proto" package: "common.v1" message_type { name: "Link" field { name: "url" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "url" } }',
    'name: "nexus.proto" package: "nexus.v1" message_type { name: "Link" field { name: "ref" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "ref" } }',
]
_SERVICE = """
name: "svc.proto" package: "svc.v1" dependency: "common.proto" dependency: "nexus.proto" dependency: "google/api/annotations.proto"
message_type { name: "Req" field { name: "link" number: 1 type: TYPE_MESSAGE type_name: ".common.v1.Link" label: LABEL_OPTIONAL json_name: "link" } }
message_type { name: "Unbound" field { name: "link" number: 1 type: TYPE_MESSAGE type_name: ".nexus.v1.Link" label: LABEL_OPTIONAL json_name: "link" } }
service { name: "S"
  method { name: "Get" input_type: ".svc.v1.Req" output_type: ".svc.v1.Req" options { [google.api.http] { get: "/get" } } }
  method { name: "Other" input_type: ".svc.v1.Unbound" output_type: ".svc.v1.Unbound" %s }
}
"""

# (is Other bound to HTTP?, definition name the document uses for common.v1.Link, names it must not have)
NAMES: list[tuple[bool, str, set[str]]] = [
    # Only the bound RPC's Link is referenced: the target file's Unbound message competes by its
    # name only, so nexus.v1.Link does not lengthen the name (protoc-gen-openapiv2 v2.27.5).
    (False, "v1Link", {"commonV1Link", "nexusV1Link"}),
    # Both are referenced by bound RPCs: the names must tell them apart.
    (True, "commonV1Link", {"v1Link"}),
]


@pytest.mark.parametrize(("bound", "name", "absent"), NAMES)
def test_legacy_names(bound: bool, name: str, absent: set[str]) -> None:
    from google.api import annotations_pb2 as http_annotations
    from google.protobuf import descriptor_pb2 as d

    options = 'options { [google.api.http] { get: "/other" } }' if bound else ""
    annotations = d.FileDescriptorProto()
    http_annotations.DESCRIPTOR.CopyToProto(annotations)
    files = [*(_file(t) for t in _LINKS), _file(_SERVICE % options)]
    doc = _only(generate(files, ["svc.proto"], parse_parameter("")))
    assert doc["definitions"]["v1Req"]["properties"]["link"] == {"$ref": f"#/definitions/{name}"}
    assert name in doc["definitions"]
    assert not absent & set(doc["definitions"])


def test_null_value_definition(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    doc = _only(generate(testing_files, [KITCHEN]))
    null = doc["definitions"]["protobufNullValue"]
    assert null["type"] == "string"
    assert null["enum"] == ["NULL_VALUE"]
    assert null["default"] == "NULL_VALUE"
    assert null["description"].endswith(" - NULL_VALUE: Null value.")


_EXAMPLE = """
name: "ex.proto" package: "ex.v1"
message_type { name: "Req"
  field { name: "start_time" number: 1 type: TYPE_STRING label: LABEL_OPTIONAL json_name: "startTime"
    options { [grpc.gateway.protoc_gen_openapiv2.options.openapiv2_field] { example: %s } } }
}
service { name: "S" method { name: "Get" input_type: ".ex.v1.Req" output_type: ".ex.v1.Req" options { [google.api.http] { get: "/get" } } } }
"""

# (example option text, example written, warning expected)
EXAMPLES: list[tuple[str, Any, bool]] = [
    ('"\\"2021-01-01T00:00:00.000Z\\""', "2021-01-01T00:00:00.000Z", False),
    ('"2021-01-01T00:00:00.000Z"', None, True),  # openfga's option: not JSON
    ('"{\\"a\\": 1}"', {"a": 1}, False),
]


@pytest.mark.parametrize(("text", "written", "warns"), EXAMPLES)
def test_bad_example_warns_and_is_dropped(
    text: str, written: Any, warns: bool, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="protogw.openapi"):
        doc = _only(generate([_file(_EXAMPLE % text)], ["ex.proto"]))
    prop = doc["definitions"]["v1Req"]["properties"]["startTime"]
    assert prop.get("example") == written
    messages = [r.getMessage() for r in caplog.records]
    if warns:
        # Once per place the field is rendered (definition, query parameter), the same message.
        (message,) = set(messages)
        assert "field ex.v1.Req.start_time" in message
        assert "is not valid JSON" in message
    else:
        assert messages == []
