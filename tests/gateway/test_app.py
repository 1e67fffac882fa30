"""End-to-end tests of the gateway application over the kitchen-sink service, in both backends.

Every row of ``CASES`` is one HTTP request and what must come back; each runs against the in-process
backend and against a real grpc.aio server through the proxy backend.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from protogw.core import receipt
from protogw.core.codec import JsonOptions
from protogw.gateway.app import GatewayOptions, create_app
from protogw.gateway.http_limits import HttpLimits, limited_protocol
from protogw.gateway.inprocess import InProcessBackend
from protogw.gateway.router import UnescapingMode
from protogw.gateway.types import Receive, Scope, Send
from tests.gateway.conftest import GatewayEnv, kitchen_routes
from tests.gateway.kitchen_service import ADMIN_TOKEN, ThingStore, add_kitchen, kitchen_interceptors
from tests.gen.kitchen.v1 import kitchen_pb2 as pb


def seed(store: ThingStore) -> None:
    """Thing 1 (alpha, shelf s1, red) and thing 2 (beta, shelf s2, green)."""
    store.add(pb.Thing(display_name="alpha", shelf="s1", payload=pb.Everything(color=pb.COLOR_RED)))
    store.add(pb.Thing(display_name="beta", shelf="s2", payload=pb.Everything(color=pb.COLOR_GREEN)))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_subset(actual: Any, expected: Any, where: str = "$") -> None:
    """Every key of ``expected`` (recursively) equals the one in ``actual``; lists item by item."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            assert_subset(actual[key], value, f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{where}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{where}: {actual!r} has not {len(expected)} items"
        for i, (a, e) in enumerate(zip(actual, expected, strict=True)):
            assert_subset(a, e, f"{where}[{i}]")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


@dataclass(frozen=True)
class Case:
    id: str
    method: str
    url: str
    body: Any = None  # dict/list -> JSON; str/bytes -> raw
    headers: dict[str, str] = field(default_factory=dict)
    status: int = 200
    json: Any = None  # subset of the JSON response
    absent: tuple[str, ...] = ()  # top-level keys that must not be in the response
    resp_headers: dict[str, str] = field(default_factory=dict)


ADMIN = {"authorization": ADMIN_TOKEN}
ALL_SCALARS = (
    "doubleValue=1.5&floatValue=-2&int32Value=-3&int64Value=9007199254740993&uint32Value=4"
    "&uint64Value=18446744073709551615&sint32Value=-5&sint64Value=-6&fixed32Value=7&fixed64Value=8"
    "&sfixed32Value=-9&sfixed64Value=-10&boolValue=t&stringValue=a+b%26c&bytesValue=%2B%2F8%3D&color=COLOR_BLUE"
)

