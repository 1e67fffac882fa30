"""The 3.1 generator against grpc-gateway's committed protoc-gen-openapiv3 documents.

tests/upstream/grpc-gateway holds the upstream protos and expected files (differences: tests/openapi/upstream_differences.md). Each case
generates one document with the plugin's defaults; the table below lists every operation or
component that may differ (upstream_differences.md says why). Anything else that differs fails,
and so does a listed difference that has disappeared (the table must shrink with the code).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc_tools
import pytest
from google.api import annotations_pb2  # noqa: F401  (registers google.api.http for the text format)
from google.protobuf import descriptor_pb2, text_format
from google.protobuf.compiler import plugin_pb2
from openapi_spec_validator import validate

from protogw.openapi import dumps_v3, read_descriptor_set
from protogw.openapi.plugin import run_v3

UPSTREAM = Path(__file__).resolve().parents[1] / "upstream" / "grpc-gateway"
ROOT = Path(__file__).resolve().parents[2]
ABE = "examples/internal/proto/examplepb/a_bit_of_everything.proto"
HELLO = "examples/internal/helloworld/helloworld.proto"
ECHO_REQUEST = "protoc-gen-openapiv3/internal/genopenapi/testdata/simple_echo.prototext"
EXAMPLEPB = "grpc.gateway.examples.internal.proto.examplepb"

# case -> (expected file, output name, operations allowed to differ, components allowed to differ)
CASES: dict[str, tuple[str, str, set[tuple[str, str]], set[str]]] = {
    "a_bit_of_everything": (
        "examples/internal/proto/examplepb/a_bit_of_everything.openapi.json",
        "examples/internal/proto/examplepb/a_bit_of_everything.openapi.json",
        {
            ("/v1/example/a_bit_of_everything/params/get/{single_nested.name}", "get"),
            ("/v1/example/a_bit_of_everything/params/get/nested_enum/{single_nested.ok}", "get"),
            ("/v2/example/overwriteresponsecontenttype", "get"),
        },
        {f"{EXAMPLEPB}.ABitOfEverything"},
    ),
    "helloworld": (
        "examples/internal/helloworld/helloworld.openapi.json",
        "examples/internal/helloworld/helloworld.openapi.json",
        set(),
        set(),
    ),
    "simple_echo": (
        "protoc-gen-openapiv3/internal/genopenapi/testdata/simple_echo.openapi.json",
        "example/v1/echo.openapi.json",
        set(),
        set(),
    ),
}


def upstream_descriptors(out: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    """The upstream example protos compiled with protoc (imports and source info included)."""
    wkt = Path(grpc_tools.__file__).parent / "_proto"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{UPSTREAM}",
            f"-I{ROOT / 'proto' / 'vendor'}",
            f"-I{wkt}",
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            ABE,
            HELLO,
        ],
        check=True,
    )
    return read_descriptor_set(out)


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every upstream case through the protoc-gen-openapiv3 plugin entry point (output name -> text)."""
    files = upstream_descriptors(tmp_path_factory.mktemp("upstream") / "upstream.binpb")
    request = plugin_pb2.CodeGeneratorRequest(file_to_generate=[ABE, HELLO], proto_file=files)
    echo = text_format.Parse((UPSTREAM / ECHO_REQUEST).read_text(), plugin_pb2.CodeGeneratorRequest())
    out: dict[str, str] = {}
    for req in (request, echo):
        response = run_v3(req)
        assert not response.error, response.error
        out.update({f.name: f.content for f in response.file})
    return out


def _operations(doc: dict[str, Any]) -> dict[tuple[str, str], Any]:
    return {(path, method): op for path, item in doc["paths"].items() for method, op in item.items()}


@pytest.mark.parametrize("case", sorted(CASES))
def test_matches_upstream(case: str, outputs: dict[str, str]) -> None:
    expected_file, output, op_diffs, schema_diffs = CASES[case]
    want = json.loads((UPSTREAM / expected_file).read_text())
    text = outputs[output]
    got = json.loads(text)
    validate(got)
    want_ops, got_ops = _operations(want), _operations(got)
    assert set(got_ops) == set(want_ops)
    differing_ops = {k for k in want_ops if got_ops[k] != want_ops[k]}
    assert differing_ops == op_diffs
    want_schemas = want.get("components", {}).get("schemas", {})
    got_schemas = got.get("components", {}).get("schemas", {})
    assert set(got_schemas) == set(want_schemas)
    assert {k for k in want_schemas if got_schemas[k] != want_schemas[k]} == schema_diffs
    assert {k: v for k, v in got.items() if k not in ("paths", "components")} == {
        k: v for k, v in want.items() if k not in ("paths", "components")
    }
    if not op_diffs and not schema_diffs:
        # Nothing differs: byte for byte, key order and Go's escaping included (the testdata file
        # carries a final newline that the plugin does not write; upstream's test trims it too).
        assert text == (UPSTREAM / expected_file).read_text().rstrip("\n")
        assert text == dumps_v3(want)


def _oneof_hoisted(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a single ``allOf: [{oneOf: X}]`` written as upstream writes it, ``oneOf: X`` (in
    upstream's key order: after ``required``)."""
    if list(schema.get("allOf", [{}])[0]) != ["oneOf"] or len(schema["allOf"]) != 1:
        return schema
    out = {k: v for k, v in schema.items() if k != "allOf"}
    return {**out, "oneOf": schema["allOf"][0]["oneOf"]}


# component -> why (upstream_differences.md): protogw keeps a single oneof group's constraint under
# allOf, upstream hoists it next to `properties`; otherwise the schemas are equal.
ONEOF_WRAPPED = {f"{EXAMPLEPB}.ABitOfEverything"}


@pytest.mark.parametrize("component", sorted(ONEOF_WRAPPED))
def test_single_oneof_group_differs_only_by_allof(component: str, outputs: dict[str, str]) -> None:
    expected_file, output, _, schema_diffs = CASES["a_bit_of_everything"]
    assert component in schema_diffs
    want = json.loads((UPSTREAM / expected_file).read_text())["components"]["schemas"][component]
    got = json.loads(outputs[output])["components"]["schemas"][component]
    assert "oneOf" in want
    assert "oneOf" not in got
    assert len(got["allOf"]) == 1
    assert json.dumps(_oneof_hoisted(got)) == json.dumps(want)
