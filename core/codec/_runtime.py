"""The compiled codec's runtime pieces: decoder building blocks (closures, so each field's setter carries
its own constants) and the encoders and decoders of the well-known types, indexed by full name."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, Final

import orjson
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from protogw.core import wkt
from protogw.core.codec import _scalars as sc
from protogw.core.codec._errors import Fail
from protogw.core.codec._memo import WireMemo

MAX_DEPTH: Final = 100  # json_format's default max_recursion_depth
_EXTENSION_KEY = re.compile(r"\[[a-zA-Z0-9._]*\]$")

EncodeFn = Callable[[Message], Any]
DecodeFn = Callable[[Any, Message, int], None]
Setter = Callable[[Message, Any, int], None]


# ---------------------------------------------------------------------------------------------------
# Decoder building blocks (closures, so each field's setter carries its own constants)


def message_decoder(
    desc: Descriptor, plain: dict[str, Setter], in_oneof: dict[str, tuple[Setter, str]], discard_unknown: bool
) -> DecodeFn:
    """The decoder of a message type from its setters by JSON key: ``plain`` for fields outside any
    oneof, ``in_oneof`` (setter, oneof name) for the rest, whose keys are checked for conflicts."""
    full_name = desc.full_name

    def decode(value: Any, msg: Message, depth: int) -> None:
        if type(value) is not dict and not isinstance(value, dict):
            # json_format iterates whatever it is given; a string or a list of unknown names would
            # "parse" as an empty message there. An object is required here.
            raise Fail(f"expected an object for {full_name}, got {sc.show(value)}")
        if depth > MAX_DEPTH:
            raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
        seen: set[str] | None = None
        for key, item in value.items():
            setter = plain.get(key)
            if setter is None:
                entry = in_oneof.get(key)
                if entry is None:
                    if not isinstance(key, str):
                        raise Fail(f"object keys must be strings, got {key!r}")
                    if _EXTENSION_KEY.match(key):
                        # Extension syntax; json_format rejects it even when ignoring unknown fields.
                        raise Fail(f"{full_name} has no extensions: {key}")
                    if discard_unknown:
                        continue
                    fail = Fail(f"unknown field for {full_name}")
                    fail.segments.append(key)
                    raise fail
                # Proto3 optional fields sit in synthetic oneofs; json_format checks those too
                # (giving the same field under both of its names is then an error).
                setter, oneof = entry
                if item is not None:
                    if seen is None:
                        seen = {oneof}
                    elif oneof in seen:
                        fail = Fail(f"more than one field of oneof {oneof!r} is set")
                        fail.segments.append(key)
                        raise fail
                    else:
                        seen.add(oneof)
            try:
                setter(msg, item, depth)
            except Fail as exc:
                exc.segments.append(key)
                raise

    return decode


def scalar_setter(name: str, convert: Callable[[Any], Any]) -> Setter:
    def set_scalar(msg: Message, value: Any, depth: int) -> None:
        if value is None:
            msg.ClearField(name)
            return
        converted = convert(value)
        if converted is not sc.SKIP:
            setattr(msg, name, converted)

    return set_scalar


def null_value_setter(name: str, convert: Callable[[Any], Any]) -> Setter:
    def set_null_value(msg: Message, value: Any, depth: int) -> None:
        converted = 0 if value is None else convert(value)
        if converted is not sc.SKIP:
            setattr(msg, name, converted)

    return set_null_value


def repeated_scalar_setter(name: str, convert: Callable[[Any], Any], may_skip: bool) -> Setter:
    def set_repeated(msg: Message, value: Any, depth: int) -> None:
        msg.ClearField(name)
        if value is None:
            return
        if not isinstance(value, list | tuple):
            raise Fail(f"expected an array, got {sc.show(value)}")
        try:
            items = [convert(item) for item in value]
        except Fail:
            for index, item in enumerate(value):
                try:
                    if item is None:
                        raise Fail("null is not allowed in a repeated field") from None
                    convert(item)
                except Fail as exc:
                    exc.segments.append(f"[{index}]")
                    raise
            raise
        if may_skip and any(item is sc.SKIP for item in items):
            items = [item for item in items if item is not sc.SKIP]
        getattr(msg, name).extend(items)

    return set_repeated


def wrapper_decoder(convert: Callable[[Any], Any]) -> DecodeFn:
    def decode(value: Any, msg: Message, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
        converted = convert(value)
        if converted is not sc.SKIP:
            msg.value = converted  # type: ignore[attr-defined]

    return decode


def _decode_timestamp(value: Any, msg: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
    parts = sc.parse_timestamp_fast(value) if type(value) is str else None
    if parts is not None:
        msg.seconds, msg.nanos = parts  # type: ignore[attr-defined]
        return
    try:
        msg.FromJsonString(value)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        raise Fail(f"invalid timestamp {sc.show(value)}: {exc}") from None


def _decode_with_runtime(value: Any, msg: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
    try:
        msg.FromJsonString(value)  # type: ignore[attr-defined]
    except (ValueError, TypeError) as exc:
        raise Fail(f"invalid {msg.DESCRIPTOR.name} {sc.show(value)}: {exc}") from None


def _decode_struct(value: Any, msg: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
    if not isinstance(value, dict):
        raise Fail(f"expected an object, got {sc.show(value)}")
    msg.Clear()
    fields = msg.fields  # type: ignore[attr-defined]
    if depth >= MAX_DEPTH:
        _decode_struct_items(value, fields, depth)
        return
    # The values JSON parsers produce are set inline, the containers' own Value level skipped (it
    # only checks the depth, which the container checks one level further down). A key that is not
    # a string (TypeError from the map) or an integer too large for a double (OverflowError) sends
    # the whole object to the careful loop, which names the offending key.
    key = ""
    try:
        for key, item in value.items():
            kind = type(item)
            if kind is str:
                fields[key].string_value = item
            elif (kind is float and item - item == 0) or kind is int:
                fields[key].number_value = item
            elif kind is dict:
                _decode_struct(item, fields[key].struct_value, depth + 2)
            elif kind is list:
                _decode_list_value(item, fields[key].list_value, depth + 2)
            elif kind is bool:
                fields[key].bool_value = item
            elif item is None:
                fields[key].null_value = 0
            else:
                _decode_value(item, fields[key], depth + 1)
    except Fail as exc:
        exc.segments.append(key)
        raise
    except (TypeError, OverflowError):
        msg.Clear()
        _decode_struct_items(value, msg.fields, depth)  # type: ignore[attr-defined]


def _decode_struct_items(value: dict[Any, Any], fields: Any, depth: int) -> None:
    for key, item in value.items():
        if not isinstance(key, str):
            # Raised outside the try below: the bad key is no path segment (the object is the place).
            raise Fail(f"object keys must be strings, got {key!r}")
        try:
            _decode_value(item, fields[key], depth + 1)
        except Fail as exc:
            exc.segments.append(key)
            raise


def _decode_list_value(value: Any, msg: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
    if not isinstance(value, list | tuple):
        raise Fail(f"expected an array, got {sc.show(value)}")
    msg.ClearField("values")
    add = msg.values.add  # type: ignore[attr-defined]
    # As in _decode_struct: common values inline, containers one call deep, the rest through
    # _decode_value (which turns an out-of-range integer into a Fail).
    inline = depth < MAX_DEPTH
    for index, item in enumerate(value):
        try:
            kind = type(item)
            if inline and kind is str:
                add().string_value = item
            elif inline and kind is float and item - item == 0:
                add().number_value = item
            elif inline and kind is dict:
                _decode_struct(item, add().struct_value, depth + 2)
            elif inline and kind is list:
                _decode_list_value(item, add().list_value, depth + 2)
            else:
                _decode_value(item, add(), depth + 1)
        except Fail as exc:
            exc.segments.append(f"[{index}]")
            raise


def _decode_value(value: Any, msg: Message, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
    kind = type(value)
    if kind is str:
        msg.string_value = value  # type: ignore[attr-defined]
    elif kind is dict:
        _decode_struct(value, msg.struct_value, depth + 1)  # type: ignore[attr-defined]
    elif kind is float or kind is int:
        try:
            msg.number_value = value  # type: ignore[attr-defined]
        except (OverflowError, ValueError, TypeError):
            raise Fail(f"number out of range: {sc.show(value)}") from None
    elif value is None:
        msg.null_value = 0  # type: ignore[attr-defined]
    elif kind is bool:
        msg.bool_value = value  # type: ignore[attr-defined]
    elif kind is list or kind is tuple:
        _decode_list_value(value, msg.list_value, depth + 1)  # type: ignore[attr-defined]
    elif isinstance(value, dict):
        _decode_struct(value, msg.struct_value, depth + 1)  # type: ignore[attr-defined]
    elif isinstance(value, list | tuple):
        _decode_list_value(value, msg.list_value, depth + 1)  # type: ignore[attr-defined]
    elif isinstance(value, str):
        msg.string_value = value  # type: ignore[attr-defined]
    elif isinstance(value, int | float):
        try:
            msg.number_value = value  # type: ignore[attr-defined]
        except (OverflowError, ValueError, TypeError):
            raise Fail(f"number out of range: {sc.show(value)}") from None
    else:
        raise Fail(f"not a JSON value: {sc.show(value)}")


# ---------------------------------------------------------------------------------------------------
# Well-known type encoders


def closed_enum_encoder(full_name: str, table: dict[int, str]) -> Callable[[int], str]:
    def encode(number: int) -> str:
        name = table.get(number)
        if name is None:
            raise Fail(f"value {number} is not a member of closed enum {full_name}")
        return name

    return encode


def _encode_timestamp(message: Message) -> str:
    return sc.encode_timestamp_parts(message.seconds, message.nanos)  # type: ignore[attr-defined]


def _encode_with_runtime(message: Message) -> str:
    try:
        text: str = message.ToJsonString()  # type: ignore[attr-defined]
    except ValueError as exc:
        raise Fail(str(exc)) from None
    return text


def _bad_number(number: float) -> float:
    raise Fail(f"Value.number_value cannot be {sc.float_special(number)} in JSON")


# Struct, Value and ListValue: one loop per container with the Value dispatch written out inline (a
# function call per leaf would cost about a fifth of the time spent on each value). Reading a Value
# costs a map lookup or list step, then as few calls into the runtime as its kind allows: a non-empty
# string is one attribute read, a non-zero number two; only the rest (containers, booleans, null and
# the zero values) ask ``WhichOneof``. ``WhichOneof`` is taken from the class once: looking a method
# up on a upb message instance goes through its field lookup first and costs as much as the call.


#: A Struct whose wire form is this size or more has its JSON form remembered (see ``struct_memo``);
#: below it, walking the map costs about as much as looking it up.
STRUCT_MEMO_MIN_BYTES: Final = 64
#: Larger Structs are walked every time.
STRUCT_MEMO_MAX_BYTES: Final = 16 * 1024
#: Structs remembered per Value type, and the bytes they may hold (wire forms and texts).
STRUCT_MEMO_ENTRIES: Final = 2048
STRUCT_MEMO_BUDGET: Final = 8 * 1024 * 1024


def struct_memo(entries: int = STRUCT_MEMO_ENTRIES) -> WireMemo:
    """A memo of Structs' JSON texts: the same configuration or metadata returned again (a listing
    page, a record read twice) then costs one serialisation, one lookup and one ``orjson.loads``
    (about a fifth of walking the upb map). The text is parsed afresh on each hit, so callers never
    share (or can corrupt) a remembered dict."""
    return WireMemo(
        entries=entries, budget=STRUCT_MEMO_BUDGET, min_bytes=STRUCT_MEMO_MIN_BYTES, max_bytes=STRUCT_MEMO_MAX_BYTES
    )


def struct_encoders(value_class: type[Message], memo: WireMemo | None = None) -> tuple[EncodeFn, EncodeFn, EncodeFn]:
    """The encoders of Struct, Value and ListValue for messages whose Value class is ``value_class``.

    Whole Struct fields (and Values holding one) go through ``memo`` (a new one by default); Structs
    nested inside them are part of their parent's entry.
    """
    which = value_class.WhichOneof
    texts = memo if memo is not None else struct_memo()
    recall, remember = texts.lane().recall, texts.remember

    def encode_struct(message: Message) -> dict[str, Any]:
        key, text = recall(message)
        if text is not None:
            remembered: dict[str, Any] = orjson.loads(text)
            return remembered
        value = walk_struct(message)  # raises (a NaN...) before anything is remembered
        if key is not None:
            remember(key, orjson.dumps(value))
        return value

    def encode_value(message: Message) -> Any:
        text = message.string_value  # type: ignore[attr-defined]
        if text:
            return text
        number = message.number_value  # type: ignore[attr-defined]
        if number:  # non-zero, NaN and the infinities included
            return number if number - number == 0 else _bad_number(number)
        kind = which(message, "kind")
        if kind == "struct_value":
            return encode_struct(message.struct_value)  # type: ignore[attr-defined]
        if kind == "list_value":
            return encode_list_value(message.list_value)  # type: ignore[attr-defined]
        if kind == "bool_value":
            return message.bool_value  # type: ignore[attr-defined]
        if kind == "string_value" or kind == "number_value":
            return text if kind == "string_value" else number  # "" or a signed zero
        return None

    def walk_struct(message: Message) -> dict[str, Any]:
        out: dict[str, Any] = {}
        fields = message.fields  # type: ignore[attr-defined]
        # Keys then lookups: cheaper on upb maps than items(), same order.
        for key in fields:
            item = fields[key]
            text = item.string_value
            if text:
                out[key] = text
                continue
            number = item.number_value
            if number:
                out[key] = number if number - number == 0 else _bad_number(number)
                continue
            kind = which(item, "kind")
            if kind == "struct_value":
                out[key] = walk_struct(item.struct_value)
            elif kind == "list_value":
                out[key] = encode_list_value(item.list_value)
            elif kind == "bool_value":
                out[key] = item.bool_value
            elif kind == "string_value":
                out[key] = text
            elif kind == "number_value":
                out[key] = number
            else:
                out[key] = None
        return out

    def encode_list_value(message: Message) -> list[Any]:
        out: list[Any] = []
        append = out.append
        # A slice: one call, where iterating the container steps through it an index at a time.
        for item in message.values[:]:  # type: ignore[attr-defined]
            text = item.string_value
            if text:
                append(text)
                continue
            number = item.number_value
            if number:
                append(number if number - number == 0 else _bad_number(number))
                continue
            kind = which(item, "kind")
            if kind == "struct_value":
                append(walk_struct(item.struct_value))
            elif kind == "list_value":
                append(encode_list_value(item.list_value))
            elif kind == "bool_value":
                append(item.bool_value)
            elif kind == "string_value":
                append(text)
            elif kind == "number_value":
                append(number)
            else:
                append(None)
        return out

    return encode_struct, encode_value, encode_list_value


# The well-known types with a JSON form of their own (wrappers, Any, Struct, Value and ListValue need the
# compiler: see there).
SPECIAL_ENCODERS: dict[str, EncodeFn] = {
    wkt.TIMESTAMP: _encode_timestamp,
    wkt.DURATION: _encode_with_runtime,
    wkt.FIELD_MASK: _encode_with_runtime,
}
SPECIAL_DECODERS: dict[str, DecodeFn] = {
    wkt.TIMESTAMP: _decode_timestamp,
    wkt.DURATION: _decode_with_runtime,
    wkt.FIELD_MASK: _decode_with_runtime,
    wkt.STRUCT: _decode_struct,
    wkt.VALUE: _decode_value,
    wkt.LIST_VALUE: _decode_list_value,
}
