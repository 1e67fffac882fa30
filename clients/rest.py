"""REST transport: client-side transcoding of any method with a ``google.api.http`` rule, over an
injected ``httpx.AsyncClient``.

:func:`transcode` is the pure part. Given a request message and the method's (first) binding it
returns the HTTP verb, the path with its variables filled in and percent-encoded, the query
parameters and the JSON body, following the rule the way grpc-gateway reads it on the other side:

* path variables take their fields' values (``{experiment.id}`` reads a nested field);
* ``body: "*"`` sends every field not in the path as the body; ``body: "field"`` sends that field;
  no ``body`` sends nothing;
* every remaining *set* field becomes a query parameter under its dotted JSON name
  (``experimentIdFilter.gt=3``), repeated fields as repeated keys, enums by name, bools as
  ``true``/``false``, wrapper and other well-known types in their JSON string form.

Example, for ``GetExperiments`` (``get: "/api/v1/experiments"``) with ``archived=true, limit=1,
states=[STATE_ACTIVE, STATE_PAUSED]``::

    HttpCall(verb="GET", path="/api/v1/experiments",
             query=[("limit", "1"), ("archived", "true"), ("states", "STATE_ACTIVE"), ("states", "STATE_PAUSED")],
             body=NO_BODY)

Responses are parsed back with the gateway's codec, honouring ``response_body``; a server stream is
read as newline-delimited JSON, one ``{"result": ...}`` per message and ``{"error": ...}`` on failure.
"""

from __future__ import annotations

import functools
import urllib.parse
from collections.abc import AsyncGenerator, AsyncIterator, Iterable
from dataclasses import dataclass
from typing import Any, Final

import httpx
from google.protobuf.descriptor import Descriptor, FieldDescriptor, MethodDescriptor
from google.protobuf.message import Message

from protogw.clients.errors import (
    ApiError,
    DeadlineExceeded,
    ErrorBodyReader,
    TransportError,
    from_http_response,
    read_status_body,
)
from protogw.clients.transport import Metadata
from protogw.core.bindings import Binding, FieldPath, bindings_for
from protogw.core.codec import CodecError, JsonOptions, codec_for, dumps, loads
from protogw.core.template import DeepWildcard, Literal, Variable, Wildcard
from protogw.core.wkt import SCALAR_MESSAGES

__all__ = ["NO_BODY", "HttpCall", "RestTransport", "TranscodeError", "binding_for", "transcode"]

# Only fields the caller set go to the query string and a "*" body, as grpc-gateway's own clients do;
# zero values would be redundant and, for wrappers, would change meaning.
_SPARSE: Final = JsonOptions(emit_unpopulated=False, unset_message_as_null=False)
# Path variables and a named body field are sent even when they hold the zero value.
_FULL: Final = JsonOptions(emit_unpopulated=True, unset_message_as_null=False)
# Responses: grpc-gateway's defaults, unknown fields ignored (a newer server may add some).
_RESPONSE: Final = JsonOptions()


class _NoBody:
    """The marker for "send no body" (``None`` would be ambiguous with a JSON ``null``)."""

    def __repr__(self) -> str:
        return "NO_BODY"


NO_BODY: Final = _NoBody()


class TranscodeError(ValueError):
    """The request cannot be written as the method's HTTP call (e.g. an empty path variable)."""


@dataclass(frozen=True, slots=True)
class HttpCall:
    """One transcoded request. ``path`` is already percent-encoded; ``body`` is a JSON value or
    :data:`NO_BODY`."""

    verb: str
    path: str
    query: list[tuple[str, str]]
    body: Any


@functools.cache
def binding_for(method: MethodDescriptor) -> Binding:
    """The method's primary HTTP binding (its ``additional_bindings`` are for servers to accept)."""
    service = method.containing_service
    for binding in bindings_for(service.file.pool, [service.full_name]):
        if binding.method.descriptor.full_name == method.full_name and binding.index == 0:
            return binding
    raise TranscodeError(f"{method.full_name} has no google.api.http rule")


