"""Descriptor plumbing every consumer shares: reading descriptor sets, building pools, reading the
``google.api.http`` option, and the field predicates (``is_map``, ``is_repeated``).

A descriptor set is what ``protoc --include_imports --descriptor_set_out`` or ``buf build -o`` writes;
a protoc plugin receives the same files in its request. Everything here takes either form.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

from google.api import annotations_pb2, http_pb2
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    empty_pb2,
    field_mask_pb2,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import DecodeError

__all__ = [
    "DescriptorError",
    "DescriptorSource",
    "http_rule_of",
    "is_map",
    "is_message",
    "is_repeated",
    "load_descriptor_set",
    "message_of",
    "pool_of",
    "read_descriptor_set",
    "services_in",
]

DescriptorSource = bytes | str | PathLike[str]


class DescriptorError(ValueError):
    """Descriptors that cannot be used: not a descriptor set, a missing import, a rule that cannot be served."""


def read_descriptor_set(source: DescriptorSource) -> list[descriptor_pb2.FileDescriptorProto]:
    """The files of a serialized ``FileDescriptorSet`` (its bytes or a file path)."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    try:
        return list(descriptor_pb2.FileDescriptorSet.FromString(data).file)
    except DecodeError as exc:
        raise DescriptorError(f"not a FileDescriptorSet: {exc}") from None


def pool_of(
    files: Iterable[descriptor_pb2.FileDescriptorProto], *, bundled_imports: bool = False
) -> descriptor_pool.DescriptorPool:
    """A fresh pool holding ``files``, added in dependency order (a later file of the same name wins).

    With ``bundled_imports``, an import missing from ``files`` that this package bundles (the
    well-known types, ``google/api/annotations.proto`` and ``http.proto``) is filled in, as protoc
    would have; any other missing import is an error.
    """
    by_name = {f.name: f for f in files}
    if bundled_imports:
        _add_bundled_imports(by_name)
    pool = descriptor_pool.DescriptorPool()
    added: set[str] = set()
    pending = list(by_name.values())
    while pending:
        ready = [f for f in pending if all(dep in added for dep in f.dependency)]
        if not ready:
            missing = sorted({d for f in pending for d in f.dependency if d not in added and d not in by_name})
            detail = ", ".join(missing) if missing else "(import cycle)"
            raise DescriptorError(f"descriptor set is missing imported files: {detail}")
        for fdp in ready:
            pool.Add(fdp)
            added.add(fdp.name)
        pending = [f for f in pending if f.name not in added]
    return pool


# Files protobuf and googleapis-common-protos ship, imported above so their descriptors are always loaded.
_BUNDLED = {
    module.DESCRIPTOR.name: module.DESCRIPTOR
    for module in (
        annotations_pb2,
        http_pb2,
        any_pb2,
        descriptor_pb2,
        duration_pb2,
        empty_pb2,
        field_mask_pb2,
        struct_pb2,
        timestamp_pb2,
        wrappers_pb2,
    )
}


def _add_bundled_imports(by_name: dict[str, descriptor_pb2.FileDescriptorProto]) -> None:
    wanted = [d for f in by_name.values() for d in f.dependency]
    while wanted:
        name = wanted.pop()
        if name in by_name or name not in _BUNDLED:
            continue
        fdp = descriptor_pb2.FileDescriptorProto()
        _BUNDLED[name].CopyToProto(fdp)
        by_name[name] = fdp
        wanted.extend(fdp.dependency)


def load_descriptor_set(source: DescriptorSource) -> descriptor_pool.DescriptorPool:
    """A fresh pool holding every file of a serialized ``FileDescriptorSet``."""
    return pool_of(read_descriptor_set(source))


def services_in(
    source: DescriptorSource | Sequence[descriptor_pb2.FileDescriptorProto], *, packages: Sequence[str] | None = None
) -> list[str]:
    """Full names of the services the files define, in file order.

    ``packages`` keeps only services whose proto package is listed (e.g. ``["determined.api.v1"]``), so
    helper protos bundled in a set (google.rpc, options) are left out.
    """
    files = read_descriptor_set(source) if isinstance(source, bytes | str | PathLike) else source
    return [
        f"{f.package}.{s.name}" if f.package else s.name
        for f in files
        if packages is None or f.package in packages
        for s in f.service
    ]


def http_rule_of(method: MethodDescriptor | descriptor_pb2.MethodDescriptorProto) -> http_pb2.HttpRule | None:
    """The method's ``google.api.http`` option, whichever pool (or descriptor proto) it comes from.

    Options parsed by a pool that did not know the extension keep it as unknown bytes; re-parsing them
    into the generated ``MethodOptions`` (whose pool has ``annotations_pb2`` loaded) recovers it.
    """
    if isinstance(method, descriptor_pb2.MethodDescriptorProto):
        if not method.HasField("options"):
            return None
        raw = method.options.SerializeToString()
    else:
        raw = method.GetOptions().SerializeToString()
    options = descriptor_pb2.MethodOptions.FromString(raw)
    if not options.HasExtension(annotations_pb2.http):
        return None
    rule: http_pb2.HttpRule = options.Extensions[annotations_pb2.http]
    return rule


def message_of(fd: FieldDescriptor) -> Descriptor:
    """The message type of a message field."""
    mt = fd.message_type
    if mt is None:
        raise TypeError(f"{fd.full_name} is not a message field")
    return mt


def is_message(fd: FieldDescriptor) -> bool:
    """Message fields, whatever their wire encoding: length-prefixed, or DELIMITED (a proto2 group, or an
    editions field with ``features.message_encoding = DELIMITED``), which JSON writes the same way."""
    return bool(fd.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE)


def is_repeated(fd: FieldDescriptor) -> bool:
    """Repeated fields, maps included."""
    return bool(fd.is_repeated)


def is_map(fd: FieldDescriptor) -> bool:
    """Map fields (repeated map-entry messages)."""
    mt = fd.message_type
    return bool(fd.is_repeated and mt is not None and mt.GetOptions().map_entry)
