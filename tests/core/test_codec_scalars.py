"""Scalar conversions of the codec, each against the runtime or json_format behaviour it mirrors."""

from __future__ import annotations

import math
from typing import Any

import pytest
from google.protobuf import json_format, timestamp_pb2, wrappers_pb2

from protogw.core.codec import _scalars as sc
from protogw.core.codec._errors import Fail

FLOAT32_VALUES = [0.1, 1.0, -0.0, 0.0, 3.4028234663852886e38, 1e-45, 16777217.0, 0.3, 123456.789, -2.5e-10, 1e10]


@pytest.mark.parametrize("value", FLOAT32_VALUES)
def test_float32_prints_like_json_format(value: float) -> None:
    narrowed = wrappers_pb2.FloatValue(value=value).value
    assert repr(sc.encode_float32(narrowed)) == repr(json_format.MessageToDict(wrappers_pb2.FloatValue(value=value)))


@pytest.mark.parametrize(
    ("value", "expected"),
    [(math.nan, "NaN"), (math.inf, "Infinity"), (-math.inf, "-Infinity"), (1.5, 1.5), (-0.0, -0.0)],
)
def test_float_special_values(value: float, expected: Any) -> None:
    assert repr(sc.encode_double(value)) == repr(expected)
    assert repr(sc.encode_float32(value)) == repr(expected)


TIMESTAMPS = [
    (0, 0),
    (0, 1_000_000),
    (0, 1_000),
    (0, 1),
    (-1, 999_999_999),
    (1_700_000_000, 123_000_000),
    (sc.TIMESTAMP_SECONDS_MIN, 0),
    (sc.TIMESTAMP_SECONDS_MAX, 999_999_999),
    (951_782_400, 0),  # 2000-02-29
    (-2_208_988_800, 500),  # 1900-01-01
]


@pytest.mark.parametrize(("seconds", "nanos"), TIMESTAMPS)
def test_timestamp_text_matches_runtime(seconds: int, nanos: int) -> None:
    expected = timestamp_pb2.Timestamp(seconds=seconds, nanos=nanos).ToJsonString()
    assert sc.encode_timestamp_parts(seconds, nanos) == expected


@pytest.mark.parametrize(
    ("seconds", "nanos"), [(sc.TIMESTAMP_SECONDS_MAX + 1, 0), (sc.TIMESTAMP_SECONDS_MIN - 1, 0), (0, -1), (0, 10**9)]
)
def test_timestamp_out_of_range_is_refused(seconds: int, nanos: int) -> None:
    with pytest.raises(Fail, match="out of range"):
        sc.encode_timestamp_parts(seconds, nanos)


TIMESTAMP_TEXTS = [
    "1970-01-01T00:00:00Z",
    "2024-02-29T23:59:59.5Z",
    "2024-02-30T00:00:00Z",
    "0001-01-01T00:00:00.000000001Z",
    "9999-12-31T23:59:59.999999999Z",
    "2020-01-01T00:00:00+02:00",
    "2020-01-01T00:00:60Z",
    "2020-13-01T00:00:00Z",
    "2020-01-01T00:00:00.1234567890Z",
]


@pytest.mark.parametrize("text", TIMESTAMP_TEXTS)
def test_fast_timestamp_parse_agrees_with_runtime(text: str) -> None:
    fast = sc.parse_timestamp_fast(text)
    runtime = timestamp_pb2.Timestamp()
    try:
        runtime.FromJsonString(text)
    except ValueError:
        assert fast is None  # refused texts are always left to the runtime parser
        return
    if fast is not None:
        assert fast == (runtime.seconds, runtime.nanos)


INTEGERS: list[tuple[Any, Any]] = [
    (5, 5),
    ("5", 5),
    ("-5", -5),
    (5.0, 5),
    ("1e3", 1000),
    ("1.0", 1),
    (2**31 - 1, 2**31 - 1),
    (2**31, Fail),
    (1.5, Fail),
    ("1.5", Fail),
    (" 5", Fail),
    (True, Fail),
    (None, Fail),
    ([1], Fail),
    ("abc", Fail),
    ("inf", Fail),
    (math.nan, Fail),
]


@pytest.mark.parametrize(("value", "expected"), INTEGERS)
def test_int32_decoding(value: Any, expected: Any) -> None:
    if expected is Fail:
        with pytest.raises(Fail):
            sc.decode_int32(value)
    else:
        assert sc.decode_int32(value) == expected


FLOATS: list[tuple[Any, Any]] = [
    (1.5, 1.5),
    (1, 1.0),
    ("1.5", 1.5),
    ("NaN", math.nan),
    ("Infinity", math.inf),
    ("-Infinity", -math.inf),
    ("nan", Fail),
    (math.nan, Fail),
    (math.inf, Fail),
    ("x", Fail),
    (None, Fail),
    (10**400, Fail),
]


@pytest.mark.parametrize(("value", "expected"), FLOATS)
def test_double_decoding(value: Any, expected: Any) -> None:
    if expected is Fail:
        with pytest.raises(Fail):
            sc.decode_double(value)
    else:
        assert repr(sc.decode_double(value)) == repr(expected)


@pytest.mark.parametrize(("value", "expected"), [(3.5e38, Fail), ("3.5e38", 3.5e38), (1.5, 1.5)])
def test_float32_range_applies_to_json_numbers_only(value: Any, expected: Any) -> None:
    if expected is Fail:
        with pytest.raises(Fail):
            sc.decode_float(value)
    else:
        assert sc.decode_float(value) == expected


BYTES: list[tuple[Any, Any]] = [
    ("YWJj", b"abc"),
    ("YWI", b"ab"),
    ("YWI=", b"ab"),
    ("-_8", b"\xfb\xff"),
    ("+/8", b"\xfb\xff"),
    ("", b""),
    ("Y", Fail),
    (5, Fail),
    (None, Fail),
]


@pytest.mark.parametrize(("value", "expected"), BYTES)
def test_bytes_decoding_accepts_both_alphabets(value: Any, expected: Any) -> None:
    if expected is Fail:
        with pytest.raises(Fail):
            sc.decode_bytes(value)
    else:
        assert sc.decode_bytes(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("ok", "ok"), ("caf\u00e9", "caf\u00e9"), ("\U0001f600", "\U0001f600"), ("\ud800", Fail), (5, Fail), (None, Fail)],
)
def test_string_decoding(value: Any, expected: Any) -> None:
    if expected is Fail:
        with pytest.raises(Fail):
            sc.decode_string(value)
    else:
        assert sc.decode_string(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", '"abc"'),
        (None, "null"),
        (True, "true"),
        ({}, "an object"),
        ([], "an array"),
        (1.5, "1.5"),
        ("x" * 100, None),
    ],
)
def test_show_renders_short_values(value: Any, expected: str | None) -> None:
    text = sc.show(value)
    assert len(text) <= 64
    if expected is not None:
        assert text == expected
