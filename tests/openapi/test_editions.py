"""Editions files through the protoc plugin, run by real protoc: our edition-2023 test API and
grpc-gateway's own editions example (``opaque.proto``). protoc refuses to hand editions files to a
plugin that does not declare support; the documents must be valid OpenAPI 2.0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import grpc_tools
import pytest
from openapi_spec_validator import validate

ROOT = Path(__file__).resolve().parents[2]
PLUGIN = Path(sys.executable).parent / "protoc-gen-openapiv2"
INCLUDES = [
    ROOT / "tests" / "protos",
    ROOT / "tests" / "upstream" / "grpc-gateway",
    ROOT / "tests" / "upstream" / "googleapis",
    ROOT / "proto" / "vendor",
    Path(grpc_tools.__file__).parent / "_proto",
]

FILES = [
    # file, an operation path it must document, a definition it must hold
    ("editions/v1/editions.proto", "/v1/samples:echo", "v1Sample"),
    ("examples/internal/proto/examplepb/opaque.proto", "/v1/products/{productId}", "examplepbOpaqueProduct"),
]


@pytest.mark.parametrize(("proto", "path", "definition"), FILES, ids=[f[0].rpartition("/")[2] for f in FILES])
def test_plugin_generates_editions_files(proto: str, path: str, definition: str, tmp_path: Path) -> None:
    cmd = [
        sys.executable,
        "-m",
        "grpc_tools.protoc",
        *(f"-I{i}" for i in INCLUDES),
        f"--plugin=protoc-gen-openapiv2={PLUGIN}",
        f"--openapiv2_out={tmp_path}",
        proto,
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)
    assert result.returncode == 0, result.stderr
    doc = json.loads((tmp_path / proto.replace(".proto", ".swagger.json")).read_text())
    validate(doc)
    assert path in doc["paths"]
    assert definition in doc["definitions"]