CASES = [
    # --- templates: variables, additional bindings, multi-segment captures, **, verbs, custom methods
    Case("get-by-id", "GET", "/v1/things/1", json={"id": "1", "displayName": "alpha", "shelf": "s1"}),
    Case("additional-binding", "GET", "/v1/shelves/s1/things/1", json={"id": "1"}),
    Case("additional-binding-wrong-shelf", "GET", "/v1/shelves/s2/things/1", status=404, json={"code": 5}),
    Case("missing-thing", "GET", "/v1/things/99", status=404, json={"code": 5, "details": []}),
    Case("multi-segment-name", "GET", "/v1/projects/s2/things/2", json={"id": "2", "name": "projects/s2/things/2"}),
    Case("multi-segment-too-short", "GET", "/v1/projects/s2/things", status=404),
    Case("custom-verb", "POST", "/v1/things/1:archive", {"reason": "old"}, json={"labels": {"archived": "old"}}),
    # As in grpc-gateway: GET has no ":archive" route, so "1:archive" is GetThing's id (not an integer).
    Case("custom-verb-wrong-method", "GET", "/v1/things/1:archive", status=400, json={"code": 3}),
    Case("verb-route-wrong-method", "DELETE", "/v1/things:watch", status=501, json={"code": 12}),
    Case("only-verb-is-404", "POST", "/v1/things/:archive", status=404),
    Case("unregistered-verb-stays-in-path", "GET", "/v1/things/1:nope", status=400, json={"code": 3}),
    Case("custom-http-method", "LOCK", "/v1/things/2", json={"id": "2", "labels": {"locked": "true"}}),
    Case("deep-wildcard", "GET", "/v1/files/a/b/c.txt", json={"path": "a/b/c.txt", "content": b64(b"a/b/c.txt")}),
    Case("deep-wildcard-zero-segments", "GET", "/v1/files", json={"path": ""}),
    Case("deep-wildcard-keeps-escaped-slash", "GET", "/v1/files/a%2Fb/c", json={"path": "a%2Fb/c"}),
    Case("deep-wildcard-unescapes-unreserved", "GET", "/v1/files/%7Euser/x%20y", json={"path": "~user/x y"}),
    Case("bad-escape", "GET", "/v1/files/a%zz", status=400, json={"code": 3}),
    Case("response-body-with-verb", "GET", "/v1/content/a/b:raw", json=b64(b"content of a/b")),
    Case("literal-wildcard", "GET", "/v1/static/anything/info", json={"path": "static"}),
    Case("unknown-path", "GET", "/v1/nothing", status=404, json={"code": 5, "message": "Not Found", "details": []}),
    Case("unbound-method-not-routable", "POST", "/kitchen.v1.KitchenService/Hidden", status=404),
    Case(
        "wrong-method-is-501", "PUT", "/v1/things:watch", status=501, json={"code": 12, "message": "Method Not Allowed"}
    ),
    # --- typed path values
    Case(
        "typed-path",
        "GET",
        "/v1/echo/hello%20world/-5/true/COLOR_BLUE/7/2.5/a%2Fb",
        json={
            "s": "hello world",
            "i64": "-5",
            "b": True,
            "color": "COLOR_BLUE",
            "u32": 7,
            "d": 2.5,
            "nested": {"name": "a/b"},
        },
    ),
    Case(
        "typed-path-numbers",
        "GET",
        "/v1/echo/s/0/f/2/0/1e3/n",
        json={"b": False, "color": "COLOR_GREEN", "d": 1000.0, "u32": 0},
    ),
    Case("path-int-mismatch", "GET", "/v1/echo/s/abc/true/COLOR_RED/1/1/n", status=400, json={"code": 3}),
    Case("path-bool-mismatch", "GET", "/v1/echo/s/1/yes/COLOR_RED/1/1/n", status=400),
    Case("path-uint-negative", "GET", "/v1/echo/s/1/true/COLOR_RED/-1/1/n", status=400),
    Case("path-enum-unknown", "GET", "/v1/echo/s/1/true/PURPLE/1/1/n", status=400),
    Case(
        "path-plus-query",
        "GET",
        "/v1/echo/s/1/true/1/1/1/n?rest.int32Value=4&nested.name=ignored",
        json={"rest": {"int32Value": 4}, "nested": {"name": "n"}},
    ),
    # --- query parameters
    Case(
        "query-all-scalars",
        "GET",
        "/v1/echo?" + ALL_SCALARS,
        json={
            "doubleValue": 1.5,
            "floatValue": -2.0,
            "int32Value": -3,
            "int64Value": "9007199254740993",
            "uint32Value": 4,
            "uint64Value": "18446744073709551615",
            "sint32Value": -5,
            "sint64Value": "-6",
            "fixed32Value": 7,
            "fixed64Value": "8",
            "sfixed32Value": -9,
            "sfixed64Value": "-10",
            "boolValue": True,
            "stringValue": "a b&c",
            "bytesValue": "+/8=",
            "color": "COLOR_BLUE",
        },
    ),
    Case(
        "query-proto-names", "GET", "/v1/echo?int32_value=3&string_value=x", json={"int32Value": 3, "stringValue": "x"}
    ),
    Case("query-bytes-url-safe", "GET", "/v1/echo?bytesValue=-_8", json={"bytesValue": "+/8="}),
    Case(
        "query-bool-forms",
        "GET",
        "/v1/echo?boolValue=TRUE&repeatedBool=1&repeatedBool=f&repeatedBool=False",
        json={"boolValue": True, "repeatedBool": [True, False, False]},
    ),
    Case(
        "query-repeated",
        "GET",
        "/v1/echo?repeatedInt32=1&repeatedInt32=2&repeated_string=a,b&repeated_string=c&repeatedColor=COLOR_RED&repeatedColor=3"
        "&repeatedInt64=5&repeatedUint64=6&repeatedDouble=0.5&repeatedBytes=AAE%3D",
        json={
            "repeatedInt32": [1, 2],
            "repeatedString": ["a,b", "c"],
            "repeatedColor": ["COLOR_RED", "COLOR_BLUE"],
            "repeatedInt64": ["5"],
            "repeatedUint64": ["6"],
            "repeatedDouble": [0.5],
            "repeatedBytes": ["AAE="],
        },
    ),
    Case(
        "query-nested",
        "GET",
        "/v1/echo?nested.child.child.name=deep&nested.amount=5&nested.kind=KIND_LEAF&nested.tags=a&nested.tags=b",
        json={"nested": {"amount": "5", "kind": "KIND_LEAF", "tags": ["a", "b"], "child": {"child": {"name": "deep"}}}},
    ),
    Case(
        "query-optional-zero",
        "GET",
        "/v1/echo?optionalInt32=0&optionalBool=false",
        json={"optionalInt32": 0, "optionalBool": False},
    ),
    Case("query-optional-absent", "GET", "/v1/echo", absent=("optionalInt32", "optionalString", "choiceString")),
    Case(
        "query-maps",
        "GET",
        "/v1/echo?stringMap[a]=1&stringMap[b]=x&colorMap[c]=COLOR_RED&int64Map[5]=6&boolMap[true]=yes&bytesMap[k]=AAE%3D",
        json={
            "stringMap": {"a": "1", "b": "x"},
            "colorMap": {"c": "COLOR_RED"},
            "int64Map": {"5": "6"},
            "boolMap": {"true": "yes"},
            "bytesMap": {"k": "AAE="},
        },
    ),
    Case("query-map-message-values", "GET", "/v1/echo?intMap[1]=x", status=400),
    Case("query-map-bad-key", "GET", "/v1/echo?int64Map[x]=1", status=400),
    Case("query-oneof", "GET", "/v1/echo?choiceString=a", json={"choiceString": "a"}, absent=("choiceInt64",)),
    Case("query-oneof-nested", "GET", "/v1/echo?choiceNested.name=x", json={"choiceNested": {"name": "x"}}),
    Case(
        "query-oneof-two-members",
        "GET",
        "/v1/echo?choiceString=a&choiceInt64=5",
        status=400,
        json={"code": 3, "message": 'field already set for oneof "choice"'},
    ),
    Case(
        "query-wkt",
        "GET",
        "/v1/echo?timestamp=2024-01-02T03:04:05.123Z&duration=1h30m&fieldMask=a.b,c_d&wrappedDouble=1.5&wrappedInt64=5"
        "&wrappedUint32=6&wrappedBool=false&wrappedString=s&wrappedBytes=AAE%3D&wrappedFloat=0.5&wrappedInt32=-1&wrappedUint64=7"
        "&structValue=%7B%22a%22%3A1%7D&value=%5B1%2C%22x%22%5D&listValue=%5B1%2C2%5D"
        "&repeatedTimestamp=1970-01-01T00:00:01Z&repeatedTimestamp=1970-01-01T00:00:02Z&repeatedWrappedInt32=1&repeatedWrappedInt32=2",
        json={
            "timestamp": "2024-01-02T03:04:05.123Z",
            "duration": "5400s",
            "fieldMask": "a.b,cD",
            "wrappedDouble": 1.5,
            "wrappedInt64": "5",
            "wrappedUint32": 6,
            "wrappedBool": False,
            "wrappedString": "s",
            "wrappedBytes": "AAE=",
            "wrappedFloat": 0.5,
            "wrappedInt32": -1,
            "wrappedUint64": "7",
            "structValue": {"a": 1.0},
            "value": [1.0, "x"],
            "listValue": [1.0, 2.0],
            "repeatedTimestamp": ["1970-01-01T00:00:01Z", "1970-01-01T00:00:02Z"],
            "repeatedWrappedInt32": [1, 2],
        },
    ),
    Case("query-duration-go-forms", "GET", "/v1/echo?duration=1.5s", json={"duration": "1.500s"}),
    Case("query-duration-bad", "GET", "/v1/echo?duration=5parsecs", status=400),
    Case("query-timestamp-bad", "GET", "/v1/echo?timestamp=yesterday", status=400),
    Case(
        "query-too-many-values",
        "GET",
        "/v1/echo?int32Value=1&int32Value=2",
        status=400,
        json={"message": 'too many values for field "int32_value"'},
    ),
    Case("query-unknown-ignored", "GET", "/v1/echo?nope=1&nested.nope=2&int32Value=1", json={"int32Value": 1}),
    Case("query-repeated-message", "GET", "/v1/echo?repeatedNested.name=x", status=400, json={"code": 3}),
    Case("query-any-unsupported", "GET", "/v1/echo?anyValue=x", status=400),
    Case("query-enum-unknown-name", "GET", "/v1/echo?color=PURPLE", status=400),
    Case("query-enum-unknown-number", "GET", "/v1/echo?color=9", status=400),
    Case("query-int-not-integer", "GET", "/v1/echo?int32Value=1.5", status=400),
    Case("query-int32-overflow", "GET", "/v1/echo?int32Value=3000000000", status=400),
    Case(
        "query-float-special",
        "GET",
        "/v1/echo?doubleValue=-Inf&floatValue=NaN",
        json={"doubleValue": "-Infinity", "floatValue": "NaN"},
    ),
    Case("query-bad-utf8", "GET", "/v1/echo?stringValue=%ff", status=400),
    Case("query-list", "GET", "/v1/things?colors=COLOR_RED&colors=2", json={"things": [{"id": "1"}, {"id": "2"}]}),
    Case("query-list-filter", "GET", "/v1/things?filter.stringValue=beta", json={"things": [{"id": "2"}]}),
    Case("query-paging", "GET", "/v1/things?pageSize=1", json={"nextPageToken": "1", "things": [{"id": "1"}]}),
    Case(
        "query-paging-2",
        "GET",
        "/v1/things?page_size=1&pageToken=1",
        json={"nextPageToken": "", "things": [{"id": "2"}]},
    ),
    Case(
        "servicer-value-error",
        "GET",
        "/v1/things?pageSize=-1",
        status=400,
        json={"message": "page_size must not be negative"},
    ),
    Case("read-mask-query", "GET", "/v1/things/1?readMask=display_name", json={"displayName": "alpha", "shelf": ""}),
    # --- bodies
    Case(
        "body-field",
        "POST",
        "/v1/things?requestId=r1",
        {"displayName": "new"},
        json={"id": "3", "displayName": "new", "labels": {"request_id": "r1"}},
    ),
    Case(
        "body-field-query-cannot-reach-body",
        "POST",
        "/v1/things?thing.displayName=q",
        {"displayName": "b"},
        json={"displayName": "b"},
    ),
    Case("body-field-empty-body", "POST", "/v1/things", status=400, json={"message": "thing is required"}),
    Case("body-field-proto-names", "POST", "/v1/things", {"display_name": "snake"}, json={"displayName": "snake"}),
    Case(
        "body-star-path-overrides",
        "POST",
        "/v1/shelves/s9/things",
        {"shelf": "body", "thing": {"displayName": "x"}},
        json={"shelf": "s9", "displayName": "x", "id": "3"},
    ),
    Case("body-star-ignores-query", "POST", "/v1/shelves/s9/things?validateOnly=true", {"thing": {}}, json={"id": "3"}),
    Case(
        "body-star-validate-only",
        "POST",
        "/v1/shelves/s9/things",
        {"validateOnly": True, "thing": {}},
        json={"id": "0"},
    ),
    Case(
        "body-unknown-fields-ignored",
        "POST",
        "/v1/echo",
        {"int32Value": 1, "nope": {"deep": [1]}},
        json={"int32Value": 1},
    ),
    Case("body-bad-json", "POST", "/v1/echo", "{nope", status=400, json={"code": 3}),
    Case("body-wrong-type", "POST", "/v1/echo", {"int32Value": "abc"}, status=400, json={"code": 3}),
    Case("body-two-oneof-members", "POST", "/v1/echo", {"choiceString": "a", "choiceInt64": "1"}, status=400),
    Case("body-not-object", "POST", "/v1/echo", [1, 2], status=400),
    Case("body-empty", "POST", "/v1/echo", "", json={"int32Value": 0, "nested": None}),
    Case("body-star-no-query", "POST", "/v1/echo?int32Value=5", {}, json={"int32Value": 0}),
    Case(
        "body-everything",
        "POST",
        "/v1/echo",
        {
            "int64Value": "-1",
            "uint64Value": 5,
            "repeatedNested": [{"name": "a"}, {"name": "b", "child": {"amount": "3"}}],
            "intMap": {"1": {"name": "one"}},
            "anyValue": {"@type": "type.googleapis.com/kitchen.v1.Nested", "name": "packed"},
            "customJsonName": "renamed",
            "empty": {},
            "timestamp": "2024-05-06T07:08:09Z",
        },
        json={
            "int64Value": "-1",
            "uint64Value": "5",
            "repeatedNested": [
                {"name": "a", "amount": "0", "kind": "KIND_UNSPECIFIED", "child": None, "tags": []},
                {
                    "name": "b",
                    "amount": "0",
                    "kind": "KIND_UNSPECIFIED",
                    "child": {"name": "", "amount": "3", "kind": "KIND_UNSPECIFIED", "child": None, "tags": []},
                    "tags": [],
                },
            ],
            "intMap": {"1": {"name": "one"}},
            "anyValue": {"@type": "type.googleapis.com/kitchen.v1.Nested", "name": "packed"},
            "customJsonName": "renamed",
            "empty": {},
            "timestamp": "2024-05-06T07:08:09Z",
        },
    ),
    # --- PATCH field masks
    Case(
        "patch-mask-from-body",
        "PATCH",
        "/v1/things/1",
        {"displayName": "renamed"},
        json={"displayName": "renamed", "shelf": "s1"},
        resp_headers={"grpc-metadata-x-update-mask": "display_name"},
    ),
    Case(
        "patch-mask-nested",
        "PATCH",
        "/v1/things/1",
        {"payload": {"int32Value": 5, "nested": {"name": "n"}}, "labels": {"k": "v"}},
        json={
            "displayName": "alpha",
            "payload": {"int32Value": 5, "color": "COLOR_RED", "nested": {"name": "n"}},
            "labels": {"k": "v"},
        },
        resp_headers={"grpc-metadata-x-update-mask": "labels,payload.int32_value,payload.nested.name"},
    ),
    Case(
        "patch-explicit-mask",
        "PATCH",
        "/v1/things/1?updateMask=labels",
        {"displayName": "no", "labels": {"a": "b"}},
        json={"displayName": "alpha", "labels": {"a": "b"}},
        resp_headers={"grpc-metadata-x-update-mask": "labels"},
    ),
    Case("patch-unknown-body-field", "PATCH", "/v1/things/1", {"nope": 1}, status=400),
    Case("patch-missing-thing", "PATCH", "/v1/things/42", {"displayName": "x"}, status=404),
    Case(
        "put-body-star-no-auto-mask",
        "PUT",
        "/v1/things/1",
        {"thing": {"displayName": "put"}},
        json={"id": "1", "displayName": "put", "shelf": ""},
        resp_headers={"grpc-metadata-x-update-mask": ""},
    ),
    # --- interceptors and errors
    Case(
        "auth-interceptor-denies",
        "DELETE",
        "/v1/things/1",
        status=401,
        json={"code": 16, "message": "admin token required"},
        resp_headers={"www-authenticate": "admin token required"},
    ),
    Case("auth-interceptor-allows", "DELETE", "/v1/things/1", headers=ADMIN, json={}),
    Case("delete-missing", "DELETE", "/v1/things/99", headers=ADMIN, status=404),
    Case(
        "rich-status-details",
        "POST",
        "/v1/fail/3?message=bad",
        status=400,
        json={
            "code": 3,
            "message": "bad",
            "details": [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": "code", "description": "bad", "reason": ""}],
                }
            ],
        },
    ),
    Case(
        "set-code-without-abort",
        "POST",
        "/v1/fail/0",
        status=409,
        json={"code": 10, "message": "set_code without abort"},
    ),
    *(
        Case(
            f"code-{code}",
            "POST",
            f"/v1/fail/{code}?message=m{code}",
            status=status,
            json={"code": code, "message": f"m{code}", "details": []},
        )
        for code, status in [
            (1, 499),
            (2, 500),
            (4, 504),
            (5, 404),
            (6, 409),
            (7, 403),
            (8, 429),
            (9, 400),
            (10, 409),
            (11, 400),
            (12, 501),
            (13, 500),
            (14, 503),
            (15, 500),
            (16, 401),
        ]
    ),
    Case("pretty", "GET", "/v1/things/2?pretty", json={"id": "2"}),
    Case(
        "client-streaming",
        "POST",
        "/v1/things:count",
        '{"displayName": "a"}\n{"displayName": "b", "labels": {"k": "v"}}',
        json={"things": [{"displayName": "a"}, {"displayName": "b", "labels": {"k": "v"}}]},
    ),
    Case(
        "client-streaming-json-array",
        "POST",
        "/v1/things:count",
        [{"displayName": "a"}, {"displayName": "b"}],
        json={"things": [{"displayName": "a"}, {"displayName": "b"}]},
    ),
    Case("client-streaming-bad-json", "POST", "/v1/things:count", '{"displayName": "a"} {oops}', status=400),
    Case("healthz", "GET", "/healthz", json={"status": "SERVING"}),
    Case("healthz-service", "GET", "/healthz?service=kitchen.v1.KitchenService", json={"status": "SERVING"}),
    Case("healthz-not-serving", "GET", "/healthz?service=down", status=503, json={"status": "NOT_SERVING"}),
    Case("healthz-unknown-service", "GET", "/healthz?service=nope", status=404, json={"code": 5}),
]


