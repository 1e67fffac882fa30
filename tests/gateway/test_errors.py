"""The gRPC -> HTTP status table, the default renderer, custom renderers and rich details.

Rich details of types only the gateway's descriptor set defines (``tests.gateway.errdemo``, built in
code: its types are never in this process's default pool) render with their fields, through both
backends, in unary and streaming errors, and through ``protogw gateway`` run as a process.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import httpx
import orjson
import pytest
from google.protobuf import any_pb2, descriptor_pb2, descriptor_pool
from google.rpc import error_details_pb2

from protogw.core.codec import JsonOptions
from protogw.core.descriptors import pool_of
from protogw.core.status import http_status_from_code
from protogw.gateway.app import RouteTable, create_app
from protogw.gateway.backend import Backend
from protogw.gateway.errors import (
    DEFAULT_RENDERER,
    ErrorRenderer,
    GatewayError,
    Headers,
    StatusRenderer,
    any_to_json,
    bind,
    render_error,
)
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.options import GatewayOptions
from protogw.gateway.proxy import ProxyBackend
from tests.gateway import errdemo
from tests.gateway.conftest import app_client, gateway_process


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


# --- details of types from the gateway's own descriptor pool ------------------------------------------

DEMO_POOL = errdemo.demo_pool()


def _with_error_details(pool_files: bytes) -> descriptor_pool.DescriptorPool:
    """The demo set plus google/rpc/error_details.proto: a pool that defines the standard types too."""
    files = list(descriptor_pb2.FileDescriptorSet.FromString(pool_files).file)
    fdp = descriptor_pb2.FileDescriptorProto()
    error_details_pb2.DESCRIPTOR.CopyToProto(fdp)
    return pool_of([*files, fdp], bundled_imports=True)


def _limit(pool: descriptor_pool.DescriptorPool) -> Any:
    return errdemo.message(pool, "LimitDetail", resource="cpu", limit="7", window={"length": "2s"})


ANY_TO_JSON: list[
    tuple[str, Callable[[], any_pb2.Any], Callable[[], Sequence[descriptor_pool.DescriptorPool]], Any]
] = [
    (
        "own type, own pool",
        lambda: errdemo.packed(_limit(DEMO_POOL)),
        lambda: (DEMO_POOL,),
        errdemo.expected_json(_limit(DEMO_POOL)),
    ),
    (
        "own type, no pool: raw",
        lambda: errdemo.packed(_limit(DEMO_POOL)),
        lambda: (),
        {
            "@type": "type.googleapis.com/errdemo.v1.LimitDetail",
            "value": "CgNjcHUQByIECgIIAg==",
        },
    ),
    (
        "own type, another pool first",
        lambda: errdemo.packed(_limit(DEMO_POOL)),
        lambda: (descriptor_pool.Default(), DEMO_POOL),
        errdemo.expected_json(_limit(DEMO_POOL)),
    ),
    (
        "standard type, not in the own pool: the default pool",
        lambda: errdemo.packed(error_details_pb2.DebugInfo(detail="d", stack_entries=["f:1"])),
        lambda: (DEMO_POOL,),
        {"@type": "type.googleapis.com/google.rpc.DebugInfo", "stackEntries": ["f:1"], "detail": "d"},
    ),
    (
        "standard type, in the own pool too",
        lambda: errdemo.packed(error_details_pb2.DebugInfo(detail="d", stack_entries=["f:1"])),
        lambda: (_with_error_details(errdemo.descriptor_set()),),
        {"@type": "type.googleapis.com/google.rpc.DebugInfo", "stackEntries": ["f:1"], "detail": "d"},
    ),
    (
        "unknown type: raw",
        lambda: any_pb2.Any(type_url="type.googleapis.com/errdemo.v1.Nowhere", value=b"\x08\x01"),
        lambda: (DEMO_POOL,),
        {"@type": "type.googleapis.com/errdemo.v1.Nowhere", "value": "CAE="},
    ),
    (
        "own type, value that does not parse: raw",
        lambda: any_pb2.Any(type_url="type.googleapis.com/errdemo.v1.LimitDetail", value=b"\x0a\x05ab"),
        lambda: (DEMO_POOL,),
        {"@type": "type.googleapis.com/errdemo.v1.LimitDetail", "value": "CgVhYg=="},
    ),
    (
        "own type holding a standard type in an Any field",
        lambda: errdemo.packed(
            errdemo.message(
                DEMO_POOL, "CauseDetail", cause={"@type": f"{errdemo.PREFIX}google.rpc.ErrorInfo", "reason": "R"}
            )
        ),
        lambda: (DEMO_POOL,),
        {
            "@type": f"{errdemo.PREFIX}errdemo.v1.CauseDetail",
            "cause": {"@type": f"{errdemo.PREFIX}google.rpc.ErrorInfo", "reason": "R", "domain": "", "metadata": {}},
        },
    ),
    ("empty Any", lambda: any_pb2.Any(), lambda: (DEMO_POOL,), {}),
]


@pytest.mark.parametrize(("detail", "pools", "expected"), [c[1:] for c in ANY_TO_JSON], ids=[c[0] for c in ANY_TO_JSON])
def test_any_to_json_pools(
    detail: Callable[[], any_pb2.Any], pools: Callable[[], Sequence[descriptor_pool.DescriptorPool]], expected: Any
) -> None:
    assert any_to_json(detail(), pools()) == expected


def _quota() -> any_pb2.Any:
    return errdemo.packed(
        errdemo.message(DEMO_POOL, "LimitDetail", resource="cpu", kind="KIND_RATE", usedByUser={"a": 3})
    )


QUOTA_ERROR = GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", (_quota(),))

# The status is written with the gateway's marshaler options, as grpc-gateway writes it with its
# marshaler: (case, options, error, body).
QUOTA_JSON: dict[str, Any] = {
    "@type": f"{errdemo.PREFIX}errdemo.v1.LimitDetail",
    "resource": "cpu",
    "limit": "0",
    "kind": "KIND_RATE",
    "window": None,
    "tags": [],
    "usedByUser": {"a": 3},
    "hard": False,
}
QUOTA_PROTO_NAMES = {("used_by_user" if k == "usedByUser" else k): v for k, v in QUOTA_JSON.items()}
QUOTA_POPULATED = {k: QUOTA_JSON[k] for k in ("@type", "resource", "kind", "usedByUser")}


def _slow_down(detail: dict[str, Any]) -> dict[str, Any]:
    return {"code": 8, "message": "slow down", "details": [detail]}


WITH_JSON: list[tuple[str, JsonOptions, GatewayError, dict[str, Any]]] = [
    ("grpc-gateway's defaults", JsonOptions(), QUOTA_ERROR, _slow_down(QUOTA_JSON)),
    (
        "proto names and enum numbers",
        JsonOptions(use_proto_names=True, use_enum_numbers=True),
        QUOTA_ERROR,
        _slow_down(QUOTA_PROTO_NAMES | {"kind": 1}),
    ),
    ("unpopulated fields left out", JsonOptions(emit_unpopulated=False), QUOTA_ERROR, _slow_down(QUOTA_POPULATED)),
    (
        "unpopulated: no details",
        JsonOptions(emit_unpopulated=False),
        GatewayError(grpc.StatusCode.NOT_FOUND, "gone"),
        {"code": 5, "message": "gone"},
    ),
    (
        "unpopulated: no message either",
        JsonOptions(emit_unpopulated=False),
        GatewayError(grpc.StatusCode.NOT_FOUND, ""),
        {"code": 5},
    ),
    (
        "defaults: empty message and details written",
        JsonOptions(),
        GatewayError(grpc.StatusCode.NOT_FOUND, ""),
        {"code": 5, "message": "", "details": []},
    ),
]


@pytest.mark.parametrize(("options", "err", "expected"), [c[1:] for c in WITH_JSON], ids=[c[0] for c in WITH_JSON])
def test_status_written_with_the_json_options(
    options: JsonOptions, err: GatewayError, expected: dict[str, Any]
) -> None:
    renderer = bind(DEFAULT_RENDERER, pools=[DEMO_POOL], json=options)
    status, _, body = render_error(renderer, err)
    assert status == err.status
    assert orjson.loads(body) == expected


async def test_gateway_writes_errors_with_its_json_options() -> None:
    """Through a whole gateway: the options that shape its responses shape its error details too."""
    inproc = InProcessBackend()
    inproc.add_generic_rpc_handlers([errdemo.handlers(errdemo.demo_pool())])
    options = GatewayOptions(json=JsonOptions(use_proto_names=True, use_enum_numbers=True))
    app = create_app(RouteTable.from_descriptor_set(errdemo.descriptor_set(), options=options), inproc)
    async with app_client(app, None) as client:
        response = await client.get("/v1/fail/own")
    assert response.status_code == 429
    (detail,) = response.json()["details"]
    assert detail["kind"] == 1
    assert detail["used_by_user"] == {"ann": 3}
    assert detail["window"] == {"length": "60s"}


def test_the_demo_types_are_not_in_the_default_pool() -> None:
    """What the tests below rely on: only the descriptor set defines errdemo's types."""
    with pytest.raises(KeyError):
        descriptor_pool.Default().FindMessageTypeByName("errdemo.v1.LimitDetail")


