"""Serving an OpenAPI document and Swagger UI (vendored, no CDN) over ASGI.

Three ways to use it::

    app = create_app(spec)                          # a standalone Starlette app
    app = create_app(spec, extra_specs=[("/api/v1/api.openapi.json", spec31)])  # UI offers both
    routes = swagger_routes(spec)                   # routes to add to another Starlette app
    mounts = gateway_mounts(spec)                   # (prefix, app) pairs for the gateway's ``mounts=``

With the defaults the spec is at ``/api/v1/api.swagger.json`` and the UI at ``/docs/rest-api/``,
both public (they carry no data, only the API's shape). ``spec`` may be the document as a dict, its
JSON bytes or a path to a file (for instance what ``protogw openapi`` or ``protoc-gen-openapiv2``
wrote), OpenAPI 2.0 or 3.x. With ``extra_specs`` (``(path, spec)`` pairs) every document is served and
Swagger UI offers them all in its top bar (its ``urls`` option), the first one selected. The UI app
answers relative to where it is mounted, so it works under any prefix.
"""

from __future__ import annotations

import html
import json
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = [
    "DEFAULT_DOCS_PATH",
    "DEFAULT_SPEC_PATH",
    "DocsApp",
    "Spec",
    "SpecApp",
    "create_app",
    "gateway_mounts",
    "load_spec",
    "swagger_routes",
]

DEFAULT_SPEC_PATH = "/api/v1/api.swagger.json"
DEFAULT_DOCS_PATH = "/docs/rest-api"
_STATIC = Path(__file__).resolve().parent / "static"


Spec = dict[str, Any] | bytes | str | Path


def load_spec(spec: Spec) -> bytes:
    """The document as JSON bytes, checked to be a JSON object."""
    if isinstance(spec, dict):
        data = json.dumps(spec, indent=2).encode()
    elif isinstance(spec, bytes):
        data = spec
    else:
        data = Path(spec).read_bytes()
    parsed = json.loads(data)
    if not isinstance(parsed, dict) or ("swagger" not in parsed and "openapi" not in parsed):
        raise ValueError("the OpenAPI document must be a JSON object with a 'swagger' or 'openapi' key")
    return data


def _label(body: bytes) -> str:
    """How the UI's document picker names a document: its title and OpenAPI version."""
    doc = json.loads(body)
    version = doc.get("openapi") or doc.get("swagger")
    return f"{doc.get('info', {}).get('title') or 'API'} (OpenAPI {version})"


def _index(spec_url: str, title: str, urls: Sequence[tuple[str, str]] = ()) -> bytes:
    template = (_STATIC / "index.html").read_text()
    config: dict[str, Any] = {"specUrl": spec_url}
    if urls:
        config["urls"] = [{"url": url, "name": name} for url, name in urls]
    # The config sits in a <script type="application/json"> block: escape "<" so no value can close it.
    config_text = json.dumps(config).replace("<", "\\u003c")
    return template.replace("__TITLE__", html.escape(title)).replace("__CONFIG__", config_text).encode()


