"""The compiled codec against json_format, the reference.

Random messages are built generically from descriptors (one hypothesis strategy per field type), for
the kitchen-sink test protos and for every message type in the Determined descriptor set. For each:
``encode`` equals ``MessageToDict`` (and serialises to the same bytes), ``decode`` of json_format's
output equals ``ParseDict`` of it, and bad inputs are rejected exactly when json_format rejects them.
"""

from __future__ import annotations

import importlib
import importlib.resources
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    json_format,
    struct_pb2,
    timestamp_pb2,
    wrappers_pb2,
)
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protogw.gateway.codec import CodecError, JsonOptions, codec_for, dumps
from protogw.gen.kitchen.v1 import kitchen_pb2

FD = FieldDescriptor
SETTINGS = settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    derandomize=True,
)

# ---------------------------------------------------------------------------------------------------
# Message types under test


def _determined_types() -> list[Descriptor]:
    """Every message type (nested ones included) of the files in the Determined descriptor set,
    resolved in the default pool through their generated modules. Empty until those protos exist."""
    resource = importlib.resources.files("protogw.gen.descriptors").joinpath("determined.binpb")
    if not resource.is_file():
        return []
    files = descriptor_pb2.FileDescriptorSet.FromString(resource.read_bytes()).file
    found: list[Descriptor] = []
    pool = descriptor_pool.Default()
    for file in files:
        module = file.name.replace("-", "_").replace("/", ".").removesuffix(".proto") + "_pb2"
        try:
            importlib.import_module("protogw.gen." + module)
        except ModuleNotFoundError:
            importlib.import_module(module)  # google.protobuf / google.api / google.rpc ship their own
        stack = [pool.FindMessageTypeByName(f"{file.package}.{m.name}") for m in file.message_type]
        while stack:
            desc = stack.pop()
            if not desc.GetOptions().map_entry:
                found.append(desc)
            stack.extend(desc.nested_types)
    return sorted(found, key=lambda d: d.full_name)


KITCHEN_TYPES = [
    kitchen_pb2.DESCRIPTOR.message_types_by_name[name] for name in sorted(kitchen_pb2.DESCRIPTOR.message_types_by_name)
]
DETERMINED_TYPES = _determined_types()
ALL_TYPES = KITCHEN_TYPES + [d for d in DETERMINED_TYPES if d not in KITCHEN_TYPES]

OPTION_SETS = [
    JsonOptions(unset_message_as_null=False),
    JsonOptions(emit_unpopulated=False, unset_message_as_null=False),
    JsonOptions(unset_message_as_null=False, use_proto_names=True, use_enum_numbers=True),
    JsonOptions(emit_unpopulated=False, unset_message_as_null=False, use_proto_names=True),
]


def _reference_dict(message: Message, options: JsonOptions) -> Any:
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=options.emit_unpopulated,
        preserving_proto_field_name=options.use_proto_names,
        use_integers_for_enums=options.use_enum_numbers,
    )


# ---------------------------------------------------------------------------------------------------
# Strategies: one per field type, composed generically from descriptors

_INT_RANGES = {
    FD.TYPE_INT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FD.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FD.TYPE_UINT32: (0, 2**32 - 1),
    FD.TYPE_FIXED32: (0, 2**32 - 1),
    FD.TYPE_INT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FD.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FD.TYPE_UINT64: (0, 2**64 - 1),
    FD.TYPE_FIXED64: (0, 2**64 - 1),
}
_SNAKE_SEGMENT = st.from_regex(r"[a-z][a-z0-9]{0,5}(_[a-z][a-z0-9]{0,3}){0,2}", fullmatch=True)
_JSON_LEAF = (
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.integers(-(2**53), 2**53).map(float)
    | st.text(max_size=8)
)
_JSON_VALUE = st.recursive(
    _JSON_LEAF,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)


def _value_message(value: Any) -> struct_pb2.Value:
    holder = struct_pb2.ListValue()
    holder.append(value)
    return holder.values[0]


def _scalar(field: FieldDescriptor) -> st.SearchStrategy[Any]:
    t = field.type
    if t in _INT_RANGES:
        low, high = _INT_RANGES[t]
        return st.integers(low, high) | st.sampled_from([0, low, high])
    if t == FD.TYPE_DOUBLE:
        return st.floats()
    if t == FD.TYPE_FLOAT:
        return st.floats(width=32)
    if t == FD.TYPE_BOOL:
        return st.booleans()
    if t == FD.TYPE_STRING:
        return st.text(max_size=12)
    if t == FD.TYPE_BYTES:
        return st.binary(max_size=12)
    if t == FD.TYPE_ENUM:
        assert field.enum_type is not None
        known = st.sampled_from([v.number for v in field.enum_type.values])
        # Open enums keep unknown numbers, which print as numbers.
        return known if field.enum_type.is_closed else known | st.integers(-3, 40)
    raise AssertionError(t)