async def send(env: GatewayEnv, case: Case) -> httpx.Response:
    content: bytes | None
    headers = dict(case.headers)
    if isinstance(case.body, (dict, list)):
        content = json.dumps(case.body).encode()
        headers.setdefault("content-type", "application/json")
    elif isinstance(case.body, str):
        content = case.body.encode()
    else:
        content = case.body
    return await env.client.request(case.method, case.url, content=content, headers=headers)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
async def test_rest(env: GatewayEnv, case: Case) -> None:
    seed(env.store)
    response = await send(env, case)
    assert response.status_code == case.status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if case.json is not None:
        assert_subset(body, case.json)
    for key in case.absent:
        assert key not in body
    for name, value in case.resp_headers.items():
        assert response.headers.get(name) == value, dict(response.headers)
    if case.id == "pretty":
        assert response.text.startswith('{\n  "')


@pytest.mark.parametrize(
    ("content_type", "body", "expected_type"),
    [
        ("text/plain", b"hello", "text/plain"),
        ("image/png", b"\x89PNG\x00\xff", "image/png"),
        (None, b"", "application/octet-stream"),
    ],
)
async def test_http_body_in_and_out(env: GatewayEnv, content_type: str | None, body: bytes, expected_type: str) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = await env.client.post("/v1/uploads/a.txt", content=body, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"] == expected_type
    assert response.content == b"stored a.txt: " + body


@pytest.mark.parametrize(
    ("url", "form", "headers", "status", "expected"),
    [
        # A form POST to a GET-only path is served by the GET route, form fields as query parameters.
        ("/v1/echo/s/1/true/1/1/1/n", {"rest.int32Value": "7"}, {}, 200, {"rest": {"int32Value": 7}}),
        ("/v1/files/a/b", {"path": "ignored: path field", "x": "1"}, {}, 200, {"path": "a/b"}),
        # A path that has a POST route is not a fallback: the form is not JSON.
        ("/v1/things", {"pageSize": "1"}, {}, 400, {"code": 3}),
        # X-HTTP-Method-Override picks the method.
        ("/v1/things/1", {"x": "1"}, {"X-HTTP-Method-Override": "LOCK"}, 200, {"labels": {"locked": "true"}}),
        (
            "/v1/things/1",
            {"readMask": "shelf"},
            {"X-HTTP-Method-Override": "get"},
            200,
            {"shelf": "s1", "displayName": ""},
        ),
        # No GET route there either: the usual routing error.
        ("/v1/metadata/x", {"x": "1"}, {}, 404, {"code": 5}),
        ("/v1/things/1", {"x": "1"}, {"X-HTTP-Method-Override": "POST"}, 501, {"code": 12}),
    ],
)
async def test_form_fallback(
    env: GatewayEnv, url: str, form: dict[str, str], headers: dict[str, str], status: int, expected: Any
) -> None:
    seed(env.store)
    response = await env.client.post(url, data=form, headers=headers)
    assert response.status_code == status, response.text
    assert_subset(response.json(), expected)


# --- headers and metadata ------------------------------------------------------------------------------


async def test_request_headers_become_metadata(env: GatewayEnv) -> None:
    response = await env.client.get(
        "/v1/metadata",
        headers={
            "Authorization": "Bearer tok",
            "Grpc-Metadata-Foo": "bar",
            "Grpc-Metadata-Blob-Bin": b64(b"\x00\xff"),
            "Grpc-Metadata-X-Context-Value": "ctx",
            "X-Forwarded-For": "1.2.3.4",
            "X-Request-Id": "req-123",
            "Grpc-Timeout": "10S",
            "Cookie": "auth=abc",
            "X-Not-Forwarded": "nope",
            "TE": "trailers",
        },
    )
    assert response.status_code == 200, response.text
    echo = response.json()
    md = echo["metadata"]
    assert md["authorization"] == "Bearer tok"
    assert md["grpcgateway-authorization"] == "Bearer tok"
    assert md["foo"] == "bar"
    assert md["grpcgateway-cookie"] == "auth=abc"
    assert md["x-forwarded-for"] == "1.2.3.4, 10.0.0.7"
    assert md["x-forwarded-host"] == "gw.test"
    assert md["x-request-id"] == "req-123"
    assert "x-not-forwarded" not in md
    assert echo["binaryMetadata"]["blob-bin"] == b64(b"\x00\xff")
    assert echo["hasDeadline"] is True
    assert echo["interceptorValue"] == "ctx"
    assert echo["peer"].startswith("ipv4:")
    if env.kind == "inprocess":
        assert echo["peer"] == "ipv4:10.0.0.7:5555"
    assert response.headers["x-request-id"] == "req-123"
    assert response.headers["grpc-metadata-x-echo-header"] == "h"
    assert response.headers["grpc-metadata-x-echo-bin"] == b64(b"\x00\x01")
    assert response.headers["grpc-trailer-x-echo-trailer"] == "t"


async def test_request_id_generated_and_trailers_only_on_request(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/metadata")
    echo = response.json()
    generated = response.headers["x-request-id"]
    assert len(generated) == 32
    assert echo["metadata"]["x-request-id"] == generated
    assert echo["hasDeadline"] is False
    assert "grpc-trailer-x-echo-trailer" not in response.headers


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Grpc-Timeout": "soon"}, "invalid grpc-timeout: soon"),
        ({"Grpc-Metadata-Data-Bin": "***"}, "invalid binary header value"),
    ],
)
async def test_bad_metadata_headers(env: GatewayEnv, headers: dict[str, str], message: str) -> None:
    response = await env.client.get("/v1/metadata", headers=headers)
    assert response.status_code == 400
    assert message in response.json()["message"]


