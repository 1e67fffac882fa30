"""The compiled codec against json_format, the reference.

Random messages are built generically from descriptors (one hypothesis strategy per field type), for
the kitchen-sink test protos and for every message type in the Determined descriptor set. For each:
``encode`` equals ``MessageToDict`` (and serialises to the same bytes), ``decode`` of json_format's
output equals ``ParseDict`` of it, and bad inputs are rejected exactly when json_format rejects them.
"""

from __future__ import annotations

import importlib
import importlib.resources
import math
from collections.abc import Callable
from typing import Any

import orjson
import pytest
from google.protobuf import (
    any_pb2,
    descriptor_pb2,
    descriptor_pool,
    duration_pb2,
    field_mask_pb2,
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

from protogw.core.codec import CodecError, JsonOptions, codec_for, dumps
from protogw.core.codec._memo import MEMO_MISS_STREAK, MEMO_PROBE_EVERY
from protogw.core.codec._runtime import STRUCT_MEMO_MAX_BYTES, struct_encoders, struct_memo
from protogw.core.descriptors import is_message
from tests.gen.editions.v1 import editions_pb2
from tests.gen.kitchen.v1 import kitchen_pb2

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
# An edition-2023 file: explicit and implicit presence, open and closed enums, DELIMITED messages.
EDITIONS_TYPES = [editions_pb2.Sample.DESCRIPTOR, editions_pb2.Part.DESCRIPTOR]
ALL_TYPES = KITCHEN_TYPES + [d for d in DETERMINED_TYPES if d not in KITCHEN_TYPES] + EDITIONS_TYPES

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
    parts: dict[str, st.SearchStrategy[Callable[[Message], None] | None]] = {}
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
        if is_message(value_field):
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
                    if is_message(value_field):
                        container[k].CopyFrom(v)
                    else:
                        container[k] = v

            return apply

        return st.dictionaries(_scalar(key_field), values, max_size=3).map(set_map)
    if is_message(field):
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


def _check_parse(desc: Any, data: Any, options: JsonOptions) -> Message | None:
    """The codec accepts ``data`` exactly when ParseDict does, and then builds the same message."""
    codec = codec_for(desc, options)
    reference = GetMessageClass(desc)()
    try:
        json_format.ParseDict(data, reference, ignore_unknown_fields=options.discard_unknown)
    except Exception:
        with pytest.raises(CodecError):
            codec.decode(data)
        return None
    failure: CodecError | None = None
    try:
        decoded = codec.decode(data)
    except CodecError as exc:
        failure = exc
    if failure is not None:
        # The deliberate differences (see STRICTER_THAN_JSON_FORMAT): base64 with characters outside
        # both alphabets (json_format's decoder drops them), and a non-object given for a message
        # (json_format iterates it, so an array or string can slip through there).
        if failure.reason.startswith("bytes value is not valid base64"):
            return None
        assert failure.reason.startswith("expected an object for"), failure
        assert 'got "' in failure.reason or "got an array" in failure.reason, failure
        return None
    assert decoded.SerializePartialToString(deterministic=True) == reference.SerializePartialToString(
        deterministic=True
    )
    return decoded


def _examples(desc: Descriptor) -> int:
    # The kitchen sink and the Determined API get the most attention; the option and descriptor
    # protos that ride along in the Determined descriptor set get a lighter pass.
    if desc.full_name in ("kitchen.v1.Everything", "kitchen.v1.Thing"):
        return 120
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
def test_equal_wire_forms_encode_to_the_same_bytes(desc: Descriptor) -> None:
    """What the memos (``WireMemo``) rely on: messages with the same wire form encode to the same JSON
    bytes, so a text kept under a wire form is the one any message with that form would get. A map
    parsed back may be laid out anew (another wire form: a miss, never a wrong text); the JSON is
    then the same object, its keys perhaps in another order."""
    codec = codec_for(desc)
    cls = GetMessageClass(desc)

    @SETTINGS
    @given(messages(desc))
    def check(message: Message) -> None:
        forms = [message]
        for _ in range(2):
            forms.append(cls.FromString(forms[-1].SerializePartialToString()))
        texts = {}
        for form in forms:
            text = dumps(codec.encode(form))
            assert texts.setdefault(form.SerializePartialToString(), text) == text
            assert orjson.loads(text) == orjson.loads(dumps(codec.encode(message)))

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


# ---------------------------------------------------------------------------------------------------
# Bad (and borderline) input: the codec rejects exactly what ParseDict rejects

E = kitchen_pb2.Everything.DESCRIPTOR
T = kitchen_pb2.Thing.DESCRIPTOR
N = kitchen_pb2.Nested.DESCRIPTOR
_TS = timestamp_pb2.Timestamp.DESCRIPTOR


def _nested_chain(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {"name": "leaf"}
    for _ in range(depth - 1):
        value = {"child": value}
    return value


def _deep_list(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def _each(key: str, values: list[Any]) -> list[tuple[Descriptor, Any]]:
    return [(E, {key: value}) for value in values]


def _whole(values: list[Any]) -> list[tuple[Descriptor, Any]]:
    return [(E, value) for value in values]


PARSE_CORPUS: list[tuple[Descriptor, Any]] = [
    # integers
    *_each(
        "int32Value", ["abc", 1.5, "1.5", 2**31, -(2**31) - 1, "1e3", 1e3, True, " 1", "0x10", [1], {}, None, "1_000"]
    ),
    *_each("int32Value", ["\u0661\u0662", "Infinity", "NaN", "-0", "+5", "1e400"]),
    *_each("uint32Value", [-1, 2**32, 2**32 - 1, "4294967295"]),
    *_each("int64Value", ["9223372036854775808", 2**63 - 1, "-9223372036854775809", "1e19", "12"]),
    *_each("uint64Value", ["-1", "18446744073709551616", 2**64 - 1, 1.0e19]),
    *_each("sint64Value", ["-9223372036854775808", -(2**63) - 1]),
    *_each("fixed32Value", [-1, 7]),
    # floating point
    *_each(
        "doubleValue",
        ["NaN", "Infinity", "-Infinity", "nan", "inf", "1e400", 1e308, "abc", True, [], "  1.5 ", 10**400],
    ),
    *_each("floatValue", [3.5e38, "3.5e38", -3.5e38, 10**39, 1.5, "-Infinity"]),
    # bool, string, bytes
    *_each("boolValue", ["true", 1, 0, None, False]),
    *_each("stringValue", [5, True, ["a"], "\ud800", "ok \U0001f600", None]),
    *_each("bytesValue", ["not base64!", "YWJj", "YWJ", "YW-_", "YW+/", "Y", 5, "", "YWJj===="]),
    # enums
    *_each("color", ["COLOR_RED", "COLOR_PURPLE", 1, "1", 99, 1.5, True, "1.5", None, [], 2**40, "", -1]),
    (E, {"repeatedColor": ["COLOR_RED", "COLOR_PURPLE", 2]}),
    (E, {"colorMap": {"a": "COLOR_PURPLE", "b": "COLOR_BLUE"}}),
    (E, {"optionalColor": "COLOR_PURPLE"}),
    # messages
    *_each("nested", [5, True, {"name": 5}, {"unknownField": 1}, {}, None, {"kind": "KIND_NOPE"}]),
    # repeated
    *_each("repeatedInt32", [5, [1, None], [1, "x"], [], None, "abc", [1, "2", 3.0]]),
    *_each("repeatedNested", [[None], [{}, 5], [{"name": "a"}], {}]),
    (E, {"repeatedTimestamp": ["2020-01-01T00:00:00Z", None]}),
    (E, {"repeatedWrappedInt32": [1, "2", None]}),
    # maps
    *_whole(
        [
            {"stringMap": []},
            {"stringMap": {"a": 1}},
            {"stringMap": {"a": None}},
            {"intMap": {"x": {}}},
            {"intMap": {"1.0": {}}},
            {"intMap": {"2147483648": {}}},
            {"intMap": {"1": None}},
            {"intMap": {"1": {"name": "n"}, "-3": {}}},
            {"boolMap": {"yes": "a"}},
            {"boolMap": {"true": "a", "false": "b"}},
            {"int64Map": {"1": "2", "-9223372036854775808": 5}},
            {"int64Map": {"x": 1}},
            {"bytesMap": {"k": "YWJj"}},
            {"colorMap": {"x": 7}},
        ]
    ),
    # oneofs, proto3 optional, and the same field under both names
    (E, {"choiceString": "a", "choiceInt64": 1}),
    (E, {"choiceString": "a", "choiceInt64": None}),
    (E, {"choiceString": None, "choiceInt64": 1}),
    (E, {"choice_string": "a", "choiceString": "b"}),
    (E, {"choiceNested": {"name": "x"}, "choiceColor": "COLOR_RED"}),
    (E, {"optionalInt32": 1, "optional_int32": 2}),
    (E, {"optionalInt32": 0}),
    (E, {"optionalInt32": None}),
    (E, {"int32Value": 1, "int32_value": 2}),
    (E, {"wrappedDouble": 1, "wrapped_double": 2}),
    (E, {"wrappedDouble": 1, "wrapped_double": None}),
    (E, {"repeatedNested": [{}], "repeated_nested": [{"name": "x"}]}),
    (E, {"structValue": {"a": 1}, "struct_value": {"b": 2}}),
    (E, {"customJsonName": "a", "renamed": "b"}),
    # well-known types
    *_each(
        "timestamp",
        [
            "2020-01-01T00:00:00Z",
            "2020-01-01T00:00:00.123456789Z",
            "2020-01-01T00:00:00.1234567891Z",
            "2020-01-01t00:00:00Z",
            "2020-01-01T00:00:00+01:00",
            "2020-01-01T00:00:00-01:30",
            "2020-01-01T00:00:00",
            "2020-02-30T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59.999999999Z",
            "2020-01-01T24:00:00Z",
            "2020-1-1T0:0:0Z",
            "2020-01-01T00:00:60Z",
            "2020-01-01 00:00:00Z",
            "2020-01-01T00:00:00.5Z",
            "2020-01-01T00:00:00ZZ",
            12345,
            None,
        ],
    ),
    *_each(
        "duration", ["1.5s", "-1.5s", "1s", "1", "1.5", "s", "-0.5s", "315576000001s", "0.0000000001s", 1.5, "1.5 s"]
    ),
    *_each("fieldMask", ["a.b,cD", "a_b", "", 5, "fooBar.bazQux", ","]),
    *_whole(
        [
            {"wrappedInt64": "5"},
            {"wrappedInt64": "x"},
            {"wrappedBool": "true"},
            {"wrappedString": 5},
            {"wrappedBytes": "YWJj"},
            {"wrappedFloat": 1e39},
            {"wrappedUint32": -1},
            {"wrappedInt32": None},
            {"wrappedDouble": "NaN"},
        ]
    ),
    *_each("structValue", [[], {"a": [1, {"b": None}]}, "x", {"a": 10**400}, {"a": {"b": {"c": "\ud800"}}}]),
    *_each("value", [None, 1, [1, "a", None], {"a": {}}, "s", True]),
    *_each("listValue", [{}, [1, None], None, "x"]),
    *_each(
        "anyValue",
        [
            {"@type": "type.googleapis.com/kitchen.v1.Nested", "name": "x"},
            {"name": "x"},
            {"@type": "type.googleapis.com/kitchen.v1.Nope"},
            {},
            {"@type": "type.googleapis.com/google.protobuf.Timestamp", "value": "2020-01-01T00:00:00Z"},
            {"@type": "type.googleapis.com/google.protobuf.Int32Value", "value": "x"},
            "x",
        ],
    ),
    *_each("empty", [{}, {"x": 1}, None]),
    # unknown keys
    (E, {"nope": 1}),
    (E, {"[foo.bar]": 1}),
    (E, {"[foo bar]": 1}),
    (T, {"payload": {"nested": {"child": {"nope": True}}}}),
    # top level values
    (E, 5),
    (E, None),
    (_TS, "2020-01-01T00:00:00Z"),
    (_TS, 5),
    (struct_pb2.Value.DESCRIPTOR, [1, {"a": None}]),
    (struct_pb2.Struct.DESCRIPTOR, {"a": _deep_list(45)}),
    (struct_pb2.Struct.DESCRIPTOR, {"a": _deep_list(60)}),
    (wrappers_pb2.Int64Value.DESCRIPTOR, "7"),
    # nesting depth: json_format stops at 100 levels
    (N, _nested_chain(100)),
    (N, _nested_chain(101)),
]


@pytest.mark.parametrize("discard_unknown", [True, False])
@pytest.mark.parametrize(("desc", "data"), PARSE_CORPUS, ids=[f"{i}-{d.name}" for i, (d, _) in enumerate(PARSE_CORPUS)])
def test_decode_accepts_and_rejects_like_parse_dict(desc: Descriptor, data: Any, discard_unknown: bool) -> None:
    _check_parse(desc, data, JsonOptions(discard_unknown=discard_unknown))


# Where json_format is laxer than proto3 JSON allows, by accident of its implementation: it iterates
# whatever value it gets for a message, so a string or a list of unknown names "parses" as an empty
# message. The codec requires an object.
STRICTER_THAN_JSON_FORMAT: list[tuple[Descriptor, Any]] = [
    (E, "abc"),
    (E, []),
    (E, ["nope"]),
    (E, {"nested": "abc"}),
    (E, {"nested": []}),
]


# Base64 that json_format takes by dropping characters outside the alphabet; refused here, as Go's
# protojson does, so a bad upload is a 400 instead of silently empty bytes.
BAD_BASE64_JSON_FORMAT_TAKES: list[dict[str, Any]] = [
    {"bytesValue": "***"},
    {"bytesValue": "aGVs bG8="},
    {"bytesValue": "aGVsbG8=!"},
    {"repeatedBytes": ["aGVsbG8=", "a$bc"]},
    {"bytesMap": {"k": "%%%"}},
    {"wrappedBytes": "@@@@"},
]


@pytest.mark.parametrize("data", BAD_BASE64_JSON_FORMAT_TAKES)
def test_decode_refuses_base64_json_format_mangles(data: dict[str, Any]) -> None:
    json_format.ParseDict(data, GetMessageClass(E)())
    with pytest.raises(CodecError, match="not valid base64"):
        codec_for(E).decode(data)


# Valid in either alphabet, padded or not.
GOOD_BASE64 = [
    ("aGVsbG8=", b"hello"),
    ("aGVsbG8", b"hello"),
    ("-_-_", b"\xfb\xff\xbf"),
    ("+/+/", b"\xfb\xff\xbf"),
    ("", b""),
]


@pytest.mark.parametrize(("text", "expected"), GOOD_BASE64)
def test_decode_accepts_both_base64_alphabets(text: str, expected: bytes) -> None:
    decoded = codec_for(E).decode({"bytesValue": text})
    assert decoded.bytes_value == expected


@pytest.mark.parametrize(("desc", "data"), STRICTER_THAN_JSON_FORMAT)
def test_decode_requires_objects_for_messages(desc: Descriptor, data: Any) -> None:
    json_format.ParseDict(data, GetMessageClass(desc)(), ignore_unknown_fields=True)
    with pytest.raises(CodecError, match="expected an object"):
        codec_for(desc).decode(data)


ERROR_PATHS: list[tuple[Descriptor, Any, str]] = [
    (T, {"payload": {"int32Value": "abc"}}, 'payload.int32Value: expected an integer, got "abc"'),
    (T, {"payload": {"int32_value": "abc"}}, 'payload.int32_value: expected an integer, got "abc"'),
    (
        T,
        {"payload": {"repeatedNested": [{}, {"amount": "x"}]}},
        "payload.repeatedNested[1].amount: expected an integer",
    ),
    (T, {"payload": {"intMap": {"7": {"kind": "KIND_NOPE"}}}}, 'payload.intMap[7].kind: unknown value "KIND_NOPE"'),
    (T, {"labels": {"a": 1}}, "labels[a]: expected a string, got 1"),
    (T, {"payload": {"choiceString": "a", "choiceInt64": "1"}}, "payload.choiceInt64: more than one field of oneof"),
    (T, {"payload": {"timestamp": "yesterday"}}, 'payload.timestamp: invalid timestamp "yesterday"'),
    (T, {"payload": {"structValue": {"a": [1, {"b": object()}]}}}, "payload.structValue.a[1].b: not a JSON value"),
    (T, {"payload": 5}, "payload: expected an object for kitchen.v1.Everything, got 5"),
]


@pytest.mark.parametrize(("desc", "data", "message"), ERROR_PATHS)
def test_decode_errors_name_the_field_path(desc: Descriptor, data: Any, message: str) -> None:
    with pytest.raises(CodecError) as caught:
        codec_for(desc, JsonOptions(discard_unknown=False)).decode(data)
    assert str(caught.value).startswith(message), str(caught.value)


def test_unknown_field_rejected_with_its_path() -> None:
    with pytest.raises(CodecError) as caught:
        codec_for(T, JsonOptions(discard_unknown=False)).decode({"payload": {"nested": {"nope": 1}}})
    assert caught.value.path == "payload.nested.nope"


# JSON-like values of every shape, thrown at every field of Everything: whatever json_format makes of
# them (accept and build some message, or reject), the codec must make the same.
_ANY_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**65), 2**65)
    | st.floats()
    | st.sampled_from(["", "1", "-1", "1.0", "1e3", "NaN", "Infinity", "COLOR_RED", "KIND_LEAF", "true", "YWJj", "1s"])
    | st.sampled_from(["2020-01-01T00:00:00Z", "a.bC", "x y", "0x1", "3.4028236e38", "9223372036854775808"])
    | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)
