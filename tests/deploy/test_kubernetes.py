"""deploy/kubernetes/ checked without a cluster: every manifest validates (strictly: no unknown fields)
with kubernetes-validate against the Kubernetes API schemas; every container running the image parses
with the CLI under its environment (Secret values stand in as placeholders) and sets only PROTOGW_*
variables the CLI reads; Secrets referenced exist with their keys; Services select pods that exist and
name their ports; probes use the gRPC health service on the replicas' gRPC port; the autoscaler
targets the replicas, which request CPU; the kustomization lists every file."""

from __future__ import annotations

import copy
from typing import Any

import kubernetes_validate
import pytest
import yaml

from tests.deploy import cli
from tests.deploy.dockerfile import ROOT, read

KUBE = ROOT / "deploy" / "kubernetes"
VERSION = "1.30.0"  # the oldest Kubernetes these manifests are checked against (gRPC probes are GA since 1.27)
MANIFESTS = sorted(p for p in KUBE.glob("*.yaml") if p.name != "kustomization.yaml")
DOCS: list[dict[str, Any]] = [doc for path in MANIFESTS for doc in yaml.safe_load_all(path.read_text()) if doc]
IMAGE = read()


def by_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in DOCS if doc["kind"] == kind}


def deployment_with_probe_port(port: Any) -> dict[str, Any]:
    doc = copy.deepcopy(by_kind("Deployment")["protogw"])
    doc["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["grpc"]["port"] = port
    return doc


def with_field(doc: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["spec"][key] = value
    return doc


@pytest.mark.parametrize(
    ("doc", "valid"),
    [
        *[(doc, True) for doc in DOCS],
        # The validator is live: these must fail.
        (deployment_with_probe_port("grpc-port-as-text"), False),
        (with_field(by_kind("HorizontalPodAutoscaler")["protogw"], "minReplica", 2), False),
        (with_field(by_kind("Service")["protogw-grpc"], "ports", [{"port": "8081"}]), False),
    ],
    ids=[*[f"{d['kind']}/{d['metadata']['name']}" for d in DOCS], "probe-port-text", "unknown-field", "port-string"],
)
def test_validates(doc: dict[str, Any], valid: bool) -> None:
    if valid:
        kubernetes_validate.validate(doc, VERSION, strict=True)
    else:
        with pytest.raises(kubernetes_validate.ValidationError):
            kubernetes_validate.validate(doc, VERSION, strict=True)


def containers() -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, container)
        for name, doc in by_kind("Deployment").items()
        for container in doc["spec"]["template"]["spec"]["containers"]
    ]


def environment(container: dict[str, Any]) -> dict[str, str]:
    """The container's environment: the image's ENV, then the manifest's; Secret values as placeholders."""
    env = dict(IMAGE.env)
    secrets = by_kind("Secret")
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        else:
            ref = var["valueFrom"]["secretKeyRef"]
            assert ref["name"] in secrets, f"no Secret {ref['name']}"
            assert ref["key"] in secrets[ref["name"]]["stringData"], f"Secret {ref['name']} has no {ref['key']}"
            env[var["name"]] = secrets[ref["name"]]["stringData"][ref["key"]]
    return env


def invocations(container: dict[str, Any]) -> list[list[str]]:
    command = container.get("command", IMAGE.entrypoint)
    args = container.get("args", IMAGE.cmd)
    if command == ["protogw"]:
        return [list(args)]
    assert command == ["/bin/sh", "-c"], command
    (script,) = args
    return cli.shell_invocations(script)


@pytest.mark.parametrize(("deployment", "container"), containers(), ids=[name for name, _ in containers()])
def test_containers_run_the_cli(deployment: str, container: dict[str, Any]) -> None:
    assert container["image"].startswith("protogw:")
    env = environment(container)
    unknown = {var for var in env if var.startswith("PROTOGW_")} - cli.declared_envvars()
    assert not unknown, f"{deployment}: the CLI reads no {sorted(unknown)}"
    found = invocations(container)
    assert found
    for args in found:
        cli.parse(args, env)
        for arg in args:
            value = arg.partition("=")[2] or arg
            if value.startswith(cli.IMAGE_WORKDIR):
                relative = value.removeprefix(cli.IMAGE_WORKDIR)
                assert (ROOT / relative).exists(), value
                assert relative.split("/")[0] in IMAGE.copied_top_level(), value
    assert "cpu" in container["resources"]["requests"]


def test_replicas() -> None:
    deployment = by_kind("Deployment")["protogw"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    env = environment(container)
    params = cli.parse(invocations(container)[0], env).params
    assert params["http_addr"] == "", "the replicas serve gRPC only"
    grpc_port = int(params["grpc_addr"].rpartition(":")[2])
    assert params["database"] == by_kind("Secret")["protogw"]["stringData"]["database-url"]
    assert params["initial_password"] == by_kind("Secret")["protogw"]["stringData"]["initial-password"]
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["grpc"]["port"] == grpc_port, probe
    assert deployment["spec"]["replicas"] >= 2
    hpa = by_kind("HorizontalPodAutoscaler")["protogw"]["spec"]
    assert hpa["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "protogw"}
    assert hpa["minReplicas"] >= 2
    assert hpa["maxReplicas"] > hpa["minReplicas"]


def test_services_select_pods_and_ports() -> None:
    deployments = by_kind("Deployment")
    for name, service in by_kind("Service").items():
        selector = service["spec"]["selector"]
        matching = [
            d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(matching) == 1, f"Service {name} selects {len(matching)} Deployments"
        (deployment,) = matching
        ports = {
            p["name"]: p["containerPort"]
            for c in deployment["spec"]["template"]["spec"]["containers"]
            for p in c.get("ports", [])
        }
        for port in service["spec"]["ports"]:
            assert port["targetPort"] in ports, f"Service {name}: no container port {port['targetPort']}"
    for deployment in deployments.values():
        assert (
            deployment["spec"]["selector"]["matchLabels"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )


def test_wiring() -> None:
    """Envoy balances over the replicas' headless Service; the REST tier (the entry) calls Envoy."""
    services = by_kind("Service")
    grpc_service = services["protogw-grpc"]
    assert grpc_service["spec"]["clusterIP"] == "None", "headless, so Envoy sees every replica"
    (envoy,) = by_kind("Deployment")["protogw-envoy"]["spec"]["template"]["spec"]["containers"]
    envoy_params = cli.parse(invocations(envoy)[0], environment(envoy)).params
    assert envoy_params["backend"] == [f"protogw-grpc:{grpc_service['spec']['ports'][0]['port']}"]
    envoy_port = int(envoy_params["listen"].rpartition(":")[2])
    assert services["protogw-envoy"]["spec"]["ports"][0]["port"] == envoy_port
    (rest,) = by_kind("Deployment")["protogw-rest"]["spec"]["template"]["spec"]["containers"]
    rest_params = cli.parse(invocations(rest)[0], environment(rest)).params
    assert rest_params["backend"] == f"protogw-envoy:{envoy_port}"
    assert rest["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert services["protogw-rest"]["spec"]["type"] == "LoadBalancer"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((KUBE / "kustomization.yaml").read_text())
    assert sorted(kustomization["resources"]) == sorted(p.name for p in MANIFESTS)


def test_manifest_files_exist() -> None:
    assert {p.name for p in MANIFESTS} >= {"secret.yaml", "service.yaml", "envoy.yaml", "rest.yaml"}
