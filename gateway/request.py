"""Building the request message of a binding from path values, query string and body, as grpc-gateway.

The pieces are assembled as one protobuf-JSON value and decoded once by the codec:

1. the body: the whole message (``body: "*"``), one field (``body: "field"``) or nothing;
2. path values, converted from text by the target field's type, overwrite what the body set;
3. query parameters fill every other field (never the body field or a path field, and none at all
   with ``body: "*"``): dotted paths by proto or JSON name, repeated keys append, ``m[k]=v`` for maps;
4. for PATCH with a body field and an unset FieldMask, the mask is computed from the JSON keys present.

Text is converted as grpc-gateway's ``runtime/convert.go`` does: bools as Go's ``ParseBool``, integers in
base 10, enums by name then number, bytes as standard then URL-safe base64, Durations as Go durations
(``1h30m``), FieldMasks split on commas, Struct/Value as JSON text. Every failure is a
:class:`RequestError` whose message names the field; the application answers it with 400.
"""

from __future__ import annotations

import base64
import binascii
import functools
import math
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from google.protobuf import field_mask_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from protogw.core.bindings import Binding, FieldPath
from protogw.core.codec import CodecError, JsonOptions, codec_for, loads
from protogw.core.descriptors import is_map, is_message, is_repeated, message_of
from protogw.core.wkt import SCALAR_MESSAGES, WRAPPERS

__all__ = ["RequestBuilder", "RequestError", "text_to_json"]

JsonValue = Any
JsonObject = dict[str, Any]


class RequestError(ValueError):
    """The request cannot be turned into the RPC's message (a 400)."""


_FD = FieldDescriptor
_INT_TYPES = frozenset(
    {_FD.TYPE_INT32, _FD.TYPE_SINT32, _FD.TYPE_SFIXED32, _FD.TYPE_INT64, _FD.TYPE_SINT64, _FD.TYPE_SFIXED64}
)
_UINT_TYPES = frozenset({_FD.TYPE_UINT32, _FD.TYPE_FIXED32, _FD.TYPE_UINT64, _FD.TYPE_FIXED64})
_INT_RE = re.compile(r"[+-]?[0-9]+")
_UINT_RE = re.compile(r"\+?[0-9]+")
_FLOAT_RE = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_FLOATS = {"inf": "Infinity", "+inf": "Infinity", "-inf": "-Infinity", "infinity": "Infinity"}
_SPECIAL_FLOATS |= {"+infinity": "Infinity", "-infinity": "-Infinity", "nan": "NaN"}
_TRUE = frozenset({"1", "t", "T", "TRUE", "true", "True"})
_FALSE = frozenset({"0", "f", "F", "FALSE", "false", "False"})
_DURATION_PART_RE = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")
_DURATION_UNITS = {
    "ns": Decimal("1e-9"),
    "us": Decimal("1e-6"),
    "µs": Decimal("1e-6"),
    "μs": Decimal("1e-6"),
    "ms": Decimal("1e-3"),
    "s": Decimal(1),
    "m": Decimal(60),
    "h": Decimal(3600),
}
_MAP_KEY_RE = re.compile(r"^(.*)\[(.*)\]$")


def _go_duration(text: str) -> str:
    """Go's ``time.ParseDuration`` grammar, as protobuf-JSON seconds (``"5400s"``)."""
    rest = text
    sign = Decimal(1)
    if rest[:1] in "+-" and rest:
        sign = Decimal(-1) if rest[0] == "-" else Decimal(1)
        rest = rest[1:]
    if rest == "0":
        return "0s"
    if not rest:
        raise ValueError(f"invalid duration {text!r}")
    total = Decimal(0)
    pos = 0
    while pos < len(rest):
        m = _DURATION_PART_RE.match(rest, pos)
        if m is None or m.group(1) in ("", "."):
            raise ValueError(f"invalid duration {text!r}")
        try:
            total += Decimal(m.group(1)) * _DURATION_UNITS[m.group(2)]
        except InvalidOperation as exc:
            raise ValueError(f"invalid duration {text!r}") from exc
        pos = m.end()
    seconds = (sign * total).quantize(Decimal("1e-9"))
    out = format(seconds.normalize(), "f")
    return out + "s"


