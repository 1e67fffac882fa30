"""The compiled codec: per-message-type encoders and decoders built once from descriptors.

Encoders are generated Python source, one function per message type, compiled with ``exec``: reading
fields as attributes in straight-line code is much faster than walking ``ListFields()`` with a
dispatch per field (json_format's approach), and the generated code mirrors json_format's output
exactly, key order included, so ``orjson.dumps`` of both is byte-identical:

* fields that are present come first, in field-number order (json_format walks ``ListFields()``);
* then, when unpopulated fields are emitted, the absent ones without presence in declaration order.

Decoders are closures over a per-type dispatch table (JSON key -> field setter). They write into the
target message in place, like json_format, so its merge semantics carry over unchanged (for example
``{"fooBar": {...}, "foo_bar": {...}}`` merges both objects into one sub-message).

Fallbacks to json_format, where reproducing it is not worth the code: extendable (proto2) message
types use the reference codec wholesale, and ``google.protobuf.Any`` is parsed by json_format (its
encoder is native). Duration and FieldMask use the runtime's own ``ToJsonString``/``FromJsonString``.
"""

from __future__ import annotations

import keyword
import operator
import threading
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from google.protobuf import descriptor_pool, json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.descriptor_pool import DescriptorPool
from google.protobuf.message import DecodeError, Message
from google.protobuf.message_factory import GetMessageClass

from protogw.core import wkt
from protogw.core.codec import _scalars as sc
from protogw.core.codec._errors import CodecError, Fail
from protogw.core.codec._fields import (
    INT32_TYPES,
    INT64_TYPES,
    INT_DECODERS,
    INT_RANGES,
    WRAPPERS_FILE,
    enum_type,
    is_proto2,
    is_special,
    msg_type,
    real_oneof,
    synthetic_oneofs,
)
from protogw.core.codec._memo import MemoLane, WireMemo
from protogw.core.codec._runtime import (
    MAX_DEPTH,
    SPECIAL_DECODERS,
    SPECIAL_ENCODERS,
    DecodeFn,
    EncodeFn,
    Setter,
    closed_enum_encoder,
    message_decoder,
    null_value_setter,
    repeated_scalar_setter,
    scalar_setter,
    struct_encoders,
    wrapper_decoder,
)
from protogw.core.descriptors import is_map, is_message

FD = FieldDescriptor

_TIMESTAMP = wkt.TIMESTAMP
_DURATION = wkt.DURATION
_FIELD_MASK = wkt.FIELD_MASK
_STRUCT = wkt.STRUCT
_VALUE = wkt.VALUE
_LIST_VALUE = wkt.LIST_VALUE
_ANY = wkt.ANY
_NULL_VALUE = wkt.NULL_VALUE


def _attr(name: str) -> str:
    # A field called e.g. "from" cannot be read as m.from; getattr works for any name.
    return f"getattr(m, {name!r})" if keyword.iskeyword(name) else f"m.{name}"


def _remembering(lane: MemoLane, memo: WireMemo, names: dict[str, Any], name: str) -> EncodeFn:
    """The encoder ``names[name]`` (looked up when called: a recursive type's is not built yet when
    this is made) with its JSON texts kept in ``memo``; a remembered text comes back as a Fragment."""
    recall, remember, fragment, dumps = lane.recall, memo.remember, orjson.Fragment, orjson.dumps

    def encode(message: Message) -> Any:
        key, text = recall(message)
        if text is not None:
            return fragment(text)
        value = names[name](message)  # raises (a NaN...) before anything is remembered
        if key is not None:
            remember(key, dumps(value))
        return value

    return encode


