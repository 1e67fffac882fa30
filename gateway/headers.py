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
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, overload

from protogw.core.requestid import acceptable_request_id, new_request_id

__all__ = [
    "HeaderMatcher",
    "Metadata",
    "MetadataAnnotator",
    "MetadataError",
    "RawHeaders",
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


class RawHeaders(Sequence[tuple[str, str]]):
    """An ASGI header list (lower-case ``bytes`` pairs) seen as text pairs, decoded only when someone
    iterates them: :func:`incoming_metadata` and :meth:`RequestHead.header` read the bytes directly."""

    __slots__ = ("_text", "raw")

    def __init__(self, raw: Sequence[tuple[bytes, bytes]]) -> None:
        self.raw = raw
        self._text: list[tuple[str, str]] | None = None

    def _decoded(self) -> list[tuple[str, str]]:
        if self._text is None:
            self._text = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self.raw]
        return self._text

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._decoded()[index]

    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._decoded())

    def first(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), decoding nothing else."""
        key = name.encode("latin-1")
        for k, v in self.raw:
            if k == key:
                return v.decode("latin-1")
        return None


#: The ASGI scope key under which protogw's HTTP server keeps the connection's TCP peer: uvicorn's
#: proxy-headers step replaces ``scope["client"]`` with the address a trusted proxy forwarded, and
#: ``X-Forwarded-For`` must still end with the address the request came from (grpc-gateway appends
#: its ``RemoteAddr``).
TCP_PEER_KEY = "protogw.tcp_peer"


class RequestHead(NamedTuple):
    """What hooks may look at: method, path, query string, lower-cased headers and the peer.

    ``client`` is the caller as the HTTP server reports it (behind a trusted proxy, the address it
    forwarded); ``remote``, when not None, is the TCP peer the request came from, if that differs.
    Immutable; a named tuple because one is made per request (a third of a frozen dataclass's time)."""

    method: str
    path: str
    query_string: str
    headers: Sequence[tuple[str, str]]
    client: tuple[str, int] | None = None
    scheme: str = "http"
    remote: tuple[str, int] | None = None

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (lower-case), if present."""
        if type(self.headers) is RawHeaders:
            return self.headers.first(name)
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


# What a header name means for the metadata, decided once per name (see ``IncomingConfig.plan``).
_TIMEOUT, _SKIP, _XFF, _XFH, _RID, _KEEP, _DROP = range(7)
#: Header names remembered per config; beyond this, new names are planned per request (no growth).
_MAX_PLANNED = 512


@dataclass(frozen=True, slots=True)
class _HeaderPlan:
    action: int
    # _KEEP: the metadata key, whether the value is base64 (``-bin``), whether it is the Host header,
    # and whether it is also sent as ``authorization``.
    key: str = ""
    binary: bool = False
    host: bool = False
    authorization: bool = False


@dataclass(frozen=True, slots=True)
class IncomingConfig:
    """How incoming headers become metadata."""

    header_matcher: HeaderMatcher = default_header_matcher
    annotators: Sequence[MetadataAnnotator] = field(default=())
    request_id_header: str | None = "x-request-id"
    _plans: dict[bytes, _HeaderPlan] = field(default_factory=dict, compare=False, repr=False)

    def plan(self, raw_name: bytes) -> _HeaderPlan:
        """What to do with header ``raw_name``: the matcher and the key checks run once per name."""
        found = self._plans.get(raw_name)
        if found is not None:
            return found
        name = raw_name.decode("latin-1")
        if name == "grpc-timeout":
            found = _HeaderPlan(_TIMEOUT)
        elif name == "connection":
            found = _HeaderPlan(_SKIP)
        elif name == "x-forwarded-for":
            found = _HeaderPlan(_XFF)
        elif name == "x-forwarded-host":
            found = _HeaderPlan(_XFH)
        elif self.request_id_header is not None and name == self.request_id_header:
            found = _HeaderPlan(_RID)
        else:
            key = self.header_matcher(name)
            host, authorization = name == "host", name == "authorization"
            if key is not None:
                key = key.lower()
                if not _KEY_RE.fullmatch(key) or key.startswith("grpc-"):
                    log.debug("dropping header %r: not a valid metadata key", key)
                    key = None
            if key is None and not (host or authorization):
                found = _HeaderPlan(_DROP)
            else:
                binary = key is not None and key.endswith("-bin")
                found = _HeaderPlan(_KEEP, key or "", binary, host, authorization)
        if len(self._plans) < _MAX_PLANNED:
            self._plans[raw_name] = found
        return found


def _planned_metadata(
    raw: Sequence[tuple[bytes, bytes]], head: RequestHead, config: IncomingConfig
) -> tuple[Metadata, float | None, str | None]:
    """:func:`incoming_metadata` over header bytes: one dict lookup per header (the decisions are
    made once per name: :meth:`IncomingConfig.plan`), values decoded only for the headers kept."""
    md: Metadata = []
    timeout: float | None = None
    request_id: str | None = None
    xff: list[str] = []
    forwarded_host: str | None = None
    host: str | None = None
    plan_of = config.plan
    for raw_name, raw_value in raw:
        plan = plan_of(raw_name)
        action = plan.action
        if action in (_DROP, _SKIP):
            continue
        value = raw_value.decode("latin-1")
        if action == _KEEP:
            if plan.host:
                host = value
            if plan.authorization:
                md.append(("authorization", value))
            if not plan.key:
                continue
            if plan.binary:
                md.append((plan.key, _decode_bin(value)))
            elif _VALUE_RE.fullmatch(value):
                md.append((plan.key, value))
            else:
                log.debug("dropping header %r: value is not printable ASCII", plan.key)
        elif action == _TIMEOUT:
            timeout = parse_grpc_timeout(value)
        elif action == _XFF:
            xff.append(value)
        elif action == _XFH:
            forwarded_host = value
        elif action == _RID and acceptable_request_id(value):
            request_id = value
    return _finish(md, timeout, request_id, xff, forwarded_host, host, head, config)


def _finish(
    md: Metadata,
    timeout: float | None,
    request_id: str | None,
    xff: list[str],
    forwarded_host: str | None,
    host: str | None,
    head: RequestHead,
    config: IncomingConfig,
) -> tuple[Metadata, float | None, str | None]:
    if forwarded_host is not None:
        md.append(("x-forwarded-host", forwarded_host))
    elif host is not None:
        md.append(("x-forwarded-host", host))
    sender = head.remote if head.remote is not None else head.client
    if sender is not None:
        xff.append(sender[0])
    if xff:
        md.append(("x-forwarded-for", ", ".join(xff)))
    rid_header = config.request_id_header
    if rid_header is not None:
        if request_id is None:
            request_id = new_request_id()
        md.append((rid_header, request_id))
    for annotate in config.annotators:
        for extra_key, extra_value in annotate(head):
            md.append((extra_key.lower(), extra_value))
    return md, timeout, request_id


def incoming_metadata(head: RequestHead, config: IncomingConfig) -> tuple[Metadata, float | None, str | None]:
    """The call's metadata, its timeout in seconds (from ``Grpc-Timeout``) and the request id."""
    headers = head.headers
    if type(headers) is RawHeaders:
        raw = headers.raw
    else:  # a head built from text (its headers are latin-1, as the ASGI bytes decode)
        raw = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
    return _planned_metadata(raw, head, config)


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