def _b64_to_std(text: str) -> str:
    """Bytes given as standard or URL-safe base64 (padded or not), re-encoded as standard base64."""
    padded = text + "=" * (-len(text) % 4)
    for alt in (None, b"-_"):
        try:
            raw = base64.b64decode(padded, altchars=alt, validate=True)
        except (binascii.Error, ValueError):
            continue
        return base64.b64encode(raw).decode("ascii")
    raise ValueError(f"illegal base64 data: {text!r}")


def _snake_to_camel(path: str) -> str:
    return ".".join(re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), part) for part in path.split("."))


def _mask_path(path: str) -> str:
    """One FieldMask path from a query string, as a proto field path.

    Both forms are accepted: the proto name (``display_name``, what grpc-gateway passes through) and
    the JSON form of FieldMask, lowerCamelCase (``displayName``, what Google's clients send and Envoy
    converts). A path that is neither (``foo_Bar``, ``a__b``, non-ASCII) is refused: it would be
    accepted here and then make the response unencodable, a 500 for what is really bad input.
    """
    try:
        if any("A" <= ch <= "Z" for ch in path):
            mask = field_mask_pb2.FieldMask()
            mask.FromJsonString(path)
            (path,) = mask.paths
        field_mask_pb2.FieldMask(paths=[path]).ToJsonString()
    except ValueError as exc:
        raise ValueError(f"invalid field mask path {path!r}") from exc
    return path


@dataclass(frozen=True, slots=True)
class MaskPaths:
    """FieldMask paths taken as given (grpc-gateway does no case conversion on them).

    They do not go through JSON, whose FieldMask form is lowerCamelCase and would not round-trip every
    name: the builder writes an empty mask into the JSON value (so presence and oneof checks still
    see it) and sets these paths on the decoded message.
    """

    paths: tuple[str, ...]


def scalar_text_to_json(fd: FieldDescriptor, text: str) -> JsonValue:
    """One scalar field's value from text (raises ValueError with a short reason)."""
    t = fd.type
    if t == _FD.TYPE_STRING:
        return text
    if t in _INT_TYPES:
        if not _INT_RE.fullmatch(text):
            raise ValueError(f"invalid integer {text!r}")
        return int(text)
    if t in _UINT_TYPES:
        if not _UINT_RE.fullmatch(text):
            raise ValueError(f"invalid unsigned integer {text!r}")
        return int(text)
    if t == _FD.TYPE_BOOL:
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"invalid bool {text!r}")
    if t in (_FD.TYPE_DOUBLE, _FD.TYPE_FLOAT):
        special = _SPECIAL_FLOATS.get(text.lower())
        if special is not None:
            return special
        if not _FLOAT_RE.fullmatch(text):
            raise ValueError(f"invalid number {text!r}")
        value = float(text)
        if math.isinf(value):
            raise ValueError(f"number out of range {text!r}")
        if t == _FD.TYPE_FLOAT:
            # Round to single precision as Go's ParseFloat(s, 32) does, so that the shortest float32
            # text of FLT_MAX ("3.4028235e+38", slightly above it as a double) is accepted.
            try:
                value = struct.unpack("<f", struct.pack("<f", value))[0]
            except OverflowError:
                raise ValueError(f"number out of range {text!r}") from None
        return value
    if t == _FD.TYPE_BYTES:
        return _b64_to_std(text)
    if t == _FD.TYPE_ENUM:
        enum = fd.enum_type
        assert enum is not None
        if text in enum.values_by_name:
            return text
        if _INT_RE.fullmatch(text) and int(text) in enum.values_by_number:
            return int(text)
        raise ValueError(f"{text!r} is not a valid value")
    raise ValueError(f"unsupported field type {t}")


