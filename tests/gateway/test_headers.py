"""HTTP headers -> metadata, Grpc-Timeout, and metadata -> response headers."""

from __future__ import annotations

import pytest

from protogw.gateway.headers import (
    IncomingConfig,
    MetadataError,
    RequestHead,
    default_header_matcher,
    incoming_metadata,
    outgoing_headers,
    parse_grpc_timeout,
)

MATCHER = [
    ("authorization", "grpcgateway-authorization"),
    ("user-agent", "grpcgateway-user-agent"),
    ("if-none-match", "grpcgateway-if-none-match"),
    ("grpc-metadata-foo", "foo"),
    ("grpc-metadata-x-bin", "x-bin"),
    ("x-custom", None),
    ("connection", None),
]


@pytest.mark.parametrize(("name", "key"), MATCHER)
def test_default_matcher(name: str, key: str | None) -> None:
    assert default_header_matcher(name) == key


TIMEOUTS = [
    ("10S", 10.0),
    ("100m", 0.1),
    ("2H", 7200.0),
    ("1M", 60.0),
    ("5u", 5e-6),
    ("7n", 7e-9),
    ("12345678S", 12345678.0),
]


@pytest.mark.parametrize(("text", "seconds"), TIMEOUTS)
def test_grpc_timeout(text: str, seconds: float) -> None:
    assert parse_grpc_timeout(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "10", "S", "1.5S", "123456789S", "10s", "-1S"])
def test_grpc_timeout_invalid(text: str) -> None:
    with pytest.raises(MetadataError):
        parse_grpc_timeout(text)


def head(*headers: tuple[str, str], client: tuple[str, int] | None = ("192.0.2.1", 1234)) -> RequestHead:
    return RequestHead("GET", "/x", "", list(headers), client)


def cookie_to_bearer(h: RequestHead) -> list[tuple[str, str | bytes]]:
    """What a service's hook looks like: the session cookie as a bearer token when no header is sent."""
    token = h.cookie("auth")
    if token and h.header("authorization") is None:
        return [("authorization", f"Bearer {token}")]
    return []


INCOMING = [
    (
        "defaults",
        head(("host", "api.example"), ("x-request-id", "r1")),
        IncomingConfig(),
        [
            ("grpcgateway-host", "api.example"),
            ("x-forwarded-host", "api.example"),
            ("x-forwarded-for", "192.0.2.1"),
            ("x-request-id", "r1"),
        ],
        None,
    ),
    (
        "forwarded-headers",
        head(
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2"),
            ("x-forwarded-host", "front"),
            ("host", "back"),
            ("x-request-id", "r"),
        ),
        IncomingConfig(),
        [
            ("grpcgateway-host", "back"),
            ("x-forwarded-host", "front"),
            ("x-forwarded-for", "1.1.1.1, 2.2.2.2, 192.0.2.1"),
            ("x-request-id", "r"),
        ],
        None,
    ),
    (
        # Behind a proxy the HTTP server trusts, "client" is the address it forwarded and "remote"
        # the proxy itself: X-Forwarded-For ends with the TCP peer, as grpc-gateway's RemoteAddr.
        "forwarded-by-a-trusted-proxy",
        RequestHead("GET", "/x", "", [("x-forwarded-for", "1.1.1.1")], ("1.1.1.1", 0), remote=("10.0.0.2", 80)),
        IncomingConfig(request_id_header=None),
        [("x-forwarded-for", "1.1.1.1, 10.0.0.2")],
        None,
    ),
    (
        "metadata-prefix-and-binary",
        head(
            ("grpc-metadata-a", "1"),
            ("grpc-metadata-b-bin", "AAE"),
            ("grpc-metadata-grpc-x", "reserved"),
            ("grpc-timeout", "1S"),
            client=None,
        ),
        IncomingConfig(request_id_header=None),
        [("a", "1"), ("b-bin", b"\x00\x01")],
        1.0,
    ),
    (
        "non-ascii-value-dropped",
        head(("grpc-metadata-a", "caf\u00e9"), client=None),
        IncomingConfig(request_id_header=None),
        [],
        None,
    ),
    (
        "cookie-hook",
        head(("cookie", "theme=dark; auth=tok123"), client=None),
        IncomingConfig(request_id_header=None, annotators=(cookie_to_bearer,)),
        [("grpcgateway-cookie", "theme=dark; auth=tok123"), ("authorization", "Bearer tok123")],
        None,
    ),
    (
        "cookie-hook-header-wins",
        head(("authorization", "Bearer hdr"), ("cookie", "auth=tok123"), client=None),
        IncomingConfig(request_id_header=None, annotators=(cookie_to_bearer,)),
        [
            ("authorization", "Bearer hdr"),
            ("grpcgateway-authorization", "Bearer hdr"),
            ("grpcgateway-cookie", "auth=tok123"),
        ],
        None,
    ),
    (
        "custom-matcher",
        head(("x-tenant", "t1"), ("user-agent", "ua"), client=None),
        IncomingConfig(request_id_header=None, header_matcher=lambda n: n if n.startswith("x-") else None),
        [("x-tenant", "t1")],
        None,
    ),
]


@pytest.mark.parametrize(
    ("h", "config", "expected", "timeout"), [c[1:] for c in INCOMING], ids=[c[0] for c in INCOMING]
)
def test_incoming(
    h: RequestHead, config: IncomingConfig, expected: list[tuple[str, str | bytes]], timeout: float | None
) -> None:
    md, got_timeout, _ = incoming_metadata(h, config)
    assert md == expected
    assert got_timeout == timeout


def test_request_id_generated_when_missing_or_invalid() -> None:
    for h in (head(), head(("x-request-id", "bad id with spaces"))):
        md, _, rid = incoming_metadata(h, IncomingConfig())
        assert rid is not None
        assert len(rid) == 32
        assert ("x-request-id", rid) in md


def test_outgoing() -> None:
    headers = outgoing_headers(
        [("x-a", "1"), ("x-b-bin", b"\x00\x01"), ("content-type", "application/grpc"), ("grpc-internal", "x")],
        [("x-t", "2")],
    )
    assert headers == [(b"grpc-metadata-x-a", b"1"), (b"grpc-metadata-x-b-bin", b"AAE="), (b"grpc-trailer-x-t", b"2")]
    assert outgoing_headers([("x-a", "1")], None) == [(b"grpc-metadata-x-a", b"1")]
