"""Scalar conversions shared by the compiled encoders and decoders.

Every decoder here accepts exactly the inputs ``json_format`` accepts for the same field type (including
its lenient corners, such as integers written as ``"1e3"`` or floats written as ``"inf"``), because
the gateway promises to parse what the reference parser parses. Each one has a fast path for the
JSON type a well-behaved client sends and a slow path that walks json_format's rules step by step.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import functools
import re
import struct
from collections.abc import Callable
from typing import Any, Final

from google.protobuf.descriptor import FieldDescriptor

from protogw.core.codec._errors import Fail

FD = FieldDescriptor

INT32_MIN: Final = -(2**31)
INT32_MAX: Final = 2**31 - 1
UINT32_MAX: Final = 2**32 - 1
INT64_MIN: Final = -(2**63)
INT64_MAX: Final = 2**63 - 1
UINT64_MAX: Final = 2**64 - 1
FLOAT32_MAX: Final = float.fromhex("0x1.fffffep+127")

# Returned by an enum decoder for an unknown enum name when unknown input is discarded: the caller
# leaves the field (or list element, or map entry) out, as json_format does.
SKIP: Final = object()

# A lone high or low surrogate cannot be encoded as UTF-8, so the proto runtime would choke later;
# json_format refuses such strings up front and so do we.
_LONE_SURROGATE = re.compile("[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]")
_FLOAT32 = struct.Struct("<f")


def show(value: Any) -> str:
    """A short rendering of a bad JSON value for error messages."""
    if isinstance(value, str):
        text = '"' + value + '"'
    elif value is None:
        text = "null"
    elif value is True:
        text = "true"
    elif value is False:
        text = "false"
    elif isinstance(value, dict):
        text = "an object"
    elif isinstance(value, list | tuple):
        text = "an array"
    else:
        text = repr(value)
    return text if len(text) <= 64 else text[:61] + "..."


# ---------------------------------------------------------------------------------------------------
# Encoding helpers


def float_special(value: float) -> Any:
    """NaN and the infinities are strings in proto3 JSON; every other float passes through."""
    if value != value:
        return "NaN"
    if value == float("inf"):
        return "Infinity"
    if value == float("-inf"):
        return "-Infinity"
    return value


@functools.lru_cache(maxsize=16384)
def _shortest_float32(value: float) -> float:
    # A float32 widened to a double prints with noise (0.1f is 0.10000000149011612). json_format
    # prints the fewest significant digits, six at least, that still narrow back to the same float32;
    # the same search gives byte-identical output.
    digits = 6
    while True:
        candidate = float(f"{value:.{digits}g}")
        if _FLOAT32.unpack(_FLOAT32.pack(candidate))[0] == value:
            return candidate
        digits += 1


def encode_float32(value: float) -> Any:
    if value - value != 0:
        return float_special(value)
    if value == 0:
        # The cache cannot tell 0.0 from -0.0 (they hash alike); both print as themselves.
        return value
    return _shortest_float32(value)


def encode_double(value: float) -> Any:
    return value if value - value == 0 else float_special(value)


def encode_bytes(value: bytes) -> str:
    return binascii.b2a_base64(value, newline=False).decode("ascii")


def negative_zero(value: float) -> bool:
    """-0.0 has a set sign bit, so the runtime counts it as a present field although it equals 0."""
    return value == 0 and str(value)[0] == "-"


_EPOCH_DATE = datetime.date(1970, 1, 1)
TIMESTAMP_SECONDS_MIN: Final = -62135596800
TIMESTAMP_SECONDS_MAX: Final = 253402300799


# Timestamps in one response cluster on few days: the date part ("2024-01-31T") is formatted once per
# day and kept (up to a bound); the time of day is put together from pre-rendered pieces, and the
# common millisecond fraction is looked up. Format specs cost about ten times more than these lookups.
_DATES: dict[int, str] = {}
_DATES_KEPT: Final = 4096
_HOURS_MINUTES: Final = tuple(f"{minute // 60:02d}:{minute % 60:02d}:" for minute in range(1440))
_SECONDS: Final = tuple(f"{second:02d}" for second in range(60))
_MILLIS: Final = tuple(f".{milli:03d}Z" for milli in range(1000))


def _date_text(days: int) -> str:
    if len(_DATES) >= _DATES_KEPT:
        _DATES.clear()
    text = _DATES[days] = (_EPOCH_DATE + datetime.timedelta(days=days)).isoformat() + "T"
    return text


def encode_timestamp_parts(seconds: int, nanos: int) -> str:
    """RFC 3339 in UTC with 0, 3, 6 or 9 fractional digits, as json_format prints a Timestamp."""
    if not (TIMESTAMP_SECONDS_MIN <= seconds <= TIMESTAMP_SECONDS_MAX) or not (0 <= nanos < 1_000_000_000):
        raise Fail(f"timestamp out of range: seconds={seconds}, nanos={nanos}")
    days, rest = divmod(seconds, 86400)
    minutes, secs = divmod(rest, 60)
    text = (_DATES.get(days) or _date_text(days)) + _HOURS_MINUTES[minutes] + _SECONDS[secs]
    if nanos == 0:
        return text + "Z"
    if nanos % 1_000_000 == 0:
        return text + _MILLIS[nanos // 1_000_000]
    if nanos % 1000 == 0:
        return f"{text}.{nanos // 1000:06d}Z"
    return f"{text}.{nanos:09d}Z"


# ---------------------------------------------------------------------------------------------------
# Decoding helpers: each takes a JSON value and returns the Python value to store, or raises Fail.


def _integer(value: Any) -> int:
    """json_format's integer rules: ints, integral floats, and strings of either (``"12"``, ``"1e3"``)."""
    if type(value) is int:
        return value
    if isinstance(value, bool):
        raise Fail(f"expected an integer, got {show(value)}")
    if isinstance(value, float):
        if not value.is_integer():
            raise Fail(f"expected an integer, got {show(value)}")
        return int(value)
    if isinstance(value, str):
        if " " in value:
            raise Fail(f"expected an integer, got {show(value)}")
        try:
            return int(value)
        except ValueError:
            pass
        try:
            as_float = float(value)
        except ValueError:
            raise Fail(f"expected an integer, got {show(value)}") from None
        if not as_float.is_integer():
            raise Fail(f"expected an integer, got {show(value)}")
        return int(as_float)
    raise Fail(f"expected an integer, got {show(value)}")