def plain_renderer(
    code: grpc.StatusCode, message: str, details: Sequence[any_pb2.Any], http_status: int, *, pretty: bool = False
) -> tuple[Headers, Any]:
    return [(b"content-type", b"application/json")], {"n": len(details)}


Pools = list[descriptor_pool.DescriptorPool]
Bound = tuple[tuple[descriptor_pool.DescriptorPool, ...], JsonOptions]

# (case, renderer, pools, json, (pools, json) of the bound renderer - None: the renderer itself)
BIND: list[tuple[str, ErrorRenderer, Pools, JsonOptions | None, Bound | None]] = [
    ("default renderer, pools", DEFAULT_RENDERER, [DEMO_POOL], None, ((DEMO_POOL,), JsonOptions())),
    ("subclass keeps its class", DeterminedStyle(), [DEMO_POOL], None, ((DEMO_POOL,), JsonOptions())),
    (
        "own pools first, no repeats",
        StatusRenderer(pools=(DEMO_POOL,)),
        [descriptor_pool.Default(), DEMO_POOL],
        None,
        ((DEMO_POOL, descriptor_pool.Default()), JsonOptions()),
    ),
    (
        "default renderer, json options",
        DEFAULT_RENDERER,
        [],
        JsonOptions(use_proto_names=True),
        ((), JsonOptions(use_proto_names=True)),
    ),
    (
        "subclass, json options",
        DeterminedStyle(),
        [],
        JsonOptions(use_enum_numbers=True),
        ((), JsonOptions(use_enum_numbers=True)),
    ),
    (
        "both",
        DEFAULT_RENDERER,
        [DEMO_POOL],
        JsonOptions(use_proto_names=True),
        ((DEMO_POOL,), JsonOptions(use_proto_names=True)),
    ),
    ("the same options: the renderer itself", DEFAULT_RENDERER, [], JsonOptions(), None),
    ("nothing to bind: the renderer itself", DEFAULT_RENDERER, [], None, None),
    (
        "a renderer without with_pools/with_json is kept",
        plain_renderer,
        [DEMO_POOL],
        JsonOptions(use_proto_names=True),
        None,
    ),
]


