"""The Determined-compatible service.

``service.build_service(config)`` assembles everything below into a ``Service`` that a gRPC server
(``app.create_server``) or the REST gateway's in-process backend (``rest.build_gateway``) registers
the same way, with the same interceptor list::

    services/      one servicer class per area (auth, users, experiments, master), joined into the
                   single ``determined.api.v1.Determined`` service
    interceptors   the pipeline: request id -> logging -> error mapping -> authentication
    context        per-call state (request id, caller) shared through context variables
    errors         domain errors and the one table that maps them to gRPC status codes
    limits         the input rules (ranges, NUL characters, size limits) every write and listing passes
    sessions       bearer tokens: issue, resolve (briefly cached), revoke
    security       Determined's client-side password hash, argon2id storage, token hashing
    convert        store values <-> Determined protobuf messages
    logbuffer      the in-memory log ring buffer behind MasterLogs
    store_api      what the service needs from ``storage`` (the database layer), as a protocol
    app            the gRPC server: build, run, graceful shutdown
    rest           the REST front end inside ``protogw serve``; rest_errors its error body
    cli            the ``protogw`` command; seed the README walk-through data
"""