def integer_decoder(low: int, high: int, kind: str) -> Callable[[Any], int]:
    def decode(value: Any) -> int:
        number = value if type(value) is int else _integer(value)
        if low <= number <= high:
            return number
        raise Fail(f"{kind} value out of range: {show(value)}")

    return decode


decode_int32 = integer_decoder(INT32_MIN, INT32_MAX, "int32")
decode_uint32 = integer_decoder(0, UINT32_MAX, "uint32")
decode_int64 = integer_decoder(INT64_MIN, INT64_MAX, "int64")
decode_uint64 = integer_decoder(0, UINT64_MAX, "uint64")


def _float(value: Any, single: bool) -> float:
    if isinstance(value, float):
        if value != value:
            raise Fail('NaN must be written as the string "NaN"')
        if value - value != 0:
            raise Fail('infinity must be written as the string "Infinity" or "-Infinity"')
        if single and not (-FLOAT32_MAX <= value <= FLOAT32_MAX):
            raise Fail(f"float value out of range: {show(value)}")
        return value
    if value == "nan":
        raise Fail('expected "NaN", got "nan"')
    if isinstance(value, int | str):
        # float() alone covers "NaN", "Infinity" and "-Infinity" as well as Python's other
        # spellings, which json_format also lets through.
        try:
            return float(value)
        except (ValueError, OverflowError):
            raise Fail(f"expected a number, got {show(value)}") from None
    raise Fail(f"expected a number, got {show(value)}")


def decode_double(value: Any) -> float:
    if type(value) is float and value - value == 0:
        return value
    return _float(value, False)


def decode_float(value: Any) -> float:
    if type(value) is float and -FLOAT32_MAX <= value <= FLOAT32_MAX:
        return value
    return _float(value, True)


def decode_bool(value: Any) -> bool:
    if value is True or value is False:
        return value
    raise Fail(f"expected true or false, got {show(value)}")


def decode_string(value: Any) -> str:
    if type(value) is str and (value.isascii() or _LONE_SURROGATE.search(value) is None):
        return value
    if isinstance(value, str):
        if _LONE_SURROGATE.search(value) is None:
            return value
        raise Fail("string has an unpaired surrogate")
    raise Fail(f"expected a string, got {show(value)}")


_BASE64 = re.compile(rb"[A-Za-z0-9+/_-]*={0,2}")


def decode_bytes(value: Any) -> bytes:
    if isinstance(value, str):
        try:
            raw = value.encode("utf-8")
        except UnicodeEncodeError:
            raise Fail("bytes value is not valid base64") from None
    elif isinstance(value, bytes):
        raw = value
    else:
        raise Fail(f"expected a base64 string, got {show(value)}")
    # Both alphabets are accepted: the URL-safe decoder maps '-' and '_' and leaves '+' and '/'
    # alone. Padding is optional, so it is topped up before decoding (json_format does the same).
    # Unlike json_format, which lets the decoder drop characters outside the alphabet (so "***"
    # became b"" and an upload silently lost its content), anything else is refused, as Go's
    # protojson and grpc-gateway do.
    if not _BASE64.fullmatch(raw):
        raise Fail(f"bytes value is not valid base64: {show(value)}")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (4 - len(raw) % 4))
    except (binascii.Error, ValueError):
        raise Fail(f"bytes value is not valid base64: {show(value)}") from None


