"""Bindings from descriptors: the kitchen service's rules, descriptor-set loading and every start-up
error (each must name the method)."""

from __future__ import annotations

from importlib import resources

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, descriptor_pool

from protogw.core.bindings import HttpRuleError, RuleOptions, bindings_for
from protogw.core.descriptors import DescriptorError, load_descriptor_set, services_in
from protogw.gateway.app import GatewayOptions, RouteTable
from tests.gen.kitchen.v1 import kitchen_pb2  # noqa: F401

TESTING_SET = resources.files("tests.gen.descriptors").joinpath("testing.binpb").read_bytes()

KITCHEN_BINDINGS = {
    ("GetThing", "GET", "/v1/things/{id}", None, ""),
    ("GetThing", "GET", "/v1/shelves/{shelf}/things/{id}", None, ""),
    ("GetThingByName", "GET", "/v1/{name=projects/*/things/*}", None, ""),
    ("ListThings", "GET", "/v1/things", None, ""),
    ("CreateThing", "POST", "/v1/things", "thing", ""),
    ("CreateThingOnShelf", "POST", "/v1/shelves/{shelf}/things", "*", ""),
    ("UpdateThing", "PATCH", "/v1/things/{thing.id}", "thing", ""),
    ("UpdateThing", "PUT", "/v1/things/{thing.id}", "*", ""),
    ("DeleteThing", "DELETE", "/v1/things/{id}", None, ""),
    ("ArchiveThing", "POST", "/v1/things/{id}:archive", "*", ""),
    ("LockThing", "LOCK", "/v1/things/{id}", None, ""),
    ("GetFile", "GET", "/v1/files/{path=**}", None, ""),
    ("GetFileContent", "GET", "/v1/content/{path=**}:raw", None, "content"),
    ("GetStaticInfo", "GET", "/v1/static/*/info", None, ""),
    ("WatchThings", "GET", "/v1/things:watch", None, ""),
    ("EchoQuery", "GET", "/v1/echo", None, ""),
    ("EchoBody", "POST", "/v1/echo", "*", ""),
    ("EchoPath", "GET", "/v1/echo/{s}/{i64}/{b}/{color}/{u32}/{d}/{nested.name}", None, ""),
    ("Fail", "POST", "/v1/fail/{code}", None, ""),
    ("EchoMetadata", "GET", "/v1/metadata", None, ""),
    ("UploadFile", "POST", "/v1/uploads/{name}", "body", ""),
    ("CountThings", "POST", "/v1/things:count", "*", ""),
}


def summarize(table: RouteTable) -> set[tuple[str, str, str, str | None, str]]:
    out = set()
    for b in table.bindings:
        if not b.method.full_name.startswith("kitchen.v1.KitchenService."):
            continue  # the descriptor set also holds other engineers' test protos
        body = None if b.body is None else ("*" if b.body == () else ".".join(f.name for f in b.body))
        out.add(
            (b.method.descriptor.name, b.http_method, str(b.template), body, ".".join(f.name for f in b.response_body))
        )
    return out


@pytest.mark.parametrize(
    "load",
    [
        pytest.param(
            lambda: RouteTable.from_pool(descriptor_pool.Default(), ["kitchen.v1.KitchenService"]), id="default-pool"
        ),
        pytest.param(lambda: RouteTable.from_descriptor_set(TESTING_SET), id="descriptor-set"),
        pytest.param(
            lambda: RouteTable.from_descriptor_set(TESTING_SET, ["kitchen.v1.KitchenService"]), id="set-filtered"
        ),
    ],
)
def test_kitchen_bindings(load: object) -> None:
    table = load()  # type: ignore[operator]
    assert summarize(table) == KITCHEN_BINDINGS
    assert len(table) >= len(KITCHEN_BINDINGS)
    streaming = [b for b in table.bindings if b.method.server_streaming and b.method.full_name.startswith("kitchen.")]
    assert [b.method.grpc_path for b in streaming] == ["/kitchen.v1.KitchenService/WatchThings"]
    indexes = {(b.method.descriptor.name, b.index) for b in table.bindings}
    assert ("GetThing", 1) in indexes


def test_descriptor_set_helpers() -> None:
    assert "kitchen.v1.KitchenService" in services_in(TESTING_SET)
    pool = load_descriptor_set(TESTING_SET)
    assert pool.FindMessageTypeByName("kitchen.v1.Thing").fields_by_name["labels"].is_repeated


def test_descriptor_set_missing_import() -> None:
    fds = descriptor_pb2.FileDescriptorSet.FromString(TESTING_SET)
    kitchen = next(f for f in fds.file if f.name == "kitchen/v1/kitchen.proto")
    only = descriptor_pb2.FileDescriptorSet(file=[kitchen])
    with pytest.raises(DescriptorError, match="missing imported files"):
        load_descriptor_set(only.SerializeToString())


def _pool_with(
    rules: dict[str, http_pb2.HttpRule], *, streaming: set[str] = frozenset()
) -> descriptor_pool.DescriptorPool:  # type: ignore[assignment]
    """A pool with one service ``t.Svc`` whose methods carry ``rules``; messages Req/Resp."""
    f = descriptor_pb2.FileDescriptorProto(name="t.proto", package="t", syntax="proto3")
    sub = f.message_type.add(name="Sub")
    sub.field.add(name="x", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING)
    req = f.message_type.add(name="Req")
    FD = descriptor_pb2.FieldDescriptorProto
    req.field.add(name="id", number=1, type=FD.TYPE_INT64, json_name="id")
    req.field.add(name="sub", number=2, type=FD.TYPE_MESSAGE, type_name=".t.Sub", json_name="sub")
    req.field.add(name="tags", number=3, type=FD.TYPE_STRING, label=FD.LABEL_REPEATED, json_name="tags")
    resp = f.message_type.add(name="Resp")
    resp.field.add(name="out", number=1, type=FD.TYPE_STRING, json_name="out")
    svc = f.service.add(name="Svc")
    for name, rule in rules.items():
        m = svc.method.add(name=name, input_type=".t.Req", output_type=".t.Resp", server_streaming=name in streaming)
        m.options.Extensions[annotations_pb2.http].CopyFrom(rule)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return pool