_KEYS = sorted({f.json_name for f in E.fields} | {f.name for f in E.fields} | {"nope"})


@pytest.mark.parametrize("discard_unknown", [True, False])
def test_decode_matches_parse_dict_on_arbitrary_json(discard_unknown: bool) -> None:
    options = JsonOptions(discard_unknown=discard_unknown)

    @settings(SETTINGS, max_examples=300)
    @given(st.dictionaries(st.sampled_from(_KEYS), _ANY_JSON, max_size=4))
    def check(data: dict[str, Any]) -> None:
        _check_parse(E, data, options)

    check()


# ---------------------------------------------------------------------------------------------------
# unset_message_as_null: protojson's EmitUnpopulated, which json_format lacks

NULL_CASES: list[tuple[JsonOptions, Message, str, Any]] = [
    # (options, message, JSON key, expected value; the sentinel "absent" means no key)
    (JsonOptions(), kitchen_pb2.Everything(), "nested", None),
    (JsonOptions(), kitchen_pb2.Everything(), "timestamp", None),
    (JsonOptions(), kitchen_pb2.Everything(), "duration", None),
    (JsonOptions(), kitchen_pb2.Everything(), "fieldMask", None),
    (JsonOptions(), kitchen_pb2.Everything(), "structValue", None),
    (JsonOptions(), kitchen_pb2.Everything(), "value", None),
    (JsonOptions(), kitchen_pb2.Everything(), "listValue", None),
    (JsonOptions(), kitchen_pb2.Everything(), "anyValue", None),
    (JsonOptions(), kitchen_pb2.Everything(), "empty", None),
    (JsonOptions(), kitchen_pb2.Everything(), "wrappedInt64", None),
    (JsonOptions(), kitchen_pb2.Everything(), "choiceNested", "absent"),
    (JsonOptions(), kitchen_pb2.Everything(), "choiceString", "absent"),
    (JsonOptions(), kitchen_pb2.Everything(), "optionalInt32", "absent"),
    (JsonOptions(), kitchen_pb2.Everything(), "repeatedTimestamp", []),
    (JsonOptions(), kitchen_pb2.Everything(), "intMap", {}),
    (JsonOptions(), kitchen_pb2.Everything(), "int64Value", "0"),
    (
        JsonOptions(),
        kitchen_pb2.Everything(nested=kitchen_pb2.Nested()),
        "nested",
        {"name": "", "amount": "0", "kind": "KIND_UNSPECIFIED", "child": None, "tags": []},
    ),
    (JsonOptions(), kitchen_pb2.Everything(wrapped_int64=wrappers_pb2.Int64Value()), "wrappedInt64", "0"),
    (JsonOptions(), kitchen_pb2.Everything(timestamp=timestamp_pb2.Timestamp()), "timestamp", "1970-01-01T00:00:00Z"),
    (JsonOptions(), kitchen_pb2.Thing(), "payload", None),
    (JsonOptions(use_proto_names=True), kitchen_pb2.Everything(), "wrapped_int64", None),
    (JsonOptions(unset_message_as_null=False), kitchen_pb2.Everything(), "nested", "absent"),
    (JsonOptions(emit_unpopulated=False), kitchen_pb2.Everything(), "nested", "absent"),
    (JsonOptions(emit_unpopulated=False), kitchen_pb2.Everything(), "int64Value", "absent"),
]


