"""The gateway's routes: each binding of the core, prepared once at start-up (request builder, response
codec, where the response body comes from) and placed in a :class:`Router`.

One method never takes the API down: a binding the gateway cannot serve (``Binding.unservable``, e.g. a
path parameter on a client stream) is logged once with its reason and answers 501 at its path. Start-up
fails with :class:`HttpRuleError`, naming the methods, only when two bindings claim the same route.

Build a table from the descriptors of generated code already imported (the default pool), or from a
serialized ``FileDescriptorSet`` when there is no generated code (proxy mode)::

    from google.protobuf import descriptor_pool
    from protogw.gateway.routes import RouteTable

    import library.v1.library_pb2  # noqa: F401  (registers its descriptors in the default pool)

    routes = RouteTable.from_pool(descriptor_pool.Default(), ["library.v1.LibraryService"])
    routes = RouteTable.from_descriptor_set("gen/library.binpb")  # every service in the set
    routes = RouteTable.from_descriptor_set(data, ["library.v1.LibraryService"], GatewayOptions(...))
    len(routes)  # the number of routes served

The descriptor set must hold the imports (``buf build`` does by default; ``protoc --include_imports``)
and, for useful OpenAPI descriptions elsewhere, source info. Options (JSON field names, unknown query
parameters, the unescaping mode, ...) are :class:`~protogw.gateway.options.GatewayOptions`, given here
because they shape the routes. ``routes.error_renderer`` is the options' renderer resolving error
details in the table's own descriptor pools (``routes.pools``) before the default pool, so a detail
whose type only the descriptor set defines is rendered with its fields.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import descriptor_pool

from protogw.core.bindings import Binding, HttpRuleError, bindings_for
from protogw.core.codec import Codec, codec_for, codec_for_dumps
from protogw.core.descriptors import load_descriptor_set, services_in
from protogw.gateway.errors import ErrorRenderer, bind
from protogw.gateway.options import GatewayOptions
from protogw.gateway.request import RequestBuilder
from protogw.gateway.router import ConflictError, Router

__all__ = ["Route", "RouteTable"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, eq=False)
class Route:
    """A binding with what serving it needs, prepared once at start-up."""

    binding: Binding
    builder: RequestBuilder
    codec: Codec
    # The response codec for compact bodies (core.codec.codec_for_dumps: listing items seen before
    # are written from their remembered JSON); ``codec`` for ``?pretty`` and anything that reads values.
    compact: Codec
    response_key: str | None
    http_body: bool
    # Why this binding answers 501 instead of being served (None: it is served).
    unservable: str | None = None


class RouteTable:
    """All routes of a set of services, in a :class:`Router`."""

    def __init__(self, bindings: Sequence[Binding], options: GatewayOptions | None = None) -> None:
        self.options = options or GatewayOptions()
        self.router: Router[Route] = Router(self.options.unescaping)
        self.bindings = tuple(bindings)
        # The pools the methods come from (one, unless the bindings were gathered from several).
        self.pools: tuple[descriptor_pool.DescriptorPool, ...] = tuple(
            dict.fromkeys(b.method.descriptor.containing_service.file.pool for b in self.bindings)
        )
        # Errors are rendered with these pools too (a detail type the descriptor set alone defines) and
        # with the responses' marshaler options.
        self.error_renderer: ErrorRenderer = bind(self.options.error_renderer, pools=self.pools, json=self.options.json)
        for binding in self.bindings:
            route = self._route(binding)
            if binding.unservable is not None:
                # The router has no place for a trailing slash (the path without it may be another route).
                skipped = binding.template.trailing_slash
                answer = "not routed" if skipped else "it answers 501"
                log.warning("not serving %s: %s (%s)", binding.describe(), binding.unservable, answer)
                if skipped:
                    continue
            try:
                self.router.add(binding.http_method, binding.template, route)
            except ConflictError as exc:
                other = self.router.existing(binding.http_method, binding.template)
                clash = other.binding.describe() if other is not None else "another binding"
                raise HttpRuleError(f"{binding.describe()} conflicts with {clash}") from exc

    def _route(self, binding: Binding) -> Route:
        opts = self.options.json
        method = binding.method
        out = method.descriptor.output_type
        response_key: str | None = None
        if binding.response_body:
            leaf = binding.response_body[-1]
            response_key = leaf.name if opts.use_proto_names else leaf.json_name
        http_body = not binding.response_body and out.full_name == "google.api.HttpBody"
        if method.client_streaming and binding.body is None:
            # A client stream's body is its messages, whatever the rule says (as grpc-gateway reads it).
            binding = dataclasses.replace(binding, body=())
        builder = RequestBuilder(binding, opts, reject_unknown_query=self.options.reject_unknown_query)
        return Route(
            binding,
            builder,
            codec_for(out, opts),
            codec_for_dumps(out, opts),
            response_key,
            http_body,
            binding.unservable,
        )

    @classmethod
    def from_pool(
        cls, pool: descriptor_pool.DescriptorPool, services: Sequence[str], options: GatewayOptions | None = None
    ) -> RouteTable:
        """Routes for ``services`` (full names) found in ``pool`` (e.g. the default pool).

        ``RouteTable.from_pool(descriptor_pool.Default(), ["library.v1.LibraryService"])`` after importing
        the service's ``*_pb2`` module. An unknown service name or an invalid rule raises
        :class:`HttpRuleError` with a message naming it.
        """
        return cls(bindings_for(pool, services, (options or GatewayOptions()).rules()), options)

    @classmethod
    def from_descriptor_set(
        cls, source: bytes | str, services: Sequence[str] | None = None, options: GatewayOptions | None = None
    ) -> RouteTable:
        """Routes from a serialized ``FileDescriptorSet`` (bytes or a path); all its services by default.

        ``RouteTable.from_descriptor_set("api.binpb")`` serves every service of the set that has
        ``google.api.http`` rules; pass ``services`` (full names) to serve only some. No generated code
        is needed: the proxy backend builds the message classes from the same descriptors.
        """
        pool = load_descriptor_set(source)
        names = services if services is not None else services_in(source)
        return cls(bindings_for(pool, names, (options or GatewayOptions()).rules()), options)

    def __len__(self) -> int:
        return len(self.router)
