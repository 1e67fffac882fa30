"""The gRPC -> HTTP status table, the default renderer, custom renderers and rich details."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import grpc
import orjson
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2

from protogw.gateway.errors import (
    DEFAULT_RENDERER,
    GatewayError,
    Headers,
    StatusRenderer,
    render_error,
)


def bad_request_detail() -> any_pb2.Any:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason="R", domain="d", metadata={"k": "v"}))
    return detail


RENDER = [
    (
        GatewayError(grpc.StatusCode.NOT_FOUND, "gone"),
        404,
        {"code": 5, "message": "gone", "details": []},
        {b"content-type": b"application/json"},
    ),
    (
        GatewayError(grpc.StatusCode.UNAUTHENTICATED, "who\r\nare you?"),
        401,
        {"code": 16, "message": "who\r\nare you?", "details": []},
        {b"www-authenticate": b"whoare you?"},
    ),
    (
        GatewayError(grpc.StatusCode.INVALID_ARGUMENT, "big", http_status=413),
        413,
        {"code": 3, "message": "big", "details": []},
        {},
    ),
    (
        GatewayError(grpc.StatusCode.FAILED_PRECONDITION, "x", (bad_request_detail(),)),
        400,
        {
            "code": 9,
            "message": "x",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "R",
                    "domain": "d",
                    "metadata": {"k": "v"},
                }
            ],
        },
        {},
    ),
    (
        GatewayError(
            grpc.StatusCode.INTERNAL, "odd", (any_pb2.Any(type_url="type.googleapis.com/not.Known", value=b"\x01"),)
        ),
        500,
        {"code": 13, "message": "odd", "details": [{"@type": "type.googleapis.com/not.Known", "value": "AQ=="}]},
        {},
    ),
]


@pytest.mark.parametrize(("err", "status", "body", "headers"), RENDER)
def test_default_renderer(err: GatewayError, status: int, body: dict[str, Any], headers: dict[bytes, bytes]) -> None:
    got_status, got_headers, got_body = render_error(DEFAULT_RENDERER, err)
    assert got_status == status
    assert orjson.loads(got_body) == body
    assert headers.items() <= dict(got_headers).items()


class DeterminedStyle(StatusRenderer):
    """The kind of renderer a service plugs in: the Status fields plus an ``error`` envelope."""

    def __call__(
        self,
        code: grpc.StatusCode,
        message: str,
        details: Sequence[any_pb2.Any],
        http_status: int,
        *,
        pretty: bool = False,
    ) -> tuple[Headers, Any]:
        headers, _ = super().__call__(code, message, details, http_status, pretty=pretty)
        value = self.status_json(code, message, details)
        value["error"] = {"code": http_status, "reason": code.name, "error": message}
        return headers, value


def failing_renderer(*args: Any, **kwargs: Any) -> tuple[Headers, Any]:
    raise RuntimeError("renderer bug")


def test_custom_renderer() -> None:
    status, _, body = render_error(DeterminedStyle(), GatewayError(grpc.StatusCode.NOT_FOUND, "no"))
    assert status == 404
    assert orjson.loads(body) == {
        "code": 5,
        "message": "no",
        "details": [],
        "error": {"code": 404, "reason": "NOT_FOUND", "error": "no"},
    }


def test_failing_renderer_falls_back() -> None:
    status, _, body = render_error(failing_renderer, GatewayError(grpc.StatusCode.NOT_FOUND, "no"))
    assert status == 500
    assert body == b'{"code": 13, "message": "failed to marshal error message"}'


def test_pretty() -> None:
    _, _, body = render_error(DEFAULT_RENDERER, GatewayError(grpc.StatusCode.NOT_FOUND, "no"), pretty=True)
    assert body.startswith(b'{\n  "code": 5')