def _route_path(scope: Scope) -> str:
    """The request path below the mount point (``root_path``), as Starlette's routing computes it."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root) and (len(path) == len(root) or path[len(root)] == "/"):
        return path[len(root) :]
    return path


def _not_found() -> Response:
    return PlainTextResponse("Not Found", status_code=404)


class SpecApp:
    """ASGI app answering GET/HEAD at its mount point with the document."""

    def __init__(self, body: bytes) -> None:
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        if _route_path(scope) not in ("", "/"):
            response: Response = _not_found()
        elif scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        else:
            response = Response(self.body, media_type="application/json")
        await response(scope, receive, send)


class DocsApp:
    """ASGI app serving Swagger UI below its mount point: the page at ``/`` and the vendored assets."""

    def __init__(self, spec_url: str, title: str, urls: Sequence[tuple[str, str]] = ()) -> None:
        self.index = _index(spec_url, title, urls)
        self.assets = StaticFiles(directory=_STATIC)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = _route_path(scope)
        response: Response
        if scope["method"] not in ("GET", "HEAD"):
            response = PlainTextResponse("Method Not Allowed", status_code=405, headers={"Allow": "GET, HEAD"})
        elif path == "":
            # Asset URLs in the page are relative, so the page must be served below the trailing slash.
            response = RedirectResponse(scope.get("root_path", "") + "/", status_code=308)
        elif path in ("/", "/index.html"):
            # No caching: the page names the spec URL, which a redeploy may move.
            response = Response(
                self.index, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
            )
        else:
            await self.assets(scope, receive, send)
            return
        await response(scope, receive, send)


def _title(body: bytes) -> str:
    return str(json.loads(body).get("info", {}).get("title") or "API") + " - Swagger UI"


def gateway_mounts(
    spec: Spec,
    *,
    spec_path: str = DEFAULT_SPEC_PATH,
    docs_path: str = DEFAULT_DOCS_PATH,
    extra_specs: Sequence[tuple[str, Spec]] = (),
) -> list[tuple[str, ASGIApp]]:
    """``(prefix, app)`` pairs for ``protogw.gateway.app.create_app(..., mounts=...)``.

    Mounted paths are matched before the gateway's routes, so the spec path may sit under the API
    prefix (``/api/v1/...``) while unknown API paths still get the gateway's JSON 404.
    """
    spec_path, docs_path = _check_paths(spec_path, docs_path)
    body = load_spec(spec)
    extras = _load_extras(extra_specs)
    urls = _urls(spec_path, body, extras)
    mounts: list[tuple[str, ASGIApp]] = [
        (docs_path, DocsApp(spec_path, _title(body), urls)),
        (spec_path, SpecApp(body)),
    ]
    mounts.extend((path, SpecApp(extra)) for path, extra in extras)
    return mounts


def _load_extras(extra_specs: Sequence[tuple[str, Spec]]) -> list[tuple[str, bytes]]:
    out = []
    for path, spec in extra_specs:
        if not path.startswith("/"):
            raise ValueError("spec paths must start with '/'")
        out.append((path, load_spec(spec)))
    return out


def _urls(spec_path: str, body: bytes, extras: Sequence[tuple[str, bytes]]) -> list[tuple[str, str]]:
    if not extras:
        return []
    return [(spec_path, _label(body)), *((path, _label(extra)) for path, extra in extras)]


def _check_paths(spec_path: str, docs_path: str) -> tuple[str, str]:
    if not spec_path.startswith("/") or not docs_path.startswith("/"):
        raise ValueError("spec_path and docs_path must start with '/'")
    return spec_path, docs_path.rstrip("/")


def swagger_routes(
    spec: Spec,
    *,
    spec_path: str = DEFAULT_SPEC_PATH,
    docs_path: str = DEFAULT_DOCS_PATH,
    extra_specs: Sequence[tuple[str, Spec]] = (),
) -> list[BaseRoute]:
    """Starlette routes serving the spec at ``spec_path`` (and each of ``extra_specs`` at its path)
    and Swagger UI under ``docs_path + "/"``."""
    spec_path, docs_path = _check_paths(spec_path, docs_path)
    body = load_spec(spec)
    extras = _load_extras(extra_specs)
    docs_app = DocsApp(spec_path, _title(body), _urls(spec_path, body, extras))

    def serve(data: bytes) -> Callable[[Request], Awaitable[Response]]:
        async def serve_spec(request: Request) -> Response:
            return Response(data, media_type="application/json")

        return serve_spec

    async def to_slash(request: Request) -> Response:
        return RedirectResponse(docs_path + "/", status_code=308)

    return [
        Route(spec_path, serve(body), methods=["GET", "HEAD"]),
        *(Route(path, serve(extra), methods=["GET", "HEAD"]) for path, extra in extras),
        Route(docs_path, to_slash, methods=["GET", "HEAD"]),
        Mount(docs_path, app=docs_app, name="swagger-ui"),
    ]


def create_app(
    spec: Spec,
    *,
    spec_path: str = DEFAULT_SPEC_PATH,
    docs_path: str = DEFAULT_DOCS_PATH,
    extra_specs: Sequence[tuple[str, Spec]] = (),
) -> Starlette:
    """A standalone ASGI app with only the spec(s) and the UI."""
    return Starlette(routes=swagger_routes(spec, spec_path=spec_path, docs_path=docs_path, extra_specs=extra_specs))