def text_to_json(fd: FieldDescriptor, text: str) -> JsonValue:
    """A singular field's (or one element's) value from path or query text, as protobuf JSON."""
    if not is_message(fd):
        return scalar_text_to_json(fd, text)
    name = message_of(fd).full_name
    if name in WRAPPERS:
        return scalar_text_to_json(message_of(fd).fields_by_name["value"], text)
    if name == "google.protobuf.Timestamp":
        return text
    if name == "google.protobuf.Duration":
        return _go_duration(text)
    if name == "google.protobuf.FieldMask":
        return MaskPaths(tuple(_mask_path(p) for p in text.split(",") if p))
    if name in ("google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"):
        try:
            return loads(text)
        except CodecError as exc:
            raise ValueError(str(exc)) from exc
    raise ValueError(f"unsupported message type {name}")


@functools.cache
def _fields_by_any_name(message: Descriptor) -> dict[str, FieldDescriptor]:
    """Fields of ``message`` by proto name and by JSON name."""
    names: dict[str, FieldDescriptor] = {}
    for fd in message.fields:
        names[fd.json_name] = fd
    for fd in message.fields:
        names[fd.name] = fd
    return names


def _json_key(fd: FieldDescriptor, options: JsonOptions) -> str:
    return fd.name if options.use_proto_names else fd.json_name


def _pop_aliases(obj: JsonObject, fd: FieldDescriptor) -> None:
    obj.pop(fd.name, None)
    obj.pop(fd.json_name, None)


def _present(obj: JsonObject, fd: FieldDescriptor) -> bool:
    return fd.json_name in obj or fd.name in obj


def _child_object(obj: JsonObject, fd: FieldDescriptor, key: str, where: str) -> JsonObject:
    """The JSON object of message field ``fd`` inside ``obj``, created when absent."""
    child = obj.get(key)
    if child is None and key != fd.name:
        child = obj.get(fd.name)
        if child is not None:
            obj.pop(fd.name)
            obj[key] = child
    if child is None:
        child = {}
        obj[key] = child
    if not isinstance(child, dict):
        raise RequestError(f"{where}: {fd.name!r} must be a JSON object")
    return child


@dataclass(frozen=True, slots=True)
class _QueryTarget:
    path: FieldPath
    map_key: str | None


