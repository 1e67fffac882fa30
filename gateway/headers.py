"""HTTP headers <-> gRPC metadata, as grpc-gateway maps them (``runtime/context.go``, ``handler.go``).

Incoming:

* ``Authorization`` -> ``authorization``;
* permanent IANA headers (Accept, User-Agent, Cookie, ...) -> ``grpcgateway-<name>``;
* ``Grpc-Metadata-Foo`` -> ``foo`` (``-bin`` keys base64-decoded);
* ``X-Forwarded-For`` (incoming values plus the peer address) and ``X-Forwarded-Host``;
* ``Grpc-Timeout`` -> the call deadline;
* the request id header (echoed, or generated) -> metadata of the same name.

Anything else is dropped unless a custom :data:`HeaderMatcher` maps it. :data:`MetadataAnnotator`
callables add metadata computed from the whole request (for example a session cookie turned into an
``authorization`` value when the header is absent).

Outgoing: response header metadata ``k`` -> ``Grpc-Metadata-k``; trailing metadata ``k`` ->
``Grpc-Trailer-k`` (only when the request said ``TE: trailers``).
"""

from __future__ import annotations

import base64
import binascii
import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from protogw.core.requestid import acceptable_request_id, new_request_id

__all__ = [
    "HeaderMatcher",
    "Metadata",
    "MetadataAnnotator",
    "MetadataError",
    "RequestHead",
    "default_header_matcher",
    "incoming_metadata",
    "outgoing_headers",
    "parse_grpc_timeout",
]

log = logging.getLogger(__name__)

Metadata = list[tuple[str, str | bytes]]


class MetadataError(ValueError):
    """A header cannot become metadata (a 400)."""