@pytest.mark.parametrize(("renderer", "pools", "json", "expected"), [c[1:] for c in BIND], ids=[c[0] for c in BIND])
def test_bind(renderer: ErrorRenderer, pools: Pools, json: JsonOptions | None, expected: Bound | None) -> None:
    bound = bind(renderer, pools=pools, json=json)
    if expected is None:
        assert bound is renderer
        return
    assert isinstance(bound, StatusRenderer)
    assert type(bound) is type(renderer)
    assert (bound.pools, bound.json) == expected
    assert bind(bound, pools=pools, json=json) is bound  # binding again changes nothing
    assert bind(bound, pools=pools) is bound
    # The shared default is untouched.
    assert (DEFAULT_RENDERER.pools, DEFAULT_RENDERER.json) == ((), JsonOptions())  # type: ignore[attr-defined]


def test_subclass_renders_details_from_its_pools() -> None:
    limit = _limit(DEMO_POOL)
    err = GatewayError(grpc.StatusCode.RESOURCE_EXHAUSTED, "slow down", (errdemo.packed(limit),))
    _, _, body = render_error(bind(DeterminedStyle(), pools=[DEMO_POOL]), err)
    assert orjson.loads(body) == {
        "code": 8,
        "message": "slow down",
        "details": [errdemo.expected_json(limit)],
        "error": {"code": 429, "reason": "RESOURCE_EXHAUSTED", "error": "slow down"},
    }


