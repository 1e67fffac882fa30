"""The protoc plugin front (protogw.openapi.plugin), run by real protoc and by buf.

The plugin's output must be byte-identical to the library's for the same files and parameters,
whichever driver runs it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from protogw.openapi import (
    dumps,
    dumps_v3,
    generate,
    generate_v3,
    parse_parameter,
    parse_parameter_v3,
    read_descriptor_set,
)
from protogw.openapi.plugin import run

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
PLUGIN = VENV_BIN / "protoc-gen-openapiv2"
INCLUDES = [ROOT / "proto" / "vendor", ROOT / "tests" / "protos", Path(grpc_tools.__file__).parent / "_proto"]

CASES = [
    ("kitchen", ["kitchen/v1/kitchen.proto"], ""),
    ("kitchen_yaml", ["kitchen/v1/kitchen.proto"], "output_format=yaml,simple_operation_ids=true"),
    ("separate", ["openapitest/v1/widgets.proto", "openapitest/v1/gadgets.proto"], "json_names_for_fields=false"),
    (
        "merged",
        ["openapitest/v1/gadgets.proto", "openapitest/v1/widgets.proto"],
        "allow_merge=true,merge_file_name=all",
    ),
]


def _protoc(args: list[str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "grpc_tools.protoc", *(f"-I{i}" for i in INCLUDES), *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


def _read_tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize(("case", "files", "parameter"), CASES)
def test_protoc_matches_library(case: str, files: list[str], parameter: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    result = _protoc([f"--plugin=protoc-gen-openapiv2={PLUGIN}", f"--openapiv2_out={parameter}:{out}", *files])
    assert result.returncode == 0, result.stderr
    descriptor_set = tmp_path / "set.binpb"
    result = _protoc(["--include_imports", "--include_source_info", f"--descriptor_set_out={descriptor_set}", *files])
    assert result.returncode == 0, result.stderr
    options = parse_parameter(parameter)
    expected = {
        name: dumps(doc, options.output_format)
        for name, doc in generate(read_descriptor_set(descriptor_set), files, options).items()
    }
    assert _read_tree(out) == expected


def test_buf_generate_matches_protoc(tmp_path: Path) -> None:
    buf = VENV_BIN / "buf"
    if not buf.exists():
        pytest.skip("buf is not installed in the virtualenv")
    ws = tmp_path / "ws"
    shutil.copytree(ROOT / "tests" / "protos" / "openapitest", ws / "protos" / "openapitest")
    shutil.copytree(ROOT / "proto" / "vendor", ws / "vendor", ignore=shutil.ignore_patterns("*.md", "LICENSE"))
    (ws / "buf.yaml").write_text("version: v2\nmodules:\n  - path: protos\n  - path: vendor\n")
    (ws / "buf.gen.yaml").write_text(
        "version: v2\nplugins:\n"
        f"  - local: {PLUGIN}\n    out: out\n    strategy: all\n"
        "    opt: [allow_merge=true, merge_file_name=all]\n"
        "inputs:\n  - directory: protos\n"
    )
    env = {**os.environ, "BUF_CACHE_DIR": str(tmp_path / "cache")}
    result = subprocess.run(
        [str(buf), "generate"], cwd=ws, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    reference = tmp_path / "reference"
    reference.mkdir()
    files = ["openapitest/v1/gadgets.proto", "openapitest/v1/widgets.proto"]
    result2 = _protoc(
        [
            f"--plugin=protoc-gen-openapiv2={PLUGIN}",
            f"--openapiv2_out=allow_merge=true,merge_file_name=all:{reference}",
            *files,
        ]
    )
    assert result2.returncode == 0, result2.stderr
    assert _read_tree(ws / "out") == _read_tree(reference)


@pytest.mark.parametrize(
    ("parameter", "message"),
    [
        ("no_such_option=1", "unknown option 'no_such_option'"),
        ("output_format=xml", "json or yaml"),
    ],
)
def test_protoc_reports_errors(parameter: str, message: str, tmp_path: Path) -> None:
    result = _protoc(
        [
            f"--plugin=protoc-gen-openapiv2={PLUGIN}",
            f"--openapiv2_out={parameter}:{tmp_path}",
            "kitchen/v1/kitchen.proto",
        ]
    )
    assert result.returncode != 0
    assert message in result.stderr


def _request(
    files: list[descriptor_pb2.FileDescriptorProto], targets: list[str], parameter: str = ""
) -> plugin_pb2.CodeGeneratorRequest:
    request = plugin_pb2.CodeGeneratorRequest(parameter=parameter, file_to_generate=targets)
    request.proto_file.extend(files)
    return request


def test_run_answers_in_the_response(testing_files: list[descriptor_pb2.FileDescriptorProto]) -> None:
    response = run(_request(testing_files, ["kitchen/v1/kitchen.proto"]))
    assert not response.HasField("error")
    assert response.supported_features & plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    assert [f.name for f in response.file] == ["kitchen/v1/kitchen.swagger.json"]


@pytest.mark.parametrize(
    ("targets", "parameter", "message"),
    [
        (["missing.proto"], "", "not in the descriptor set"),
        (["kitchen/v1/kitchen.proto"], "json_names_for_fields=perhaps", "takes a boolean"),
    ],
)
def test_run_errors(
    targets: list[str], parameter: str, message: str, testing_files: list[descriptor_pb2.FileDescriptorProto]
) -> None:
    response = run(_request(testing_files, targets, parameter))
    assert message in response.error
    assert not response.file


PLUGIN_V3 = VENV_BIN / "protoc-gen-openapiv3"


@pytest.mark.parametrize(
    ("files", "parameter"),
    [
        (["kitchen/v1/kitchen.proto"], ""),
        (["openapitest/v1/widgets.proto", "openapitest/v1/gadgets.proto"], "disable_default_errors"),
        (["openapitest/v1/widgets.proto", "openapitest/v1/gadgets.proto"], "allow_merge,merge_file_name=all"),
    ],
)
def test_protoc_v3_matches_library(files: list[str], parameter: str, tmp_path: Path) -> None:
    """protoc-gen-openapiv3 under real protoc writes what generate_v3 returns for the same files."""
    out = tmp_path / "out"
    out.mkdir()
    result = _protoc([f"--plugin=protoc-gen-openapiv3={PLUGIN_V3}", f"--openapiv3_out={parameter}:{out}", *files])
    assert result.returncode == 0, result.stderr
    descriptor_set = tmp_path / "set.binpb"
    result = _protoc(["--include_imports", "--include_source_info", f"--descriptor_set_out={descriptor_set}", *files])
    assert result.returncode == 0, result.stderr
    docs = generate_v3(read_descriptor_set(descriptor_set), files, parse_parameter_v3(parameter))
    assert docs
    assert _read_tree(out) == {name: dumps_v3(doc) for name, doc in docs.items()}


def test_protoc_v3_reports_errors(tmp_path: Path) -> None:
    result = _protoc(
        [f"--plugin=protoc-gen-openapiv3={PLUGIN_V3}", f"--openapiv3_out=nope:{tmp_path}", "kitchen/v1/kitchen.proto"]
    )
    assert result.returncode != 0
    assert "unknown option 'nope'" in result.stderr