@pytest.mark.parametrize(("options", "message", "key", "expected"), NULL_CASES)
def test_unset_message_as_null(options: JsonOptions, message: Message, key: str, expected: Any) -> None:
    encoded = codec_for(message.DESCRIPTOR, options).encode(message)
    if expected == "absent":
        assert key not in encoded
    else:
        assert encoded[key] == expected
    # Everything else is json_format's output, in json_format's order, with the nulls in their place.
    reference = _reference_dict(message, JsonOptions(**{**_fields(options), "unset_message_as_null": False}))
    without_nulls = {k: v for k, v in encoded.items() if k in reference}
    assert list(without_nulls) == list(reference)


def _fields(options: JsonOptions) -> dict[str, Any]:
    return {name: getattr(options, name) for name in JsonOptions.__dataclass_fields__}


@pytest.mark.parametrize("options", OPTION_SETS, ids=lambda o: f"eu={o.emit_unpopulated},pn={o.use_proto_names}")
def test_encode_refuses_what_json_format_refuses(options: JsonOptions) -> None:
    bad = [
        kitchen_pb2.Everything(timestamp=timestamp_pb2.Timestamp(seconds=253402300800)),
        kitchen_pb2.Everything(timestamp=timestamp_pb2.Timestamp(nanos=-1)),
        kitchen_pb2.Everything(duration=duration_pb2.Duration(seconds=1, nanos=-1)),
        kitchen_pb2.Everything(field_mask=field_mask_pb2.FieldMask(paths=["Bad_Path"])),
        kitchen_pb2.Everything(value=struct_pb2.Value(number_value=math.inf)),
        kitchen_pb2.Everything(any_value=any_pb2.Any(type_url="type.googleapis.com/no.Such", value=b"")),
        # A known type whose packed bytes are not one (a length-delimited field cut short).
        kitchen_pb2.Everything(
            any_value=any_pb2.Any(type_url="type.googleapis.com/google.protobuf.StringValue", value=b"\x0a\x05ab")
        ),
    ]
    for message in bad:
        with pytest.raises(Exception):  # noqa: B017 - json_format raises several types
            _reference_dict(message, options)
        with pytest.raises(CodecError):
            codec_for(message.DESCRIPTOR, options).encode(message)