def test_route_table_binds_its_pool() -> None:
    table = RouteTable.from_descriptor_set(errdemo.descriptor_set())
    assert len(table.pools) == 1
    assert table.pools[0].FindMessageTypeByName("errdemo.v1.LimitDetail")
    assert isinstance(table.error_renderer, StatusRenderer)
    assert table.error_renderer.pools == table.pools
    assert table.options.error_renderer is DEFAULT_RENDERER
    assert table.error_renderer.json == table.options.json
    options = GatewayOptions(json=JsonOptions(use_proto_names=True))
    named = RouteTable.from_descriptor_set(errdemo.descriptor_set(), options=options).error_renderer
    assert isinstance(named, StatusRenderer)
    assert named.json == options.json
    # No routes, no pools: the renderer is the options' own.
    assert RouteTable([]).error_renderer is DEFAULT_RENDERER


def expected_body(scenario: errdemo.Scenario) -> dict[str, Any]:
    # The server side builds its details in a pool of its own, not the gateway's.
    return {
        "code": scenario.code.value[0],
        "message": f"failed: {scenario.name}",
        "details": [rendered for _, rendered in scenario.details(errdemo.demo_pool())],
    }


async def check_scenario(client: httpx.AsyncClient, scenario: errdemo.Scenario) -> None:
    """A unary call and a server stream failing with the scenario's rich status, through the gateway."""
    unary = await client.get(f"/v1/fail/{scenario.name}")
    assert unary.status_code == http_status_from_code(scenario.code), unary.text
    assert unary.json() == expected_body(scenario)
    stream = await client.get(f"/v1/fail/{scenario.name}:stream")
    assert stream.status_code == 200
    lines = [orjson.loads(line) for line in stream.content.splitlines()]
    assert lines == [{"result": {"scenario": scenario.name}}, {"error": expected_body(scenario)}]


@pytest.fixture(params=["inprocess", "proxy"])
async def demo_client(request: pytest.FixtureRequest) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway whose routes come from the demo descriptor set alone, in front of either backend; the
    service's handlers use a pool of their own (as a separate server process would)."""
    server: grpc.aio.Server | None = None
    backend: Backend
    if request.param == "inprocess":
        inproc = InProcessBackend()
        inproc.add_generic_rpc_handlers([errdemo.handlers(errdemo.demo_pool())])
        backend = inproc
    else:
        server, port = await errdemo.start_server(errdemo.demo_pool())
        backend = ProxyBackend(f"127.0.0.1:{port}")
    app = create_app(RouteTable.from_descriptor_set(errdemo.descriptor_set()), backend)
    async with app_client(app, server) as client:
        yield client


@pytest.mark.parametrize("scenario", errdemo.SCENARIOS, ids=[s.name for s in errdemo.SCENARIOS])
async def test_details_from_the_descriptor_set(demo_client: httpx.AsyncClient, scenario: errdemo.Scenario) -> None:
    await check_scenario(demo_client, scenario)


async def test_gateway_process_renders_details_from_its_descriptor_set(tmp_path: Path) -> None:
    """``protogw gateway --descriptor-set`` as its own process: nothing it imports defines errdemo's
    types, so only its descriptor set can render them."""
    descriptors = tmp_path / "errdemo.binpb"
    descriptors.write_bytes(errdemo.descriptor_set())
    server, port = await errdemo.start_server(errdemo.demo_pool())
    try:
        async with gateway_process(descriptors, port) as url, httpx.AsyncClient(base_url=url) as client:
            for scenario in errdemo.SCENARIOS:
                await check_scenario(client, scenario)
    finally:
        await server.stop(None)