def _json_name(fd: FieldDescriptor) -> str:
    return str(fd.json_name)


def _lookup(obj: Any, path: FieldPath) -> Any:
    for fd in path:
        if not isinstance(obj, dict):
            return None
        obj = obj.get(_json_name(fd))
    return obj


def _remove(obj: Any, path: FieldPath) -> None:
    for fd in path[:-1]:
        if not isinstance(obj, dict):
            return
        obj = obj.get(_json_name(fd))
    if isinstance(obj, dict):
        obj.pop(_json_name(path[-1]), None)


def _text(value: Any) -> str:
    """A JSON scalar as it appears in a path or query value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return dumps(value).decode()


# RFC 3986 sub-delims plus ":" and "@": characters a path segment may hold as they are.
_SEGMENT_SAFE: Final = "!$&'()*+,;=:@"
# Reserved characters a path cannot carry as they are, and which grpc-gateway (default unescaping mode)
# leaves escaped in a multi-segment variable, so the service would see "%3F" instead of "?".
_UNSENDABLE_IN_MULTI: Final = frozenset("?#[]")


def _dots(segment: str) -> str:
    # "." and ".." segments would be removed by URL normalisation (RFC 3986 dot segments) on the way;
    # escaped, they arrive and are unescaped back by the server.
    return segment.replace(".", "%2E") if segment in (".", "..") else segment


def _quote_single(text: str) -> str:
    # A one-segment variable is fully unescaped by the server, so everything but unreserved characters
    # is escaped, "/" included: a value can never spill into the next segment.
    return _dots(urllib.parse.quote(text, safe=""))


def _quote_multi(parts: list[str], text: str, dotted: str) -> str:
    # Multi-segment variables keep reserved characters escaped on the server side, so they must go
    # literally: only what a path segment cannot hold is escaped.
    if _UNSENDABLE_IN_MULTI & set(text):
        raise TranscodeError(f"path variable {dotted!r}={text!r}: '?', '#', '[' and ']' cannot be sent in it")
    return "/".join(_dots(urllib.parse.quote(part, safe=_SEGMENT_SAFE)) for part in parts)


def _expand_variable(variable: Variable, text: str, dotted: str) -> str:
    pattern = variable.segments
    if pattern == (Wildcard(),):
        if not text:
            raise TranscodeError(f"path variable {dotted!r} is empty")
        return _quote_single(text)
    parts = text.split("/")
    deep = next((i for i, atom in enumerate(pattern) if isinstance(atom, DeepWildcard)), None)
    # "**" takes any number of segments (grammar: only as the last atom); the atoms before it are
    # matched one to one.
    fixed = pattern if deep is None else pattern[:deep]
    if (len(parts) != len(fixed) if deep is None else len(parts) < len(fixed)) or not all(
        (part == atom.value) if isinstance(atom, Literal) else bool(part)
        for part, atom in zip(parts, fixed, strict=False)
    ):
        raise TranscodeError(f"path variable {dotted!r}={text!r} does not match {variable}")
    return _quote_multi(parts, text, dotted)


def _flatten(message: Descriptor, prefix: str, value: Any, out: list[tuple[str, str]]) -> None:
    """Append the query parameters for the JSON object ``value`` of type ``message``."""
    by_json = {fd.json_name: fd for fd in message.fields}
    for key, item in value.items():
        fd = by_json.get(key)
        if fd is None or item is None:
            continue
        name = f"{prefix}.{key}" if prefix else key
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            # grpc-gateway reads map entries as ``field[key]=value``.
            value_fd = mt.fields_by_name["value"]
            if value_fd.message_type is not None and value_fd.message_type.full_name not in SCALAR_MESSAGES:
                raise TranscodeError(f"{name!r}: a map of messages cannot go in a query string")
            for map_key, map_value in item.items():
                out.append((f"{name}[{map_key}]", _text(map_value)))
        elif mt is not None and mt.full_name not in SCALAR_MESSAGES:
            if fd.is_repeated:
                raise TranscodeError(f"{name!r}: repeated messages cannot go in a query string")
            _flatten(mt, name, item, out)
        elif isinstance(item, list) and fd.is_repeated:
            for element in item:
                if isinstance(element, (dict, list)):
                    raise TranscodeError(f"{name!r}: this value cannot go in a query string")
                out.append((name, _text(element)))
        elif isinstance(item, (dict, list)):
            # Struct, Value holding an object or list, ListValue, Any: no query string form.
            raise TranscodeError(f"{name!r}: {mt.full_name if mt else fd.full_name} cannot go in a query string")
        else:
            out.append((name, _text(item)))


def transcode(binding: Binding, request: Message) -> HttpCall:
    """Write ``request`` as the HTTP call ``binding`` describes (see the module docstring)."""
    descriptor = binding.method.descriptor.input_type
    if request.DESCRIPTOR.full_name != descriptor.full_name:
        raise TranscodeError(
            f"{binding.method.full_name} takes {descriptor.full_name}, not {request.DESCRIPTOR.full_name}"
        )
    try:
        full = codec_for(request.DESCRIPTOR, _FULL).encode(request)
        sparse = codec_for(request.DESCRIPTOR, _SPARSE).encode(request)
    except CodecError as exc:
        raise TranscodeError(str(exc)) from exc
    variables = [seg for seg in binding.template.segments if isinstance(seg, Variable)]
    values: dict[tuple[str, ...], str] = {}
    for variable, path in zip(variables, binding.path_fields, strict=True):
        value = _lookup(full, path)
        dotted = ".".join(variable.field_path)
        if value is None or isinstance(value, (dict, list)):
            raise TranscodeError(f"path variable {dotted!r} is not set")
        values[variable.field_path] = _expand_variable(variable, _text(value), dotted)
        _remove(sparse, path)
    segments: list[str] = []
    for seg in binding.template.segments:
        if isinstance(seg, Variable):
            segments.append(values[seg.field_path])
        elif isinstance(seg, Literal):
            segments.append(seg.value)
        else:
            raise TranscodeError(f"{binding.describe()}: a wildcard outside a variable cannot be filled in")
    path_text = "/" + "/".join(segments) + (f":{binding.template.verb}" if binding.template.verb else "")

    body: Any = NO_BODY
    rest: Any = sparse
    if binding.body == ():
        body, rest = sparse, {}
    elif binding.body is not None:
        # Only what the caller set, as for "*": with a PATCH the server may infer the update mask from
        # the keys present. A scalar body field set to its zero value is still sent (it is the body).
        body = _lookup(sparse, binding.body)
        if body is None:
            body = _lookup(full, binding.body)
        if body is None:
            body = [] if binding.body[-1].is_repeated else {}
        # The path may have used part of the body field (``{experiment.id}`` with ``body: experiment``):
        # send the body without what the path already carries, as the server merges both.
        body = _without_path_fields(body, binding)
        _remove(sparse, binding.body)
    query: list[tuple[str, str]] = []
    _flatten(descriptor, "", rest, query)
    return HttpCall(binding.http_method, path_text, query, body)


def _without_path_fields(body: Any, binding: Binding) -> Any:
    assert binding.body is not None
    depth = len(binding.body)
    for path in binding.path_fields:
        inside = len(path) > depth and [fd.full_name for fd in path[:depth]] == [fd.full_name for fd in binding.body]
        if inside and isinstance(body, dict):
            body = dict(body)
            _remove(body, path[depth:])
    return body


_VALUE = "google.protobuf.Value"
# Types whose JSON is free-form: nothing inside them is a field of ours to clean.
_OPAQUE = frozenset({_VALUE, "google.protobuf.Struct", "google.protobuf.ListValue", "google.protobuf.Any"})


@functools.cache
def _reaches_value(message: Descriptor) -> bool:
    """Whether a ``google.protobuf.Value`` field sits anywhere below ``message`` (cycles count as no)."""
    seen: set[str] = set()
    pending = [message]
    while pending:
        current = pending.pop()
        if current.full_name in seen:
            continue
        seen.add(current.full_name)
        for fd in current.fields:
            mt = fd.message_type
            if mt is None:
                continue
            if mt.full_name == _VALUE:
                return True
            if mt.full_name not in _OPAQUE:
                pending.append(mt)
    return False


def _drop_unset_values(message: Descriptor, obj: Any) -> None:
    """Remove ``"field": null`` for ``Value`` fields, in place.

    A server that emits unset message fields writes ``null`` for them; for a ``Value`` field that text
    would parse as a *set* ``null_value``, so the message that came back would differ from the one the
    server sent. Treating it as unset is the reading that matches the gRPC answer.
    """
    if not isinstance(obj, dict) or not _reaches_value(message):
        return
    for fd in message.fields:
        mt = fd.message_type
        if mt is None or fd.json_name not in obj:
            continue
        item = obj[fd.json_name]
        if mt.full_name == _VALUE and not fd.is_repeated:
            if item is None:
                del obj[fd.json_name]
        elif mt.full_name in _OPAQUE:
            continue
        elif mt.GetOptions().map_entry:
            value_type = mt.fields_by_name["value"].message_type
            if value_type is not None and isinstance(item, dict):
                for entry in item.values():
                    _drop_unset_values(value_type, entry)
        elif isinstance(item, list):
            for entry in item:
                _drop_unset_values(mt, entry)
        else:
            _drop_unset_values(mt, item)


def decode_response(binding: Binding, value: Any) -> Message:
    """Parse a JSON response value into the method's response message (``response_body`` honoured)."""
    for fd in reversed(binding.response_body):
        value = {_json_name(fd): value}
    _drop_unset_values(binding.method.descriptor.output_type, value)
    try:
        return codec_for(binding.method.descriptor.output_type, _RESPONSE).decode(value)
    except CodecError as exc:
        raise TransportError(f"{binding.method.full_name}: unreadable response: {exc}") from exc