@dataclass(frozen=True, slots=True)
class RequestHead:
    """What hooks may look at: method, path, query string, lower-cased headers and the peer."""

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    client: tuple[str, int] | None = None
    scheme: str = "http"

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), if present."""
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def cookie(self, name: str) -> str | None:
        """The value of cookie ``name`` from the ``Cookie`` headers, if present."""
        for key, value in self.headers:
            if key != "cookie":
                continue
            for part in value.split(";"):
                k, sep, v = part.strip().partition("=")
                if sep and k == name:
                    return v
        return None


# header name (lower-case) -> metadata key, or None to drop the header.
HeaderMatcher = Callable[[str], str | None]
# request -> extra metadata pairs.
MetadataAnnotator = Callable[[RequestHead], Iterable[tuple[str, str | bytes]]]

_PERMANENT = frozenset(
    {
        "accept",
        "accept-charset",
        "accept-language",
        "accept-ranges",
        "authorization",
        "cache-control",
        "content-type",
        "cookie",
        "date",
        "expect",
        "from",
        "host",
        "if-match",
        "if-modified-since",
        "if-none-match",
        "if-schedule-tag-match",
        "if-unmodified-since",
        "max-forwards",
        "origin",
        "pragma",
        "referer",
        "user-agent",
        "via",
        "warning",
    }
)
METADATA_HEADER_PREFIX = "grpc-metadata-"
METADATA_PREFIX = "grpcgateway-"
_KEY_RE = re.compile(r"[0-9a-z_.\-]+")
_VALUE_RE = re.compile(r"[\x20-\x7e]*")
_TIMEOUT_RE = re.compile(r"([0-9]{1,8})([HMSmun])")
_TIMEOUT_UNITS = {"H": 3600.0, "M": 60.0, "S": 1.0, "m": 1e-3, "u": 1e-6, "n": 1e-9}


def default_header_matcher(name: str) -> str | None:
    """grpc-gateway's ``DefaultHeaderMatcher``: permanent headers get a ``grpcgateway-`` prefix,
    ``Grpc-Metadata-*`` lose theirs; everything else is dropped."""
    if name in _PERMANENT:
        return METADATA_PREFIX + name
    if name.startswith(METADATA_HEADER_PREFIX):
        return name[len(METADATA_HEADER_PREFIX) :]
    return None


def parse_grpc_timeout(value: str) -> float:
    """A ``Grpc-Timeout`` header (``10S``, ``100m``) in seconds."""
    m = _TIMEOUT_RE.fullmatch(value.strip())
    if m is None:
        raise MetadataError(f"invalid grpc-timeout: {value}")
    return int(m.group(1)) * _TIMEOUT_UNITS[m.group(2)]


def _decode_bin(value: str) -> bytes:
    padded = value + "=" * (-len(value) % 4)
    for altchars in (None, b"-_"):
        try:
            return base64.b64decode(padded, altchars=altchars, validate=True)
        except (binascii.Error, ValueError):
            continue
    raise MetadataError(f"invalid binary header value: {value!r}")


@dataclass(frozen=True, slots=True)
class IncomingConfig:
    """How incoming headers become metadata."""

    header_matcher: HeaderMatcher = default_header_matcher
    annotators: Sequence[MetadataAnnotator] = field(default=())
    request_id_header: str | None = "x-request-id"


def incoming_metadata(head: RequestHead, config: IncomingConfig) -> tuple[Metadata, float | None, str | None]:
    """The call's metadata, its timeout in seconds (from ``Grpc-Timeout``) and the request id."""
    md: Metadata = []
    timeout: float | None = None
    request_id: str | None = None
    xff: list[str] = []
    forwarded_host: str | None = None
    host: str | None = None
    rid_header = config.request_id_header
    for name, value in head.headers:
        if name == "grpc-timeout":
            timeout = parse_grpc_timeout(value)
            continue
        if name == "connection":
            continue
        if name == "x-forwarded-for":
            xff.append(value)
            continue
        if name == "x-forwarded-host":
            forwarded_host = value
            continue
        if name == "host":
            host = value
        if rid_header is not None and name == rid_header:
            if acceptable_request_id(value):
                request_id = value
            continue
        if name == "authorization":
            md.append(("authorization", value))
        key = config.header_matcher(name)
        if key is None:
            continue
        _append(md, key, value)
    if forwarded_host is not None:
        md.append(("x-forwarded-host", forwarded_host))
    elif host is not None:
        md.append(("x-forwarded-host", host))
    if head.client is not None:
        xff.append(head.client[0])
    if xff:
        md.append(("x-forwarded-for", ", ".join(xff)))
    if rid_header is not None:
        if request_id is None:
            request_id = new_request_id()
        md.append((rid_header, request_id))
    for annotate in config.annotators:
        for extra_key, extra_value in annotate(head):
            md.append((extra_key.lower(), extra_value))
    return md, timeout, request_id


def _append(md: Metadata, key: str, value: str) -> None:
    key = key.lower()
    if not _KEY_RE.fullmatch(key) or key.startswith("grpc-"):
        log.debug("dropping header %r: not a valid metadata key", key)
        return
    if key.endswith("-bin"):
        md.append((key, _decode_bin(value)))
        return
    if not _VALUE_RE.fullmatch(value):
        log.debug("dropping header %r: value is not printable ASCII", key)
        return
    md.append((key, value))


def _skip_outgoing(key: str) -> bool:
    return key.startswith((":", "grpc-")) or key == "content-type"


def _header_value(key: str, value: str | bytes) -> bytes:
    if isinstance(value, bytes):
        if key.endswith("-bin"):
            return base64.b64encode(value)
        return value
    return value.encode("latin-1", "replace")


def outgoing_headers(
    header_md: Iterable[tuple[str, str | bytes]], trailer_md: Iterable[tuple[str, str | bytes]] | None
) -> list[tuple[bytes, bytes]]:
    """``Grpc-Metadata-*`` headers for header metadata and, when given, ``Grpc-Trailer-*`` for trailers."""
    out: list[tuple[bytes, bytes]] = []
    for key, value in header_md:
        if not _skip_outgoing(key):
            out.append((b"grpc-metadata-" + key.encode("ascii"), _header_value(key, value)))
    if trailer_md is not None:
        for key, value in trailer_md:
            if not _skip_outgoing(key):
                out.append((b"grpc-trailer-" + key.encode("ascii"), _header_value(key, value)))
    return out
