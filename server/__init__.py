"""The Determined-compatible gRPC service."""
