"""Serving an OpenAPI document and Swagger UI (vendored, no CDN) over ASGI.

Two ways to use it::

    app = create_app(spec)                          # a standalone Starlette app
    routes = swagger_routes(spec)                   # or routes to mount in another Starlette app

With the defaults the spec is at ``/api/v1/api.swagger.json`` and the UI at ``/docs/rest-api/``,
both public (they carry no data, only the API's shape). ``spec`` may be the document as a dict, its
JSON bytes, a path to a file, or None for the Determined document that ``make gen`` writes into
``protogw.gen.openapi``.
"""

from __future__ import annotations

import html
import importlib.resources
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

__all__ = ["DEFAULT_DOCS_PATH", "DEFAULT_SPEC_PATH", "create_app", "load_spec", "swagger_routes"]

DEFAULT_SPEC_PATH = "/api/v1/api.swagger.json"
DEFAULT_DOCS_PATH = "/docs/rest-api"
_STATIC = Path(__file__).resolve().parent / "static"


def load_spec(spec: dict[str, Any] | bytes | str | Path | None = None) -> bytes:
    """The document as JSON bytes, checked to be a JSON object."""
    if spec is None:
        resource = importlib.resources.files("protogw.gen.openapi").joinpath("api.swagger.json")
        if not resource.is_file():
            raise FileNotFoundError("protogw.gen.openapi has no api.swagger.json: run `make gen`")
        data = resource.read_bytes()
    elif isinstance(spec, dict):
        data = json.dumps(spec, indent=2).encode()
    elif isinstance(spec, bytes):
        data = spec
    else:
        data = Path(spec).read_bytes()
    parsed = json.loads(data)
    if not isinstance(parsed, dict) or "swagger" not in parsed:
        raise ValueError("the OpenAPI document must be a JSON object with a 'swagger' key")
    return data


def _index(spec_url: str, title: str) -> bytes:
    template = (_STATIC / "index.html").read_text()
    # The config sits in a <script type="application/json"> block: escape "<" so no value can close it.
    config = json.dumps({"specUrl": spec_url}).replace("<", "\\u003c")
    return template.replace("__TITLE__", html.escape(title)).replace("__CONFIG__", config).encode()


def swagger_routes(
    spec: dict[str, Any] | bytes | str | Path | None = None,
    *,
    spec_path: str = DEFAULT_SPEC_PATH,
    docs_path: str = DEFAULT_DOCS_PATH,
) -> list[BaseRoute]:
    """Routes serving the spec at ``spec_path`` and Swagger UI under ``docs_path + "/"``."""
    if not spec_path.startswith("/") or not docs_path.startswith("/"):
        raise ValueError("spec_path and docs_path must start with '/'")
    docs_path = docs_path.rstrip("/")
    body = load_spec(spec)
    title = str(json.loads(body).get("info", {}).get("title") or "API") + " - Swagger UI"
    index = _index(spec_path, title)

    async def serve_spec(request: Request) -> Response:
        return Response(body, media_type="application/json")

    async def serve_index(request: Request) -> Response:
        # No caching: the page names the spec URL, which a redeploy may move.
        return Response(index, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"})

    async def to_slash(request: Request) -> Response:
        # Asset URLs in the page are relative, so the page must be served below the trailing slash.
        return RedirectResponse(docs_path + "/", status_code=308)

    return [
        Route(spec_path, serve_spec, methods=["GET", "HEAD"]),
        Route(docs_path, to_slash, methods=["GET", "HEAD"]),
        Route(docs_path + "/", serve_index, methods=["GET", "HEAD"]),
        Route(docs_path + "/index.html", serve_index, methods=["GET", "HEAD"]),
        Mount(docs_path, app=StaticFiles(directory=_STATIC), name="swagger-ui-assets"),
    ]


def create_app(
    spec: dict[str, Any] | bytes | str | Path | None = None,
    *,
    spec_path: str = DEFAULT_SPEC_PATH,
    docs_path: str = DEFAULT_DOCS_PATH,
) -> Starlette:
    """A standalone ASGI app with only the spec and the UI."""
    return Starlette(routes=swagger_routes(spec, spec_path=spec_path, docs_path=docs_path))
