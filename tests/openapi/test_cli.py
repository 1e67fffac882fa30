"""The ``protogw openapi`` command function (protogw.openapi.cli), mounted on a test app."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from protogw.openapi.cli import openapi

app = typer.Typer()
app.command("openapi")(openapi)


@app.callback()
def _root() -> None:
    """Keeps "openapi" a subcommand, as it is under the main protogw CLI."""


@pytest.fixture(scope="module")
def descriptor_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("ds") / "testing.binpb"
    path.write_bytes(importlib.resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes())
    return path


CASES: list[tuple[list[str], str, object]] = [
    (["--file", "kitchen/v1/kitchen.proto"], "/info/title", "kitchen/v1/kitchen.proto"),
    (
        ["--file", "kitchen/v1/kitchen.proto", "--simple-operation-ids"],
        "/paths/~1v1~1things~1{id}/get/operationId",
        "GetThing",
    ),
    (
        ["--file", "kitchen/v1/kitchen.proto", "--no-json-names"],
        "/paths/~1v1~1things~1{thing_id}/patch/parameters/0/name",
        "thing_id",
    ),
    (["--file", "kitchen/v1/kitchen.proto", "--disable-default-errors"], "/definitions/rpcStatus", None),
    (["--file", "openapitest/v1/widgets.proto", "--disable-service-tags"], "/tags/1/name", "Admin"),
    (
        ["--option", "openapi_naming_strategy=fqn", "--file", "kitchen/v1/kitchen.proto"],
        "/definitions/kitchen.v1.Thing/type",
        "object",
    ),
    # Without --file every file with a service is merged; the leader is the one with openapiv2_swagger.
    ([], "/info/title", "Widgets API"),
    # --format openapiv3: OpenAPI 3.1 with protoc-gen-openapiv3's options.
    (["--format", "openapiv3", "--file", "kitchen/v1/kitchen.proto"], "/openapi", "3.1.0"),
    (["--format", "openapiv3", "--file", "kitchen/v1/kitchen.proto"], "/info/title", "kitchen"),
    (
        ["--format", "openapiv3", "--file", "kitchen/v1/kitchen.proto", "--disable-default-errors"],
        "/components/schemas/google.rpc.Status",
        None,
    ),
    (
        ["--format", "openapiv3", "--option", "safe_path_param_names", "--file", "kitchen/v1/kitchen.proto"],
        "/paths/~1v1~1things~1{thing_id}/patch/parameters/0/name",
        "thing_id",
    ),
    (["--format", "openapiv3"], "/paths/~1v1~1widgets~1{widget_id}/get/operationId", "WidgetService_GetWidget"),
]


def _get(doc: object, pointer: str) -> object:
    node = doc
    for raw in pointer.split("/")[1:]:
        key = raw.replace("~1", "/")
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict):
            if key not in node:
                return None
            node = node[key]
    return node


@pytest.mark.parametrize(("args", "pointer", "expected"), CASES)
def test_stdout(args: list[str], pointer: str, expected: object, descriptor_set: Path) -> None:
    result = CliRunner().invoke(app, ["openapi", str(descriptor_set), *args])
    assert result.exit_code == 0, result.output
    assert _get(json.loads(result.stdout), pointer) == expected


def test_yaml_to_file(descriptor_set: Path, tmp_path: Path) -> None:
    out = tmp_path / "sub" / "api.yaml"
    result = CliRunner().invoke(
        app, ["openapi", str(descriptor_set), "-o", str(out), "--format", "yaml", "-f", "kitchen/v1/kitchen.proto"]
    )
    assert result.exit_code == 0, result.output
    assert yaml.safe_load(out.read_text())["swagger"] == "2.0"


def test_no_merge_writes_a_tree(descriptor_set: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["openapi", str(descriptor_set), "-o", str(tmp_path), "--no-merge"])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.json"))
    assert written == [
        "editions/v1/editions.swagger.json",
        "kitchen/v1/kitchen.swagger.json",
        "openapitest/v1/gadgets.swagger.json",
        "openapitest/v1/widgets.swagger.json",
    ]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--file", "nope.proto"], "not in the descriptor set"),
        (["--option", "bogus=1"], "unknown option 'bogus'"),
        (["--format", "xml"], "json or yaml"),
    ],
)
def test_errors(args: list[str], message: str, descriptor_set: Path) -> None:
    result = CliRunner().invoke(app, ["openapi", str(descriptor_set), *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_not_a_descriptor_set(tmp_path: Path) -> None:
    bad = tmp_path / "bad.binpb"
    bad.write_bytes(b"\xff\xff\xff")
    result = CliRunner().invoke(app, ["openapi", str(bad)])
    assert result.exit_code == 2
    assert "not a FileDescriptorSet" in result.stderr