def _headers(metadata: Metadata, deadline: float | None) -> list[tuple[str, str]]:
    headers = [("accept", "application/json")]
    for key, value in metadata:
        key = key.lower()
        # grpc-gateway forwards Authorization as metadata of the same name and any other metadata
        # through the Grpc-Metadata- prefix.
        headers.append((key, value) if key == "authorization" else (f"grpc-metadata-{key}", value))
    if deadline is not None:
        # Whole milliseconds, at least one: the server turns this into the backend call's deadline.
        headers.append(("grpc-timeout", f"{max(1, int(deadline * 1000))}m"))
    return headers


def _error_from(response: httpx.Response, content: bytes, read: ErrorBodyReader, *, stream: bool = False) -> ApiError:
    try:
        body: object = loads(content) if content else None
    except CodecError:
        body = content.decode(errors="replace").strip() or None
    if stream and isinstance(body, dict) and isinstance(body.get("error"), dict) and "code" not in body:
        # A stream that fails before its first message: grpc-gateway sends the status as one
        # ``{"error": status}`` line under the error's HTTP status.
        body = body["error"]
    if isinstance(body, str):
        return TransportError(f"HTTP {response.status_code}: {body}", http_status=response.status_code)
    return from_http_response(response.status_code, body, reason=response.reason_phrase, read=read)