# ---------------------------------------------------------------------------------------------------
# Struct, Value and ListValue edge cases. The encoder reads a non-empty string or a non-zero number
# without asking WhichOneof, and asks for everything else (zeros, "", booleans, null, unset Values,
# containers); the decoder sets common JSON values inline and sends the rest (non-string keys,
# integers too large for a double, tuples, subclasses) the careful way. Both paths are covered here.


def _struct_of(**fields: Any) -> struct_pb2.Struct:
    return _struct(fields)


def _struct_with(key: str, value: struct_pb2.Value) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.fields[key].CopyFrom(value)
    return s


def _list_of(*values: struct_pb2.Value) -> struct_pb2.ListValue:
    return struct_pb2.ListValue(values=list(values))


def _unset_value() -> struct_pb2.Value:
    return struct_pb2.Value()


_UNICODE_KEYS = {"ключ": 1, "🔑": "🔒", "": "empty key", "a.b": True, 'quo"te\\': None, "\u00e9\u0301": [], "\x00": 0}

STRUCT_ENCODE_CASES: list[tuple[str, Message]] = [
    ("zeros and empties", _struct_of(zero=0.0, empty="", no=False, yes=True, none=None)),
    ("negative zero", _struct_with("z", struct_pb2.Value(number_value=-0.0))),
    ("unset value in struct", _struct_with("u", _unset_value())),
    ("unset value alone", _unset_value()),
    ("unset value in list", _list_of(_unset_value(), struct_pb2.Value(string_value="x"))),
    ("explicit null", struct_pb2.Value(null_value=struct_pb2.NULL_VALUE)),
    ("nested empties", _struct_of(s={}, l=[], ll=[[], [[]]], sl=[{}], ls={"a": []}, deep={"a": {"b": {"c": {}}}})),
    ("empty struct", struct_pb2.Struct()),
    ("empty list", struct_pb2.ListValue()),
    ("list of nulls", _list_of(struct_pb2.Value(null_value=0), struct_pb2.Value(null_value=0))),
    (
        "large and tiny numbers",
        _struct_of(
            big=float(2**53 + 1),
            bigger=float(2**63),
            huge=1e300,
            max=1.7976931348623157e308,
            tiny=5e-324,
            negative=-1e-300,
            integral=4.0,
        ),
    ),
    ("unicode keys and values", _struct(_UNICODE_KEYS)),
    (
        "unicode strings",
        _list_of(struct_pb2.Value(string_value="ok \U0001f600"), struct_pb2.Value(string_value="\u2028")),
    ),
    ("mixed list", _list_of(*(_value_message(v) for v in [1.5, "s", True, False, None, {"a": 1}, [2], "", 0.0]))),
    ("top-level Value kinds", _value_message({"a": [1, {"b": [None, {"c": ""}]}]})),
    ("Value holding a list", _value_message([[], {}, [[1]]])),
]


