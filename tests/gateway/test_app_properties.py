"""Property tests of the gateway application.

1. Requests built the way Google's REST clients build them (``google.api_core.rest_helpers.
   transcode_request`` over the kitchen protos' own http rules) reach the right method with exactly the
   message the client started from.
2. Random garbage - paths, methods, query strings, headers and bodies - never gets a 5xx.

Both use the real in-process backend with a recording servicer (it stores what it receives and answers
with an empty message of the right type), so nothing but the gateway decides the outcome.
"""

from __future__ import annotations

import asyncio
import string
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
from google.api_core import rest_helpers
from google.protobuf import descriptor_pool
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protogw.core.bindings import http_rule_of
from protogw.gateway.app import Gateway, GatewayOptions, RouteTable, create_app
from protogw.gateway.inprocess import InProcessBackend
from tests.gateway.kitchen_service import SERVICE
from tests.gen.kitchen.v1 import kitchen_pb2 as pb

POOL = descriptor_pool.Default()
KITCHEN = POOL.FindServiceByName(SERVICE)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class Recorder(grpc.GenericRpcHandler):
    """Answers every kitchen method with an empty response, remembering what it was called with."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Message]] = []

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Any:
        name = handler_call_details.method.rsplit("/", 1)[-1]
        method = KITCHEN.methods_by_name.get(name)
        if method is None:
            return None
        response_class = pb.MetadataEcho if name == "EchoMetadata" else None
        from google.protobuf.message_factory import GetMessageClass

        out = response_class or GetMessageClass(method.output_type)

        if method.server_streaming:

            async def stream(request: Message, context: Any) -> AsyncIterator[Message]:
                self.calls.append((name, request))
                if False:  # an empty stream
                    yield out()

            return grpc.unary_stream_rpc_method_handler(stream)

        async def unary(request: Message, context: Any) -> Message:
            self.calls.append((name, request))
            return out()

        return grpc.unary_unary_rpc_method_handler(unary)


def recording_app(options: GatewayOptions | None = None) -> tuple[Gateway, Recorder]:
    recorder = Recorder()
    backend = InProcessBackend()
    backend.add_generic_rpc_handlers((recorder,))
    return create_app(RouteTable.from_pool(POOL, [SERVICE], options), backend), recorder


def http_options(method_name: str) -> list[dict[str, str]]:
    rule = http_rule_of(KITCHEN.methods_by_name[method_name])
    assert rule is not None
    options = []
    for r in [rule, *rule.additional_bindings]:
        kind = r.WhichOneof("pattern")
        verb, uri = (r.custom.kind, r.custom.path) if kind == "custom" else (kind, getattr(r, kind))
        option = {"method": verb, "uri": uri}
        if r.body:
            option["body"] = r.body
        options.append(option)
    return options


# --- strategies for messages a REST client can express -------------------------------------------------

# Path text: unreserved and reserved ASCII (all but "/", "?" and "#") plus non-ASCII letters. Google's
# clients percent-encode ":" and "@" in resource names; http.proto has the server decode every escape but
# %2F in multi-segment values, so these arrive intact in {name=projects/*/things/*} too.
# "." and ".." are dot-segments: URL normalisation removes them, and google-api-core refuses them as values.
SEGMENT = st.text(
    alphabet=st.sampled_from(string.ascii_letters + string.digits + "-._~ é✓中:@!$&'()*+,;=%"), min_size=1, max_size=8
).filter(lambda s: s not in (".", ".."))
TEXT = st.text(max_size=12)
INT32 = st.integers(-(2**31), 2**31 - 1)
INT64 = st.integers(-(2**63), 2**63 - 1)
UINT32 = st.integers(0, 2**32 - 1)
UINT64 = st.integers(0, 2**64 - 1)
DOUBLE = st.floats(allow_nan=False)
# JSON bodies are the codec's business, and json_format (its reference) rejects its own text for
# FLT_MAX ("3.4028235e+38"); keep body floats inside that range.
BODY_FLOAT = st.floats(min_value=-3.3999999521443642e38, max_value=3.3999999521443642e38, width=32)
COLOR = st.sampled_from([0, 1, 2, 3])


@st.composite
def nested(draw: st.DrawFn, depth: int = 2) -> pb.Nested:
    msg = pb.Nested(
        name=draw(TEXT),
        amount=draw(INT64),
        kind=draw(st.sampled_from([0, 1, 2])),
        tags=draw(st.lists(TEXT, max_size=3)),
    )
    if depth and draw(st.booleans()):
        msg.child.CopyFrom(draw(nested(depth - 1)))
    return msg


@st.composite
def everything_for_query(draw: st.DrawFn) -> pb.Everything:
    """Fields the query string can carry: scalars, repeated scalars, nested singular messages, oneofs."""
    msg = pb.Everything(
        double_value=draw(DOUBLE),
        float_value=draw(BODY_FLOAT),
        int32_value=draw(INT32),
        int64_value=draw(INT64),
        uint32_value=draw(UINT32),
        uint64_value=draw(UINT64),
        sint64_value=draw(INT64),
        fixed64_value=draw(UINT64),
        bool_value=draw(st.booleans()),
        string_value=draw(TEXT),
        bytes_value=draw(st.binary(max_size=8)),
        color=draw(COLOR),
        repeated_int64=draw(st.lists(INT64, max_size=3)),
        repeated_string=draw(st.lists(TEXT, max_size=3)),
        repeated_color=draw(st.lists(COLOR, max_size=3)),
        repeated_bool=draw(st.lists(st.booleans(), max_size=3)),
        renamed=draw(TEXT),
    )
    if draw(st.booleans()):
        msg.nested.CopyFrom(draw(nested()))
    choice = draw(st.sampled_from(["none", "s", "i", "n", "c"]))
    if choice == "s":
        msg.choice_string = draw(TEXT)
    elif choice == "i":
        msg.choice_int64 = draw(INT64)
    elif choice == "n":
        msg.choice_nested.CopyFrom(draw(nested(0)))
    elif choice == "c":
        msg.choice_color = draw(COLOR)
    if draw(st.booleans()):
        msg.optional_int32 = draw(INT32)
    return msg


@st.composite
def everything_for_body(draw: st.DrawFn) -> pb.Everything:
    """Everything the JSON body can carry on top: maps, repeated messages and well-known types."""
    msg = draw(everything_for_query())
    msg.string_map.update(draw(st.dictionaries(TEXT, TEXT, max_size=3)))
    msg.int64_map.update(draw(st.dictionaries(INT64, INT64, max_size=3)))
    msg.bool_map.update(draw(st.dictionaries(st.booleans(), TEXT, max_size=2)))
    for k, v in draw(st.dictionaries(INT32, nested(0), max_size=2)).items():
        msg.int_map[k].CopyFrom(v)
    msg.repeated_nested.extend(draw(st.lists(nested(1), max_size=2)))
    msg.timestamp.FromSeconds(draw(st.integers(0, 253402300799)))
    msg.duration.FromMilliseconds(draw(st.integers(-(10**12), 10**12)))
    msg.wrapped_int64.value = draw(INT64)
    msg.struct_value.update({"k": draw(TEXT), "n": draw(st.integers(-1000, 1000))})
    return msg


@st.composite
def thing(draw: st.DrawFn) -> pb.Thing:
    t = pb.Thing(
        id=draw(INT64), shelf=draw(TEXT), display_name=draw(TEXT), labels=draw(st.dictionaries(TEXT, TEXT, max_size=3))
    )
    if draw(st.booleans()):
        t.payload.CopyFrom(draw(everything_for_query()))
    return t


REQUESTS = st.one_of(
    st.builds(lambda i, s: ("GetThing", pb.GetThingRequest(id=i, shelf=s)), INT64, TEXT),
    st.builds(
        lambda p, t: ("GetThingByName", pb.GetThingByNameRequest(name=f"projects/{p}/things/{t}")), SEGMENT, SEGMENT
    ),
    st.builds(
        lambda n, tok, f, c: ("ListThings", pb.ListThingsRequest(page_size=n, page_token=tok, filter=f, colors=c)),
        INT32,
        TEXT,
        everything_for_query(),
        st.lists(COLOR, max_size=3),
    ),
    st.builds(lambda t, r: ("CreateThing", pb.CreateThingRequest(thing=t, request_id=r)), thing(), TEXT),
    st.builds(
        lambda s, t, v: ("CreateThingOnShelf", pb.CreateThingOnShelfRequest(shelf=s, thing=t, validate_only=v)),
        SEGMENT,
        thing(),
        st.booleans(),
    ),
    st.builds(
        lambda t, m: ("UpdateThing", pb.UpdateThingRequest(thing=t, update_mask={"paths": [m]})),
        thing(),
        st.sampled_from(["labels", "shelf", "name", "payload"]),
    ),
    st.builds(lambda i, f: ("DeleteThing", pb.DeleteThingRequest(id=i, force=f)), INT64, st.booleans()),
    st.builds(lambda i, r: ("ArchiveThing", pb.ArchiveThingRequest(id=i, reason=r)), INT64, TEXT),
    st.builds(lambda i: ("LockThing", pb.GetThingRequest(id=i)), INT64),
    st.builds(
        lambda p: ("GetFile", pb.GetFileRequest(path=p)), st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
    ),
    st.builds(
        lambda p: ("GetFileContent", pb.GetFileRequest(path=p)), st.lists(SEGMENT, min_size=1, max_size=4).map("/".join)
    ),
    st.builds(lambda c: ("WatchThings", pb.WatchThingsRequest(count=c)), INT32),
    st.builds(lambda e: ("EchoQuery", e), everything_for_query()),
    st.builds(lambda e: ("EchoBody", e), everything_for_body()),
    st.builds(
        lambda s, i, b, c, u, d, n, r: (
            "EchoPath",
            pb.EchoPathRequest(s=s, i64=i, b=b, color=c, u32=u, d=d, nested=pb.Nested(name=n), rest=r),
        ),
        SEGMENT,
        INT64,
        st.booleans(),
        COLOR,
        UINT32,
        DOUBLE,
        SEGMENT,
        everything_for_query(),
    ),
    st.builds(lambda c, m: ("Fail", pb.FailRequest(code=c, message=m)), INT32, TEXT),
)


def without_empty_messages(message: Message) -> Message:
    """A copy with empty singular sub-messages cleared: a query string cannot say "present but empty"."""
    copy = type(message)()
    copy.CopyFrom(message)
    _prune(copy)
    return copy


def _prune(message: Message) -> None:
    for fd, value in message.ListFields():
        if fd.message_type is None or fd.message_type.GetOptions().map_entry:
            continue
        if fd.is_repeated:
            for item in value:
                _prune(item)
            continue
        _prune(value)
        if value.ByteSize() == 0:
            message.ClearField(fd.name)


APP, RECORDER = recording_app()
GARBAGE_APP, _ = recording_app(GatewayOptions(method_not_allowed=405))


@SETTINGS
@given(request=REQUESTS, numeric_enums=st.booleans())
def test_transcoded_requests_reach_the_right_method(request: tuple[str, Message], numeric_enums: bool) -> None:
    name, message = request
    app, recorder = APP, RECORDER
    recorder.calls.clear()
    transcoded, body, query = rest_helpers.transcode_request(
        http_options(name), message, rest_numeric_enums=numeric_enums
    )
    params = rest_helpers.flatten_query_params(query, strict=True)

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(
                transcoded["method"].upper(), transcoded["uri"], params=params, content=body.encode() if body else None
            )

    response = asyncio.run(send())
    assert response.status_code == 200, (transcoded, params, body, response.text)
    assert len(recorder.calls) == 1
    called, received = recorder.calls[0]
    assert called == name
    if body is None or name == "CreateThing":
        # Everything (or, for CreateThing, request_id and the thing's presence) went through the query.
        received, message = without_empty_messages(received), without_empty_messages(message)
    assert received == message, f"{received}\n!=\n{message}"


GARBAGE_PATHS = st.one_of(
    st.lists(
        st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters="/?#"), max_size=6),
        max_size=6,
    ).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(
        [
            "/v1/things/",
            "/v1/echo/",
            "/v1/files/",
            "/v1/content/",
            "/v1/things:watch/",
            "/v1/shelves/",
            "/v1/",
            "/v1/things/1",
        ]
    ).flatmap(
        lambda prefix: st.text(
            alphabet=(string.ascii_letters + string.digits + string.punctuation).replace("#", "").replace("?", ""),
            max_size=20,
        ).map(lambda t: prefix + t)
    ),
)
FIELD_KEYS = [f.json_name for f in pb.Everything.DESCRIPTOR.fields] + [
    "nested.name",
    "stringMap[x]",
    "intMap[1]",
    "pretty",
    "x.y.z",
    "a[",
    "[]",
]
GARBAGE_QUERY = st.lists(
    st.tuples(st.one_of(st.sampled_from(FIELD_KEYS), st.text(max_size=6)), st.text(max_size=10)), max_size=6
)
GARBAGE_BODY = st.one_of(
    st.binary(max_size=40),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.sampled_from(FIELD_KEYS) | st.text(max_size=4), inner, max_size=4)
        ),
        max_leaves=10,
    ).map(lambda v: __import__("json").dumps(v).encode()),
)
GARBAGE_HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "grpc-timeout",
            "grpc-metadata-x-bin",
            "grpc-metadata-ok",
            "x-request-id",
            "authorization",
            "accept",
            "te",
            "content-length-x",
        ]
    ),
    st.text(alphabet=string.printable.strip(), max_size=12),
    max_size=3,
)


@SETTINGS
@given(
    method=st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "LOCK", "OPTIONS"]),
    path=GARBAGE_PATHS,
    query=GARBAGE_QUERY,
    body=GARBAGE_BODY,
    headers=GARBAGE_HEADERS,
)
def test_garbage_never_gets_a_5xx(
    method: str, path: str, query: list[tuple[str, str]], body: bytes, headers: dict[str, str]
) -> None:
    app = GARBAGE_APP

    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.request(method, "http://t" + path, params=query, content=body, headers=headers)

    response = asyncio.run(send())
    assert response.status_code < 500, (method, path, query, body, headers, response.text)
    if response.status_code >= 400:
        assert set(response.json()) >= {"code", "message"}
