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
* server streams are written as newline-delimited messages;
* the upstream cluster may hold several replicas (round robin); a request that could not reach one
  (connection refused or reset before the request went out) is retried once on another replica, so a
  replica that dies costs only the calls it was serving. Nothing that may have reached a replica is
  retried, so no write runs twice; a replica that keeps refusing connections is ejected for a while
  (outlier detection).

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
    more_backends: Sequence[tuple[str, int]] = (),
    listen_host: str = "127.0.0.1",
    listen_port: int = 0,
    admin_port: int | None = None,
    max_request_bytes: int = 4 * 1024 * 1024,
    request_timeout_s: float = 60.0,
) -> dict[str, Any]:
    """A static Envoy bootstrap as a dict (serialise it to JSON or YAML; Envoy reads both).

    ``listen_port=0`` lets the kernel choose; read the bound port from the admin API's
    ``/listeners`` endpoint (``admin_port`` 0 also works) when you need it. ``more_backends`` adds
    replicas (host, port) to the cluster beside ``backend_host:backend_port``.
    """
    if not services:
        raise ValueError("at least one service is required: an empty list disables the transcoder")
    backends = [(backend_host, backend_port), *more_backends]
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
                                "route": {
                                    "cluster": "grpc_backend",
                                    "timeout": f"{request_timeout_s}s",
                                    "retry_policy": _RETRY_UNSENT,
                                },
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
                    "type": "STATIC" if all(_is_ip(host) for host, _ in backends) else "STRICT_DNS",
                    "connect_timeout": "5s",
                    # Room for every request to retry at once (Envoy's default allows 3 retries in flight).
                    "circuit_breakers": {"thresholds": [{"max_retries": 1024}]},
                    # A replica that refuses connections twice in a row is left out for a while.
                    "outlier_detection": {
                        "split_external_local_origin_errors": True,
                        "consecutive_local_origin_failure": 2,
                        "interval": "1s",
                        "base_ejection_time": "5s",
                        "max_ejection_percent": 50,
                    },
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
                                    {"endpoint": {"address": {"socket_address": {"address": host, "port_value": port}}}}
                                    for host, port in backends
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


# Retry only what never reached a replica: a refused connection, a stream the server refused, a reset
# before the request was sent. previous_hosts sends the retry to another replica when there is one.
_RETRY_UNSENT: dict[str, Any] = {
    "retry_on": "connect-failure,refused-stream,reset-before-request",
    "num_retries": 2,
    "retry_host_predicate": [
        {
            "name": "envoy.retry_host_predicates.previous_hosts",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
            },
        }
    ],
    "host_selection_retry_max_attempts": 3,
}


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def envoy_config_command(
    backend: Annotated[
        list[str],
        typer.Option(help="gRPC backend HOST:PORT (repeatable: one cluster of replicas)", envvar="PROTOGW_BACKEND"),
    ],
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
    backends = [_host_port(addr) for addr in backend]
    listen_host, _, listen_port = listen.rpartition(":")
    config = envoy_config(
        descriptor_set=descriptor_set.resolve(),
        services=services,
        backend_host=backends[0][0],
        backend_port=backends[0][1],
        more_backends=backends[1:],
        listen_host=listen_host.strip("[]"),
        listen_port=int(listen_port),
        admin_port=admin_port,
    )
    typer.echo(json.dumps(config, indent=2))


def _host_port(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)
