"""The one model of ``google.api.http`` that every other part of protogw reads (knows nothing about any
particular service).

Module by module (import from the modules; this package imports nothing):

* ``template`` - path templates parsed into typed segments (``parse_template``);
* ``bindings`` - every rule of a set of services as a ``Binding``, checked by one set of rules
  (``bindings_for``, ``method_bindings``, ``HttpRuleError``; ``Binding.unservable`` for rules the
  gateway cannot serve but OpenAPI documents);
* ``descriptors`` - descriptor sets and pools (``read_descriptor_set``, ``load_descriptor_set``,
  ``pool_of``, ``services_in``), the ``google.api.http`` option and field predicates;
* ``wkt`` - the well-known types, grouped as the transcoding rules need them;
* ``status`` - gRPC code -> HTTP status (grpc-gateway's table) and rich status details;
* ``requestid`` - the request-id rule and generator;
* ``codec`` - JSON <-> protobuf, compiled per message type, byte-identical to ``json_format``.
"""
