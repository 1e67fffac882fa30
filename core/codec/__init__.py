"""JSON <-> protobuf conversion for the gateway.

The public surface is small and stable; the gateway only uses what is exported here:

* :class:`JsonOptions` - the marshaler options (grpc-gateway's defaults are the defaults here).
* :func:`codec_for` - the codec of one message type, compiled once from its descriptor and cached.
* :func:`codec_for_dumps` - the same for values written straight out by :func:`dumps`: items of
  repeated message fields seen before come back as their remembered JSON (``orjson.Fragment``).
* :func:`encode_any` - an ``Any``'s JSON from its type URL and bytes, its type looked up in given pools.
* :func:`dumps` / :func:`loads` - bytes <-> JSON values with orjson.
* :class:`WireMemo` / :class:`MemoLane` - JSON texts remembered by the wire form of the message they
  were made from.
* :class:`CodecError` - bad input while decoding (or a message that has no JSON form while encoding);
  its message names the offending field path, and ``err.path`` / ``err.reason`` hold the parts.

``google.protobuf.json_format`` stays the reference implementation: for the options it has, a
codec's output equals ``MessageToDict`` (key order included) and its parsing equals ``ParseDict``.
"""

from __future__ import annotations

from protogw.core.codec._api import (
    Codec,
    CodecError,
    JsonOptions,
    ReferenceCodec,
    codec_for,
    codec_for_dumps,
    dumps,
    encode_any,
    loads,
)
from protogw.core.codec._memo import MemoLane, WireMemo

__all__ = [
    "Codec",
    "CodecError",
    "JsonOptions",
    "MemoLane",
    "ReferenceCodec",
    "WireMemo",
    "codec_for",
    "codec_for_dumps",
    "dumps",
    "encode_any",
    "loads",
]
