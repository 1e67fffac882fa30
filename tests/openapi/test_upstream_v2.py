"""The 2.0 generator against grpc-gateway's committed swagger files for its own examples.

grpc-gateway's ``make proto`` writes ``examples/internal/proto/examplepb/*.swagger.json`` in two steps:
one joint ``buf generate`` over its whole module (``buf.gen.yaml``: ``allow_repeated_fields_in_body=true``),
then one ``buf generate --path <file>`` per file whose own ``*.buf.gen.yaml`` sets other options, which
overwrites that file's document (``RUNS`` below, in the Makefile's order). Each run here is one
``CodeGeneratorRequest`` to the ``protoc-gen-openapiv2`` plugin entry point with what buf puts in it:
the files to generate and, as ``proto_file``, those files and everything they import, with source info.

The protos are compiled from the verbatim upstream copies in ``tests/upstream/grpc-gateway`` (the
whole buf module, since every file of it competes for definition names in the joint run). Third-party
imports whose comments reach the documents (``google/rpc/status.proto`` and the well-known types) are
compiled from ``tests/openapi/upstream_deps``, the versions whose comments the committed files carry.

Every operation and definition is compared with the committed one; at least 85% must be equal, and
every one that is not must be listed in the 2.0 table of ``upstream_differences.md`` (the test fails on
an unlisted difference and on a listed one that has gone).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc_tools
import pytest
from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from protogw.openapi import read_descriptor_set
from protogw.openapi.plugin import run

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
UPSTREAM = ROOT / "tests" / "upstream" / "grpc-gateway"
DEPS = HERE / "upstream_deps"
DIFFERENCES = HERE / "upstream_differences.md"
EXAMPLES = "examples/internal/proto/examplepb"
THRESHOLD = 0.85

# The buf module's files (grpc-gateway's buf.yaml has no excludes that matter here).
MODULE_DIRS = (
    "examples",
    "internal/descriptor",
    "protoc-gen-openapiv2/options",
    "protoc-gen-openapiv3/options",
    "runtime/internal/examplepb",
)


@dataclass(frozen=True)
class Run:
    """One ``buf generate`` of grpc-gateway's Makefile: its files, its plugin options, and the name the
    Makefile moves the output to (``None``: the plugin's own name)."""

    files: tuple[str, ...]
    parameter: str
    rename: str | None = None


def _ex(*names: str) -> tuple[str, ...]:
    return tuple(f"{EXAMPLES}/{n}" for n in names)


# After the joint run (one request per directory, ``allow_repeated_fields_in_body=true``), the Makefile's
# per-file runs with each file's ``*.buf.gen.yaml`` options (the YAML files' paths made absolute).
# Left out, and listed as differences: use_go_template (``use_go_templates`` is not supported). opaque.buf.gen.yaml has no
# openapiv2 plugin, so opaque.swagger.json is the joint run's.
VIS = "visibility_rule_echo_service.proto"
RUNS = (
    Run(
        _ex("unannotated_echo_service.proto"),
        f"grpc_api_configuration={UPSTREAM}/{EXAMPLES}/unannotated_echo_service.yaml,"
        f"openapi_configuration={UPSTREAM}/{EXAMPLES}/unannotated_echo_service.swagger.yaml",
    ),
    Run(
        _ex("openapi_merge_a.proto", "openapi_merge_b.proto"),
        f"allow_merge=true,merge_file_name={EXAMPLES}/openapi_merge",
    ),
    Run(_ex("generate_unbound_methods.proto"), "generate_unbound_methods=true"),
    Run(_ex("use_allof_for_refs.proto"), "use_allof_for_refs=true,proto3_optional_nullable=true"),
    Run(_ex("ignore_comment.proto"), "ignore_comments=true"),
    Run(_ex("remove_internal_comment.proto"), "remove_internal_comments=true"),
    Run(_ex(VIS), "visibility_restriction_selectors=PREVIEW", "visibility_rule_preview_echo_service"),
    Run(_ex(VIS), "visibility_restriction_selectors=INTERNAL", "visibility_rule_internal_echo_service"),
    Run(_ex(VIS), "", "visibility_rule_none_echo_service"),
    Run(
        _ex(VIS),
        "visibility_restriction_selectors=PREVIEW,visibility_restriction_selectors=INTERNAL",
        "visibility_rule_preview_and_internal_echo_service",
    ),
    Run(_ex(VIS), "enums_as_ints=true", "visibility_rule_enums_as_ints_echo_service"),
    Run(_ex("enum_with_single_value.proto"), "omit_enum_default_value=true"),
    Run(_ex("proto3_field_semantics.proto"), "use_proto3_field_semantics=true"),
)


def module_files() -> list[str]:
    return sorted(p.relative_to(UPSTREAM).as_posix() for d in MODULE_DIRS for p in (UPSTREAM / d).rglob("*.proto"))


def compile_module(out: Path) -> list[descriptor_pb2.FileDescriptorProto]:
    wkt = Path(grpc_tools.__file__).parent / "_proto"
    includes = [DEPS, UPSTREAM, ROOT / "tests" / "upstream" / "googleapis", ROOT / "proto" / "vendor", wkt]
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            *(f"-I{p}" for p in includes),
            "--include_imports",
            "--include_source_info",
            f"--descriptor_set_out={out}",
            *module_files(),
        ],
        check=True,
    )
    return read_descriptor_set(out)