_STRATEGIES: dict[tuple[str, int], st.SearchStrategy[Message]] = {}


def messages(desc: Descriptor, depth: int = 0) -> st.SearchStrategy[Message]:
    key = (desc.full_name, depth)
    if key not in _STRATEGIES:
        _STRATEGIES[key] = st.deferred(lambda: _build_messages(desc, depth))
    return _STRATEGIES[key]


def _special(desc: Descriptor, depth: int) -> st.SearchStrategy[Message] | None:
    name = desc.full_name
    if name == "google.protobuf.Timestamp":
        return st.builds(
            lambda s, n: timestamp_pb2.Timestamp(seconds=s, nanos=n),
            st.integers(-62135596800, 253402300799) | st.integers(0, 2**31),
            st.sampled_from([0, 1_000_000, 123_000, 7]) | st.integers(0, 999_999_999),
        )
    if name == "google.protobuf.Duration":
        return st.builds(
            lambda s, n, neg: duration_pb2.Duration(seconds=-s if neg else s, nanos=-n if neg else n),
            st.integers(0, 315576000000),
            st.integers(0, 999_999_999),
            st.booleans(),
        )
    if name == "google.protobuf.FieldMask":
        return st.lists(st.lists(_SNAKE_SEGMENT, min_size=1, max_size=3).map(".".join), max_size=3).map(
            lambda paths: GetMessageClass(desc)(paths=paths)
        )
    if name == "google.protobuf.Struct":
        return st.dictionaries(st.text(max_size=5), _JSON_VALUE, max_size=4).map(
            lambda d: struct_pb2.Struct(**{}) if not d else _struct(d)
        )
    if name == "google.protobuf.Value":
        return st.just(struct_pb2.Value()) | _JSON_VALUE.map(_value_message)
    if name == "google.protobuf.ListValue":
        return st.lists(_JSON_VALUE, max_size=4).map(
            lambda items: struct_pb2.ListValue(values=[_value_message(i) for i in items])
        )
    if name == "google.protobuf.Any":
        inner = (
            messages(kitchen_pb2.Nested.DESCRIPTOR, 2)
            | messages(timestamp_pb2.Timestamp.DESCRIPTOR, 0)
            | messages(struct_pb2.Struct.DESCRIPTOR, 0)
            | messages(wrappers_pb2.Int64Value.DESCRIPTOR, 0)
        )
        return st.just(any_pb2.Any()) | inner.map(_pack)
    return None


def _struct(d: dict[str, Any]) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.update(d)
    return s


