"""Envoy configuration for REST transcoding in front of any gRPC service.

Envoy's ``grpc_json_transcoder`` is the production alternative to protogw's own gateway: it reads
the same descriptor set and serves the same ``google.api.http`` routes. :func:`envoy_config` builds
a complete static bootstrap (one listener, the transcoder, one HTTP/2 upstream cluster) with the
options that make Envoy behave like grpc-gateway where it can:

* zero values are printed (grpc-gateway's EmitUnpopulated; Envoy omits them by default);
* ``+`` in a query string is a space (form-encoded clients send spaces that way);
* unknown methods get 404 instead of being passed through to the backend as raw gRPC (which would
  come back as 503), and gRPC errors become JSON ``google.rpc.Status`` bodies with the right HTTP
  status;
* server streams are written as newline-delimited messages.

Envoy prints a stream as bare messages (no ``{"result": ...}`` wrapper) and, unlike grpc-gateway,
lets the body win over path values; those differences are Envoy's and are not papered over here.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from protogw.core.descriptors import services_in


def envoy_config(
    *,
    descriptor_set: Path,
    services: Sequence[str],
    backend_host: str,
    backend_port: int,
    listen_host: str = "127.0.0.1",
    listen_port: int = 0,
    admin_port: int | None = None,
    max_request_bytes: int = 4 * 1024 * 1024,
    request_timeout_s: float = 60.0,
) -> dict[str, Any]:
    """A static Envoy bootstrap as a dict (serialise it to JSON or YAML; Envoy reads both).

    ``listen_port=0`` lets the kernel choose; read the bound port from the admin API's
    ``/listeners`` endpoint (``admin_port`` 0 also works) when you need it.
    """
    if not services:
        raise ValueError("at least one service is required: an empty list disables the transcoder")
    transcoder = {
        "name": "envoy.filters.http.grpc_json_transcoder",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_json_transcoder.v3.GrpcJsonTranscoder",
            "proto_descriptor": str(descriptor_set),
            "services": list(services),
            "print_options": {
                "add_whitespace": False,
                "always_print_primitive_fields": True,
                "always_print_enums_as_ints": False,
                "preserve_proto_field_names": False,
                "stream_newline_delimited": True,
            },
            "convert_grpc_status": True,
            "query_param_unescape_plus": True,
            # http.proto's rule, the gateway's default: multi-segment values decoded except %2F.
            "url_unescape_spec": "ALL_CHARACTERS_EXCEPT_SLASH",
            "ignore_unknown_query_parameters": True,
            "request_validation_options": {"reject_unknown_method": True},
            "max_request_body_size": max_request_bytes,
        },
    }
    hcm = {
        "name": "envoy.filters.network.http_connection_manager",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
            "stat_prefix": "protogw",
            "codec_type": "AUTO",
            "route_config": {
                "name": "local",
                "virtual_hosts": [
                    {
                        "name": "backend",
                        "domains": ["*"],
                        "routes": [
                            {
                                "match": {"prefix": "/"},
                                "route": {"cluster": "grpc_backend", "timeout": f"{request_timeout_s}s"},
                            }
                        ],
                    }
                ],
            },
            "http_filters": [
                transcoder,
                {
                    "name": "envoy.filters.http.router",
                    "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
                },
            ],
        },
    }
    config: dict[str, Any] = {
        "static_resources": {
            "listeners": [
                {
                    "name": "rest",
                    "address": {"socket_address": {"address": listen_host, "port_value": listen_port}},
                    "filter_chains": [{"filters": [hcm]}],
                }
            ],
            "clusters": [
                {
                    "name": "grpc_backend",
                    "type": "STATIC" if _is_ip(backend_host) else "STRICT_DNS",
                    "connect_timeout": "5s",
                    "typed_extension_protocol_options": {
                        "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                            "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                            "explicit_http_config": {"http2_protocol_options": {}},
                        }
                    },
                    "load_assignment": {
                        "cluster_name": "grpc_backend",
                        "endpoints": [
                            {
                                "lb_endpoints": [
                                    {
                                        "endpoint": {
                                            "address": {
                                                "socket_address": {"address": backend_host, "port_value": backend_port}
                                            }
                                        }
                                    }
                                ]
                            }
                        ],
                    },
                }
            ],
        }
    }
    if admin_port is not None:
        config["admin"] = {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin_port}}}
    return config


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def envoy_config_command(
    backend: Annotated[str, typer.Option(help="gRPC backend HOST:PORT", envvar="PROTOGW_BACKEND")],
    descriptor_set: Annotated[
        Path, typer.Option(help="FileDescriptorSet with imports and source info", envvar="PROTOGW_DESCRIPTOR_SET")
    ],
    listen: Annotated[str, typer.Option(help="HOST:PORT Envoy listens on for REST")] = "0.0.0.0:8080",
    service: Annotated[
        list[str] | None, typer.Option(help="service to transcode (repeatable; default: every service of --package)")
    ] = None,
    package: Annotated[
        list[str] | None, typer.Option(help="proto package whose services are transcoded (repeatable)")
    ] = None,
    admin_port: Annotated[int | None, typer.Option(help="port of Envoy's admin interface (off by default)")] = None,
) -> None:
    """Print an Envoy bootstrap (JSON, which Envoy reads as YAML) that transcodes REST to the backend."""
    services = service or sorted(services_in(descriptor_set.read_bytes(), packages=package or None))
    backend_host, _, backend_port = backend.rpartition(":")
    listen_host, _, listen_port = listen.rpartition(":")
    config = envoy_config(
        descriptor_set=descriptor_set.resolve(),
        services=services,
        backend_host=backend_host.strip("[]"),
        backend_port=int(backend_port),
        listen_host=listen_host.strip("[]"),
        listen_port=int(listen_port),
        admin_port=admin_port,
    )
    typer.echo(json.dumps(config, indent=2))
