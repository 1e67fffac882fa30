"""``protoc-gen-openapiv2``: the generator as a protoc / buf plugin.

protoc runs it with a ``CodeGeneratorRequest`` on stdin and reads a ``CodeGeneratorResponse`` from
stdout; parameters arrive as one string (``--openapiv2_out=simple_operation_ids=true,allow_merge:out``
or buf's ``opt:``) and mean what they mean to the Go plugin. Errors are reported in the response, so
protoc prints them next to the file name instead of a Python traceback.
"""

from __future__ import annotations

import sys

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2

from protogw.openapi import GenerationError, OptionError, dumps, generate, parse_parameter

__all__ = ["declare_features", "main", "run"]


def declare_features(response: plugin_pb2.CodeGeneratorResponse) -> None:
    """Tell protoc what the generator reads: proto3 ``optional`` and editions files (2023 and 2024), which
    the descriptors it is handed already resolve to plain presence and types."""
    features = plugin_pb2.CodeGeneratorResponse
    response.supported_features = features.FEATURE_PROTO3_OPTIONAL | features.FEATURE_SUPPORTS_EDITIONS
    response.minimum_edition = descriptor_pb2.EDITION_PROTO2
    response.maximum_edition = descriptor_pb2.EDITION_2024


def run(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """Answer one plugin request."""
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


def main() -> None:
    """Entry point: request on stdin, response on stdout."""
    request = plugin_pb2.CodeGeneratorRequest()
    request.ParseFromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(run(request).SerializeToString())
    sys.stdout.buffer.flush()


if __name__ == "__main__":
    main()