class RequestBuilder:
    """Builds one binding's request message; build once per binding, reuse for every request."""

    def __init__(self, binding: Binding, options: JsonOptions, *, reject_unknown_query: bool = False) -> None:
        self.binding = binding
        self._options = options
        self._codec = codec_for(binding.method.descriptor.input_type, options)
        self._reject_unknown_query = reject_unknown_query
        self._key = functools.partial(_json_key, options=options)
        filters: set[tuple[str, ...]] = {tuple(f.full_name for f in p) for p in binding.path_fields}
        if binding.body:
            filters.add(tuple(f.full_name for f in binding.body))
        self._filters = frozenset(filters)
        self._query_allowed = binding.body != ()
        self._target_cache: dict[str, _QueryTarget | None] = {}
        self._patch_mask = self._patch_mask_field()
        body_type = (
            binding.method.descriptor.input_type
            if binding.body == ()
            else (binding.body[-1].message_type if binding.body else None)
        )
        self._raw_body = body_type is not None and body_type.full_name == "google.api.HttpBody"

    def _patch_mask_field(self) -> FieldDescriptor | None:
        b = self.binding
        if b.http_method != "PATCH" or not b.body:
            return None
        masks = [
            fd
            for fd in b.method.descriptor.input_type.fields
            if is_message(fd) and message_of(fd).full_name == "google.protobuf.FieldMask" and not is_repeated(fd)
        ]
        return masks[0] if len(masks) == 1 else None

    @property
    def accepts_query(self) -> bool:
        """False for ``body: "*"``, where grpc-gateway reads no query parameters at all."""
        return self._query_allowed

    def build(
        self,
        params: dict[tuple[str, ...], str],
        query: Sequence[tuple[str, str]],
        body: bytes,
        *,
        content_type: str = "",
    ) -> Message:
        """The request message; raises :class:`RequestError` for anything a client got wrong.

        ``content_type`` is only used when the body goes into a ``google.api.HttpBody``, which takes
        the raw bytes and their type instead of JSON.
        """
        root: JsonObject = {}
        body_value: JsonValue = None
        masks: list[tuple[FieldPath, tuple[str, ...]]] = []
        b = self.binding
        if self._raw_body and b.body is not None:
            raw = {"contentType": content_type, "data": base64.b64encode(body).decode("ascii")}
            if b.body == ():
                root = raw
            else:
                self._set_body_field(root, b.body, raw)
        elif b.body is not None and body.strip():
            try:
                body_value = loads(body)
            except CodecError as exc:
                raise RequestError(str(exc)) from exc
            if b.body == ():
                if not isinstance(body_value, dict):
                    if b.path_fields or b.method.descriptor.input_type.full_name not in SCALAR_MESSAGES:
                        raise RequestError("the request body must be a JSON object")
                    return self._decode(body_value)
                root = body_value
            else:
                self._set_body_field(root, b.body, body_value)
        # The PATCH mask comes from the keys the client sent, before path values are merged in.
        patch_paths = self._patch_paths(body_value) if self._patch_mask is not None and body_value is not None else None
        for fields in b.path_fields:
            self._set_path_value(root, fields, params[tuple(f.name for f in fields)], masks)
        if query and self._query_allowed:
            self._apply_query(root, query, masks)
        if patch_paths is not None:
            self._fill_patch_mask(root, patch_paths, masks)
        message = self._decode(root)
        for fields, paths in masks:
            target = message
            for fd in fields:
                target = getattr(target, fd.name)
            target.paths[:] = paths  # type: ignore[attr-defined]
        return message

    def _decode(self, value: JsonValue) -> Message:
        try:
            return self._codec.decode(value)
        except CodecError as exc:
            raise RequestError(str(exc)) from exc

    def _set_body_field(self, root: JsonObject, fields: FieldPath, value: JsonValue) -> None:
        obj = root
        for fd in fields[:-1]:
            obj = _child_object(obj, fd, self._key(fd), "body")
        obj[self._key(fields[-1])] = value

    def _set_path_value(
        self, root: JsonObject, fields: FieldPath, text: str, masks: list[tuple[FieldPath, tuple[str, ...]]]
    ) -> None:
        name = ".".join(f.name for f in fields)
        obj = root
        try:
            for fd in fields[:-1]:
                obj = _child_object(obj, fd, self._key(fd), f"parameter {name}")
        except RequestError as exc:
            raise RequestError(f"type mismatch, parameter: {name}, error: {exc}") from exc
        leaf = fields[-1]
        try:
            if is_repeated(leaf):
                value: JsonValue = [text_to_json(leaf, part) for part in text.split(",")]
            else:
                value = text_to_json(leaf, text)
        except ValueError as exc:
            raise RequestError(f"type mismatch, parameter: {name}, error: {exc}") from exc
        value = _defer_masks(value, fields, masks)
        _pop_aliases(obj, leaf)
        obj[self._key(leaf)] = value

    # -- query -------------------------------------------------------------------------------------

    def _target(self, key: str) -> _QueryTarget | None:
        """Resolve a query key to fields; None for unknown keys. Cached per key."""
        try:
            return self._target_cache[key]
        except KeyError:
            pass
        target = self._resolve(key)
        if len(self._target_cache) < 1024:
            self._target_cache[key] = target
        return target

    def _resolve(self, key: str) -> _QueryTarget | None:
        map_key: str | None = None
        m = _MAP_KEY_RE.match(key)
        if m is not None:
            key, map_key = m.group(1), m.group(2)
        message: Descriptor | None = self.binding.method.descriptor.input_type
        path: list[FieldDescriptor] = []
        for part in key.split("."):
            if message is None:
                raise RequestError(f'invalid path: "{path[-1].name}" is not a message')
            fd = _fields_by_any_name(message).get(part)
            if fd is None:
                return None
            if path:
                prev = path[-1]
                if is_repeated(prev):
                    raise RequestError(f'invalid path: "{prev.name}" is not a message')
                if message_of(prev).full_name in SCALAR_MESSAGES or message_of(prev).full_name == "google.protobuf.Any":
                    raise RequestError(f'invalid path: "{prev.name}" cannot be set field by field')
            path.append(fd)
            message = fd.message_type if is_message(fd) and not is_map(fd) else None
        leaf = path[-1]
        if map_key is not None and not is_map(leaf):
            raise RequestError(f'field "{leaf.name}" is not a map')
        if map_key is None and is_map(leaf):
            raise RequestError(f'map field "{leaf.name}" needs a key: {leaf.name}[key]=value')
        return _QueryTarget(tuple(path), map_key)

    def _filtered(self, path: FieldPath) -> bool:
        names = tuple(f.full_name for f in path)
        return any(names[: len(f)] == f for f in self._filters)

    def _apply_query(
        self, root: JsonObject, query: Iterable[tuple[str, str]], masks: list[tuple[FieldPath, tuple[str, ...]]]
    ) -> None:
        singles: set[tuple[str, ...]] = set()
        for key, text in query:
            target = self._target(key)
            if target is None:
                if self._reject_unknown_query:
                    raise RequestError(f"unknown query parameter {key!r}")
                continue
            if self._filtered(target.path):
                continue
            self._apply_one(root, target, key, text, singles, masks)

    def _apply_one(
        self,
        root: JsonObject,
        target: _QueryTarget,
        key: str,
        text: str,
        singles: set[tuple[str, ...]],
        masks: list[tuple[FieldPath, tuple[str, ...]]],
    ) -> None:
        obj = root
        for fd in target.path[:-1]:
            obj = _child_object(obj, fd, self._key(fd), f"query parameter {key!r}")
        leaf = target.path[-1]
        jkey = self._key(leaf)
        try:
            if target.map_key is not None:
                entry = message_of(leaf)
                k = scalar_text_to_json(entry.fields_by_name["key"], target.map_key)
                v = _mask_as_json(text_to_json(entry.fields_by_name["value"], text))
                mapping = _child_object(obj, leaf, jkey, f"query parameter {key!r}")
                mapping[str(k).lower() if isinstance(k, bool) else str(k)] = v
                return
            value = text_to_json(leaf, text)
        except ValueError as exc:
            raise RequestError(f'parsing field "{leaf.name}": {exc}') from exc
        if is_repeated(leaf):
            current = obj.get(jkey)
            if not isinstance(current, list):
                current = []
                _pop_aliases(obj, leaf)
                obj[jkey] = current
            current.append(_mask_as_json(value))
            return
        ident = tuple(f.full_name for f in target.path)
        if ident in singles:
            raise RequestError(f'too many values for field "{leaf.name}"')
        singles.add(ident)
        oneof = leaf.containing_oneof
        if oneof is not None and not _synthetic(leaf):
            for other in oneof.fields:
                if other is not leaf and _present(obj, other):
                    raise RequestError(f'field already set for oneof "{oneof.name}"')
        value = _defer_masks(value, target.path, masks)
        _pop_aliases(obj, leaf)
        obj[jkey] = value

    # -- PATCH field masks ----------------------------------------------------------------------------

    def _patch_paths(self, body_value: JsonValue) -> list[str] | None:
        body_fields = self.binding.body
        assert body_fields
        leaf = body_fields[-1]
        if not is_message(leaf) or is_repeated(leaf) or message_of(leaf).full_name in SCALAR_MESSAGES:
            return None
        return mask_paths_from_json(message_of(leaf), body_value)

    def _fill_patch_mask(
        self, root: JsonObject, paths: list[str], masks: list[tuple[FieldPath, tuple[str, ...]]]
    ) -> None:
        mask_fd = self._patch_mask
        assert mask_fd is not None
        if root.get(mask_fd.json_name) or root.get(mask_fd.name) or any(f[0] is mask_fd for f, _ in masks):
            return
        _pop_aliases(root, mask_fd)
        root[self._key(mask_fd)] = ""
        masks.append(((mask_fd,), tuple(paths)))


