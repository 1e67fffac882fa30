"""``protoc-gen-openapiv2`` and ``protoc-gen-openapiv3``: the generators as protoc / buf plugins.

protoc runs a plugin with a ``CodeGeneratorRequest`` on stdin and reads a ``CodeGeneratorResponse`` from
stdout; parameters arrive as one string (``--openapiv2_out=simple_operation_ids=true,allow_merge:out``
or buf's ``opt:``) and mean what they mean to the Go plugins. Errors are reported in the response, so
protoc prints them next to the file name instead of a Python traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from protogw.openapi import (
    GenerationError,
    OptionError,
    dumps,
    dumps_v3,
    generate,
    generate_v3,
    parse_parameter,
    parse_parameter_v3,
)

__all__ = ["declare_features", "main", "main_v3", "run", "run_v3"]


def declare_features(response: plugin_pb2.CodeGeneratorResponse) -> None:
    """Tell protoc what the generators read: proto3 ``optional`` and editions files (2023 and 2024), which
    the descriptors they are handed already resolve to plain presence and types."""
    features = plugin_pb2.CodeGeneratorResponse
    response.supported_features = features.FEATURE_PROTO3_OPTIONAL | features.FEATURE_SUPPORTS_EDITIONS
    response.minimum_edition = descriptor_pb2.EDITION_PROTO2
    response.maximum_edition = descriptor_pb2.EDITION_2024


def run(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """Answer one protoc-gen-openapiv2 request."""
    response = plugin_pb2.CodeGeneratorResponse()
    declare_features(response)
    try:
        options = parse_parameter(request.parameter)
        docs = generate(list(request.proto_file), list(request.file_to_generate), options)
    except (GenerationError, OptionError) as exc:
        response.error = str(exc)
        return response
    for name, doc in docs.items():
        response.file.add(name=name, content=dumps(doc, options.output_format))
    return response


def run_v3(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """Answer one protoc-gen-openapiv3 request (one ``.openapi.json`` per file with HTTP bindings)."""
    response = plugin_pb2.CodeGeneratorResponse()
    declare_features(response)
    try:
        options = parse_parameter_v3(request.parameter)
        docs = generate_v3(list(request.proto_file), list(request.file_to_generate), options)
    except (GenerationError, OptionError) as exc:
        response.error = str(exc)
        return response
    for name, doc in docs.items():
        response.file.add(name=name, content=dumps_v3(doc))
    return response


def _serve(answer: Callable[[plugin_pb2.CodeGeneratorRequest], plugin_pb2.CodeGeneratorResponse]) -> None:
    request = plugin_pb2.CodeGeneratorRequest()
    request.ParseFromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(answer(request).SerializeToString())
    sys.stdout.buffer.flush()


def main() -> None:
    """``protoc-gen-openapiv2``: request on stdin, response on stdout."""
    _serve(run)


def main_v3() -> None:
    """``protoc-gen-openapiv3``: request on stdin, response on stdout."""
    _serve(run_v3)


if __name__ == "__main__":
    main()