@pytest.mark.parametrize("message", [m for _, m in STRUCT_ENCODE_CASES], ids=[n for n, _ in STRUCT_ENCODE_CASES])
def test_struct_values_encode_and_decode_like_json_format(message: Message) -> None:
    for options in OPTION_SETS:
        _check_encode(message, options)
        # Inside a message too, where the containers are fields of their own.
        holder = kitchen_pb2.Everything()
        getattr(holder, _HOLDER_FIELDS[message.DESCRIPTOR.full_name]).CopyFrom(message)
        _check_encode(holder, options)
    for options in OPTION_SETS[:3]:
        _check_decode(message, options)


_HOLDER_FIELDS = {
    "google.protobuf.Struct": "struct_value",
    "google.protobuf.Value": "value",
    "google.protobuf.ListValue": "list_value",
}


def _nan_struct(number: float) -> struct_pb2.Struct:
    s = struct_pb2.Struct()
    s.fields["x"].number_value = number
    return s


STRUCT_REFUSED: list[tuple[str, Message]] = [
    ("NaN in struct", _nan_struct(math.nan)),
    ("Infinity in struct", _nan_struct(math.inf)),
    ("-Infinity in struct", _nan_struct(-math.inf)),
    ("NaN alone", struct_pb2.Value(number_value=math.nan)),
    ("-Infinity alone", struct_pb2.Value(number_value=-math.inf)),
    ("NaN in list", _list_of(struct_pb2.Value(string_value="ok"), struct_pb2.Value(number_value=math.nan))),
    (
        "Infinity deep",
        _struct_with("a", struct_pb2.Value(list_value=_list_of(struct_pb2.Value(struct_value=_nan_struct(math.inf))))),
    ),
]


