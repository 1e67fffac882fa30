"""OpenAPI v2 (Swagger 2.0) documents from proto descriptors, compatible with protoc-gen-openapiv2.

The library takes descriptor protos and returns documents as dicts::

    files = read_descriptor_set("api.binpb")  # buf build -o api.binpb (or protoc --include_imports ...)
    docs = generate(files, ["library/v1/library.proto"], Options(simple_operation_ids=True))
    text = dumps(docs["library/v1/library.swagger.json"])

OpenAPI 3.1 documents (compatible with grpc-gateway's protoc-gen-openapiv3) come from the same
registry: ``generate_v3(files, targets, OptionsV3())``, written with :func:`dumps_v3`.

Thin fronts sit on top: the ``protoc-gen-openapiv2`` and ``protoc-gen-openapiv3`` protoc/buf plugins
(:mod:`.plugin`) and the ``protogw openapi`` command (:mod:`.cli`).
"""

from __future__ import annotations

import gc

from google.protobuf import descriptor_pb2

from protogw.core.descriptors import read_descriptor_set
from protogw.openapi._encode import dumps, normalize
from protogw.openapi._generator import generate as _generate
from protogw.openapi._options import OptionError, Options, parse_parameter, parse_parameter_v3
from protogw.openapi._registry import GenerationError
from protogw.openapi._v3 import generate_v3 as _generate_v3
from protogw.openapi._v3_merge import merge_documents
from protogw.openapi._v3_tables import OptionsV3

__all__ = [
    "GenerationError",
    "OptionError",
    "Options",
    "OptionsV3",
    "dumps",
    "dumps_v3",
    "generate",
    "generate_document",
    "generate_v3",
    "merge_documents",
    "parse_parameter",
    "parse_parameter_v3",
    "read_descriptor_set",
]


def generate(
    files: list[descriptor_pb2.FileDescriptorProto],
    targets: list[str] | None = None,
    options: Options | None = None,
) -> dict[str, dict[str, object]]:
    """Documents for ``targets`` (default: every file with a service), keyed by output file name,
    each already in protoc-gen-openapiv2's key order."""
    # The build allocates a great many small dicts that all stay alive until it returns; the cyclic
    # collector would rescan them over and over (cost growing with the document) and find nothing
    # to free. Pausing it keeps generation linear in the number of files.
    paused = gc.isenabled()
    gc.disable()
    try:
        return {name: normalize(doc) for name, doc in _generate(files, targets, options).items()}
    finally:
        if paused:
            gc.enable()


def generate_document(
    files: list[descriptor_pb2.FileDescriptorProto],
    targets: list[str] | None = None,
    options: Options | None = None,
) -> dict[str, object]:
    """One merged document over all ``targets`` (``allow_merge`` on, leader chosen as the plugin does)."""
    import dataclasses

    opts = dataclasses.replace(options or Options(), allow_merge=True)
    (doc,) = generate(files, targets, opts).values()
    return doc


def generate_v3(
    files: list[descriptor_pb2.FileDescriptorProto],
    targets: list[str] | None = None,
    options: OptionsV3 | None = None,
) -> dict[str, dict[str, object]]:
    """OpenAPI 3.1 documents for ``targets``, keyed by output file name (``a/b.openapi.json``)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _generate_v3(files, targets, options)
    finally:
        if paused:
            gc.enable()


def dumps_v3(doc: dict[str, object]) -> str:
    """A 3.1 document as protoc-gen-openapiv3 writes it (2-space indent, HTML-safe escapes, no final newline)."""
    return dumps(doc, "json", newline=False)
