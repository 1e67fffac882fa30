"""The generic google.api.http REST gateway (knows nothing about Determined); it reads the rules from
``protogw.core``.

Module by module (import from the modules; this package imports nothing):

* ``app`` - ``create_app(routes, backend, mounts=..., fallback=...)``: the ASGI shell (lifespan, error
  boundary, endpoints); ``options`` - ``GatewayOptions`` (JSON options, unknown-query rejection,
  501/405, unescaping mode, body limit, header matcher and metadata annotators, request-id header,
  error renderer, /healthz, form fallback, unbound methods, DELETE bodies); ``routes`` -
  ``RouteTable`` (the core's bindings prepared for serving); ``transcoder`` - routing a request and
  serving its call, unary or streamed; ``http`` - small ASGI helpers;
* ``inprocess`` - ``InProcessBackend(interceptors)``: a grpc.aio-server-shaped registry the service
  registers on, run without a network hop; ``proxy`` - ``ProxyBackend("host:port")``; ``backend`` -
  the interface both implement;
* ``errors`` - ``GatewayError``, the ``ErrorRenderer`` protocol and the default ``StatusRenderer``
  (details' types resolved in the routes' descriptor pools, then the default pool);
* ``headers`` - header/metadata mapping, ``RequestHead`` for hooks; ``request`` - building request
  messages; ``router`` - matching;
* ``swagger_ui`` - serving an OpenAPI document with Swagger UI; ``envoy`` - an Envoy config for the
  same descriptors;
* ``cli`` - the ``gateway`` typer command, plus ``bind``/``serve`` for serving any ASGI app.
"""