@pytest.mark.parametrize("message", [m for _, m in STRUCT_REFUSED], ids=[n for n, _ in STRUCT_REFUSED])
def test_struct_nan_and_infinity_are_refused_like_json_format(message: Message) -> None:
    with pytest.raises(ValueError, match=r"NaN|Infinity"):
        json_format.MessageToDict(message)
    with pytest.raises(CodecError, match=r"NaN|Infinity"):
        codec_for(message.DESCRIPTOR).encode(message)


def _deep_struct(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"k": value}
    return value


class _Text(str):
    pass


_S = struct_pb2.Struct.DESCRIPTOR
_V = struct_pb2.Value.DESCRIPTOR
_L = struct_pb2.ListValue.DESCRIPTOR

STRUCT_PARSE_CASES: list[tuple[Descriptor, Any]] = [
    (_S, {"n": None, "l": [None, None], "s": {"n": None}}),
    (_S, {"s": {}, "l": [], "ll": [[], [[]]], "sl": [{}], "ls": {"a": []}}),
    (_S, {"t": True, "f": False, "one": 1, "zero": 0, "z": 0.0, "nz": -0.0, "e": ""}),
    (_S, {"big": 2**53 + 1, "i64": 2**63, "u64": 2**64, "neg": -(2**63), "e308": 10**308}),
    (_S, {"overflow": 10**309}),
    (_S, {"a": "ok", "overflow late": 10**400}),
    (_S, {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}),
    (_S, _UNICODE_KEYS),
    (_S, {"lone surrogate": "\udc00"}),
    (_S, {1: "non-string key"}),
    (_S, {"a": "x", None: "non-string key later"}),
    (_S, {"tuple": (1, "a", (None,)), "sub": _Text("str subclass")}),
    (_S, {"a": {"b": object()}}),
    (_S, [1, 2]),
    (_S, "not an object"),
    (_S, _deep_struct(98)),
    (_S, _deep_struct(99)),
    (_S, _deep_struct(100)),
    (_S, {"l": _deep_list(97)}),
    (_S, {"l": _deep_list(98)}),
    (_L, [1, "a", None, True, {}, [], [[{}]], 2**64, (1, 2)]),
    (_L, [10**400]),
    (_L, [math.nan]),
    (_L, {"not": "a list"}),
    (_V, None),
    (_V, 0),
    (_V, ""),
    (_V, {"a": None}),
    (_V, [[]]),
    (_V, 2**1030),
    (E, {"structValue": {"a": {"b": [1, {"c": None}]}}, "value": {"x": []}, "listValue": [{}, None]}),
    (E, {"structValue": {}, "value": {}, "listValue": []}),
    (E, {"value": None, "structValue": None, "listValue": None}),
]