def map_key_bool(value: Any) -> bool:
    if value == "true":
        return True
    if value == "false":
        return False
    raise Fail(f'map key must be "true" or "false", got {show(value)}')


def enum_decoder(
    full_name: str,
    by_name: dict[str, int],
    numbers: frozenset[int],
    closed: bool,
    discard_unknown: bool,
    runtime_lookup: Callable[[int], Any],
) -> Callable[[Any], Any]:
    """Enum values by name or by number (also numbers in strings); unknown names are dropped when
    unknown input is discarded, as json_format does, and rejected otherwise."""

    def slow(value: Any) -> Any:
        try:
            hit = by_name.get(value)
        except TypeError:
            raise Fail(f"expected an enum name or number for {full_name}, got {show(value)}") from None
        if hit is not None:
            return hit
        try:
            number = int(value)
        except ValueError:
            if discard_unknown:
                return SKIP
            raise Fail(f"unknown value {show(value)} for enum {full_name}") from None
        except (TypeError, OverflowError):
            raise Fail(f"expected an enum name or number for {full_name}, got {show(value)}") from None
        if number in numbers:
            return number
        # The runtime's values_by_number narrows the key to 32 bits, so e.g. 2**40 finds the enum's
        # zero value there; json_format stores whatever that lookup returns, and so do we.
        try:
            found = runtime_lookup(number)
        except (OverflowError, TypeError, ValueError):
            found = None
        if found is not None:
            return found.number
        if closed:
            raise Fail(f"unknown value {show(value)} for enum {full_name}")
        # Open enums keep unknown numbers. Out-of-range ones are left to the runtime's setter, which
        # json_format also relies on (upb narrows some, refuses others).
        return number

    def decode(value: Any) -> Any:
        if type(value) is str:
            hit = by_name.get(value)
            if hit is not None:
                return hit
        elif type(value) is int and value in numbers:
            return value
        return slow(value)

    return decode


_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_ORDINAL_1970: Final = datetime.date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=4096)
def _day_number(text: str) -> int | None:
    """Days since 1970-01-01 of a "YYYY-MM-DD" date, or None if it is not one."""
    match = _DATE.fullmatch(text)
    if match is None:
        return None
    try:
        return datetime.date(*map(int, match.groups())).toordinal() - _ORDINAL_1970
    except ValueError:
        return None


# Lookup tables for the parts of a canonical timestamp: "hh:mm:" to the minute of the day, "ss" to
# seconds and ".fff" to nanos; each lookup also validates its part.
_MINUTES_OF_DAY: Final = {text: minute for minute, text in enumerate(_HOURS_MINUTES)}
_SECONDS_OF_MINUTE: Final = {text: second for second, text in enumerate(_SECONDS)}
_MILLIS_AS_NANOS: Final = {f".{milli:03d}": milli * 1_000_000 for milli in range(1000)}


def parse_timestamp_fast(value: str) -> tuple[int, int] | None:
    """Seconds and nanos of a canonical UTC timestamp ("YYYY-MM-DDThh:mm:ss[.f{1,9}]Z"), or None
    when the text needs the full parser.

    Only unambiguous inputs are handled here; anything else (offsets, odd digit counts, invalid dates)
    goes to the runtime's own parser so acceptance stays exactly that of json_format.
    """
    size = len(value)
    if size < 20 or value[-1] != "Z" or not value.isascii():
        return None
    days = _day_number(value[:10])
    minutes = _MINUTES_OF_DAY.get(value[11:17])
    secs = _SECONDS_OF_MINUTE.get(value[17:19])
    if days is None or value[10] != "T" or minutes is None or secs is None:
        return None
    if size == 20:
        nanos = 0
    elif size == 24 and value[19:23] in _MILLIS_AS_NANOS:
        nanos = _MILLIS_AS_NANOS[value[19:23]]
    else:
        fraction = value[19:-1]
        # ASCII was checked above, so isdigit() means 0-9 here.
        if fraction[0] == "." and 2 <= len(fraction) <= 10 and fraction[1:].isdigit():
            nanos = int(fraction[1:].ljust(9, "0"))
        else:
            return None
    return (days * 1440 + minutes) * 60 + secs, nanos
