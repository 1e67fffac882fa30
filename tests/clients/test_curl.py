"""The curl example scripts in ``clients/curl/``, run with bash against a live server."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.serve import Served

SCRIPTS = Path(__file__).resolve().parents[2] / "clients" / "curl"


async def _bash(script: str, *args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        "bash", str(SCRIPTS / script), *args,
        env={"PATH": os.environ["PATH"], **env},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


@pytest.fixture
async def token(served: Served) -> str:
    code, out, err = await _bash("login.sh", env={"API": served.http_url, "USERNAME": "admin"})
    assert code == 0, err
    return out.strip()


def _json_lines(out: str) -> list[Any]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def _ids(out: str) -> list[int]:
    return [e["id"] for e in json.loads(out)["experiments"] if e["id"] <= 6]


CONFIG = "name: from-curl\ndescription: made by a script\nlabels: [curl]\nsearcher:\n  name: single\n  metric: loss\n"

# Each row: script, arguments, extra environment, and a check of (exit code, stdout).
CASES: list[tuple[str, tuple[str, ...], dict[str, str], Callable[[int, str], bool]]] = [
    ("list_experiments.sh", (), {"ARCHIVED": "true"}, lambda c, o: c == 0 and _ids(o) == [1]),
    ("list_experiments.sh", (), {"STATES": "COMPLETED CANCELED"}, lambda c, o: _ids(o) == [1, 2, 5]),
    ("list_experiments.sh", (), {"LABEL": "mnist", "ID_GT": "1", "LIMIT": "1"}, lambda c, o: _ids(o) == [2]),
    (
        "list_experiments.sh",
        (),
        {"LABEL": "cifar10", "LIMIT": "1", "OFFSET": "1"},
        lambda c, o: (
            json.loads(o)["pagination"] == {"offset": 1, "limit": 1, "startIndex": 1, "endIndex": 2, "total": 2}
        ),
    ),
    ("list_experiments.sh", (), {"STATES": "NOT_A_STATE"}, lambda c, o: c == 22 and json.loads(o)["code"] == 3),
    (
        "patch_experiment.sh",
        ("6", '{"notes": "patched by curl", "labels": ["imagenet", "vit"]}'),
        {},
        lambda c, o: (
            json.loads(o)["experiment"]["notes"] == "patched by curl"
            and json.loads(o)["experiment"]["labels"] == ["imagenet", "vit"]
        ),
    ),
    ("patch_experiment.sh", ("6", '{"name": "  "}'), {}, lambda c, o: c == 22 and json.loads(o)["code"] == 3),
    (
        "labels.sh",
        ("4", "a label/with slash"),
        {},
        lambda c, o: (
            _json_lines(o)[:2] == [{"labels": ["a label/with slash", "cifar10"]}, {"labels": ["cifar10"]}]
            and "cifar10" in _json_lines(o)[2]["labels"]
        ),
    ),
    ("master_logs.sh", (), {"LIMIT": "3", "OFFSET": "0"}, lambda c, o: len(_json_lines(o)) == 3),
    (
        "master_logs.sh",
        (),
        {},
        lambda c, o: (
            c == 0 and all(set(line) == {"result"} and "logEntry" in line["result"] for line in _json_lines(o))
        ),
    ),
]


@pytest.mark.parametrize(
    ("script", "args", "env", "check"), [pytest.param(*case, id=f"{case[0]}-{i}") for i, case in enumerate(CASES)]
)
async def test_scripts(
    served: Served,
    token: str,
    script: str,
    args: tuple[str, ...],
    env: dict[str, str],
    check: Callable[[int, str], bool],
) -> None:
    code, out, err = await _bash(script, *args, env={"API": served.http_url, "TOKEN": token, **env})
    assert check(code, out), (code, out, err)


async def test_create_from_yaml(served: Served, token: str, tmp_path: Path) -> None:
    config = tmp_path / "experiment.yaml"
    config.write_text(CONFIG)
    code, out, err = await _bash(
        "create_experiment.sh", str(config), env={"API": served.http_url, "TOKEN": token, "ACTIVATE": "true"}
    )
    assert code == 0, err
    created = json.loads(out)
    assert created["experiment"]["name"] == "from-curl"
    assert created["experiment"]["state"] == "STATE_ACTIVE"
    assert created["config"]["description"] == "made by a script"


# Login failures: curl -f gives exit 22 and no token on stdout.
LOGINS: list[tuple[dict[str, str], int]] = [
    ({"USERNAME": "admin"}, 0),
    ({"USERNAME": "admin", "PASSWORD": "wrong"}, 22),
    ({"USERNAME": "nobody"}, 22),
    ({}, 0),
]


@pytest.mark.parametrize(("env", "code"), LOGINS)
async def test_login(served: Served, env: dict[str, str], code: int) -> None:
    got, out, _ = await _bash("login.sh", env={"API": served.http_url, **env})
    assert got == code
    assert bool(out.strip()) is (code == 0)


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.sh")))
async def test_scripts_need_api(script: str) -> None:
    code, _, err = await _bash(script, "1", "x", env={})
    assert code != 0
    assert "API" in err