@pytest.mark.parametrize(
    ("desc", "data"), STRUCT_PARSE_CASES, ids=[f"{i}-{d.name}" for i, (d, _) in enumerate(STRUCT_PARSE_CASES)]
)
def test_struct_values_decode_like_parse_dict(desc: Descriptor, data: Any) -> None:
    decoded = _check_parse(desc, data, JsonOptions())
    if decoded is not None:
        # And back: the codec prints what json_format prints for the message both built.
        options = JsonOptions(unset_message_as_null=False)
        try:
            expected = _reference_dict(decoded, options)
        except ValueError:  # NaN or Infinity in a Value
            with pytest.raises(CodecError):
                codec_for(desc, options).encode(decoded)
            return
        assert dumps(codec_for(desc, options).encode(decoded)) == orjson.dumps(expected)


def test_struct_error_paths_name_the_key() -> None:
    cases = [
        ({"a": {"b": [1, {"c": 10**400}]}}, "a.b[1].c: number out of range"),
        ({"a": {"b": {"c": object()}}}, "a.b.c: not a JSON value"),
        ({"a": {"b": {5: 1}}}, "a.b: object keys must be strings"),
        ({"ok": 1, "l": [1, [2, 10**400]]}, "l[1][1]: number out of range"),
    ]
    codec = codec_for(_S)
    for data, message in cases:
        with pytest.raises(CodecError) as caught:
            codec.decode(data)
        assert str(caught.value).startswith(message), str(caught.value)


# ---------------------------------------------------------------------------------------------------
# The Struct memo: whole Struct fields of 64 bytes or more are encoded once per distinct wire form


def _config(**extra: Any) -> dict[str, Any]:
    """A configuration-shaped object, well over the memo's lower bound."""
    return {
        "name": "mnist",
        "hyperparameters": {"lr": {"type": "log", "minval": -4.0, "maxval": -1.0}, "layers": [64, 128, 256]},
        "resources": {"slots_per_trial": 8.0, "resource_pool": "gpu"},
        "searcher": {"name": "adaptive_asha", "metric": "validation_loss", "smaller_is_better": True},
        **extra,
    }