def _pack(inner: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(inner)
    return packed


def _build_messages(desc: Descriptor, depth: int) -> st.SearchStrategy[Message]:
    special = _special(desc, depth)
    if special is not None:
        return special
    cls = GetMessageClass(desc)
    parts: dict[str, st.SearchStrategy[Callable[[Message], None]]] = {}
    oneof_members: dict[str, list[FieldDescriptor]] = {}
    for field in desc.fields:
        oneof = field.containing_oneof
        if oneof is not None and not getattr(oneof, "is_synthetic", False):
            oneof_members.setdefault(oneof.name, []).append(field)
            continue
        setter = _field_setter(field, depth)
        if setter is not None:
            parts[field.name] = st.none() | setter
    for name, members in oneof_members.items():
        choices = [s for s in (_field_setter(m, depth) for m in members) if s is not None]
        if choices:
            parts["oneof:" + name] = st.none() | st.one_of(choices)

    def assemble(setters: dict[str, Callable[[Message], None] | None]) -> Message:
        message = cls()
        for setter in setters.values():
            if setter is not None:
                setter(message)
        return message

    return st.fixed_dictionaries(parts).map(assemble)


def _field_setter(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Callable[[Message], None]] | None:
    name = field.name
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        key_field, value_field = entry.fields_by_name["key"], entry.fields_by_name["value"]
        if value_field.type == FD.TYPE_MESSAGE:
            if depth >= 2:
                return None
            assert value_field.message_type is not None
            values: st.SearchStrategy[Any] = messages(value_field.message_type, depth + 1)
        else:
            values = _scalar(value_field)

        def set_map(items: dict[Any, Any]) -> Callable[[Message], None]:
            def apply(m: Message) -> None:
                container = getattr(m, name)
                for k, v in items.items():
                    if value_field.type == FD.TYPE_MESSAGE:
                        container[k].CopyFrom(v)
                    else:
                        container[k] = v

            return apply

        return st.dictionaries(_scalar(key_field), values, max_size=3).map(set_map)
    if field.type == FD.TYPE_MESSAGE:
        assert field.message_type is not None
        if depth >= 2:
            return None
        sub = messages(field.message_type, depth + 1)
        if field.is_repeated:
            return st.lists(sub, max_size=2).map(lambda items: lambda m: getattr(m, name).extend(items))
        return sub.map(lambda v: lambda m: getattr(m, name).CopyFrom(v))
    if field.is_repeated:
        return st.lists(_scalar(field), max_size=3).map(lambda items: lambda m: getattr(m, name).extend(items))
    return _scalar(field).map(lambda v: lambda m: setattr(m, name, v))


# ---------------------------------------------------------------------------------------------------
# Properties


def _check_encode(message: Message, options: JsonOptions) -> None:
    codec = codec_for(message.DESCRIPTOR, options)
    try:
        expected = _reference_dict(message, options)
    except Exception:
        # json_format refuses the message (e.g. a NaN inside a Struct); so must the codec.
        with pytest.raises(CodecError):
            codec.encode(message)
        return
    got = codec.encode(message)
    assert got == expected or _nan_equal(got, expected)
    assert dumps(got) == orjson.dumps(expected)


def _nan_equal(a: Any, b: Any) -> bool:
    return orjson.dumps(a) == orjson.dumps(b)


def _check_decode(message: Message, options: JsonOptions) -> None:
    try:
        data = _reference_dict(message, options)
    except Exception:
        return
    _check_parse(message.DESCRIPTOR, orjson.loads(orjson.dumps(data)), options)


def _check_parse(desc: Descriptor, data: Any, options: JsonOptions) -> Message | None:
    """The codec accepts ``data`` exactly when ParseDict does, and then builds the same message."""
    codec = codec_for(desc, options)
    reference = GetMessageClass(desc)()
    try:
        json_format.ParseDict(data, reference, ignore_unknown_fields=options.discard_unknown)
    except Exception:
        with pytest.raises(CodecError):
            codec.decode(data)
        return None
    decoded = codec.decode(data)
    assert decoded.SerializePartialToString(deterministic=True) == reference.SerializePartialToString(
        deterministic=True
    )
    return decoded


def _examples(desc: Descriptor) -> int:
    # The kitchen sink and the Determined API get the most attention; the option and descriptor
    # protos that ride along in the Determined descriptor set get a lighter pass.
    if desc.full_name in ("kitchen.v1.Everything", "kitchen.v1.Thing"):
        return 200
    return 40 if desc.full_name.startswith(("kitchen.", "determined.")) else 8


@pytest.mark.parametrize("desc", ALL_TYPES, ids=lambda d: d.full_name)
def test_codec_matches_json_format(desc: Descriptor) -> None:
    """For every option set: encode == MessageToDict (same bytes through orjson); decode of
    json_format's output == ParseDict of it."""

    @settings(SETTINGS, max_examples=_examples(desc))
    @given(messages(desc))
    def check(message: Message) -> None:
        for options in OPTION_SETS:
            _check_encode(message, options)
        for options in OPTION_SETS[:3]:
            _check_decode(message, options)

    check()


@pytest.mark.parametrize(
    "desc", [kitchen_pb2.Thing.DESCRIPTOR, kitchen_pb2.Everything.DESCRIPTOR], ids=lambda d: d.name
)
def test_round_trip_restores_message(desc: Descriptor) -> None:
    """Where json_format itself round-trips (no unset Value, no float32 at the edge of its range),
    so does the codec."""
    options = JsonOptions(unset_message_as_null=False)
    codec = codec_for(desc, options)

    @SETTINGS
    @given(messages(desc))
    def check(message: Message) -> None:
        data = _reference_dict(message, options)
        back = GetMessageClass(desc)()
        try:
            json_format.ParseDict(data, back)
        except json_format.ParseError:
            return
        original = message.SerializePartialToString(deterministic=True)
        if back.SerializePartialToString(deterministic=True) == original:
            assert codec.decode(data).SerializePartialToString(deterministic=True) == original

    check()