H = http_pb2.HttpRule

ERRORS = [
    ("invalid-template", {"Bad": H(get="/v1/{id")}, "t.Svc.Bad: invalid path template '/v1/{id'"),
    ("no-leading-slash", {"Bad": H(get="v1/x")}, "t.Svc.Bad: invalid path template 'v1/x': no leading /"),
    ("unknown-path-field", {"Bad": H(get="/v1/{nope}")}, "t.Svc.Bad: path variable 'nope': no field 'nope' in t.Req"),
    (
        "unknown-nested-field",
        {"Bad": H(get="/v1/{sub.nope}")},
        "t.Svc.Bad: path variable 'sub.nope': no field 'nope' in t.Sub",
    ),
    (
        "path-through-scalar",
        {"Bad": H(get="/v1/{id.x}")},
        "t.Svc.Bad: path variable 'id.x': 'id' is not a message field",
    ),
    ("path-to-message", {"Bad": H(get="/v1/{sub}")}, "t.Svc.Bad: path variable 'sub' must be a scalar field"),
    ("unknown-body", {"Bad": H(post="/v1/x", body="nope")}, "t.Svc.Bad: body field 'nope': no field 'nope' in t.Req"),
    (
        "unknown-response-body",
        {"Bad": H(get="/v1/x", response_body="nope")},
        "t.Svc.Bad: response_body 'nope': no field 'nope' in t.Resp",
    ),
    ("no-pattern", {"Bad": H(body="*")}, "t.Svc.Bad: http rule #0 has no pattern"),
    ("get-with-body", {"Bad": H(get="/v1/x", body="*")}, "t.Svc.Bad (GET '/v1/x'): a GET binding may not have a body"),
    (
        "delete-with-body",
        {"Bad": H(delete="/v1/x", body="*")},
        "t.Svc.Bad (DELETE '/v1/x'): a DELETE binding may not have a body unless allow_delete_body is set",
    ),
    (
        "custom-without-kind",
        {"Bad": H(custom=http_pb2.CustomHttpPattern(path="/v1/x"))},
        "t.Svc.Bad: custom http rule #0 has no kind",
    ),
    (
        "nested-additional-bindings",
        {"Bad": H(get="/v1/a", additional_bindings=[H(get="/v1/b", additional_bindings=[H(get="/v1/c")])])},
        "t.Svc.Bad: additional_bindings may not nest",
    ),
    (
        "bad-additional-binding",
        {"Bad": H(get="/v1/a", additional_bindings=[H(get="/v1/{x}")])},
        "t.Svc.Bad: path variable 'x'",
    ),
    (
        "conflict",
        {"One": H(get="/v1/things/{id}"), "Two": H(get="/v1/things/{tags}")},
        "GET /v1/things/{tags} (t.Svc.Two) conflicts with GET /v1/things/{id} (t.Svc.One)",
    ),
    (
        "conflict-within-method",
        {"One": H(get="/v1/a", additional_bindings=[H(get="/v1/a")])},
        "(t.Svc.One) conflicts with GET /v1/a (t.Svc.One)",
    ),
]


@pytest.mark.parametrize(("rules", "message"), [(r, m) for _, r, m in ERRORS], ids=[e[0] for e in ERRORS])
def test_start_up_errors(rules: dict[str, http_pb2.HttpRule], message: str) -> None:
    pool = _pool_with(rules)
    with pytest.raises(HttpRuleError) as info:
        RouteTable(bindings_for(pool, ["t.Svc"]))
    assert message in str(info.value)


def test_unknown_service() -> None:
    with pytest.raises(HttpRuleError, match=r"unknown service 'nope\.Svc'"):
        bindings_for(descriptor_pool.Default(), ["nope.Svc"])


def test_same_path_other_method_is_fine() -> None:
    pool = _pool_with(
        {"A": H(get="/v1/{id}"), "B": H(delete="/v1/{id}"), "C": H(get="/v1/{id}:verb"), "D": H(get="/v1/tags")}
    )
    assert len(RouteTable(bindings_for(pool, ["t.Svc"]))) == 4


def test_delete_body_when_allowed() -> None:
    pool = _pool_with({"Del": H(delete="/v1/{id}", body="sub")})
    (binding,) = bindings_for(pool, ["t.Svc"], RuleOptions(allow_delete_body=True))
    assert [f.name for f in binding.body or ()] == ["sub"]
    assert len(RouteTable.from_pool(pool, ["t.Svc"], GatewayOptions(allow_delete_body=True))) == 1


def test_unservable_bindings_are_marked_not_refused() -> None:
    pool = _pool_with({"Slash": H(get="/v1/x/")})
    (binding,) = bindings_for(pool, ["t.Svc"])
    assert binding.unservable == "a path template may not end with '/'"
    assert str(binding.template) == "/v1/x/"


def test_unservable_bindings_load_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """One binding the gateway cannot serve never takes the others down."""
    pool = _pool_with({"Slash": H(get="/v1/x/"), "Nested": H(get="/v1/n", response_body="out"), "Ok": H(get="/v1/ok")})
    table = RouteTable(bindings_for(pool, ["t.Svc"]))
    assert len(table) == 2  # /v1/ok and /v1/n; the trailing slash has no route
    assert "not serving GET /v1/x/ (t.Svc.Slash): a path template may not end with '/' (not routed)" in caplog.text