class Compiler:
    """Builds and caches the encoders and decoders of every message type for one set of options."""

    def __init__(
        self,
        *,
        emit_unpopulated: bool,
        unset_message_as_null: bool,
        use_proto_names: bool,
        use_enum_numbers: bool,
        discard_unknown: bool,
        item_memo: WireMemo | None = None,
    ) -> None:
        self.emit_unpopulated = emit_unpopulated
        self.unset_message_as_null = unset_message_as_null and emit_unpopulated
        self.use_proto_names = use_proto_names
        self.use_enum_numbers = use_enum_numbers
        self.discard_unknown = discard_unknown
        self._globals: dict[str, Any] = {
            "__builtins__": __builtins__,
            "_f32": sc.encode_float32,
            "_fsp": sc.float_special,
            "_b64": sc.encode_bytes,
            "_nz": sc.negative_zero,
            "_ts": sc.encode_timestamp_parts,
        }
        # Building registers a type before its body is complete (recursive types need that); the
        # re-entrant lock keeps other threads from seeing such half-built state.
        self._lock = threading.RLock()
        self._encoder_names: dict[Descriptor, str] = {}
        self._enum_tables: dict[EnumDescriptor, str] = {}
        self._decoders: dict[Descriptor, DecodeFn] = {}
        self._enum_decoders: dict[EnumDescriptor, Callable[[Any], Any]] = {}
        self._struct_encoder_sets: dict[Descriptor, tuple[EncodeFn, EncodeFn, EncodeFn]] = {}
        # With an item memo (a compiler for output that goes straight to orjson.dumps), the items of
        # repeated message fields are encoded through it: see ``_item_encoder_name``.
        self.item_memo = item_memo
        self._item_encoder_names: dict[Descriptor, str] = {}

    # -----------------------------------------------------------------------------------------------
    # Encoding

    def encoder(self, desc: Descriptor) -> EncodeFn:
        with self._lock:
            fn: EncodeFn = self._globals[self._encoder_name(desc)]
        return fn

    def _encoder_name(self, desc: Descriptor) -> str:
        name = self._encoder_names.get(desc)
        if name is not None:
            return name
        name = f"_e{len(self._encoder_names)}"
        # Registered before the body is built so that recursive types refer to themselves; generated
        # code looks its callees up as globals at call time.
        self._encoder_names[desc] = name
        special = self._special_encoder(desc)
        if special is not None:
            self._globals[name] = special
        else:
            source = self._encoder_source(desc, name)
            exec(compile(source, f"<protogw codec encoder {desc.full_name}>", "exec"), self._globals)
        return name

    def _item_encoder_name(self, desc: Descriptor) -> str:
        """The encoder of ``desc`` as an item of a repeated field: without an item memo, its encoder;
        with one, an encoder that answers an item it has seen before, unchanged, with its remembered
        JSON as an ``orjson.Fragment`` (the items of a listing come back page after page) and
        remembers the JSON of the others. Equal wire forms are equal messages, so the text is the one
        encoding would give. Types with a JSON form of their own (Timestamp, Struct...) are encoded as
        they are (their encoders have memos of their own where it pays)."""
        name = self._encoder_name(desc)
        memo = self.item_memo
        if memo is None or is_special(desc):
            return name
        item_name = self._item_encoder_names.get(desc)
        if item_name is None:
            item_name = f"{name}i"
            self._item_encoder_names[desc] = item_name
            # Tagged with the type: two types may share a wire form and not a JSON form.
            self._globals[item_name] = _remembering(memo.lane(desc.full_name), memo, self._globals, name)
        return item_name

    def _enum_table(self, enum: EnumDescriptor) -> str:
        name = self._enum_tables.get(enum)
        if name is None:
            name = f"_n{len(self._enum_tables)}"
            self._enum_tables[enum] = name
            # With aliases (allow_alias) json_format prints whichever name the runtime's
            # values_by_number holds for the number; take the same one.
            table = {number: value.name for number, value in enum.values_by_number.items()}
            self._globals[name] = table
            if enum.is_closed:
                self._globals[name + "c"] = closed_enum_encoder(enum.full_name, table)
        return name

    def _value_expr(self, field: FieldDescriptor, x: str) -> str:
        """Python expression turning the field value held in variable ``x`` into its JSON value."""
        t = field.type
        if t in INT32_TYPES or t == FD.TYPE_BOOL or t == FD.TYPE_STRING:
            return x
        if t in INT64_TYPES:
            return f"str({x})"
        if t == FD.TYPE_DOUBLE:
            return f"({x} if {x} - {x} == 0 else _fsp({x}))"
        if t == FD.TYPE_FLOAT:
            return f"_f32({x})"
        if t == FD.TYPE_BYTES:
            return f"_b64({x})"
        if t == FD.TYPE_ENUM:
            if self.use_enum_numbers:
                return x
            if enum_type(field).full_name == _NULL_VALUE:
                return "None"
            table = self._enum_table(enum_type(field))
            if enum_type(field).is_closed:
                return f"{table}c({x})"
            return f"{table}.get({x}, {x})"
        if is_message(field):
            return f"{self._encoder_name(msg_type(field))}({x})"
        raise TypeError(f"unsupported field type {t} for {field.full_name}")

    def _list_expr(self, field: FieldDescriptor, v: str) -> str:
        # Repeated containers are read through a slice (one call that builds a list): iterating one
        # goes through the sequence protocol, an index at a time, and ends on a raised IndexError.
        t = field.type
        if t in INT32_TYPES or t == FD.TYPE_BOOL or t == FD.TYPE_STRING:
            return f"{v}[:]"
        if t in INT64_TYPES:
            return f"list(map(str, {v}[:]))"
        if is_message(field):
            return f"list(map({self._item_encoder_name(msg_type(field))}, {v}[:]))"
        if t == FD.TYPE_BYTES:
            return f"list(map(_b64, {v}[:]))"
        if t == FD.TYPE_FLOAT:
            return f"list(map(_f32, {v}[:]))"
        return f"[{self._value_expr(field, 'x')} for x in {v}[:]]"

    def _map_expr(self, field: FieldDescriptor, v: str) -> str:
        key_field = msg_type(field).fields_by_name["key"]
        value_field = msg_type(field).fields_by_name["value"]
        if key_field.type == FD.TYPE_STRING:
            key = "k"
        elif key_field.type == FD.TYPE_BOOL:
            key = "('true' if k else 'false')"
        else:
            key = "str(k)"
        value = self._value_expr(value_field, "x")
        if key == "k" and value == "x":
            return f"dict({v})"
        # Keys, then a lookup each: items() on a upb map costs several times more (same order).
        return f"{{{key}: {value} for k in {v} for x in ({v}[k],)}}"

    def _default_expr(self, field: FieldDescriptor) -> str:
        """The JSON value json_format prints for an absent field without presence."""
        if is_map(field):
            return "{}"
        if field.is_repeated:
            return "[]"
        default = field.default_value
        t = field.type
        if t == FD.TYPE_ENUM:
            if self.use_enum_numbers:
                return repr(default)
            if enum_type(field).full_name == _NULL_VALUE:
                return "None"
            table: dict[int, str] = self._globals[self._enum_table(enum_type(field))]
            return repr(table.get(default, default))
        if t in INT64_TYPES:
            return repr(str(default))
        if t == FD.TYPE_BYTES:
            return repr(sc.encode_bytes(default))
        if t == FD.TYPE_FLOAT:
            return repr(sc.encode_float32(float(default)))
        if t == FD.TYPE_DOUBLE:
            return repr(sc.encode_double(float(default)))
        return repr(default)

    def _present_value(self, field: FieldDescriptor) -> tuple[str, str]:
        """For a field known to be set: the expression that reads it into ``x`` and the expression that
        turns ``x`` into its JSON value. Timestamps and wrappers are written out inline, which saves a
        call per value; wrappers read their ``value`` straight away."""
        read = _attr(field.name)
        if is_message(field):
            sub = msg_type(field)
            if sub.file.name == WRAPPERS_FILE:
                return read + ".value", self._value_expr(sub.fields_by_name["value"], "x")
            if sub.full_name == _TIMESTAMP:
                return read, "_ts(x.seconds, x.nanos)"
        return read, self._value_expr(field, "x")

    def _encoder_source(self, desc: Descriptor, fname: str) -> str:
        lines = [f"def {fname}(m):", "    d = {}"]
        # HasField and WhichOneof are taken from the class once (globals ``<fname>h``/``<fname>w``):
        # looking a method up on a upb message instance goes through its field lookup first and costs
        # as much as the call itself.
        cls = GetMessageClass(desc)
        self._globals[fname + "h"] = cls.HasField
        self._globals[fname + "w"] = cls.WhichOneof
        # The fields read unconditionally (no presence: scalars, repeated fields and maps) are read by
        # one attrgetter call (global ``<fname>g``) into their locals.
        plain = [field for field in desc.fields if is_map(field) or field.is_repeated or not field.has_presence]
        plain.sort(key=lambda f: f.number)
        if len(plain) > 1:
            self._globals[fname + "g"] = operator.attrgetter(*(field.name for field in plain))
            lines.append(f"    {', '.join(f'v{field.index}' for field in plain)} = {fname}g(m)")
        elif plain:
            lines.append(f"    v{plain[0].index} = {_attr(plain[0].name)}")
        oneof_vars: dict[str, str] = {}
        synthetic = synthetic_oneofs(desc)
        for index, oneof in enumerate(desc.oneofs):
            if oneof.name in synthetic:
                continue
            oneof_vars[oneof.name] = f"w{index}"
            lines.append(f"    w{index} = {fname}w(m, {oneof.name!r})")
        # Per field: the local that holds its value or presence, and whether a truthy test of it
        # means "present" (floats need a sign-bit test as well, for -0.0).
        present: dict[int, str] = {}
        for field in sorted(desc.fields, key=lambda f: f.number):
            key = field.name if self.use_proto_names else field.json_name
            v = f"v{field.index}"
            oneof = real_oneof(field)
            if is_map(field):
                lines += [
                    f"    if {v}:",
                    f"        d[{key!r}] = {self._map_expr(field, v)}",
                ]
                present[field.index] = v
            elif field.is_repeated:
                lines += [
                    f"    if {v}:",
                    f"        d[{key!r}] = {self._list_expr(field, v)}",
                ]
                present[field.index] = v
            elif oneof is not None:
                read, value = self._present_value(field)
                lines += [
                    f"    if {oneof_vars[oneof.name]} == {field.name!r}:",
                    f"        x = {read}",
                    f"        d[{key!r}] = {value}",
                ]
            elif field.has_presence:
                read, value = self._present_value(field)
                lines += [
                    f"    {v} = {fname}h(m, {field.name!r})",
                    f"    if {v}:",
                    f"        x = {read}",
                    f"        d[{key!r}] = {value}",
                ]
                present[field.index] = v
            else:
                test = f"({v} or _nz({v}))" if field.type in (FD.TYPE_FLOAT, FD.TYPE_DOUBLE) else v
                lines += [
                    f"    if {test}:",
                    f"        d[{key!r}] = {self._value_expr(field, v)}",
                ]
                present[field.index] = test
        if self.emit_unpopulated:
            proto2 = is_proto2(desc)
            for field in desc.fields:
                key = field.name if self.use_proto_names else field.json_name
                if field.has_presence:
                    # protojson's EmitUnpopulated writes null for absent singular messages (and proto2
                    # scalars) outside any oneof; json_format has no such mode.
                    if self.unset_message_as_null and field.containing_oneof is None and (is_message(field) or proto2):
                        lines += [f"    if not {present[field.index]}:", f"        d[{key!r}] = None"]
                    continue
                lines += [f"    if not {present[field.index]}:", f"        d[{key!r}] = {self._default_expr(field)}"]
        lines.append("    return d")
        return "\n".join(lines) + "\n"

    def _special_encoder(self, desc: Descriptor) -> EncodeFn | None:
        full = desc.full_name
        if desc.file.name == WRAPPERS_FILE:
            field = desc.fields_by_name["value"]
            source = f"def _w(m):\n    x = m.value\n    return {self._value_expr(field, 'x')}\n"
            scope: dict[str, Any] = {}
            exec(compile(source, f"<protogw codec encoder {full}>", "exec"), self._globals, scope)
            wrapper: EncodeFn = scope["_w"]
            return wrapper
        if full == _ANY:
            return self._encode_any
        if full in (_STRUCT, _VALUE, _LIST_VALUE):
            return self._struct_encoders(desc)[(_STRUCT, _VALUE, _LIST_VALUE).index(full)]
        return SPECIAL_ENCODERS.get(full)

    def _struct_encoders(self, desc: Descriptor) -> tuple[EncodeFn, EncodeFn, EncodeFn]:
        # One set per Value type: a gateway that loads its types from a descriptor set has a Value of
        # its own, beside the generated one.
        value_desc = desc.file.pool.FindMessageTypeByName(_VALUE)
        found = self._struct_encoder_sets.get(value_desc)
        if found is None:
            found = self._struct_encoder_sets[value_desc] = struct_encoders(GetMessageClass(value_desc))
        return found

    def _encode_any(self, message: Message) -> Any:
        # The pool the Any itself came from first (a gateway in proxy mode builds its types from a
        # descriptor set into a pool of its own), then the default pool, where json_format looks.
        pools: tuple[Any, ...] = (message.DESCRIPTOR.file.pool, descriptor_pool.Default())
        return self.encode_packed(message.type_url, message.value, pools)  # type: ignore[attr-defined]

    def encode_packed(self, type_url: str, value: bytes, pools: Sequence[DescriptorPool]) -> Any:
        """The JSON of an ``Any`` holding ``value`` of ``type_url``, its type looked up in ``pools`` in
        order: ``{"@type": ..., <the fields>}``, or ``{"@type": ..., "value": ...}`` for a type with a
        JSON form of its own (Timestamp, Struct, wrappers...); an empty ``Any`` is ``{}``."""
        if not type_url and not value:
            return {}
        name = type_url.split("/")[-1]
        inner_desc: Descriptor | None = None
        for pool in pools:
            try:
                inner_desc = pool.FindMessageTypeByName(name)
                break
            except KeyError:
                continue
        if inner_desc is None:
            raise Fail(f"cannot resolve Any type URL {type_url!r}")
        inner = GetMessageClass(inner_desc)()
        try:
            inner.ParseFromString(value)
        except DecodeError:
            raise Fail(f"the value of the Any is not a valid {name}") from None
        encoded = self.encoder(inner_desc)(inner)
        if is_special(inner_desc):
            return {"@type": type_url, "value": encoded}
        return {"@type": type_url, **encoded}

    # -----------------------------------------------------------------------------------------------
    # Decoding

    def decoder(self, desc: Descriptor) -> DecodeFn:
        found = self._decoders.get(desc)
        if found is not None:
            return found
        with self._lock:
            return self._build_decoder(desc)

    def _build_decoder(self, desc: Descriptor) -> DecodeFn:
        found = self._decoders.get(desc)
        if found is not None:
            return found
        special = self._special_decoder(desc)
        if special is not None:
            self._decoders[desc] = special
            return special
        plain: dict[str, Setter] = {}
        in_oneof: dict[str, tuple[Setter, str]] = {}
        decode = message_decoder(desc, plain, in_oneof, self.discard_unknown)
        # Registered before the tables are filled, so recursive types find themselves.
        self._decoders[desc] = decode
        setters: dict[FieldDescriptor, Setter] = {field: self._setter(field) for field in desc.fields}
        # JSON names are entered last: they win over proto names when both match different fields,
        # as in json_format.
        for use_json_name in (False, True):
            for field in desc.fields:
                key = field.json_name if use_json_name else field.name
                plain.pop(key, None)
                in_oneof.pop(key, None)
                if field.containing_oneof is not None:
                    in_oneof[key] = (setters[field], field.containing_oneof.name)
                else:
                    plain[key] = setters[field]
        return decode

    def _enum_decoder(self, enum: EnumDescriptor) -> Callable[[Any], Any]:
        found = self._enum_decoders.get(enum)
        if found is None:
            by_name = {value.name: value.number for value in enum.values}
            numbers = frozenset(value.number for value in enum.values)
            found = sc.enum_decoder(
                enum.full_name, by_name, numbers, enum.is_closed, self.discard_unknown, enum.values_by_number.get
            )
            self._enum_decoders[enum] = found
        return found

    def scalar_decoder(self, field: FieldDescriptor) -> Callable[[Any], Any]:
        t = field.type
        if t in INT_DECODERS:
            return INT_DECODERS[t]
        if t == FD.TYPE_DOUBLE:
            return sc.decode_double
        if t == FD.TYPE_FLOAT:
            return sc.decode_float
        if t == FD.TYPE_BOOL:
            return sc.decode_bool
        if t == FD.TYPE_STRING:
            return sc.decode_string
        if t == FD.TYPE_BYTES:
            return sc.decode_bytes
        if t == FD.TYPE_ENUM:
            return self._enum_decoder(enum_type(field))
        raise TypeError(f"not a scalar field: {field.full_name}")

    def _setter(self, field: FieldDescriptor) -> Setter:
        name = field.name
        if is_map(field):
            return self._map_setter(field)
        if field.is_repeated:
            if is_message(field):
                return self._repeated_message_setter(field)
            return repeated_scalar_setter(name, self.scalar_decoder(field), field.type == FD.TYPE_ENUM)
        if is_message(field):
            return self._message_setter(field)
        if field.type == FD.TYPE_ENUM and enum_type(field).full_name == _NULL_VALUE:
            return null_value_setter(name, self.scalar_decoder(field))
        return self._fast_scalar_setter(field, scalar_setter(name, self.scalar_decoder(field)))

    def _fast_scalar_setter(self, field: FieldDescriptor, slow: Setter) -> Setter:
        """A generated setter that handles the value a well-behaved client sends for this field type
        with one type test and an attribute store, and hands everything else (null, strings holding
        numbers, values needing a range or format check) to ``slow``."""
        t = field.type
        target = f"setattr(m, {field.name!r}, {{}})" if keyword.iskeyword(field.name) else f"m.{field.name} = {{}}"
        scope: dict[str, Any] = {"slow": slow}
        if t == FD.TYPE_STRING:
            cases = [("type(v) is str and v.isascii()", "v")]
        elif t == FD.TYPE_BOOL:
            cases = [("v is True or v is False", "v")]
        elif t == FD.TYPE_DOUBLE:
            cases = [("type(v) is float and v - v == 0", "v")]
        elif t in INT32_TYPES:
            low, high = INT_RANGES[t]
            cases = [(f"type(v) is int and {low} <= v <= {high}", "v")]
        elif t in INT64_TYPES:
            low, high = INT_RANGES[t]
            # Fewer than 19 ASCII digits is always within range, so int() needs no further check.
            cases = [
                ("type(v) is str and len(v) < 19 and v.isascii() and v.isdigit()", "int(v)"),
                (f"type(v) is int and {low} <= v <= {high}", "v"),
            ]
        elif t == FD.TYPE_ENUM:
            enum = enum_type(field)
            scope["names"] = {value.name: value.number for value in enum.values}
            scope["numbers"] = frozenset(value.number for value in enum.values)
            cases = [("type(v) is str and v in names", "names[v]"), ("type(v) is int and v in numbers", "v")]
        else:
            return slow
        lines = ["def fast(m, v, depth):"]
        for index, (test, value) in enumerate(cases):
            lines += [f"    {'if' if index == 0 else 'elif'} {test}:", "        " + target.format(value)]
        lines += ["    else:", "        slow(m, v, depth)"]
        exec(compile("\n".join(lines) + "\n", f"<protogw codec setter {field.full_name}>", "exec"), scope)
        fast: Setter = scope["fast"]
        return fast

    def _message_setter(self, field: FieldDescriptor) -> Setter:
        name = field.name
        sub_desc = msg_type(field)
        is_value = sub_desc.full_name == _VALUE
        # Bound now, while the root type is being built under the lock: by the time any codec is
        # handed out, every decoder it can reach is complete.
        decode = self.decoder(sub_desc)
        # From the class: a method looked up on a upb message instance costs as much as the call.
        set_in_parent = GetMessageClass(sub_desc).SetInParent

        def set_message(msg: Message, value: Any, depth: int) -> None:
            if value is None:
                if is_value:
                    getattr(msg, name).null_value = 0
                else:
                    msg.ClearField(name)
                return
            sub = getattr(msg, name)
            set_in_parent(sub)
            decode(value, sub, depth + 1)

        return set_message

    def _repeated_message_setter(self, field: FieldDescriptor) -> Setter:
        name = field.name
        sub_desc = msg_type(field)
        allow_null = sub_desc.full_name == _VALUE
        # Bound now, while the root type is being built under the lock: by the time any codec is
        # handed out, every decoder it can reach is complete.
        decode = self.decoder(sub_desc)

        def set_repeated_message(msg: Message, value: Any, depth: int) -> None:
            msg.ClearField(name)
            if value is None:
                return
            if not isinstance(value, list | tuple):
                raise Fail(f"expected an array, got {sc.show(value)}")
            container = getattr(msg, name)
            for index, item in enumerate(value):
                try:
                    if item is None and not allow_null:
                        raise Fail("null is not allowed in a repeated field")
                    decode(item, container.add(), depth + 1)
                except Fail as exc:
                    exc.segments.append(f"[{index}]")
                    raise

        return set_repeated_message

    def _map_setter(self, field: FieldDescriptor) -> Setter:
        name = field.name
        key_field = msg_type(field).fields_by_name["key"]
        value_field = msg_type(field).fields_by_name["value"]
        if key_field.type == FD.TYPE_BOOL:
            decode_key: Callable[[Any], Any] = sc.map_key_bool
        else:
            decode_key = self.scalar_decoder(key_field)
        if is_message(value_field):
            sub_desc = msg_type(value_field)
            decode = self.decoder(sub_desc)

            def set_message_map(msg: Message, value: Any, depth: int) -> None:
                msg.ClearField(name)
                if value is None:
                    return
                if not isinstance(value, dict):
                    raise Fail(f"expected an object, got {sc.show(value)}")
                container = getattr(msg, name)
                for key, item in value.items():
                    try:
                        decode(item, container[decode_key(key)], depth + 1)
                    except Fail as exc:
                        exc.segments.append(f"[{key}]")
                        raise

            return set_message_map
        decode_value = self.scalar_decoder(value_field)

        def set_scalar_map(msg: Message, value: Any, depth: int) -> None:
            msg.ClearField(name)
            if value is None:
                return
            if not isinstance(value, dict):
                raise Fail(f"expected an object, got {sc.show(value)}")
            container = getattr(msg, name)
            for key, item in value.items():
                try:
                    converted = decode_value(item)
                    if converted is not sc.SKIP:
                        container[decode_key(key)] = converted
                except Fail as exc:
                    exc.segments.append(f"[{key}]")
                    raise
                except (ValueError, TypeError) as exc:
                    raise Fail(str(exc)) from None

        return set_scalar_map

    def _special_decoder(self, desc: Descriptor) -> DecodeFn | None:
        full = desc.full_name
        if desc.file.name == WRAPPERS_FILE:
            return wrapper_decoder(self.scalar_decoder(desc.fields_by_name["value"]))
        if full == _ANY:
            return self._decode_any
        return SPECIAL_DECODERS.get(full)

    def _decode_any(self, value: Any, msg: Message, depth: int) -> None:
        # Any is rare on hot paths and its JSON form interleaves "@type" with the packed message's
        # own fields; json_format's parser is used as is. The depth budget left is handed over so
        # the overall nesting limit stays that of one json_format parse.
        if depth > MAX_DEPTH:
            raise Fail(f"message nested deeper than {MAX_DEPTH} levels")
        pool: Any = msg.DESCRIPTOR.file.pool
        try:
            json_format.ParseDict(
                value,
                msg,
                ignore_unknown_fields=self.discard_unknown,
                # The Any's own pool: the default one for generated code, a gateway's own pool when
                # it loaded its types from a descriptor set.
                descriptor_pool=pool,
                max_recursion_depth=MAX_DEPTH + 1 - depth,
            )
        except Exception as exc:  # json_format raises ParseError, TypeError, KeyError, ... here
            raise Fail(f"invalid Any: {exc}") from None


# ---------------------------------------------------------------------------------------------------
# The codec objects


class CompiledCodec:
    """Encoder and decoder of one message type; ``encode``/``decode`` follow the ``Codec`` protocol."""

    __slots__ = ("_cls", "_decode", "_encode", "descriptor")

    def __init__(self, descriptor: Descriptor, compiler: Compiler) -> None:
        self.descriptor = descriptor
        self._cls = GetMessageClass(descriptor)
        self._encode = compiler.encoder(descriptor)
        self._decode = compiler.decoder(descriptor)

    def encode(self, message: Message) -> Any:
        try:
            return self._encode(message)
        except Fail as exc:
            raise exc.to_codec_error() from None
        except (ValueError, TypeError, OverflowError) as exc:
            raise CodecError(f"cannot encode {self.descriptor.full_name}: {exc}") from None

    def decode(self, value: Any) -> Message:
        msg = self._cls()
        try:
            self._decode(value, msg, 1)
        except Fail as exc:
            raise exc.to_codec_error() from None
        except (ValueError, TypeError, OverflowError) as exc:
            # The runtime's own setters have the last word on a few values (e.g. a map key that is
            # out of range); report those like our own checks.
            raise CodecError(str(exc)) from None
        return msg
