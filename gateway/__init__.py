"""Generic google.api.http transcoding gateway and OpenAPI v2 generator (knows nothing about Determined).

The REST gateway, module by module (import from the modules; this package imports nothing so that
``protogw.core.codec`` stays cheap to import):

* ``app`` - ``create_app(routes, backend, mounts=..., fallback=...)``, ``RouteTable``,
  ``GatewayOptions`` (JSON options, unknown-query rejection, 501/405, unescaping mode, body limit,
  header matcher and metadata annotators, request-id header, error renderer, /healthz, form fallback,
  unbound methods);
* ``inprocess`` - ``InProcessBackend(interceptors)``: a grpc.aio-server-shaped registry the service
  registers on, run without a network hop; ``proxy`` - ``ProxyBackend("host:port")``; ``backend`` -
  the interface both implement;
* ``errors`` - the gRPC -> HTTP table, ``GatewayError``, the ``ErrorRenderer`` protocol and the default
  ``StatusRenderer``;
* ``headers`` - header/metadata mapping, ``RequestHead`` for hooks; ``request`` - building request
  messages; ``routes`` - bindings from descriptors; ``router`` and ``template`` - matching;
* ``cli`` - the ``gateway`` typer command, plus ``bind``/``serve`` for serving any ASGI app.
"""
