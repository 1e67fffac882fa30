"""Codec interface, the compiled implementation's entry point, and the json_format reference codec.

:func:`codec_for` hands out compiled codecs (see ``_compiled``); the ``json_format``-backed
:class:`ReferenceCodec` stays as the oracle for tests and as the fallback for extendable (proto2)
message types.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from google.protobuf import descriptor_pool, json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

from protogw.core.codec._compiled import CompiledCodec, Compiler
from protogw.core.codec._errors import CodecError, Fail
from protogw.core.codec._memo import WireMemo

__all__ = [
    "Codec",
    "CodecError",
    "JsonOptions",
    "ReferenceCodec",
    "codec_for",
    "codec_for_dumps",
    "dumps",
    "encode_any",
    "loads",
]


@dataclass(frozen=True, slots=True)
class JsonOptions:
    """Marshaler options. The defaults are grpc-gateway v2's default JSON marshaler."""

    # Emit zero scalars, empty repeated fields and maps (json_format: always_print_fields_with_no_presence).
    emit_unpopulated: bool = True
    # With emit_unpopulated, also emit unset singular message fields as null (grpc-gateway/protojson
    # EmitUnpopulated does; json_format has no such option).
    unset_message_as_null: bool = True
    # Use proto field names instead of lowerCamelCase JSON names.
    use_proto_names: bool = False
    # Enums as numbers instead of names.
    use_enum_numbers: bool = False
    # Parsing: ignore unknown fields (grpc-gateway's default) instead of rejecting them.
    discard_unknown: bool = True


class Codec(Protocol):
    """Converts one message type. ``encode`` returns a JSON-ready value (dict for plain messages,
    str/list/... for well-known types such as Timestamp or ListValue); ``decode`` is its inverse."""

    def encode(self, message: Message) -> Any: ...

    def decode(self, value: Any) -> Message: ...


class ReferenceCodec:
    """json_format-backed codec: correct and slow. Kept as the oracle for tests."""

    def __init__(self, descriptor: Descriptor, options: JsonOptions) -> None:
        self._cls = GetMessageClass(descriptor)
        self._options = options

    def encode(self, message: Message) -> Any:
        o = self._options
        return json_format.MessageToDict(
            message,
            always_print_fields_with_no_presence=o.emit_unpopulated,
            preserving_proto_field_name=o.use_proto_names,
            use_integers_for_enums=o.use_enum_numbers,
        )

    def decode(self, value: Any) -> Message:
        msg = self._cls()
        try:
            json_format.ParseDict(value, msg, ignore_unknown_fields=self._options.discard_unknown)
        except json_format.ParseError as exc:
            raise CodecError(str(exc)) from exc
        return msg


#: The memo of each :func:`codec_for_dumps` compiler: items of repeated message fields kept by their
#: wire form. Smaller items cost about as much to look up as to encode; larger ones are rare in lists.
ITEM_MEMO_ENTRIES = 4096
ITEM_MEMO_BUDGET = 16 * 1024 * 1024
ITEM_MEMO_MIN_BYTES = 256
ITEM_MEMO_MAX_BYTES = 64 * 1024


def new_compiler(options: JsonOptions, item_memo: WireMemo | None = None) -> Compiler:
    """A compiler for ``options`` (and, for output that goes straight to ``dumps``, an item memo)."""
    return Compiler(
        emit_unpopulated=options.emit_unpopulated,
        unset_message_as_null=options.unset_message_as_null,
        use_proto_names=options.use_proto_names,
        use_enum_numbers=options.use_enum_numbers,
        discard_unknown=options.discard_unknown,
        item_memo=item_memo,
    )


@functools.cache
def _compiler(options: JsonOptions, for_dumps: bool = False) -> Compiler:
    # One compiler per option set (and use): it caches the generated code of every type it has seen.
    if not for_dumps:
        return new_compiler(options)
    memo = WireMemo(
        entries=ITEM_MEMO_ENTRIES, budget=ITEM_MEMO_BUDGET, min_bytes=ITEM_MEMO_MIN_BYTES, max_bytes=ITEM_MEMO_MAX_BYTES
    )
    return new_compiler(options, memo)


# Compiling registers a type's name before its body exists (so recursive types work); a second thread
# must not see that half-built state, so building is serialised. Built codecs are cached, so the lock
# is only taken the first time a type is seen.
_BUILD_LOCK = threading.RLock()


def _build(descriptor: Descriptor, options: JsonOptions, for_dumps: bool = False) -> Codec:
    with _BUILD_LOCK:
        if descriptor.is_extendable:
            # Extensions print as "[full.name]" keys; json_format handles them and they are rare enough
            # (proto2 only) not to warrant generated code.
            return ReferenceCodec(descriptor, options)
        return CompiledCodec(descriptor, _compiler(options, for_dumps))


@functools.cache
def codec_for(descriptor: Descriptor, options: JsonOptions = JsonOptions()) -> Codec:
    """The codec for ``descriptor`` under ``options``; built once, then cached."""
    return _build(descriptor, options)


@functools.cache
def codec_for_dumps(descriptor: Descriptor, options: JsonOptions = JsonOptions()) -> Codec:
    """:func:`codec_for`'s codec for values that go straight to :func:`dumps` (not ``pretty``): the
    same bytes, but an item of a repeated message field it has encoded before, unchanged, is its
    remembered JSON as an ``orjson.Fragment`` (a listing's items come back page after page: each then
    costs a serialisation and a lookup instead of a walk). Its values are for ``dumps`` only: do not
    inspect them, and indent (``pretty``) with :func:`codec_for`'s (a Fragment is written as it is)."""
    return _build(descriptor, options, for_dumps=True)


def encode_any(
    type_url: str, value: bytes, pools: Sequence[DescriptorPool] = (), options: JsonOptions = JsonOptions()
) -> Any:
    """The JSON of a ``google.protobuf.Any`` (``type_url`` and packed ``value``) under ``options``, as
    :func:`codec_for` renders an ``Any`` field: the type is looked up in ``pools`` in order, then in
    the default pool. :class:`CodecError` when it is in none of them or the value does not parse."""
    try:
        return _compiler(options).encode_packed(type_url, value, (*pools, descriptor_pool.Default()))
    except Fail as exc:
        raise exc.to_codec_error() from None
    except (ValueError, TypeError, OverflowError) as exc:
        raise CodecError(f"cannot encode {type_url}: {exc}") from None


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise a JSON value; ``pretty`` indents by two spaces (grpc-gateway's ``?pretty``)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 if pretty else 0)


def loads(data: bytes | str) -> Any:
    """Parse JSON; raises :class:`CodecError` on malformed input."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise CodecError(f"invalid JSON: {exc}") from exc