class RestTransport:
    """Calls any RPC that has a ``google.api.http`` rule, over HTTP/JSON.

    Pass ``client`` to share an ``httpx.AsyncClient`` (its ``base_url`` and transport are used, and it
    is never closed here), or ``base_url`` to have one created and owned by the transport.
    """

    def __init__(
        self,
        client: httpx.AsyncClient | None = None,
        *,
        base_url: str | None = None,
        error_body: ErrorBodyReader = read_status_body,
    ) -> None:
        if client is None and base_url is None:
            raise ValueError("pass an httpx.AsyncClient or a base_url")
        self._read_error = error_body
        self._owned = client is None
        self._client = client if client is not None else httpx.AsyncClient(base_url=str(base_url))

    def _request(
        self, method: MethodDescriptor, request: Message, metadata: Metadata, deadline: float | None
    ) -> tuple[Binding, httpx.Request]:
        binding = binding_for(method)
        call = transcode(binding, request)
        content = None if call.body is NO_BODY else dumps(call.body)
        headers = _headers(metadata, deadline)
        if content is not None:
            headers.append(("content-type", "application/json"))
        extensions = {} if deadline is None else {"timeout": httpx.Timeout(deadline).as_dict()}
        params: list[tuple[str, str | int | float | bool | None]] = list(call.query)
        http_request = self._client.build_request(
            call.verb, call.path, params=params, content=content, headers=headers, extensions=extensions
        )
        return binding, http_request

    async def unary(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> Message:
        """Make the call; an error status raises the matching :class:`ApiError`."""
        binding, http_request = self._request(method, request, metadata, deadline)
        try:
            response = await self._client.send(http_request)
        except httpx.TimeoutException as exc:
            raise error_for_timeout(exc) from None
        if response.status_code >= 400:
            raise _error_from(response, response.content, self._read_error)
        try:
            value = loads(response.content)
        except CodecError as exc:
            raise TransportError(
                f"{method.full_name}: response is not JSON: {exc}", http_status=response.status_code
            ) from None
        return decode_response(binding, value)

    async def server_stream(
        self, method: MethodDescriptor, request: Message, *, metadata: Metadata = (), deadline: float | None = None
    ) -> AsyncGenerator[Message, None]:
        """Yield each ``{"result": ...}`` line as a message; an ``{"error": ...}`` line raises."""
        binding, http_request = self._request(method, request, metadata, deadline)
        try:
            response = await self._client.send(http_request, stream=True)
        except httpx.TimeoutException as exc:
            raise error_for_timeout(exc) from None
        try:
            if response.status_code >= 400:
                raise _error_from(response, await response.aread(), self._read_error, stream=True)
            async for line in _lines(response.aiter_lines()):
                try:
                    item = loads(line)
                except CodecError as exc:
                    raise TransportError(f"{method.full_name}: bad stream line: {exc}") from None
                if isinstance(item, dict) and "error" in item and "result" not in item:
                    raise from_http_response(response.status_code, item["error"], read=self._read_error)
                if not isinstance(item, dict) or "result" not in item:
                    raise TransportError(f"{method.full_name}: stream line without result: {line[:200]!r}")
                yield decode_response(binding, item["result"])
        except httpx.TimeoutException as exc:
            raise error_for_timeout(exc) from None
        finally:
            await response.aclose()

    async def close(self) -> None:
        """Close the HTTP client if this transport created it."""
        if self._owned:
            await self._client.aclose()


async def _lines(source: AsyncIterator[str]) -> AsyncIterator[str]:
    async for line in source:
        if line.strip():
            yield line


def error_for_timeout(exc: httpx.TimeoutException) -> ApiError:
    """A client-side timeout is the REST face of gRPC's DEADLINE_EXCEEDED."""
    return DeadlineExceeded(f"deadline exceeded ({type(exc).__name__})")


def methods_with_rules(methods: Iterable[MethodDescriptor]) -> list[MethodDescriptor]:
    """The methods among ``methods`` that have an HTTP rule (so the REST transport can call them)."""
    result = []
    for method in methods:
        try:
            binding_for(method)
        except TranscodeError:
            continue
        result.append(method)
    return result