def request(files: list[descriptor_pb2.FileDescriptorProto], targets: tuple[str, ...], parameter: str) -> Any:
    """What buf sends for ``--path targets``: the targets and their transitive imports, imports first."""
    by_name = {f.name: f for f in files}
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for dep in by_name[name].dependency:
            visit(dep)
        order.append(name)

    for t in targets:
        visit(t)
    return plugin_pb2.CodeGeneratorRequest(
        file_to_generate=list(targets), parameter=parameter, proto_file=[by_name[n] for n in order]
    )


def joint_runs() -> list[Run]:
    """The joint ``buf generate``: buf's default ``strategy: directory`` invokes the plugin once per
    directory of the module, with that directory's files (and their imports) in one request."""
    by_dir: dict[str, list[str]] = {}
    for name in module_files():
        by_dir.setdefault(name.rpartition("/")[0], []).append(name)
    return [Run(tuple(names), "allow_repeated_fields_in_body=true") for _, names in sorted(by_dir.items())]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Output file name -> document, after the joint run and the per-file runs, as the Makefile leaves them."""
    files = compile_module(tmp_path_factory.mktemp("upstream_v2") / "module.binpb")
    out: dict[str, Any] = {}
    for r in (*joint_runs(), *RUNS):
        response = run(request(files, r.files, r.parameter))
        assert not response.error, response.error
        for f in response.file:
            name = f"{EXAMPLES}/{r.rename}.swagger.json" if r.rename else f.name
            out[name] = json.loads(f.content)
    return out


Item = tuple[str, str, str]  # (file, kind, name): kind is operation, definition or document


def items(file: str, want: dict[str, Any], got: dict[str, Any]) -> Iterator[tuple[Item, bool]]:
    """Every operation and definition of either document (and the rest of the document as one item),
    with whether both documents have it equal."""
    ops_w = {f"{m.upper()} {p}": op for p, item in want.get("paths", {}).items() for m, op in item.items()}
    ops_g = {f"{m.upper()} {p}": op for p, item in got.get("paths", {}).items() for m, op in item.items()}
    for name in [*ops_w, *(k for k in ops_g if k not in ops_w)]:
        yield (file, "operation", name), ops_w.get(name) == ops_g.get(name)
    defs_w, defs_g = want.get("definitions", {}), got.get("definitions", {})
    for name in [*defs_w, *(k for k in defs_g if k not in defs_w)]:
        yield (file, "definition", name), defs_w.get(name) == defs_g.get(name)
    rest_w = {k: v for k, v in want.items() if k not in ("paths", "definitions")}
    rest_g = {k: v for k, v in got.items() if k not in ("paths", "definitions")}
    yield (file, "document", "(info, tags, schemes, ...)"), rest_w == rest_g


def compared(outputs: dict[str, Any]) -> list[tuple[Item, bool]]:
    result: list[tuple[Item, bool]] = []
    for path in sorted((UPSTREAM / EXAMPLES).glob("*.swagger.json")):
        rel = path.relative_to(UPSTREAM).as_posix()
        result.extend(
            items(path.name.removesuffix(".swagger.json"), json.loads(path.read_text()), outputs.get(rel, {}))
        )
    return result


_ROW = re.compile(r"^\| ([a-z0-9_]+) \| (operation|definition|document) \| `([^`]+)` \| (.+) \|$")


def listed_differences() -> dict[Item, str]:
    """The rows of the 2.0 table in upstream_differences.md: (file, kind, item) -> reason."""
    text = DIFFERENCES.read_text()
    section = text[text.index("# protoc-gen-openapiv2 (2.0)") :]
    rows: dict[Item, str] = {}
    for line in section.splitlines():
        m = _ROW.match(line)
        if m:
            rows[(m.group(1), m.group(2), m.group(3))] = m.group(4)
    return rows


def test_at_least_85_percent_equal(outputs: dict[str, Any]) -> None:
    results = [(item, eq) for item, eq in compared(outputs) if item[1] != "document"]
    equal = sum(eq for _, eq in results)
    assert equal / len(results) >= THRESHOLD, f"{equal} of {len(results)} equal"


def test_every_difference_is_listed(outputs: dict[str, Any]) -> None:
    differing = {item for item, eq in compared(outputs) if not eq}
    listed = listed_differences()
    assert sorted(differing - set(listed)) == [], "differences not listed in upstream_differences.md"
    assert sorted(set(listed) - differing) == [], "listed differences that are gone"
    assert all(reason.strip() for reason in listed.values())


@pytest.mark.parametrize("run_", RUNS, ids=lambda r: r.rename or r.files[0].rsplit("/", 1)[1])
def test_per_file_run_writes_its_document(run_: Run, outputs: dict[str, Any]) -> None:
    name = run_.rename or (run_.files[0].removesuffix(".proto") if len(run_.files) == 1 else "")
    if not name:
        name = f"{EXAMPLES}/openapi_merge"
    elif "/" not in name:
        name = f"{EXAMPLES}/{name}"
    assert (UPSTREAM / f"{name}.swagger.json").exists()
    assert f"{name}.swagger.json" in outputs
