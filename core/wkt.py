"""Well-known types, by full name, in the groups the transcoding rules care about.

One table for every consumer: the router (may a path variable bind this field?), the request builder
(may a query value set it?), the codecs and the OpenAPI generators. The rule ``http.proto`` states is
"a field whose JSON form is one string or number": the wrappers, ``Timestamp``, ``Duration`` and
``FieldMask`` are, and the gateway also accepts ``Struct``/``Value``/``ListValue`` (their JSON text)
as grpc-gateway does. ``Empty`` is not: it has no value to bind, and ``NullValue`` is an enum, so it
never reaches a message check.
"""

from __future__ import annotations

__all__ = [
    "ANY",
    "DURATION",
    "EMPTY",
    "FIELD_MASK",
    "JSON_VALUES",
    "LIST_VALUE",
    "NULL_VALUE",
    "SCALAR_MESSAGES",
    "STRUCT",
    "TIMESTAMP",
    "VALUE",
    "WRAPPERS",
    "is_scalar_message",
]

TIMESTAMP = "google.protobuf.Timestamp"
DURATION = "google.protobuf.Duration"
FIELD_MASK = "google.protobuf.FieldMask"
STRUCT = "google.protobuf.Struct"
VALUE = "google.protobuf.Value"
LIST_VALUE = "google.protobuf.ListValue"
NULL_VALUE = "google.protobuf.NullValue"
ANY = "google.protobuf.Any"
EMPTY = "google.protobuf.Empty"

# The nine wrapper messages: JSON writes each as its one ``value``.
WRAPPERS = frozenset(
    {
        "google.protobuf.DoubleValue",
        "google.protobuf.FloatValue",
        "google.protobuf.Int64Value",
        "google.protobuf.UInt64Value",
        "google.protobuf.Int32Value",
        "google.protobuf.UInt32Value",
        "google.protobuf.BoolValue",
        "google.protobuf.StringValue",
        "google.protobuf.BytesValue",
    }
)

# Messages whose JSON is arbitrary JSON text.
JSON_VALUES = frozenset({STRUCT, VALUE, LIST_VALUE})

# Messages that can be written as one string in a path segment or a query value.
SCALAR_MESSAGES = frozenset({TIMESTAMP, DURATION, FIELD_MASK, *WRAPPERS, *JSON_VALUES})


def is_scalar_message(full_name: str) -> bool:
    """Whether a message type (``pkg.Name``, or ``.pkg.Name`` as descriptor protos write it) acts as a scalar."""
    return full_name.removeprefix(".") in SCALAR_MESSAGES