MEMO_CASES: list[tuple[str, Message]] = [
    ("configuration", _struct(_config())),
    ("unicode and empties", _struct(_config(**_UNICODE_KEYS, s={}, l=[], e=""))),
    (
        "negative zero and large numbers",
        _struct(_config(z=-0.0, big=float(2**63), tiny=5e-324, max=1.7976931348623157e308)),
    ),
    ("structs in lists", _struct(_config(steps=[{"a": 1.5, "b": [None, True]}, {"c": {"d": "e"}}]))),
    ("Value holding a struct", _value_message(_config())),
    ("list of structs", struct_pb2.ListValue(values=[_value_message(_config()), _value_message(_config(x=1))])),
]


@pytest.mark.parametrize("message", [m for _, m in MEMO_CASES], ids=[n for n, _ in MEMO_CASES])
def test_struct_memo_hits_encode_like_json_format(message: Message) -> None:
    # Alone and as a field, three times each: the first walks, the rest come from the memo.
    holder = kitchen_pb2.Everything()
    getattr(holder, _HOLDER_FIELDS[message.DESCRIPTOR.full_name]).CopyFrom(message)
    for options in OPTION_SETS:
        for _ in range(3):
            _check_encode(message, options)
            _check_encode(holder, options)


def test_struct_memo_gives_each_caller_its_own_value() -> None:
    message = _struct(_config())
    codec = codec_for(_S)
    first = codec.encode(message)
    first["searcher"]["name"] = "changed"
    first["extra"] = 1
    again = codec.encode(message)
    assert again == json_format.MessageToDict(message)
    assert again is not codec.encode(message)


def test_struct_memo_keeps_each_structs_own_key_order() -> None:
    # Equal contents inserted in opposite orders: each encodes in its own map's order, as json_format does.
    keys = [f"key_{i:02}" for i in range(40)]
    forward, backward = struct_pb2.Struct(), struct_pb2.Struct()
    for key in keys:
        forward.fields[key].string_value = key
    for key in reversed(keys):
        backward.fields[key].string_value = key
    codec = codec_for(_S)
    for message in [forward, backward, forward, backward]:
        assert dumps(codec.encode(message)) == orjson.dumps(json_format.MessageToDict(message))


def test_struct_memo_never_remembers_a_refused_struct() -> None:
    message = _struct(_config())
    message.fields["bad"].number_value = math.nan
    for _ in range(3):
        with pytest.raises(CodecError, match="NaN"):
            codec_for(_S).encode(message)


@pytest.mark.parametrize(
    ("name", "message", "remembered"),
    [
        ("small struct walked", _struct({"a": 1.0}), 0),
        ("configuration remembered", _struct(_config()), 1),
        ("over the upper bound walked", _struct({"blob": "x" * (STRUCT_MEMO_MAX_BYTES + 1)}), 0),
    ],
)
def test_struct_memo_bounds(name: str, message: struct_pb2.Struct, remembered: int) -> None:
    memo = struct_memo()
    encode_struct, _, _ = struct_encoders(struct_pb2.Value, memo)
    for _ in range(2):
        assert encode_struct(message) == json_format.MessageToDict(message), name
    assert len(memo) == remembered


def test_struct_memo_holds_at_most_its_entries() -> None:
    memo = struct_memo(entries=4)
    encode_struct, _, _ = struct_encoders(struct_pb2.Value, memo)
    messages = [_struct(_config(n=float(i))) for i in range(10)]
    for message in messages:
        encode_struct(message)
        assert len(memo) <= 4
    # The last four are remembered: encoding them again adds nothing, an early one evicts one of them.
    for message in messages[-4:]:
        assert encode_struct(message) == json_format.MessageToDict(message)
    assert len(memo) == 4
    assert encode_struct(messages[0]) == json_format.MessageToDict(messages[0])
    assert len(memo) == 4


def test_struct_memo_rests_through_structs_that_never_repeat_and_wakes_for_ones_that_do() -> None:
    memo = struct_memo()
    encode_struct, _, _ = struct_encoders(struct_pb2.Value, memo)
    unique = [_struct(_config(n=float(i))) for i in range(1000)]
    for message in unique:
        assert encode_struct(message) == json_format.MessageToDict(message)
    # Resting after the first streak: one in PROBE_EVERY of the rest was looked up and remembered.
    streak = MEMO_MISS_STREAK
    assert len(memo) <= streak + (len(unique) - streak) // MEMO_PROBE_EVERY + 1
    # A page read again and again is remembered whole after a few reads, and then only hits.
    page = [_struct(_config(page=float(i))) for i in range(100)]
    for _ in range(8):
        for message in page:
            assert encode_struct(message) == json_format.MessageToDict(message)

    lane = memo.lane()
    for message in page:
        _, text = lane.recall(message)
        assert text is not None, "the memo should have remembered every Struct of the page"
        assert orjson.loads(text) == json_format.MessageToDict(message)