async def test_healthz_bad_timeout(env: GatewayEnv) -> None:
    response = await env.client.get("/healthz", headers={"Grpc-Timeout": "nope"})
    assert response.status_code == 400
    assert response.json()["message"] == "invalid grpc-timeout: nope"


def broken_annotator(head: Any) -> list[tuple[str, str]]:
    raise RuntimeError("hook bug")


async def test_hook_bug_is_a_clean_500(open_env: Any) -> None:
    async for env in open_env("inprocess", GatewayOptions(annotators=(broken_annotator,))):
        response = await env.client.get("/v1/things/1")
        assert response.status_code == 500
        assert response.json() == {"code": 13, "message": "internal error", "details": []}


def thing_header(method: Any, request: Any, response: Any) -> list[tuple[str, str]]:
    """A response hook: tag GetThing responses with the id the service returned."""
    if method.full_name != "kitchen.v1.KitchenService.GetThing":
        return []
    return [("x-thing-id", str(response.id))]


def broken_response_hook(method: Any, request: Any, response: Any) -> list[tuple[str, str]]:
    raise RuntimeError("hook bug")


# (backend, path with {id} for a thing just created, whether the GetThing hook fires)
RESPONSE_HOOK_CASES = [
    ("inprocess", "/v1/things/{id}", True),
    ("proxy", "/v1/things/{id}", True),
    ("inprocess", "/v1/things", False),
    ("proxy", "/v1/shelves/s/things/{id}", True),
]


