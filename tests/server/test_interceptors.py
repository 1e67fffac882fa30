"""The interceptor pipeline: the auth matrix over every RPC of the service, request ids, error mapping."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest

from protogw.gen.determined.api.v1 import auth_pb2
from protogw.server.interceptors import REQUEST_ID_KEY
from protogw.server.services import SERVICE
from tests.server.harness import Metadata, Running, bearer

PUBLIC = {"Login", "GetMaster"}
METHODS = [m.name for m in SERVICE.methods]


async def invoke(channel: grpc.aio.Channel, path: str, streaming: bool, metadata: Metadata, request: Any = b"") -> None:
    """Make one call, reading a stream to its end; raises AioRpcError on a non-OK status."""
    if streaming:
        async for _ in channel.unary_stream(path)(request, metadata=metadata, timeout=5):
            pass
    else:
        await channel.unary_unary(path)(request, metadata=metadata, timeout=5)


async def status(
    channel: grpc.aio.Channel, path: str, streaming: bool, metadata: Metadata
) -> tuple[grpc.StatusCode, str]:
    """The final status of a call with an empty request (raw bytes: an empty message encodes as b"")."""
    try:
        await invoke(channel, path, streaming, metadata)
    except grpc.aio.AioRpcError as exc:
        return exc.code(), exc.details() or ""
    return grpc.StatusCode.OK, ""


async def call(api: Running, method_name: str, metadata: Metadata) -> tuple[grpc.StatusCode, str]:
    method = SERVICE.methods_by_name[method_name]
    # follow=False and limit=0 make MasterLogs end after the buffered records.
    return await status(api.channel, f"/{SERVICE.full_name}/{method.name}", method.server_streaming, metadata)


@pytest.fixture(scope="module")
async def credentials(api: Running, admin_md: Metadata) -> dict[str, Metadata]:
    """Every kind of credential the matrix tries, by name."""
    logged_out = await api.login("determined")
    await api.stub.Logout(auth_pb2.LogoutRequest(), metadata=logged_out)
    inactive_id, inactive_name = await api.new_user(admin_md)
    inactive = await api.login(inactive_name)
    await api.deactivate(admin_md, inactive_id)
    return {
        "none": (),
        "garbage": bearer("not-a-token"),
        "no bearer prefix": (("authorization", "Token abc"),),
        "empty bearer": (("authorization", "Bearer "),),
        "logged out": logged_out,
        "inactive user": inactive,
    }


UNAUTH = grpc.StatusCode.UNAUTHENTICATED
# credential -> the status every private method must answer with
EXPECTED = {
    "none": UNAUTH,
    "garbage": UNAUTH,
    "no bearer prefix": UNAUTH,
    "empty bearer": UNAUTH,
    "logged out": UNAUTH,
    "inactive user": grpc.StatusCode.PERMISSION_DENIED,
}
MESSAGES = {"none": "token missing", "inactive user": "user does not have permission"}


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("credential", sorted(EXPECTED))
async def test_auth_matrix(api: Running, credentials: dict[str, Metadata], method: str, credential: str) -> None:
    code, details = await call(api, method, credentials[credential])
    if method in PUBLIC:
        assert code not in (UNAUTH, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INTERNAL)
        return
    assert (code, details) == (EXPECTED[credential], MESSAGES.get(credential, "invalid credentials"))


@pytest.mark.parametrize("method", METHODS)
async def test_valid_token_passes_auth(api: Running, method: str) -> None:
    # With a valid token every RPC gets past auth: empty requests may still be refused (400/404) but
    # never as unauthenticated and never with an internal error. A fresh token each time, since one
    # of the methods is Logout.
    code, details = await call(api, method, await api.login("determined"))
    assert code not in (UNAUTH, grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN), (
        details
    )


# (request id sent, whether it must come back unchanged)
REQUEST_IDS = [
    ("abc-123", True),
    ("trace.id:42_x", True),
    ("bad id with spaces", False),
    ("x" * 200, False),
    (None, False),
]


@pytest.mark.parametrize(("given", "kept"), REQUEST_IDS)
@pytest.mark.parametrize("fails", [False, True])
async def test_request_id(api: Running, given: str | None, kept: bool, fails: bool) -> None:
    md = () if given is None else ((REQUEST_ID_KEY, given),)
    # GetMaster succeeds without a token; CurrentUser fails without one. Both must carry the id.
    path = f"/{SERVICE.full_name}/{'CurrentUser' if fails else 'GetMaster'}"
    unary: Any = api.channel.unary_unary(path)
    call_ = unary(b"", metadata=md)
    code = grpc.StatusCode.OK
    try:
        await call_
    except grpc.aio.AioRpcError as exc:
        code = exc.code()
    assert (code is grpc.StatusCode.UNAUTHENTICATED) is fails
    returned = dict(await call_.trailing_metadata())[REQUEST_ID_KEY]
    assert (returned == given) is kept
    assert 1 <= len(returned) <= 128


class Boom(grpc.GenericRpcHandler):
    """A service that is not part of Determined: one method that fails with an unexpected error."""

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        if handler_call_details.method == "/test.Boom/Unary":

            async def unary(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> bytes:
                raise ValueError("secret internals /etc/passwd")

            return grpc.unary_unary_rpc_method_handler(unary)
        if handler_call_details.method == "/test.Boom/Stream":

            async def stream(request: bytes, context: grpc.aio.ServicerContext[Any, Any]) -> AsyncIterator[bytes]:
                yield b"first"
                raise KeyError("secret internals")

            return grpc.unary_stream_rpc_method_handler(stream)
        if handler_call_details.method == "/test.Boom/ClientStream":

            async def client_stream(
                requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
            ) -> bytes:
                async for _ in requests:
                    pass
                raise ValueError("secret internals")

            return grpc.stream_unary_rpc_method_handler(client_stream)
        if handler_call_details.method == "/test.Boom/Bidi":

            async def bidi(
                requests: AsyncIterator[bytes], context: grpc.aio.ServicerContext[Any, Any]
            ) -> AsyncIterator[bytes]:
                async for request in requests:
                    yield request
                raise KeyError("secret internals")

            return grpc.stream_stream_rpc_method_handler(bidi)
        return None


@pytest.fixture(scope="module")
async def boom(api: Running) -> AsyncIterator[grpc.aio.Channel]:
    """A second server with the same interceptor list and the Boom service."""
    server = grpc.aio.server(interceptors=api.service.interceptors)
    server.add_generic_rpc_handlers((Boom(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield channel
    await server.stop(None)


async def test_unknown_services_require_a_token(boom: grpc.aio.Channel) -> None:
    assert await status(boom, "/test.Boom/Unary", False, ()) == (UNAUTH, "token missing")


@pytest.mark.parametrize("path", ["/test.Boom/Unary", "/test.Boom/Stream"])
async def test_unexpected_errors_become_generic_internal(
    boom: grpc.aio.Channel, user_md: Metadata, path: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="protogw.server.errors")
    code, details = await status(boom, path, path.endswith("Stream"), user_md)
    assert code == grpc.StatusCode.INTERNAL
    assert details.startswith("internal error (request id ")
    assert "secret" not in details
    logged = [r for r in caplog.records if r.name == "protogw.server.errors"]
    assert logged
    assert logged[-1].exc_info is not None


async def _any_kind(
    channel: grpc.aio.Channel, kind: str, metadata: Metadata
) -> tuple[grpc.StatusCode, str, str | None]:
    """Call ``/test.Boom/<kind>`` (with two request messages where it takes a stream and a token is
    given); the status, its details and the request id the call ended with."""
    path = f"/test.Boom/{kind}"
    # Without a token the server ends the call before reading anything; requests still being written
    # then race with that end, and the client may report its failed write (INTERNAL) instead.
    requests = [b"a", b"b"] if metadata else []

    async def source() -> AsyncIterator[bytes]:
        for request in requests:
            yield request

    call: Any
    if kind == "Unary":
        call = channel.unary_unary(path)(b"", metadata=metadata, timeout=5)
    elif kind == "Stream":
        call = channel.unary_stream(path)(b"", metadata=metadata, timeout=5)
    elif kind == "ClientStream":
        call = channel.stream_unary(path)(source(), metadata=metadata, timeout=5)
    else:
        call = channel.stream_stream(path)(source(), metadata=metadata, timeout=5)
    try:
        if kind in ("Stream", "Bidi"):
            async for _ in call:
                pass
        else:
            await call
    except grpc.aio.AioRpcError as exc:
        trailing = dict(exc.trailing_metadata() or ())
        return exc.code(), exc.details() or "", trailing.get(REQUEST_ID_KEY)
    raise AssertionError(f"{kind} should fail")


@pytest.mark.parametrize("kind", ["Unary", "Stream", "ClientStream", "Bidi"])
@pytest.mark.parametrize("with_token", [False, True], ids=["no-token", "token"])
async def test_every_handler_kind_goes_through_the_pipeline(
    boom: grpc.aio.Channel, user_md: Metadata, kind: str, with_token: bool
) -> None:
    """Request-streaming handlers are wrapped like the rest: authenticated, errors mapped, request id given."""
    code, details, request_id = await _any_kind(boom, kind, user_md if with_token else ())
    if with_token:
        assert code == grpc.StatusCode.INTERNAL
        assert details.startswith("internal error (request id ")
    else:
        assert (code, details) == (UNAUTH, "token missing")
    assert request_id