def _defer_masks(value: JsonValue, fields: FieldPath, masks: list[tuple[FieldPath, tuple[str, ...]]]) -> JsonValue:
    """Record FieldMask paths to set after decoding; the JSON gets an empty mask in their place."""
    if isinstance(value, MaskPaths):
        masks.append((fields, value.paths))
        return ""
    return value


def _mask_as_json(value: JsonValue) -> JsonValue:
    """FieldMasks inside lists and maps cannot be patched afterwards: they go through JSON's camelCase."""
    if isinstance(value, MaskPaths):
        return ",".join(_snake_to_camel(p) for p in value.paths)
    return value


def _synthetic(fd: FieldDescriptor) -> bool:
    """proto3 ``optional`` fields live in a synthetic oneof that is not a real choice."""
    oneof = fd.containing_oneof
    return oneof is not None and len(oneof.fields) == 1 and oneof.name == "_" + fd.name


def mask_paths_from_json(message: Descriptor, value: JsonValue) -> list[str]:
    """FieldMask paths for the keys present in ``value`` (grpc-gateway's ``FieldMaskFromRequestBody``).

    Nested objects recurse into message fields; repeated fields and maps count as a whole; an empty
    object counts as its own path; Struct/Value subtrees are opaque keys; Any needs its ``@type``.
    """
    paths: list[str] = []
    queue: list[tuple[str, JsonValue, Descriptor | None]] = [("", value, message)]
    while queue:
        path, node, msg = queue.pop(0)
        if isinstance(node, dict) and node:
            for k, v in node.items():
                if msg is None:
                    raise RequestError("JSON structure did not match request type")
                fd = _fields_by_any_name(msg).get(k)
                if fd is None:
                    raise RequestError(f'could not find field "{k}" in "{msg.full_name}"')
                child = fd.name if not path else f"{path}.{fd.name}"
                mt = fd.message_type
                if mt is not None and mt.full_name in ("google.protobuf.Struct", "google.protobuf.Value"):
                    paths.extend(_blind_paths(child, v))
                    continue
                if mt is not None and mt.full_name == "google.protobuf.Any" and not is_repeated(fd):
                    if not (isinstance(v, dict) and "@type" in v):
                        raise RequestError(f'could not find field @type in "{k}" in message "{msg.full_name}"')
                    paths.append(child)
                    continue
                if is_repeated(fd):
                    paths.append(child)
                elif mt is not None and mt.full_name not in SCALAR_MESSAGES:
                    queue.append((child, v, mt))
                else:
                    queue.append((child, v, None))
        elif path:
            paths.append(path)
    return sorted(paths)


def _blind_paths(name: str, value: JsonValue) -> list[str]:
    if not isinstance(value, dict):
        return [name]
    out: list[str] = []
    queue: list[tuple[str, dict[str, Any]]] = [(name, value)]
    while queue:
        prefix, node = queue.pop(0)
        for k, v in node.items():
            if isinstance(v, dict):
                queue.append((f"{prefix}.{k}", v))
            else:
                out.append(f"{prefix}.{k}")
    return out
