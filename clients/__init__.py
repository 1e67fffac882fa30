"""Python client library (gRPC and REST transports) and CLI."""
