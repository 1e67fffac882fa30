"""The REST front end of ``protogw serve``: Determined's paths, bodies, errors and docs, in-process."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from protogw.server.rest import RestGateway, build_gateway
from protogw.server.services import SERVICE
from tests.server.harness import Running, running

PUBLIC = {"Login", "GetMaster"}


@pytest.fixture(scope="module")
async def http(api: Running) -> AsyncIterator[httpx.AsyncClient]:
    app = build_gateway(api.service)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://protogw.test") as client:
        await app.startup()
        yield client
        await app.shutdown()


@pytest.fixture(scope="module")
async def token(http: httpx.AsyncClient) -> str:
    response = await http.post("/api/v1/auth/login", json={"username": "determined", "password": ""})
    assert response.status_code == 200
    value: str = response.json()["token"]
    return value


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_master_is_public_camel_case(http: httpx.AsyncClient) -> None:
    response = await http.get("/api/v1/master")
    assert response.status_code == 200
    body = response.json()
    assert {"version", "masterId", "clusterId", "clusterName", "strictJobQueueControl", "hasCustomLogo"} <= set(body)


async def test_experiment_round_trip(http: httpx.AsyncClient, token: str) -> None:
    created = await http.post(
        "/api/v1/experiments", json={"config": "name: rest-one\nlabels: [rest]", "activate": True}, headers=auth(token)
    )
    assert created.status_code == 200, created.text
    experiment = created.json()["experiment"]
    assert (experiment["name"], experiment["state"], experiment["labels"]) == ("rest-one", "STATE_ACTIVE", ["rest"])
    assert experiment["checkpointSize"] == "0"  # int64 travels as a string in JSON
    eid = experiment["id"]
    steps: list[tuple[str, str, Any, int]] = [
        ("PATCH", f"/api/v1/experiments/{eid}", {"name": "rest-renamed", "labels": ["b", "a", "b"]}, 200),
        ("PUT", f"/api/v1/experiments/{eid}/labels/extra", None, 200),
        ("POST", f"/api/v1/experiments/{eid}/pause", None, 200),
        ("POST", f"/api/v1/experiments/{eid}/kill", None, 200),
        ("POST", f"/api/v1/experiments/{eid}/archive", None, 200),
    ]
    for method, path, body, status in steps:
        response = await http.request(method, path, json=body, headers=auth(token))
        assert response.status_code == status, (path, response.text)
    got = (await http.get(f"/api/v1/experiments/{eid}", headers=auth(token))).json()["experiment"]
    assert (got["name"], got["labels"], got["state"], got["archived"]) == (
        "rest-renamed",
        ["a", "b", "extra"],
        "STATE_CANCELED",
        True,
    )
    listed = await http.get(
        "/api/v1/experiments", params={"archived": "true", "labels": "extra", "limit": 1}, headers=auth(token)
    )
    assert listed.json()["pagination"] == {"offset": 0, "limit": 1, "startIndex": 0, "endIndex": 1, "total": 1}


# (method, path, body, status, reason, message) - Determined's envelope for each failure.
ERRORS: list[tuple[str, str, Any, int, str, str]] = [
    ("GET", "/api/v1/experiments/999999", None, 404, "NotFound", "experiment '999999' not found"),
    ("GET", "/api/v1/experiments/-5", None, 404, "NotFound", "experiment '-5' not found"),
    ("POST", "/api/v1/experiments/999999/archive", None, 404, "NotFound", "experiment '999999' not found"),
    ("GET", "/api/v1/experiments?limit=-3", None, 400, "InvalidArgument", "limit must be -2, -1, 0 or positive, got -3"),
    ("POST", "/api/v1/experiments", {"config": "- not\n- a mapping"}, 400, "InvalidArgument",
     "experiment configuration must be a YAML mapping, got list"),
    ("POST", "/api/v1/experiments", {"config": "name: [x"}, 400, "InvalidArgument",
     "invalid experiment configuration: line 2, column 1: did not find expected ',' or ']'"),
    ("POST", "/api/v1/users", {"user": {"username": "admin2", "active": True}}, 403, "PermissionDenied",
     "only admin privileged users can create users"),
    ("GET", "/api/v1/users/424242", None, 404, "NotFound", "user not found"),
    ("POST", "/api/v1/auth/login", {"username": ""}, 400, "InvalidArgument", "missing argument: username"),
    ("POST", "/api/v1/auth/login", {"username": "determined", "password": "x"}, 401, "Unauthenticated",
     "invalid credentials"),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "body", "status", "reason", "message"), ERRORS)
async def test_errors_use_determined_envelope(
    http: httpx.AsyncClient, token: str, method: str, path: str, body: Any, status: int, reason: str, message: str
) -> None:
    response = await http.request(method, path, json=body, headers=auth(token))
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["error"]["reason"] == reason
    assert payload["error"]["error"] == payload["message"] == message
    assert payload["error"]["code"] == payload["code"]


# Requests the gateway itself must refuse cleanly (never 5xx) before the service sees them.
MALFORMED = [
    ("GET", "/api/v1/experiments/99999999999"),
    ("GET", "/api/v1/experiments?states=STATE_BOGUS"),
    ("GET", "/api/v1/experiments?sortBy=99"),
    ("GET", "/api/v1/experiments?limit=abc"),
    ("POST", "/api/v1/experiments"),
]


@pytest.mark.parametrize(("method", "path"), MALFORMED)
async def test_malformed_requests_are_client_errors(
    http: httpx.AsyncClient, token: str, method: str, path: str
) -> None:
    response = await http.request(method, path, content=b"{not json", headers=auth(token))
    assert 400 <= response.status_code < 500, response.text


async def test_set_password_takes_a_bare_json_string(http: httpx.AsyncClient, api: Running, token: str) -> None:
    admin = (await http.post("/api/v1/auth/login", json={"username": "admin"})).json()["token"]
    created = await http.post(
        "/api/v1/users", json={"user": {"username": api.unique("resty"), "active": True}}, headers=auth(admin)
    )
    user = created.json()["user"]
    response = await http.post(f"/api/v1/users/{user['id']}/password", content=b'"n3w pass"', headers=auth(admin))
    assert response.status_code == 200, response.text
    login = await http.post("/api/v1/auth/login", json={"username": user["username"], "password": "n3w pass"})
    assert login.status_code == 200


async def test_auth_cookie(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get("/api/v1/me", headers={"Cookie": f"theme=dark; auth={token}"})
    assert response.status_code == 200
    assert response.json()["user"]["username"] == "determined"


async def test_login_sets_and_logout_expires_the_cookie(http: httpx.AsyncClient) -> None:
    login = await http.post("/api/v1/auth/login", json={"username": "determined", "password": ""})
    assert login.status_code == 200
    token = login.json()["token"]
    cookie = login.headers["set-cookie"]
    assert cookie.startswith(f"auth={token};")
    assert "Max-Age=604800" in cookie
    # The cookie alone authenticates, then Logout (sent with the cookie) expires it and the session.
    me = await http.get("/api/v1/me", headers={"Cookie": f"auth={token}"})
    assert me.status_code == 200
    logout = await http.post("/api/v1/auth/logout", headers={"Cookie": f"auth={token}"})
    assert logout.status_code == 200
    assert logout.headers["set-cookie"].startswith("auth=;")
    assert "Max-Age=0" in logout.headers["set-cookie"]
    # A failed login sets nothing.
    failed = await http.post("/api/v1/auth/login", json={"username": "determined", "password": "wrong"})
    assert failed.status_code == 401
    assert "set-cookie" not in failed.headers


async def test_master_logs_stream_ndjson(http: httpx.AsyncClient, token: str) -> None:
    response = await http.get("/api/v1/master/logs", params={"limit": 2}, headers=auth(token))
    assert response.status_code == 200
    lines = [orjson.loads(line) for line in response.content.splitlines() if line]
    assert len(lines) == 2
    assert all({"id", "message", "timestamp", "level"} <= set(line["result"]["logEntry"]) for line in lines)


async def test_info_route(http: httpx.AsyncClient) -> None:
    master = (await http.get("/api/v1/master")).json()
    info = await http.get("/info")
    assert info.status_code == 200
    body = info.json()
    assert (body["version"], body["master_id"], body["cluster_id"], body["cluster_name"]) == (
        master["version"],
        master["masterId"],
        master["clusterId"],
        master["clusterName"],
    )
    assert body["telemetry"]["enabled"] is False


async def test_docs_are_served(http: httpx.AsyncClient) -> None:
    page = await http.get("/docs/rest-api/")
    spec = await http.get("/api/v1/api.swagger.json")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert spec.json()["info"]["title"] == "Determined API (Beta)"


def _routes() -> list[tuple[str, str, str, bytes | None]]:
    """(rpc, verb, path with ids filled in, a well-formed empty body) for every binding of the service."""
    from google.api import annotations_pb2
    from google.protobuf.descriptor import FieldDescriptor

    out = []
    for method in SERVICE.methods:
        rule = method.GetOptions().Extensions[annotations_pb2.http]
        verb = rule.WhichOneof("pattern")
        assert verb is not None
        path = re.sub(r"\{[^}]+\}", "1", str(getattr(rule, verb)))
        body: bytes | None = None
        if rule.body == "*":
            body = b"{}"
        elif rule.body:
            field = method.input_type.fields_by_name[rule.body]
            body = b"{}" if field.type == FieldDescriptor.TYPE_MESSAGE else b'""'
        out.append((method.name, verb.upper(), path, body))
    return out


@pytest.mark.parametrize(("name", "verb", "path", "body"), _routes())
async def test_rest_auth_matrix(http: httpx.AsyncClient, name: str, verb: str, path: str, body: bytes | None) -> None:
    # Every REST route runs the same auth interceptor as gRPC: no token, no service. (No cookie either:
    # the module's client keeps the one a Login case or test earlier in the run was given.)
    http.cookies.clear()
    response = await http.request(verb, path, content=body)
    if name in PUBLIC:
        assert response.status_code != 401
    else:
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        # A failed stream wraps the whole error body in {"error": ...}, one NDJSON line.
        envelope = error if "reason" in error else error["error"]
        assert envelope == {"code": 16, "reason": "Unauthenticated", "error": "token missing"}


async def test_rest_gateway_addon_serves_on_a_socket(api: Running) -> None:
    gateway = RestGateway("127.0.0.1:0")
    await gateway.start(api.service)
    try:
        assert gateway.port != 0
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{gateway.port}") as client:
            response = await client.get("/api/v1/master")
        assert response.status_code == 200
    finally:
        await gateway.stop()


# (model definition bytes in the request, expected HTTP status) against a 1,000-byte limit
MODEL_SIZES = [(900, 200), (1100, 400), (5 * 1024 * 1024, 413)]


@pytest.mark.parametrize(("size", "status"), MODEL_SIZES)
async def test_model_definition_limits_over_rest(module_database_url: str, size: int, status: int) -> None:
    async with running(module_database_url, max_model_definition_bytes=1000) as small:
        app = build_gateway(small.service)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            await app.startup()
            login = await client.post("/api/v1/auth/login", json={"username": "determined"})
            content = base64.b64encode(b"x" * size).decode()
            body = {"config": "name: sized", "modelDefinition": [{"path": "a.bin", "content": content}]}
            response = await client.post("/api/v1/experiments", json=body, headers=auth(login.json()["token"]))
            await app.shutdown()
    assert response.status_code == status, response.text[:300]
    if status == 400:
        assert response.json()["error"]["error"] == f"model definition is {size} bytes, over the limit of 1000 bytes"


async def test_listings_read_again_are_the_same_bytes_and_pretty_stays_indented(
    http: httpx.AsyncClient, token: str
) -> None:
    # A listing's items are written from their remembered JSON once seen (core.codec.codec_for_dumps);
    # ?pretty takes the codec without the memo, so remembered items are indented like the rest.
    config = "name: listed\nlabels: [listed]\nhyperparameters:\n" + "".join(f"  h{i}: {i}\n" for i in range(20))
    for _ in range(3):
        created = await http.post("/api/v1/experiments", json={"config": config}, headers=auth(token))
        assert created.status_code == 200, created.text
    query = {"labels": "listed", "limit": 10}
    reads = [(await http.get("/api/v1/experiments", params=query, headers=auth(token))).content for _ in range(4)]
    assert len(set(reads)) == 1
    listed = orjson.loads(reads[0])["experiments"]
    assert [e["name"] for e in listed] == ["listed"] * 3
    pretty = await http.get("/api/v1/experiments", params={**query, "pretty": "true"}, headers=auth(token))
    assert pretty.content == orjson.dumps(orjson.loads(reads[0]), option=orjson.OPT_INDENT_2)
    renamed = await http.patch(f"/api/v1/experiments/{listed[1]['id']}", json={"name": "changed"}, headers=auth(token))
    assert renamed.status_code == 200
    after = orjson.loads((await http.get("/api/v1/experiments", params=query, headers=auth(token))).content)
    assert [e["name"] for e in after["experiments"]] == ["listed", "changed", "listed"]
