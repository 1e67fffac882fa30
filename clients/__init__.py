"""Python client library for protogw services: gRPC and REST transports, a typed Determined client.

    from protogw.clients import DeterminedClient, GrpcTransport, RestTransport

    async with DeterminedClient(GrpcTransport(target="127.0.0.1:8081")) as det:
        await det.login(username="determined", password="")
        page = await det.experiments(archived=True, limit=1)

Both transports are generic (any proto service, driven by method descriptors) and raise the same
:mod:`protogw.clients.errors` exceptions for the same server answer.
"""

from protogw.clients.determined import DeterminedClient, salt_and_hash
from protogw.clients.errors import (
    Aborted,
    AlreadyExists,
    ApiError,
    Cancelled,
    DataLoss,
    DeadlineExceeded,
    FailedPrecondition,
    Internal,
    InvalidArgument,
    NotFound,
    OutOfRange,
    PermissionDenied,
    ResourceExhausted,
    TransportError,
    Unauthenticated,
    Unavailable,
    Unimplemented,
    Unknown,
)
from protogw.clients.grpc_transport import GrpcTransport
from protogw.clients.rest import RestTransport, TranscodeError, transcode
from protogw.clients.transport import Metadata, Transport

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "Cancelled",
    "DataLoss",
    "DeadlineExceeded",
    "DeterminedClient",
    "FailedPrecondition",
    "GrpcTransport",
    "Internal",
    "InvalidArgument",
    "Metadata",
    "NotFound",
    "OutOfRange",
    "PermissionDenied",
    "ResourceExhausted",
    "RestTransport",
    "TranscodeError",
    "Transport",
    "TransportError",
    "Unauthenticated",
    "Unavailable",
    "Unimplemented",
    "Unknown",
    "salt_and_hash",
    "transcode",
]
