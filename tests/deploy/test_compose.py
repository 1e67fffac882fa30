"""docker-compose.yml checked without a Docker engine: against the Compose specification's JSON schema
(vendored: compose-spec.json, see compose-spec.NOTICE), and against the CLI: every ``protogw``
invocation (a service's command with the image's ENTRYPOINT, or a ``sh -c`` script) parses with the
real command's parser under the service's environment, every ``PROTOGW_*`` variable is one the CLI
reads, files inside the image exist in what the Dockerfile copies, and services name each other
correctly (depends_on, the addresses in --backend)."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from tests.deploy import cli
from tests.deploy.dockerfile import ROOT, read

SCHEMA = json.loads((Path(__file__).parent / "compose-spec.json").read_text())
COMPOSE: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
IMAGE = read()


def schema_errors(document: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def mutated(path: list[str], value: Any) -> dict[str, Any]:
    document = copy.deepcopy(COMPOSE)
    target = document
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("document", "valid"),
    [
        (COMPOSE, True),
        (mutated(["services", "service", "deploy", "replicas"], {"count": 2}), False),
        (mutated(["services", "gateway", "depends_on"], "envoy"), False),
        (mutated(["services", "service", "restart_policy"], "always"), False),
    ],
    ids=["docker-compose.yml", "replicas-an-object", "depends-on-not-a-list", "unknown-key"],
)
def test_schema(document: dict[str, Any], valid: bool) -> None:
    assert (schema_errors(document) == []) is valid, schema_errors(document)


def environment(service: dict[str, Any]) -> dict[str, str]:
    """The service's environment in the image: the Dockerfile's ENV, then compose's (with ${VAR:-default}
    interpolated to its default, as compose does when VAR is unset)."""
    env = dict(IMAGE.env)
    for name, value in (service.get("environment") or {}).items():
        env[name] = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))
    return env


def invocations(service: dict[str, Any]) -> list[list[str]]:
    """The protogw argument lists the service runs (from the image's ENTRYPOINT or a shell script)."""
    entrypoint = service.get("entrypoint", IMAGE.entrypoint)
    command = service.get("command", IMAGE.cmd)
    if entrypoint == ["protogw"]:
        return [list(command)]
    assert entrypoint == ["/bin/sh", "-c"], entrypoint
    (script,) = command
    found = cli.shell_invocations(script)
    assert found, script
    return found


BUILT = {name: s for name, s in COMPOSE["services"].items() if s.get("build") == "."}


def test_every_service_but_postgres_is_the_image() -> None:
    assert set(BUILT) == {"service", "envoy", "gateway"}


@pytest.mark.parametrize("name", sorted(BUILT))
def test_invocations_parse(name: str) -> None:
    service = BUILT[name]
    env = environment(service)
    unknown = {var for var in env if var.startswith("PROTOGW_")} - cli.declared_envvars()
    assert not unknown, f"{name}: the CLI reads no {sorted(unknown)}"
    for args in invocations(service):
        cli.parse(args, env)
        for arg in args:
            value = arg.partition("=")[2] or arg
            if value.startswith(cli.IMAGE_WORKDIR):
                relative = value.removeprefix(cli.IMAGE_WORKDIR)
                assert (ROOT / relative).exists(), f"{name}: {value} is not in the repository"
                assert relative.split("/")[0] in IMAGE.copied_top_level(), f"{name}: the image has no {value}"


def test_topology_wiring() -> None:
    services = COMPOSE["services"]
    for name, service in services.items():
        depends = service.get("depends_on") or []
        for other in depends:
            assert other in services, f"{name} depends on unknown {other}"
    replicas = cli.parse(invocations(services["service"])[0], environment(services["service"]))
    assert replicas.params["http_addr"] == "", "replicas are gRPC only"
    grpc_port = replicas.params["grpc_addr"].rpartition(":")[2]
    assert services["service"]["deploy"]["replicas"] == 2
    assert services["service"]["expose"] == [grpc_port]
    envoy = cli.parse(invocations(services["envoy"])[0], environment(services["envoy"]))
    assert envoy.params["backend"] == [f"service:{grpc_port}"]
    envoy_port = envoy.params["listen"].rpartition(":")[2]
    rest = cli.parse(invocations(services["gateway"])[0], environment(services["gateway"]))
    assert rest.params["backend"] == f"envoy:{envoy_port}"
    assert services["envoy"]["ports"] == [f"{envoy_port}:{envoy_port}"]
    rest_port = rest.params["http_addr"].rpartition(":")[2]
    assert services["gateway"]["ports"] == [f"{rest_port}:{rest_port}"]
    database = environment(services["service"])["PROTOGW_DATABASE"]
    postgres = services["postgres"]["environment"]
    assert database == (
        f"postgresql://{postgres['POSTGRES_USER']}:{postgres['POSTGRES_PASSWORD']}@postgres:5432/{postgres['POSTGRES_DB']}"
    )