@pytest.mark.parametrize(("kind", "path", "fires"), RESPONSE_HOOK_CASES)
async def test_response_hooks_add_headers(open_env: Any, kind: str, path: str, fires: bool) -> None:
    async for env in open_env(kind, GatewayOptions(response_hooks=(thing_header,))):
        created = await env.client.post("/v1/things", json={"displayName": "hooked", "shelf": "s"})
        assert created.status_code == 200, created.text
        thing_id = created.json()["id"]
        assert "x-thing-id" not in created.headers
        response = await env.client.get(path.format(id=thing_id))
        assert response.status_code == 200, response.text
        assert response.headers.get("x-thing-id") == (thing_id if fires else None)


async def test_response_hook_bug_is_a_clean_500(open_env: Any) -> None:
    async for env in open_env("inprocess", GatewayOptions(response_hooks=(broken_response_hook,))):
        response = await env.client.get("/v1/things")
        assert response.status_code == 500
        assert response.json() == {"code": 13, "message": "internal error", "details": []}


async def test_deadline_exceeded(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=3&intervalMs=2000", headers={"Grpc-Timeout": "50m"})
    assert response.status_code == 504
    assert response.json()["error"]["code"] == 4


# --- streaming ------------------------------------------------------------------------------------------


def lines(response: httpx.Response) -> list[Any]:
    return [json.loads(line) for line in response.text.splitlines() if line]


async def test_stream_ndjson(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=3", headers={"Grpc-Metadata-X-Context-Value": "v"})
    assert response.status_code == 200
    assert response.headers["grpc-metadata-x-watch"] == "3"
    items = lines(response)
    assert [i["result"]["seq"] for i in items] == [0, 1, 2]
    # The contextvar set by the interceptor is visible inside the streaming servicer.
    assert {i["result"]["thing"]["displayName"] for i in items} == {"v"}
    assert response.text.endswith("\n")


async def test_stream_error_after_messages(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=2&failWithCode=9")
    assert response.status_code == 200
    items = lines(response)
    assert [i.get("result", {}).get("seq") for i in items[:2]] == [0, 1]
    assert items[2] == {"error": {"code": 9, "message": "failed after 2", "details": []}}


async def test_stream_error_before_first_message(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=0&failWithCode=5")
    assert response.status_code == 404
    assert lines(response) == [{"error": {"code": 5, "message": "failed after 0", "details": []}}]


async def test_stream_empty(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=0")
    assert response.status_code == 200
    assert response.text == ""


async def test_stream_sse(env: GatewayEnv) -> None:
    response = await env.client.get("/v1/things:watch?count=2&failWithCode=10", headers={"Accept": "text/event-stream"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    events = [e for e in response.text.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    payloads = [json.loads(e[len("data: ") :]) for e in events]
    assert [p["result"]["seq"] for p in payloads[:2]] == [0, 1]
    assert payloads[2]["error"]["code"] == 10


# --- options --------------------------------------------------------------------------------------------

OptionCase = tuple[str, GatewayOptions, str, str, Any, int, Callable[[httpx.Response], None]]


def _allow(r: httpx.Response) -> None:
    assert r.headers["allow"] == "DELETE, GET, LOCK, PATCH, PUT"
    assert r.json()["message"] == "Method Not Allowed"


def _unknown_query(r: httpx.Response) -> None:
    assert r.json()["message"] == "unknown query parameter 'nope'"


def _too_large(r: httpx.Response) -> None:
    assert r.json()["code"] == 8


def _proto_names(r: httpx.Response) -> None:
    assert r.json()["display_name"] == "alpha"
    assert "displayName" not in r.json()


def _enum_numbers(r: httpx.Response) -> None:
    assert r.json()["payload"]["color"] == 1


def _no_unpopulated(r: httpx.Response) -> None:
    assert r.json() == {
        "id": "1",
        "shelf": "s1",
        "displayName": "alpha",
        "name": "projects/s1/things/1",
        "payload": {"color": "COLOR_RED"},
    }


def _reject_unknown_body(r: httpx.Response) -> None:
    assert r.json()["code"] == 3


def _legacy_split(r: httpx.Response) -> None:
    assert r.json()["path"] == "a/b/c"


def _all_characters(r: httpx.Response) -> None:
    assert r.json()["path"] == "a/b/c"


def _pretty(r: httpx.Response) -> None:
    assert r.text.startswith('{\n  "id": "1"')


def _unbound(r: httpx.Response) -> None:
    assert r.json() == {}


def _not_found(r: httpx.Response) -> None:
    assert r.json()["code"] == 5


OPTION_CASES: list[OptionCase] = [
    # LEGACY unescapes the whole path first, so %2F separates segments (grpc-gateway v2's default).
    (
        "unescape-legacy",
        GatewayOptions(unescaping=UnescapingMode.LEGACY),
        "GET",
        "/v1/files/a%2Fb/c",
        None,
        200,
        _legacy_split,
    ),
    (
        "unescape-all",
        GatewayOptions(unescaping=UnescapingMode.ALL_CHARACTERS),
        "GET",
        "/v1/files/a%2Fb/c",
        None,
        200,
        _all_characters,
    ),
    (
        "unbound-methods",
        GatewayOptions(unbound_methods=True),
        "POST",
        "/kitchen.v1.KitchenService/Hidden",
        {},
        200,
        _unbound,
    ),
    ("unbound-methods-off", GatewayOptions(), "POST", "/kitchen.v1.KitchenService/Hidden", {}, 404, _not_found),
    ("405-option", GatewayOptions(method_not_allowed=405), "POST", "/v1/things/1", None, 405, _allow),
    (
        "reject-unknown-query",
        GatewayOptions(reject_unknown_query=True),
        "GET",
        "/v1/echo?nope=1",
        None,
        400,
        _unknown_query,
    ),
    ("body-limit", GatewayOptions(max_body_bytes=64), "POST", "/v1/echo", {"stringValue": "x" * 100}, 413, _too_large),
    (
        "proto-names",
        GatewayOptions(json=JsonOptions(use_proto_names=True)),
        "GET",
        "/v1/things/1",
        None,
        200,
        _proto_names,
    ),
    (
        "enum-numbers",
        GatewayOptions(json=JsonOptions(use_enum_numbers=True)),
        "GET",
        "/v1/things/1",
        None,
        200,
        _enum_numbers,
    ),
    (
        "omit-unpopulated",
        GatewayOptions(json=JsonOptions(emit_unpopulated=False)),
        "GET",
        "/v1/things/1",
        None,
        200,
        _no_unpopulated,
    ),
    (
        "reject-unknown-body",
        GatewayOptions(json=JsonOptions(discard_unknown=False)),
        "POST",
        "/v1/echo",
        {"nope": 1},
        400,
        _reject_unknown_body,
    ),
]


@pytest.mark.parametrize("kind", ["inprocess", "proxy"])
@pytest.mark.parametrize("case", OPTION_CASES, ids=[c[0] for c in OPTION_CASES])
async def test_options(open_env: Any, kind: str, case: OptionCase) -> None:
    _, options, method, url, body, status, check = case
    async for env in open_env(kind, options):
        seed(env.store)
        content = json.dumps(body).encode() if body is not None else None
        response = await env.client.request(method, url, content=content)
        assert response.status_code == status, response.text
        check(response)


# --- the response memo ---------------------------------------------------------------------------------

# Answers that meet in the memo: one response through two routes of one method, the same (empty) wire
# form from methods answering different types, compact then pretty, a field as the whole body, and a
# resource read, changed, and read again.
MEMO_SEQUENCE: list[tuple[str, str, dict[str, str] | None, dict[str, str]]] = [
    ("GET", "/v1/things/1", None, {}),
    ("GET", "/v1/shelves/s1/things/1", None, {}),
    ("GET", "/v1/things/1?pretty", None, {}),
    ("GET", "/v1/echo", None, {}),
    ("DELETE", "/v1/things/2", None, ADMIN),
    ("GET", "/v1/files/a/b", None, {}),
    ("GET", "/v1/content/a/b:raw", None, {}),
    ("PATCH", "/v1/things/1", {"name": "renamed"}, {}),
    ("GET", "/v1/things/1", None, {}),
]


@pytest.mark.parametrize("kind", ["inprocess", "proxy"])
async def test_response_memo_never_changes_an_answer(open_env: Any, kind: str) -> None:
    answers: dict[int, list[tuple[str, str, int, bytes]]] = {}
    for budget in (0, GatewayOptions().response_memo_bytes):
        async for env in open_env(kind, GatewayOptions(response_memo_bytes=budget)):
            seed(env.store)
            got = answers[budget] = []
            for _ in range(3):  # the later rounds answer from the memo where it can
                for method, url, body, headers in MEMO_SEQUENCE:
                    content = json.dumps(body).encode() if body is not None else None
                    response = await env.client.request(method, url, content=content, headers=headers)
                    got.append((method, url, response.status_code, response.content))
    assert answers[GatewayOptions().response_memo_bytes] == answers[0]


# --- mounting other apps ----------------------------------------------------------------------------------


def text_app(text: str) -> Callable[[Scope, Receive, Send], Any]:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        body = f"{text} root_path={scope.get('root_path', '')} path={scope['path']}".encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    return app


DOCS = (("/docs", "docs"),)
# (mounts as (prefix, the text its app answers with), url, status, text in the answer)
MOUNTS = [
    (DOCS, "/docs/rest-api/", 200, "docs root_path=/docs path=/docs/rest-api/"),
    (DOCS, "/docs", 200, "docs root_path=/docs path=/docs"),
    (DOCS, "/docsx", 200, "fallback root_path= path=/docsx"),
    (DOCS, "/v1/things/1", 200, '"id":"1"'),
    (DOCS, "/elsewhere", 200, "fallback root_path= path=/elsewhere"),
    ((("/docs", "docs"), ("/docs/api", "api")), "/docs/api/x", 200, "api root_path=/docs/api path=/docs/api/x"),
    ((("/docs", "docs"), ("/docs/api", "api")), "/docs/apix", 200, "docs root_path=/docs path=/docs/apix"),
    ((("/", "root"),), "/v1/things/1", 200, "root root_path= path=/v1/things/1"),
]


@pytest.mark.parametrize(("mounts", "url", "status", "text"), MOUNTS)
async def test_mounts_and_fallback(mounts: tuple[tuple[str, str], ...], url: str, status: int, text: str) -> None:
    store = ThingStore()
    backend = InProcessBackend(kitchen_interceptors())
    await add_kitchen(backend, store)
    seed(store)
    app = create_app(
        kitchen_routes(), backend, mounts=[(p, text_app(t)) for p, t in mounts], fallback=text_app("fallback")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get(url)
    assert response.status_code == status
    assert text in response.text


async def test_websocket_where_no_stream_is_is_refused() -> None:
    """/v1/things has no streaming method: the handshake is refused (1008, which servers turn into 403)."""
    backend = InProcessBackend()
    app = create_app(kitchen_routes(), backend)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(dict(message))

    await app({"type": "websocket", "path": "/v1/things", "headers": []}, receive, send)
    assert sent == [{"type": "websocket.close", "code": 1008}]


# --- a real HTTP server: client disconnect cancels the stream ------------------------------------------


@pytest.fixture
async def served_gateway() -> AsyncIterator[tuple[str, list[str]]]:
    """The in-process kitchen gateway under uvicorn on port 0; yields its URL and a log of stream ends."""
    events: list[str] = []
    backend = InProcessBackend(kitchen_interceptors())
    await add_kitchen(backend)
    app = create_app(kitchen_routes(), backend)

    original = backend.server_stream

    def tracking(method: Any, request: Any, call: Any) -> Any:
        stream = original(method, request, call)
        stream._context.add_done_callback(lambda ctx: events.append("cancelled" if ctx.cancelled() else "done"))
        return stream

    backend.server_stream = tracking  # type: ignore[method-assign]
    async with served(app, "httptools") as url:
        yield url, events


@contextlib.asynccontextmanager
async def served(app: Any, http: Any) -> AsyncIterator[str]:
    """``app`` under uvicorn with the ``http`` protocol on port 0; yields its URL."""
    import uvicorn

    from protogw.gateway.cli import bind

    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", http=http))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_client_disconnect_cancels_stream(served_gateway: tuple[str, list[str]]) -> None:
    url, events = served_gateway
    async with (
        httpx.AsyncClient() as client,
        client.stream("GET", f"{url}/v1/things:watch?count=1000&intervalMs=20") as response,
    ):
        assert response.status_code == 200
        async for line in response.aiter_lines():
            assert json.loads(line)["result"]["seq"] == 0
            break
    for _ in range(200):
        if events:
            break
        await asyncio.sleep(0.01)
    assert events == ["cancelled"]


async def test_real_server_streams_per_message(served_gateway: tuple[str, list[str]]) -> None:
    url, _ = served_gateway
    async with (
        httpx.AsyncClient() as client,
        client.stream("GET", f"{url}/v1/things:watch?count=3&intervalMs=10") as response,
    ):
        chunks = [chunk async for chunk in response.aiter_raw()]
    # One chunk per message: each was flushed on its own.
    assert len([c for c in chunks if c]) >= 3
    assert b"".join(chunks).count(b"\n") == 3


# --- receipt stamps: protogw's HTTP protocol stamps each request; unary calls carry the stamp -----------


@pytest.mark.parametrize(
    ("http", "stamped"),
    [
        pytest.param(limited_protocol(HttpLimits()), True, id="protogw-protocol"),
        pytest.param("httptools", False, id="plain-uvicorn"),
    ],
)
async def test_unary_calls_carry_their_receipt_and_streams_none(http: Any, stamped: bool) -> None:
    backend = InProcessBackend(kitchen_interceptors())
    await add_kitchen(backend)
    seen: list[tuple[str, int | None]] = []
    unary, server_stream = backend.unary, backend.server_stream

    async def recording_unary(method: Any, request: Any, call: Any) -> Any:
        seen.append(("unary", receipt.received()))
        return await unary(method, request, call)

    def recording_stream(method: Any, request: Any, call: Any) -> Any:
        seen.append(("stream", receipt.received()))
        return server_stream(method, request, call)

    backend.unary = recording_unary  # type: ignore[method-assign]
    backend.server_stream = recording_stream  # type: ignore[method-assign]
    before = receipt.stamp()
    async with served(create_app(kitchen_routes(), backend), http) as url, httpx.AsyncClient() as client:
        for path in ("/v1/things/1", "/v1/things/1", "/v1/things:watch?count=1&intervalMs=1"):
            assert (await client.get(url + path)).status_code in (200, 404)
    after = receipt.stamp()
    assert [kind for kind, _ in seen] == ["unary", "unary", "stream"]
    first, second, stream = (stamp for _, stamp in seen)
    assert stream is None
    if stamped:
        assert first is not None
        assert second is not None
        assert before < first < second < after
    else:
        assert first is second is None
