"""Serving the spec and Swagger UI (protogw.gateway.swagger_ui), through the ASGI interface."""

from __future__ import annotations

import importlib.resources
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from protogw.gateway.swagger_ui import DocsApp, create_app, gateway_mounts, load_spec, swagger_routes
from protogw.server.rest import determined_spec

SPEC: dict[str, Any] = {"swagger": "2.0", "info": {"title": "T <x>", "version": "1"}, "paths": {}}


async def _get(app: Any, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get(path)


CASES: list[tuple[str, int, str, bytes | None]] = [
    ("/api/v1/api.swagger.json", 200, "application/json", None),
    (
        "/docs/rest-api/",
        200,
        "text/html; charset=utf-8",
        b'<script id="protogw-config" type="application/json">{"specUrl": "/api/v1/api.swagger.json"}',
    ),
    ("/docs/rest-api/index.html", 200, "text/html; charset=utf-8", b"swagger-ui-bundle.js"),
    ("/docs/rest-api/swagger-ui-bundle.js", 200, "text/javascript; charset=utf-8", b"SwaggerUIBundle"),
    ("/docs/rest-api/swagger-ui-standalone-preset.js", 200, "text/javascript; charset=utf-8", None),
    ("/docs/rest-api/swagger-ui.css", 200, "text/css; charset=utf-8", None),
    ("/docs/rest-api/protogw-init.js", 200, "text/javascript; charset=utf-8", b"StandaloneLayout"),
    ("/docs/rest-api/favicon-32x32.png", 200, "image/png", None),
    ("/docs/rest-api/missing.js", 404, "text/plain; charset=utf-8", None),
    ("/docs/rest-api/%2e%2e/%2e%2e/pyproject.toml", 404, "text/plain; charset=utf-8", None),
    ("/api/v1/other", 404, "text/plain; charset=utf-8", None),
]


@pytest.mark.parametrize(("path", "status", "content_type", "snippet"), CASES)
async def test_routes(path: str, status: int, content_type: str, snippet: bytes | None) -> None:
    response = await _get(create_app(determined_spec()), path)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    if snippet is not None:
        assert snippet in response.content


async def test_docs_without_slash_redirects() -> None:
    response = await _get(create_app(determined_spec()), "/docs/rest-api")
    assert response.status_code == 308
    assert response.headers["location"] == "/docs/rest-api/"


async def test_default_spec_is_the_determined_document() -> None:
    response = await _get(create_app(determined_spec()), "/api/v1/api.swagger.json")
    assert response.json()["info"]["title"] == "Determined API (Beta)"


@pytest.mark.parametrize(
    ("spec_path", "docs_path"),
    [("/openapi.json", "/docs"), ("/v2/spec.json", "/ui/"), ("/api/v1/api.swagger.json", "/docs/rest-api")],
)
async def test_paths_are_configurable(spec_path: str, docs_path: str) -> None:
    app = Starlette(routes=swagger_routes(SPEC, spec_path=spec_path, docs_path=docs_path))
    spec = await _get(app, spec_path)
    assert spec.json() == SPEC
    page = await _get(app, docs_path.rstrip("/") + "/")
    assert json.dumps({"specUrl": spec_path}).encode() in page.content
    # The title is HTML-escaped in the page and "<" is escaped in the JSON config block.
    assert b"<title>T &lt;x&gt; - Swagger UI</title>" in page.content


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        (b"[1, 2]", ValueError),
        (b"{}", ValueError),
        (b"not json", ValueError),
    ],
)
def test_bad_specs_fail_at_start(spec: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        load_spec(spec)


def test_spec_from_file(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(SPEC))
    assert json.loads(load_spec(path)) == SPEC


def test_paths_must_be_absolute() -> None:
    with pytest.raises(ValueError, match="must start with '/'"):
        swagger_routes(SPEC, spec_path="spec.json")


def _gateway_with_docs() -> Any:
    """The real gateway (kitchen routes; the backend is never called here) with the docs mounted."""
    from protogw.gateway.app import RouteTable
    from protogw.gateway.app import create_app as create_gateway
    from protogw.gateway.proxy import ProxyBackend

    data = importlib.resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes()
    routes = RouteTable.from_descriptor_set(data, ["kitchen.v1.KitchenService"])
    return create_gateway(
        routes, ProxyBackend("127.0.0.1:1"), mounts=gateway_mounts(SPEC, spec_path="/v1/openapi.json")
    )


MOUNTED: list[tuple[str, str, int, str]] = [
    ("GET", "/v1/openapi.json", 200, "application/json"),
    ("HEAD", "/v1/openapi.json", 200, "application/json"),
    ("POST", "/v1/openapi.json", 405, "text/plain; charset=utf-8"),
    ("GET", "/v1/openapi.json/extra", 404, "text/plain; charset=utf-8"),
    ("GET", "/docs/rest-api/", 200, "text/html; charset=utf-8"),
    ("GET", "/docs/rest-api/swagger-ui.css", 200, "text/css; charset=utf-8"),
    ("DELETE", "/docs/rest-api/", 405, "text/plain; charset=utf-8"),
    # Paths nobody mounted still get the gateway's own grpc-gateway style 404.
    ("GET", "/v1/nowhere", 404, "application/json"),
]


@pytest.mark.parametrize(("method", "path", "status", "content_type"), MOUNTED)
async def test_gateway_mounts(method: str, path: str, status: int, content_type: str) -> None:
    app = _gateway_with_docs()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.request(method, path)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    if path == "/v1/nowhere":
        assert response.json()["code"] == 5


async def test_mounted_docs_redirect_keeps_the_prefix() -> None:
    response = await _get(_gateway_with_docs(), "/docs/rest-api")
    assert response.status_code == 308
    assert response.headers["location"] == "/docs/rest-api/"


async def test_docs_app_under_any_prefix() -> None:
    app = Starlette(routes=[Mount("/deep/docs", app=DocsApp("/spec.json", "T"))])
    page = await _get(app, "/deep/docs/")
    assert b'"specUrl": "/spec.json"' in page.content
    asset = await _get(app, "/deep/docs/protogw-init.js")
    assert asset.status_code == 200


SPEC_V3: dict[str, Any] = {"openapi": "3.1.0", "info": {"title": "T", "version": "1"}, "paths": {}}

# (path, status, what the body must hold): the UI offers both documents, each served at its path.
TWO_DOCUMENTS: list[tuple[str, int, bytes]] = [
    ("/api/v1/api.swagger.json", 200, b'"swagger": "2.0"'),
    ("/api/v1/api.openapi.json", 200, b'"openapi": "3.1.0"'),
    (
        "/docs/rest-api/",
        200,
        b'"urls": [{"url": "/api/v1/api.swagger.json", "name": "T <x> (OpenAPI 2.0)"}, '
        b'{"url": "/api/v1/api.openapi.json", "name": "T (OpenAPI 3.1.0)"}]',
    ),
    ("/docs/rest-api/protogw-init.js", 200, b"urls: config.urls"),
]


@pytest.mark.parametrize(("path", "status", "snippet"), TWO_DOCUMENTS)
async def test_two_documents(path: str, status: int, snippet: bytes) -> None:
    app = create_app(SPEC, extra_specs=[("/api/v1/api.openapi.json", SPEC_V3)])
    response = await _get(app, path)
    assert response.status_code == status
    # "<" is escaped in the page's JSON config block.
    assert snippet.replace(b"<", b"\\u003c") in response.content


@pytest.mark.parametrize("path", ["/api/v1/api.swagger.json", "/api/v1/api.openapi.json", "/docs/rest-api/"])
async def test_gateway_mounts_both_documents(path: str) -> None:
    from protogw.gateway.app import RouteTable
    from protogw.gateway.app import create_app as create_gateway
    from protogw.gateway.proxy import ProxyBackend

    data = importlib.resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes()
    routes = RouteTable.from_descriptor_set(data, ["kitchen.v1.KitchenService"])
    mounts = gateway_mounts(SPEC, extra_specs=[("/api/v1/api.openapi.json", SPEC_V3)])
    response = await _get(create_gateway(routes, ProxyBackend("127.0.0.1:1"), mounts=mounts), path)
    assert response.status_code == 200


async def test_determined_service_serves_both() -> None:
    from protogw.server.rest import OPENAPI3_PATH, _docs_mounts

    (prefix, app), *_ = _docs_mounts()
    assert prefix == "/api/v1/api.swagger.json"
    v3 = await _get(app, OPENAPI3_PATH)
    assert v3.json()["openapi"] == "3.1.0"
    assert v3.json()["info"]["title"] == "Determined API (Beta)"
    page = await _get(app, "/docs/rest-api/")
    assert OPENAPI3_PATH.encode() in page.content
