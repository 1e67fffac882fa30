"""Request building, without HTTP: text conversions, query paths, body/path precedence and PATCH masks."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import descriptor_pool, duration_pb2, field_mask_pb2, timestamp_pb2, wrappers_pb2
from google.protobuf.message import Message

from protogw.core.bindings import Binding, bindings_for
from protogw.core.codec import JsonOptions
from protogw.gateway.request import MaskPaths, RequestBuilder, RequestError, mask_paths_from_json, text_to_json
from tests.gen.kitchen.v1 import kitchen_pb2 as pb

BINDINGS = {
    (b.method.descriptor.name, b.index): b
    for b in bindings_for(descriptor_pool.Default(), ["kitchen.v1.KitchenService"])
}
EVERYTHING = pb.Everything.DESCRIPTOR.fields_by_name


def builder(method: str, index: int = 0, **kwargs: Any) -> RequestBuilder:
    binding: Binding = BINDINGS[(method, index)]
    return RequestBuilder(binding, JsonOptions(), **kwargs)


TEXT = [
    ("string_value", "a b", "a b"),
    ("int32_value", "-7", -7),
    ("int64_value", "+9007199254740993", 9007199254740993),
    ("uint64_value", "18446744073709551615", 18446744073709551615),
    ("bool_value", "T", True),
    ("bool_value", "0", False),
    ("double_value", "1e-3", 0.001),
    ("double_value", "inf", "Infinity"),
    ("float_value", "NaN", "NaN"),
    # json_format's shortest text for FLT_MAX is slightly above it as a double; Go rounds it to float32.
    ("float_value", "3.4028235e+38", 3.4028234663852886e38),
    ("double_value", ".5", 0.5),
    ("bytes_value", "AAE", "AAE="),
    ("bytes_value", "-_8", "+/8="),
    ("color", "COLOR_GREEN", "COLOR_GREEN"),
    ("color", "3", 3),
    ("wrapped_int64", "12", 12),
    ("wrapped_bool", "false", False),
    ("timestamp", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
    ("duration", "1h2m3.5s", "3723.5s"),
    ("duration", "-1.5ms", "-0.0015s"),
    ("duration", "0", "0s"),
    ("duration", "250us", "0.00025s"),
    ("struct_value", '{"a":[1]}', {"a": [1]}),
    ("value", "null", None),
]


@pytest.mark.parametrize(("field", "text", "expected"), TEXT, ids=[f"{f}={t}" for f, t, _ in TEXT])
def test_text_to_json(field: str, text: str, expected: Any) -> None:
    assert text_to_json(EVERYTHING[field], text) == expected


BAD_TEXT = [
    ("int32_value", "1.0"),
    ("int32_value", "0x10"),
    ("int32_value", "1_000"),
    ("uint32_value", "-1"),
    ("bool_value", "yes"),
    ("double_value", "1_0.5"),
    ("double_value", "1e999"),
    ("float_value", "3.5e38"),
    ("bytes_value", "***"),
    ("color", "PURPLE"),
    ("color", "42"),
    ("duration", "5"),
    ("duration", "1d"),
    ("duration", ".s"),
    ("struct_value", "{nope"),
    ("any_value", "x"),
    ("nested", "x"),
    # FieldMask paths with no proto3 JSON form would make the echoed response unencodable.
    ("field_mask", "Ç¡Ô"),
    ("field_mask", "ok,foo_Bar"),
    ("field_mask", "a__b"),
    ("field_mask", "fooBar_baz"),
]


# FieldMask paths in a query string, each row with the rule it checks.
MASK_TEXT = [
    # proto3 JSON mapping: "FieldMask ... field names are converted to lowerCamelCase" - so the JSON form
    # a Google client sends is accepted and mapped back to the proto name (as Envoy does).
    ("displayName", ["display_name"]),
    ("thing.displayName,labels", ["thing.display_name", "labels"]),
    # grpc-gateway passes proto names through unchanged.
    ("display_name", ["display_name"]),
    ("a.b_c,d", ["a.b_c", "d"]),
    # Empty items between commas carry nothing.
    ("a,,b", ["a", "b"]),
]


@pytest.mark.parametrize(("text", "paths"), MASK_TEXT, ids=[m[0] for m in MASK_TEXT])
def test_field_mask_query_forms(text: str, paths: list[str]) -> None:
    value = text_to_json(EVERYTHING["field_mask"], text)
    assert isinstance(value, MaskPaths)
    assert list(value.paths) == paths


@pytest.mark.parametrize(("field", "text"), BAD_TEXT, ids=[f"{f}={t}" for f, t in BAD_TEXT])
def test_text_to_json_rejects(field: str, text: str) -> None:
    with pytest.raises(ValueError):
        text_to_json(EVERYTHING[field], text)


def _thing(**kwargs: Any) -> pb.Thing:
    return pb.Thing(**kwargs)


BUILD: list[tuple[str, tuple[str, int], dict[tuple[str, ...], str], list[tuple[str, str]], bytes, Message]] = [
    ("path-only", ("GetThing", 0), {("id",): "5"}, [], b"", pb.GetThingRequest(id=5)),
    (
        "path-and-query",
        ("GetThing", 1),
        {("shelf",): "s", ("id",): "5"},
        [("readMask", "a,b_c"), ("id", "9"), ("shelf", "q")],
        b"",
        pb.GetThingRequest(id=5, shelf="s", read_mask=field_mask_pb2.FieldMask(paths=["a", "b_c"])),
    ),
    (
        "body-field-and-query",
        ("CreateThing", 0),
        {},
        [("requestId", "r"), ("thing.id", "7")],
        b'{"displayName": "x", "id": "3"}',
        pb.CreateThingRequest(thing=_thing(display_name="x", id=3), request_id="r"),
    ),
    (
        "body-star-path-wins",
        ("CreateThingOnShelf", 0),
        {("shelf",): "path"},
        [("validateOnly", "true")],
        b'{"shelf": "body", "validateOnly": false}',
        pb.CreateThingOnShelfRequest(shelf="path"),
    ),
    (
        "nested-path-into-body",
        ("UpdateThing", 0),
        {("thing", "id"): "4"},
        [],
        b'{"id": "99", "labels": {"a": "b"}}',
        pb.UpdateThingRequest(
            thing=_thing(id=4, labels={"a": "b"}), update_mask=field_mask_pb2.FieldMask(paths=["id", "labels"])
        ),
    ),
    (
        "patch-mask-from-query-wins",
        ("UpdateThing", 0),
        {("thing", "id"): "4"},
        [("update_mask", "display_name")],
        b'{"displayName": "n", "shelf": "s"}',
        pb.UpdateThingRequest(
            thing=_thing(id=4, display_name="n", shelf="s"),
            update_mask=field_mask_pb2.FieldMask(paths=["display_name"]),
        ),
    ),
    (
        "put-body-star-no-mask",
        ("UpdateThing", 1),
        {("thing", "id"): "4"},
        [],
        b'{"thing": {"displayName": "n"}}',
        pb.UpdateThingRequest(thing=_thing(id=4, display_name="n")),
    ),
    (
        "wkt-query",
        ("EchoQuery", 0),
        {},
        [("timestamp", "1970-01-01T00:00:10Z"), ("duration", "2m"), ("wrappedString", "w"), ("fieldMask", "x.y_z")],
        b"",
        pb.Everything(
            timestamp=timestamp_pb2.Timestamp(seconds=10),
            duration=duration_pb2.Duration(seconds=120),
            wrapped_string=wrappers_pb2.StringValue(value="w"),
            field_mask=field_mask_pb2.FieldMask(paths=["x.y_z"]),
        ),
    ),
    ("renamed-field-by-json-name", ("EchoQuery", 0), {}, [("customJsonName", "r")], b"", pb.Everything(renamed="r")),
    ("renamed-field-by-proto-name", ("EchoQuery", 0), {}, [("renamed", "r")], b"", pb.Everything(renamed="r")),
    ("whitespace-body", ("EchoBody", 0), {}, [], b"  \n", pb.Everything()),
    (
        "repeated-path",
        ("EchoPath", 0),
        {("s",): "a", ("i64",): "1", ("b",): "1", ("color",): "1", ("u32",): "1", ("d",): "1", ("nested", "name"): "x"},
        [("rest.repeatedInt32", "1"), ("rest.repeatedInt32", "2")],
        b"",
        pb.EchoPathRequest(
            s="a",
            i64=1,
            b=True,
            color=pb.COLOR_RED,
            u32=1,
            d=1.0,
            nested=pb.Nested(name="x"),
            rest=pb.Everything(repeated_int32=[1, 2]),
        ),
    ),
]


@pytest.mark.parametrize(
    ("method", "params", "query", "body", "expected"), [c[1:] for c in BUILD], ids=[c[0] for c in BUILD]
)
def test_build(
    method: tuple[str, int],
    params: dict[tuple[str, ...], str],
    query: list[tuple[str, str]],
    body: bytes,
    expected: Message,
) -> None:
    built = builder(*method).build(params, query, body)
    assert built == expected, f"{built} != {expected}"


BUILD_ERRORS = [
    ("path-type", ("GetThing", 0), {("id",): "x"}, [], b"", "type mismatch, parameter: id, error: invalid integer 'x'"),
    (
        "body-not-object-for-nested-path",
        ("UpdateThing", 0),
        {("thing", "id"): "1"},
        [],
        b"[1]",
        "type mismatch, parameter: thing.id",
    ),
    ("body-json", ("EchoBody", 0), {}, [], b"{", "invalid JSON"),
    ("query-map-needs-key", ("EchoQuery", 0), {}, [("stringMap", "x")], b"", 'map field "string_map" needs a key'),
    ("query-not-a-map", ("EchoQuery", 0), {}, [("int32Value[a]", "1")], b"", 'field "int32_value" is not a map'),
    (
        "query-through-scalar",
        ("EchoQuery", 0),
        {},
        [("int32Value.x", "1")],
        b"",
        'invalid path: "int32_value" is not a message',
    ),
    (
        "query-into-wkt",
        ("EchoQuery", 0),
        {},
        [("timestamp.seconds", "1")],
        b"",
        'invalid path: "timestamp" cannot be set field by field',
    ),
    (
        "query-oneof-across-types",
        ("EchoQuery", 0),
        {},
        [("choiceNested.name", "a"), ("choiceColor", "1")],
        b"",
        'field already set for oneof "choice"',
    ),
    (
        "patch-any-without-type",
        ("UpdateThing", 0),
        {("thing", "id"): "1"},
        [],
        b'{"payload": {"anyValue": {}}}',
        "could not find field @type",
    ),
]


@pytest.mark.parametrize(
    ("method", "params", "query", "body", "message"), [c[1:] for c in BUILD_ERRORS], ids=[c[0] for c in BUILD_ERRORS]
)
def test_build_errors(
    method: tuple[str, int], params: dict[tuple[str, ...], str], query: list[tuple[str, str]], body: bytes, message: str
) -> None:
    with pytest.raises(RequestError) as info:
        builder(*method).build(params, query, body)
    assert message in str(info.value)


def test_reject_unknown_query() -> None:
    strict = builder("EchoQuery", reject_unknown_query=True)
    with pytest.raises(RequestError, match="unknown query parameter 'nope'"):
        strict.build({}, [("nope", "1")], b"")
    assert builder("EchoQuery").build({}, [("nope", "1")], b"") == pb.Everything()


MASKS = [
    ({"displayName": "x"}, ["display_name"]),
    (
        {"payload": {"nested": {"child": {"name": "x"}}, "int32Value": 1}},
        ["payload.int32_value", "payload.nested.child.name"],
    ),
    ({"payload": {}}, ["payload"]),
    ({"labels": {"a": "b"}, "payload": {"repeatedNested": [{}]}}, ["labels", "payload.repeated_nested"]),
    ({"payload": {"structValue": {"a": {"b": 1}, "c": 2}}}, ["payload.struct_value.a.b", "payload.struct_value.c"]),
    ({"payload": {"value": 3}}, ["payload.value"]),
    ({"payload": {"timestamp": "1970-01-01T00:00:00Z"}}, ["payload.timestamp"]),
    ({"payload": {"anyValue": {"@type": "x"}}}, ["payload.any_value"]),
    ({}, []),
]


@pytest.mark.parametrize(("body", "paths"), MASKS)
def test_mask_paths_from_json(body: dict[str, Any], paths: list[str]) -> None:
    assert mask_paths_from_json(pb.Thing.DESCRIPTOR, body) == paths
