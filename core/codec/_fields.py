"""What the compiled codec reads from descriptors: integer kinds and ranges, oneofs that are real
choices, proto2-ness, and which well-known types have a JSON form of their own."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from protogw.core import wkt
from protogw.core.codec import _scalars as sc

FD = FieldDescriptor

INT64_TYPES = frozenset({FD.TYPE_INT64, FD.TYPE_UINT64, FD.TYPE_SINT64, FD.TYPE_FIXED64, FD.TYPE_SFIXED64})
INT32_TYPES = frozenset({FD.TYPE_INT32, FD.TYPE_UINT32, FD.TYPE_SINT32, FD.TYPE_FIXED32, FD.TYPE_SFIXED32})
INT_RANGES = {
    FD.TYPE_INT32: (sc.INT32_MIN, sc.INT32_MAX),
    FD.TYPE_SINT32: (sc.INT32_MIN, sc.INT32_MAX),
    FD.TYPE_SFIXED32: (sc.INT32_MIN, sc.INT32_MAX),
    FD.TYPE_UINT32: (0, sc.UINT32_MAX),
    FD.TYPE_FIXED32: (0, sc.UINT32_MAX),
    FD.TYPE_INT64: (sc.INT64_MIN, sc.INT64_MAX),
    FD.TYPE_SINT64: (sc.INT64_MIN, sc.INT64_MAX),
    FD.TYPE_SFIXED64: (sc.INT64_MIN, sc.INT64_MAX),
    FD.TYPE_UINT64: (0, sc.UINT64_MAX),
    FD.TYPE_FIXED64: (0, sc.UINT64_MAX),
}
INT_DECODERS: dict[int, Callable[[Any], int]] = {
    FD.TYPE_INT32: sc.decode_int32,
    FD.TYPE_SINT32: sc.decode_int32,
    FD.TYPE_SFIXED32: sc.decode_int32,
    FD.TYPE_UINT32: sc.decode_uint32,
    FD.TYPE_FIXED32: sc.decode_uint32,
    FD.TYPE_INT64: sc.decode_int64,
    FD.TYPE_SINT64: sc.decode_int64,
    FD.TYPE_SFIXED64: sc.decode_int64,
    FD.TYPE_UINT64: sc.decode_uint64,
    FD.TYPE_FIXED64: sc.decode_uint64,
}

WRAPPERS_FILE = "google/protobuf/wrappers.proto"
_SPECIAL = frozenset({wkt.TIMESTAMP, wkt.DURATION, wkt.FIELD_MASK, wkt.STRUCT, wkt.VALUE, wkt.LIST_VALUE, wkt.ANY})


def is_special(desc: Descriptor) -> bool:
    """Well-known types whose JSON form is not an object of their fields."""
    return desc.full_name in _SPECIAL or desc.file.name == WRAPPERS_FILE


def msg_type(field: FieldDescriptor) -> Descriptor:
    assert field.message_type is not None, field.full_name
    return field.message_type


def enum_type(field: FieldDescriptor) -> EnumDescriptor:
    assert field.enum_type is not None, field.full_name
    return field.enum_type


@functools.cache
def synthetic_oneofs(desc: Descriptor) -> frozenset[str]:
    """Names of the oneofs protoc made up for proto3 ``optional`` fields (upb's descriptors do not
    say which these are; the descriptor proto does)."""
    proto = descriptor_pb2.DescriptorProto()
    desc.CopyToProto(proto)
    return frozenset(desc.oneofs[f.oneof_index].name for f in proto.field if f.proto3_optional)


def real_oneof(field: FieldDescriptor) -> Any:
    """The field's oneof unless it is the synthetic one of a proto3 ``optional`` field."""
    oneof = field.containing_oneof
    if oneof is None or oneof.name in synthetic_oneofs(oneof.containing_type):
        return None
    return oneof


def is_proto2(desc: Descriptor) -> bool:
    # The upb FileDescriptor has no ``syntax`` attribute; the serialized file says it (empty = proto2).
    syntax = descriptor_pb2.FileDescriptorProto.FromString(desc.file.serialized_pb).syntax
    return syntax in ("", "proto2")
