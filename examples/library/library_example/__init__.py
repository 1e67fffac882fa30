"""The library example's service: an in-memory store, its grpc.aio servicer and the process that serves
both gRPC and REST (the gateway in-process). Generated code comes from ``buf generate`` (gen/python)."""
